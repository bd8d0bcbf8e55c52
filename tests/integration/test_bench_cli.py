"""`engine bench objects` end to end: a real node, the CLI as a subprocess, the JSON it
writes, and nothing left behind on the server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from engine.client import signed_channels
from engine.v1 import objects_pb2 as pb
from engine.v1 import objects_pb2_grpc

PHASE_KEYS = {"ops", "bytes", "seconds", "ops_per_s", "mb_per_s", "latency_ms", "errors",
              "timeseries", "latency_histogram"}
# Measured seconds per phase: 4 KiB calls take milliseconds, so half a second still makes
# hundreds of them in every phase (the 2 MiB test takes longer phases).
DURATION = 0.5


@pytest.fixture(scope="module")
def server(shared_server):
    """One node for the module: every bench run must leave it as it found it."""
    return shared_server


def run_bench(endpoint: str, out: Path, *extra: str, duration: float = DURATION) -> dict:
    cmd = [sys.executable, "-m", "engine", "bench", "objects", "--endpoint", endpoint,
           "--duration", str(duration), "--warmup", "0", "--json", str(out), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "put" in done.stdout and "download" in done.stdout
    return json.loads(out.read_text())


def bench_buckets(endpoint: str) -> list[str]:
    with signed_channels.insecure_channel(endpoint) as ch:
        listing = objects_pb2_grpc.ObjectStoreStub(ch).ListBuckets(pb.ListBucketsRequest())
    return [b.name for b in listing.buckets if b.name.startswith("bench-")]


def check_phase(phase: dict, size: int, seconds: float = DURATION) -> None:
    assert set(phase) == PHASE_KEYS
    assert phase["ops"] > 0, phase
    assert phase["errors"] == {}, phase
    assert phase["bytes"] == phase["ops"] * size
    assert phase["ops_per_s"] > 0 and phase["mb_per_s"] > 0 and phase["seconds"] == seconds
    lat = phase["latency_ms"]
    assert set(lat) == {"p50", "p95", "p99", "max", "mean"}
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]


def test_bench_objects_small(server, tmp_path):
    report = run_bench(server.endpoint, tmp_path / "out.json",
                       "--size", "4KiB", "--concurrency", "4")
    config = report["config"]
    assert config["endpoint"] == server.endpoint
    assert (config["size"], config["concurrency"], config["processes"]) == (4096, 4, 1)
    assert config["duration"] == DURATION
    assert config["host"]["nproc"] >= 1 and config["host"]["cpu_model"]
    assert config["host"]["python_version"] and config["engine_version"]
    assert config["timestamp"]
    assert set(report["phases"]) == {"put", "get"}
    assert set(report["baseline"]) == {"unary", "upload", "download"}
    for phase in report["phases"].values():
        check_phase(phase, 4096)
    for phase in report["baseline"].values():
        check_phase(phase, 4096)
    for name in ("put", "get"):
        vs = report["vs_baseline"][name]
        assert vs["baseline"] == "unary" and vs["metric"] == "ops_per_s"
        assert vs["fraction"] > 0
    assert bench_buckets(server.endpoint) == []


def test_bench_objects_2mib_two_processes(server, tmp_path):
    # 2 s, not 1: a 2 MiB PUT can take most of a second on a loaded 2-core box
    report = run_bench(server.endpoint, tmp_path / "out.json",
                       "--size", "2MiB", "--concurrency", "1", "--processes", "2", duration=2)
    assert report["config"]["processes"] == 2
    mib = 1024 * 1024
    for phase in report["phases"].values():
        check_phase(phase, 2 * mib, seconds=2.0)
    check_phase(report["baseline"]["unary"], mib, seconds=2.0)  # unary is capped at 1 MiB
    check_phase(report["baseline"]["upload"], 2 * mib, seconds=2.0)
    check_phase(report["baseline"]["download"], 2 * mib, seconds=2.0)
    assert report["vs_baseline"]["put"]["baseline"] == "upload"
    assert report["vs_baseline"]["get"]["baseline"] == "download"
    assert bench_buckets(server.endpoint) == []


def test_bench_unreachable_endpoint_fails_fast(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "engine", "bench", "objects", "--endpoint",
           f"127.0.0.1:{port}", "--duration", "1", "--no-baseline"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "no gRPC server" in done.stderr


def test_bench_objects_over_s3_rest(server, tmp_path):
    """--protocol s3: the load goes to the node's S3 REST endpoint (SigV4-signed HTTP),
    judged against its bare HTTP handler; the bucket is still cleaned up."""
    address = server.http_url.split("://", 1)[1]
    report = run_bench(server.endpoint, tmp_path / "out.json", "--size", "4KiB",
                       "--concurrency", "4", "--protocol", "s3", "--s3-endpoint", address)
    assert report["config"]["protocol"] == "s3"
    assert set(report["phases"]) == {"put", "get"}
    assert set(report["baseline"]) == {"unary", "upload", "download"}
    for phase in (*report["phases"].values(), *report["baseline"].values()):
        check_phase(phase, 4096)
    assert bench_buckets(server.endpoint) == []


def test_bench_s3_needs_an_address_per_node(tmp_path):
    cmd = [sys.executable, "-m", "engine", "bench", "objects", "--protocol", "s3",
           "--endpoint", "127.0.0.1:1,127.0.0.1:2", "--duration", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--s3-endpoint with one S3 address per --endpoint node (2)" in done.stderr


def test_the_bare_http_handler_is_not_open_to_anyone(server):
    """The baseline handler authenticates like every other path of the port: an
    unsigned request is refused with S3's AccessDenied, and sizes are bounded."""
    import urllib.error
    import urllib.request

    for query in ("size=10", "size=999999999999"):
        try:
            urllib.request.urlopen(f"{server.http_url}/_engine/echo?{query}", timeout=10)
            raise AssertionError("an unsigned echo was answered")
        except urllib.error.HTTPError as err:
            assert err.code == 403
            assert b"<Code>AccessDenied</Code>" in err.read()
