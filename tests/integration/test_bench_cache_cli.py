"""`engine bench cache` end to end: a real node, the CLI as a subprocess, every figure of
the JSON it writes, and no bench key or bucket left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from credentials import ROOT_KEY_ID, ROOT_SECRET

from engine.client import client

PHASE_KEYS = {"ops", "bytes", "seconds", "ops_per_s", "mb_per_s", "latency_ms", "errors",
              "timeseries", "latency_histogram",
              "keys", "keys_per_s", "cache"}
LATENCY_KEYS = {"p50", "p95", "p99", "max", "mean"}
CACHE_KEYS = {"hits", "misses", "evictions", "expirations", "object_hits", "object_misses",
              "hit_ratio", "object_hit_ratio", "keys_after", "bytes_used_after"}
CONFIG_KEYS = {"workload", "endpoint", "phases", "value_size", "keys", "read_ratio",
               "mget_batch", "object_count", "object_size", "concurrency", "processes",
               "duration", "warmup", "prefix", "bucket", "label", "command", "host",
               "engine_version", "timestamp"}
ALL_PHASES = ["set", "get", "mixed", "mget", "object-get"]
KEYS = 200
VALUE = 64
OBJECT = 200 * 1024  # above the inline threshold: the read cache may keep it
# Measured seconds per phase: a cache call takes a millisecond or so, so half a second
# still makes hundreds of them in every phase.
DURATION = 0.5


def run_bench(endpoint: str, out: Path, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "engine", "bench", "cache", "--endpoint", endpoint,
           "--duration", str(DURATION), "--warmup", "0", "--json", str(out),
           "--keys", str(KEYS), "--value-size", str(VALUE), "--object-count", "5",
           "--object-size", str(OBJECT), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cache tier" in done.stdout and "hit ratio" in done.stdout
    return json.loads(out.read_text())


def check_phase(name: str, phase: dict) -> None:
    assert set(phase) == PHASE_KEYS, name
    assert phase["errors"] == {}, (name, phase["errors"])
    assert phase["seconds"] == DURATION and phase["ops"] > 0 and phase["ops_per_s"] > 0
    lat = phase["latency_ms"]
    assert set(lat) == LATENCY_KEYS and 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    size = OBJECT if name == "object-get" else VALUE
    per_call = 10 if name == "mget" else 1
    assert phase["bytes"] == phase["ops"] * size * per_call, name
    assert phase["keys"] == phase["ops"] * per_call and phase["keys_per_s"] > 0
    counters = phase["cache"]
    assert set(counters) == CACHE_KEYS, name
    if name == "object-get":
        # Deleting the bench's objects leaves their cached bodies under data ids no GET
        # can name, for the LRU to evict (docs/cache.md): at most one per object.
        assert counters["keys_after"] <= 5, name
    else:
        assert counters["keys_after"] == 0, name  # teardown deleted the phase's keys
    if name in ("get", "mget", "mixed"):  # every read found its preloaded key
        assert counters["hits"] >= phase["keys"] * (0.8 if name == "mixed" else 1)
        assert counters["misses"] == 0 and counters["hit_ratio"] == 1.0
    if name == "set":
        assert counters["hits"] == counters["misses"] == 0 and counters["hit_ratio"] is None


def nothing_left(endpoint: str, prefix: str) -> None:
    with client("cache", endpoint=endpoint) as cache:
        assert cache.exists(*(f"{prefix}:{i}" for i in range(KEYS))) == 0
    with client("s3", endpoint=endpoint) as s3:
        assert not [b for b in s3.list_buckets().get("Buckets", [])
                    if b["Name"].startswith("bench-")]


def test_bench_cache_every_phase(server, tmp_path):
    report = run_bench(server.endpoint, tmp_path / "out.json", "--concurrency", "4")
    config = report["config"]
    assert set(config) >= CONFIG_KEYS
    assert config["workload"] == "cache" and config["phases"] == ALL_PHASES
    assert (config["keys"], config["value_size"], config["read_ratio"], config["mget_batch"],
            config["concurrency"], config["processes"]) == (KEYS, VALUE, 0.9, 10, 4, 1)
    assert list(report["phases"]) == ALL_PHASES
    for name, phase in report["phases"].items():
        check_phase(name, phase)
    assert set(report["baseline"]) == {"unary", "unary-object"}
    for phase in report["baseline"].values():
        assert phase["errors"] == {} and phase["ops_per_s"] > 0
    assert set(report["vs_baseline"]) == set(ALL_PHASES)
    assert report["vs_baseline"]["object-get"]["baseline"] == "unary-object"
    objects = report["phases"]["object-get"]["cache"]  # the read cache served them
    assert objects["object_hits"] > 0 and objects["object_hit_ratio"] > 0.5
    for vs in report["vs_baseline"].values():
        assert vs["metric"] == "ops_per_s" and vs["fraction"] > 0
    nothing_left(server.endpoint, config["prefix"])


def test_bench_cache_two_processes_read_cache_off(server_factory, tmp_path):
    server = server_factory("--object-cache-max", "0").start()
    report = run_bench(server.endpoint, tmp_path / "out.json", "--processes", "2",
                       "--concurrency", "2", "--phases", "get,object-get", "--no-baseline",
                       "--label", "object-cache-max 0")
    assert report["config"]["label"] == "object-cache-max 0"
    assert list(report["phases"]) == ["get", "object-get"]
    for name, phase in report["phases"].items():
        check_phase(name, phase)
    assert report["phases"]["object-get"]["cache"]["object_hits"] == 0  # the cache is off
    assert report["baseline"] is None and report["vs_baseline"] == {}
    nothing_left(server.endpoint, report["config"]["prefix"])


RESP_PHASES = ["set", "get", "mixed", "mget"]


def test_bench_cache_over_resp(server, tmp_path):
    """--protocol resp: the same phases through the node's RESP endpoint (address from
    the node's status, root's key as user and password), judged against ECHO."""
    report = run_bench(server.endpoint, tmp_path / "out.json", "--protocol", "resp",
                       "--concurrency", "4")
    config = report["config"]
    assert set(config) >= CONFIG_KEYS
    assert config["protocol"] == "resp" and config["phases"] == RESP_PHASES
    assert config["redis_endpoints"] == [f"redis://127.0.0.1:{server.redis_port}"]
    assert config["redis_cluster"] is False
    assert list(report["phases"]) == RESP_PHASES
    for name, phase in report["phases"].items():
        check_phase(name, phase)  # every GET and MGET read back a preloaded value
    assert set(report["baseline"]) == {"unary"}
    assert report["baseline"]["unary"]["errors"] == {}
    assert report["baseline"]["unary"]["ops_per_s"] > 0
    assert set(report["vs_baseline"]) == set(RESP_PHASES)
    nothing_left(server.endpoint, config["prefix"])


def test_bench_cache_over_resp_url_two_processes(server, tmp_path):
    """--redis-url with a user and password in it, as redis-py takes them, and two
    worker processes: the report (config, command line) keeps the password out."""
    url = f"redis://{ROOT_KEY_ID}:{quote(ROOT_SECRET)}@127.0.0.1:{server.redis_port}"
    out = tmp_path / "out.json"
    report = run_bench(server.endpoint, out, "--protocol", "resp", "--redis-url", url,
                       "--processes", "2", "--concurrency", "2", "--phases", "set,mget",
                       "--no-baseline")
    assert ROOT_SECRET not in out.read_text()
    assert report["config"]["redis_endpoints"] == [
        f"redis://{ROOT_KEY_ID}:***@127.0.0.1:{server.redis_port}"]
    assert list(report["phases"]) == ["set", "mget"]
    for name, phase in report["phases"].items():
        check_phase(name, phase)
    nothing_left(server.endpoint, report["config"]["prefix"])


def test_bench_cache_over_resp_refuses_what_it_cannot_do(tmp_path):
    """No object-get over RESP, and --redis-url only with it: exit 2 before any load."""
    for extra, text in ((("--protocol", "resp", "--phases", "get,object-get"), "object-get"),
                        (("--redis-url", "redis://127.0.0.1:1"), "--redis-url")):
        done = subprocess.run([sys.executable, "-m", "engine", "bench", "cache", *extra],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and text in done.stderr, done.stderr
