"""`engine chaos` end to end, as CI runs it: a fixed seed, a 15 s run on a real 3-node
cluster under the isolate and rolling-kill nemeses. What a user relies on: exit 0 when
nothing went wrong, the history and the report on disk, every operation kind
acknowledged while faults came and went, each fault's window recorded in the fault log
and the report, no anomaly. And a bad command line exits 2 with a reason, before any
cluster starts, as does a run without root.

The runs need root (nft rules, nodes under their own uids); skipped with the reason elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from engine.chaos.faults import read_faults
from engine.chaos.history import load
from engine.chaos.network import NodeIdentity
from engine.chaos.scenarios import SCENARIOS
from engine.cli import main

from .conftest import skip_without_network

SEED = 1
DURATION_S = 15
NODES = ["n1", "n2", "n3"]
OP_KINDS = {"get", "put", "delete", "copy", "multipart"}
REPORT_FILES = ("history.jsonl", "faults.jsonl", "report.md", "report.json", "timeline.png")


def engine_chaos(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", "chaos", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.parametrize("scenario", ["isolate", "rolling-kill"])
def test_a_short_fixed_seed_run_passes_and_leaves_its_history_and_report(
        scenario: str, tmp_path: Path) -> None:
    skip_without_network()
    out = tmp_path / "report"
    done = engine_chaos(scenario, "--duration", str(DURATION_S), "--seed", str(SEED),
                        "--nodes", "3", "--azs", "3", "--report", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{scenario} (seed {SEED}): PASS: no anomaly" in done.stdout
    assert str(out / "report.md") in done.stdout
    for name in REPORT_FILES:
        assert (out / name).stat().st_size > 0, name

    ops = load(out / "history.jsonl")
    acked = Counter(op.extra["op"] for op in ops if op.type == "ok")
    assert set(acked) == OP_KINDS and min(acked.values()) > 0, acked
    assert any(op.extra.get("final") and op.type == "ok" for op in ops), "no final read"

    # The faults the seed plans, each with a closed window inside the run (a restart
    # slower than planned may push the last one past the fault-free tail: a prefix).
    planned = [(p.kind, p.targets)
               for p in SCENARIOS[scenario].schedule(SEED, NODES, DURATION_S)]
    faults = read_faults(out / "faults.jsonl")
    assert faults and [(f.nemesis, f.targets) for f in faults] == planned[:len(faults)]
    first = min(op.invoke_ns for op in ops)
    last = max(op.complete_ns or 0 for op in ops)
    for f in faults:
        assert f.end_ns is not None and first < f.start_ns < f.end_ns < last, f

    report = json.loads((out / "report.json").read_text())
    assert report["valid"] and report["anomalies"] == [], report["anomalies_by_kind"]
    assert report["lost"]["object_writes"] == 0
    assert [f["id"] for f in report["faults"]] == [f.id for f in faults]
    assert report["linearizability"]["nonlinearizable"] == 0


@pytest.mark.parametrize(("args", "reason"), [
    (["isolate", "--nodes", "2"], "--nodes must be 3.."),
    (["isolate", "--nodes", "3", "--azs", "4"], "--azs (4) cannot exceed --nodes (3)"),
    (["split-brain"], "invalid choice"),
])
def test_bad_usage_exits_2_with_the_reason(args: list[str], reason: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    try:
        status = main(["chaos", *args, "--report", str(tmp_path / "r")])
    except SystemExit as e:  # argparse's own usage errors
        status = e.code
    assert status == 2
    assert reason in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing started, nothing written


def test_without_root_it_exits_2_and_says_why(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "engine", "chaos", "rolling-kill", "--nodes", "3",
            "--report", str(tmp_path / "r")]
    if os.geteuid() == 0:  # drop to a plain uid (keeping file access) to see what it sees
        argv = NodeIdentity("outsider", "127.0.0.250", 61799).command(argv)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot run chaos scenarios here" in done.stderr and "root" in done.stderr
    assert not (tmp_path / "r").exists()
