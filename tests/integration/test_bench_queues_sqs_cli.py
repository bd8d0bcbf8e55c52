"""`engine bench queues --protocol sqs|both` end to end: a real node, the CLI as a
subprocess loading the node's HTTP port with SQS's JSON protocol, the figures of the JSON
it writes, and no bench queue left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_bench_queues_cli import DURATION, bench_queues, check_phase, check_pipeline


@pytest.fixture(scope="module")
def server(shared_server):
    return shared_server


def run_bench(server, out: Path, *extra: str) -> tuple[dict, str]:
    cmd = [sys.executable, "-m", "engine", "bench", "queues", "--endpoint", server.endpoint,
           "--sqs-endpoint", f"127.0.0.1:{server.http_port}", "--duration", str(DURATION),
           "--warmup", "0", "--json", str(out), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text()), done.stdout


def test_bench_queues_over_sqs(server, tmp_path):
    phases = ["send-batch", "receive", "delete-batch", "delete", "pipeline"]
    report, stdout = run_bench(server, tmp_path / "out.json", "--protocol", "sqs",
                               "--concurrency", "4", "--phases", ",".join(phases))
    assert "SQS JSON over HTTP" in stdout and "bare HTTP handler" in stdout
    config = report["config"]
    assert config["protocol"] == "sqs"
    assert config["sqs_endpoints"] == [f"127.0.0.1:{server.http_port}"]
    assert list(report["phases"]) == phases
    for name, phase in report["phases"].items():
        check_phase(name, phase, 100)
    assert set(report["baseline"]) == {"unary"}  # the bare HTTP handler's
    assert report["baseline"]["unary"]["errors"] == {}
    assert set(report["vs_baseline"]) == set(phases) - {"pipeline"}
    check_pipeline(report["pipeline"], report["phases"]["pipeline"]["messages"])
    assert bench_queues(server.endpoint) == []


def test_bench_queues_both_protocols_fifo_two_processes(server, tmp_path):
    phases = ["send-batch", "receive", "delete-batch"]
    report, stdout = run_bench(server, tmp_path / "out.json", "--protocol", "both",
                               "--fifo", "--processes", "2", "--concurrency", "2",
                               "--phases", ",".join(phases))
    assert "SQS JSON over HTTP / gRPC" in stdout
    config = report["config"]
    assert config["protocol"] == "both" and config["sqs_queue"] != config["queue"]
    assert config["sqs_queue"].endswith(".fifo")
    assert list(report["phases"]) == phases + [f"sqs:{p}" for p in phases]
    for name, phase in report["phases"].items():
        check_phase(name.removeprefix("sqs:"), phase, 100)
    assert set(report["baseline"]) == {"unary", "http:unary"}
    assert {vs["baseline"] for name, vs in report["vs_baseline"].items()
            if name.startswith("sqs:")} == {"http:unary"}
    ratios = report["sqs_vs_grpc"]
    assert list(ratios) == phases
    for name, ratio in ratios.items():
        expected = (report["phases"][f"sqs:{name}"]["messages_per_s"]
                    / report["phases"][name]["messages_per_s"])
        assert ratio["fraction"] == pytest.approx(expected)
    assert bench_queues(server.endpoint) == []


def test_sqs_endpoint_count_must_match(server, tmp_path):
    cmd = [sys.executable, "-m", "engine", "bench", "queues", "--protocol", "sqs",
           "--endpoint", f"{server.endpoint},{server.endpoint}", "--duration", "0.1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--sqs-endpoint with one SQS address per --endpoint node (2)" in done.stderr
