"""`engine bench mixed` end to end, and what every workload shares: --json with every
documented field, --plot, --compare, --ops, `python -m bench`, --local-cluster leaving
no process behind, and bad input refused with exit status 2."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from engine.bench.mixed import KINDS
from engine.bench.report import LATENCY_KEYS, PHASE_KEYS, TIMESERIES_KEYS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def bench(*args: str, module: str = "engine", timeout: int = 120,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", module, *(["bench"] if module == "engine" else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def check_phase(name: str, phase: dict, seconds: float | None = None) -> None:
    assert tuple(phase) == PHASE_KEYS, name
    assert phase["ops"] > 0 and phase["errors"] == {}, (name, phase)
    if seconds is not None:
        assert phase["seconds"] == seconds
    assert phase["ops_per_s"] == pytest.approx(phase["ops"] / phase["seconds"])
    lat = phase["latency_ms"]
    assert tuple(lat) == LATENCY_KEYS
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"], name
    ts = phase["timeseries"]
    assert tuple(ts) == TIMESERIES_KEYS
    assert len(ts["t_s"]) == len(ts["ops_per_s"]) == len(ts["mb_per_s"]) == len(ts["errors"])
    # the per-slot rates add up to the phase's ops
    assert sum(r * ts["interval_s"] for r in ts["ops_per_s"]) == pytest.approx(phase["ops"])
    assert sum(phase["latency_histogram"]["counts"]) == phase["ops"]


def test_mixed_json_plot_and_compare(server, tmp_path):
    first, png = tmp_path / "first.json", tmp_path / "run.png"
    done = bench("mixed", "--endpoint", server.endpoint, "--duration", "1", "--warmup", "0",
                 "--concurrency", "4", "--json", str(first), "--plot", str(png))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(first.read_text())
    assert set(report) == {"config", "phases", "baseline", "vs_baseline", "compare"}
    config = report["config"]
    assert config["workload"] == "mixed" and config["endpoints"] == [server.endpoint]
    assert config["mix"] == {"objects": 1, "queues": 1, "cache": 1}
    assert config["host"]["nproc"] >= 1 and config["host"]["cpu_model"]
    assert set(report["phases"]) == {"mixed", *(f"mixed/{k}" for k in KINDS)}
    for name, phase in report["phases"].items():
        check_phase(name, phase, seconds=1.0)
    total = report["phases"]["mixed"]
    assert total["ops"] == sum(report["phases"][f"mixed/{k}"]["ops"] for k in KINDS)
    assert set(report["baseline"]) == {"unary-value", "unary-message", "unary-object"}
    for name, phase in report["baseline"].items():
        check_phase(name, phase, seconds=1.0)
    for kind in KINDS:
        vs = report["vs_baseline"][f"mixed/{kind}"]
        assert vs["metric"] == "call_rate" and 0 < vs["fraction"] < 5
    assert png.read_bytes()[:8] == PNG_MAGIC

    # the same CLI as `python -m bench`, bounded by a call count, compared with the first
    second = tmp_path / "second.json"
    done = bench("mixed", "--endpoint", server.endpoint, "--ops", "300", "--warmup", "0",
                 "--no-baseline", "--quiet", "--compare", str(first), "--json", str(second),
                 module="bench")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "compared with" in done.stdout and re.search(r"\d\.\d\dx", done.stdout)
    report = json.loads(second.read_text())
    assert report["phases"]["mixed"]["ops"] == 300
    ratios = report["compare"]["phases"]["mixed"]
    assert set(ratios) == {"ops_per_s", "mb_per_s", "p50", "p95", "p99", "max"}
    assert all(r > 0 for r in ratios.values())
    assert done.stderr == ""  # --quiet


def _cluster_processes(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in proc.info["cmdline"] or ()):
            found.append(proc)
    return found


def test_local_cluster_runs_and_leaves_nothing_behind(tmp_path):
    """The caller's credentials belong to another cluster (and no ENGINE_ROOT_* is set):
    the bench gives its throwaway cluster a root key of its own and signs with that."""
    out = tmp_path / "cluster.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_ROOT_")}
    env.update(AWS_ACCESS_KEY_ID="AKIAOTHERCLUSTER0001",
               AWS_SECRET_ACCESS_KEY="other-cluster-secret-0123456789abcdefghij")
    done = bench("mixed", "--local-cluster", "3x3", "--duration", "1", "--warmup", "0.2",
                 "--mix", "objects=1,cache=1", "--no-baseline", "--json", str(out),
                 timeout=180, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    root = re.search(r"from (\S+)/cluster\.toml", done.stderr).group(1)
    report = json.loads(out.read_text())
    assert report["config"]["local_cluster"] == "3x3"
    assert len(report["config"]["endpoints"]) == 3
    check_phase("mixed", report["phases"]["mixed"], seconds=1.0)
    assert _cluster_processes(root) == []
    assert not Path(root).exists()


@pytest.mark.parametrize("args, message", [
    (["warp"], "invalid choice"),
    (["objects", "--size", "12QB"], "not a size"),
    (["mixed", "--mix", "bogus=1"], "unknown family"),
    (["cache", "--local-cluster", "6"], "not a cluster shape"),
    (["objects", "--endpoint", "127.0.0.1:1", "--duration", "1"], "no gRPC server"),
])
def test_bad_input_exits_2_with_a_message(args, message, tmp_path):
    done = bench(*args, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_compare_with_a_bad_file_fails_before_running(tmp_path):
    bad = tmp_path / "old.json"
    bad.write_text("not json")
    done = bench("objects", "--endpoint", "127.0.0.1:1", "--compare", str(bad), timeout=60)
    assert done.returncode == 2 and "is not JSON" in done.stderr
