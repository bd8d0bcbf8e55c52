"""bench/sqs_vs_moto.py end to end with tiny phases: it starts a real node and moto's
server, prints both servers' figures in both client modes and the summary, and leaves
no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "sqs_vs_moto.py"
PHASES = ("send-batch", "receive", "delete-batch", "cycle")


def alive(group: int) -> bool:
    """Whether any process of the group is left (signal 0 only asks)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_sqs_vs_moto_prints_both_servers_and_cleans_up() -> None:
    cmd = [sys.executable, str(SCRIPT), "--rounds", "1", "--duration", "0.1",
           "--threads", "2"]
    proc = subprocess.Popen(cmd, cwd=SCRIPT.parents[1], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, out + err
        assert not alive(proc.pid), "a server outlived the script"
    finally:  # the script's servers are in its process group
        if alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for server in ("engine", "moto"):
        for mode in ("boto3", "aiohttp"):
            row = re.search(rf"^round 0 {server} +{mode} (.*)$", out, re.M)
            assert row, out
            rates = dict(re.findall(r"([a-z-]+) ([\d,]+)/s", row.group(1)))
            assert list(rates) == list(PHASES), row.group(0)
            assert int(rates["send-batch"].replace(",", "")) > 0, row.group(0)
            assert int(rates["receive"].replace(",", "")) > 0, row.group(0)
            assert "errors" not in row.group(0)
    summary = out.split("medians of 1 rounds", 1)[1]
    assert "engine/moto" in summary
    for mode in ("boto3", "aiohttp"):
        for phase in PHASES:
            assert re.search(rf"^{mode} +{phase} +[\d,]+ +[\d,]+ +[\d.]+x ", summary,
                             re.M), summary
