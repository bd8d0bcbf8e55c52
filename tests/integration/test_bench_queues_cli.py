"""`engine bench queues` end to end: a real node, the CLI as a subprocess, every figure of
the JSON it writes, and no bench queue left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.client import client

PHASE_KEYS = {"ops", "bytes", "seconds", "ops_per_s", "mb_per_s", "latency_ms", "errors",
              "timeseries", "latency_histogram",
              "messages", "messages_per_s"}
LATENCY_KEYS = {"p50", "p95", "p99", "max", "mean"}
PIPELINE_KEYS = {"producers", "consumers", "backlog_limit", "sent", "sent_per_s", "received",
                 "received_per_s", "e2e_latency_ms", "e2e_samples", "empty_receives",
                 "producer_wait_fraction"}
ALL_PHASES = ["send", "send-batch", "receive", "delete-batch", "delete", "pipeline"]
# Measured seconds per phase: a queue call takes milliseconds, so half a second still makes
# hundreds of them in every phase.
DURATION = 0.5


@pytest.fixture(scope="module")
def server(shared_server):
    """One node for the module: every bench run must leave no queue behind."""
    return shared_server


def run_bench(endpoint: str, out: Path, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "engine", "bench", "queues", "--endpoint", endpoint,
           "--duration", str(DURATION), "--warmup", "0", "--json", str(out), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "messages" in done.stdout and "pipeline" in done.stdout
    return json.loads(out.read_text())


def check_latency(lat: dict) -> None:
    assert set(lat) == LATENCY_KEYS
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]


def check_phase(name: str, phase: dict, size: int) -> None:
    assert set(phase) == PHASE_KEYS, name
    assert phase["errors"] == {}, (name, phase["errors"])
    assert phase["ops"] > 0 and phase["messages"] > 0, (name, phase)
    assert phase["bytes"] == phase["messages"] * size, name
    assert phase["seconds"] == DURATION
    assert phase["ops_per_s"] > 0 and phase["messages_per_s"] > 0 and phase["mb_per_s"] > 0
    assert abs(phase["messages_per_s"] - phase["messages"] / phase["seconds"]) < 1e-6
    check_latency(phase["latency_ms"])
    per_call = phase["messages"] / phase["ops"]
    if name in ("send", "delete"):
        assert per_call == 1, name
    elif name == "send-batch":
        assert per_call == 10
    else:  # receives and batch deletes take what there is, up to 10
        assert 1 <= per_call <= 10, (name, per_call)


def check_pipeline(pipe: dict, received: int) -> None:
    assert set(pipe) == PIPELINE_KEYS
    assert pipe["producers"] >= 1 and pipe["consumers"] >= 1 and pipe["backlog_limit"] > 0
    assert pipe["sent"] > 0 and pipe["sent_per_s"] > 0
    assert pipe["received"] == received and pipe["received_per_s"] > 0
    assert abs(pipe["e2e_samples"] - received) <= 10 * pipe["consumers"] * 2
    check_latency(pipe["e2e_latency_ms"])
    assert pipe["e2e_latency_ms"]["max"] < 10_000
    assert pipe["empty_receives"] >= 0 and 0 <= pipe["producer_wait_fraction"] <= 1


def bench_queues(endpoint: str) -> list[str]:
    with client("sqs", endpoint=endpoint) as sqs:
        return sqs.list_queues(QueueNamePrefix="bench-").get("QueueUrls", [])


def test_bench_queues_every_phase(server, tmp_path):
    report = run_bench(server.endpoint, tmp_path / "out.json", "--concurrency", "4")
    config = report["config"]
    assert config["workload"] == "queues" and config["endpoints"] == [server.endpoint]
    assert (config["message_size"], config["concurrency"], config["processes"]) == (100, 4, 1)
    assert config["phases"] == ALL_PHASES and config["fifo"] is False
    assert config["host"]["nproc"] >= 1 and config["engine_version"] and config["timestamp"]
    assert list(report["phases"]) == ALL_PHASES
    for name, phase in report["phases"].items():
        check_phase(name, phase, 100)
    assert set(report["baseline"]) == {"unary"}
    unary = report["baseline"]["unary"]
    assert unary["errors"] == {} and unary["ops_per_s"] > 0
    assert set(report["vs_baseline"]) == set(ALL_PHASES) - {"pipeline"}
    for vs in report["vs_baseline"].values():
        assert vs["baseline"] == "unary" and vs["metric"] == "ops_per_s" and vs["fraction"] > 0
    check_pipeline(report["pipeline"], report["phases"]["pipeline"]["messages"])
    assert bench_queues(server.endpoint) == []


def test_bench_queues_fifo_two_processes_two_endpoints(server, tmp_path):
    # the same node twice: the spreading code path without a cluster
    endpoints = f"{server.endpoint},{server.endpoint}"
    report = run_bench(endpoints, tmp_path / "out.json", "--fifo", "--no-baseline",
                       "--processes", "2", "--concurrency", "2", "--message-size", "1KiB",
                       "--phases", "send-batch,receive,pipeline")
    config = report["config"]
    assert config["fifo"] is True and config["queue"].endswith(".fifo")
    assert config["endpoints"] == [server.endpoint] * 2 and config["processes"] == 2
    assert list(report["phases"]) == ["send-batch", "receive", "pipeline"]
    for name, phase in report["phases"].items():
        check_phase(name, phase, 1024)
    assert report["baseline"] is None and report["vs_baseline"] == {}
    check_pipeline(report["pipeline"], report["phases"]["pipeline"]["messages"])
    assert bench_queues(server.endpoint) == []
