"""The chaos report: figures from a hand-made history and fault log, and the files a
reader gets (report.json, report.md, timeline.png)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from engine.chaos.check import check_all
from engine.chaos.faults import FaultLog, FaultLogError, read_faults, windows
from engine.chaos.history import Event, Operation
from engine.chaos.report import read_report, to_json, write_report
from engine.clock import ManualClock
from tests.unit.helpers_chaos import NS, History

COMMAND = ["engine", "chaos", "rolling-kill", "--seed", "7"]


def write_history(ops: list[Operation], path: Path) -> None:
    """The events a harness would have written for ``ops``, in time order."""
    events: list[tuple[int, int, Event]] = []
    for op in ops:
        events.append((op.invoke_ns, 0, Event(0, op.process, "invoke", op.f, op.key, op.value,
                                              op.invoke_ns, dict(op.extra))))
        if op.complete_ns is not None:
            events.append((op.complete_ns, 1, Event(0, op.process, op.type, op.f, op.key,
                                                    op.result, op.complete_ns,
                                                    {"error": op.extra["error"]}
                                                    if "error" in op.extra else {})))
    events.sort(key=lambda e: (e[0], e[1]))
    with path.open("w") as f:
        for index, (_, _, e) in enumerate(events):
            doc = Event(index, e.process, e.type, e.f, e.key, e.value, e.time_ns, e.extra)
            f.write(json.dumps(doc.to_json()) + "\n")


def scenario(stale_read: bool) -> list[Operation]:
    """2 acknowledged writes/s for 10 s (100 ms each); a node killed from 10 s to 15 s,
    during which 5 writes are tried (2 acknowledged, after 500 and 1000 ms); a read at
    16.2 s; from 17 s 2 writes/s again until 25 s."""
    h = History()
    for i in range(20):
        h.write("b/k", f"v{i}", (0.5 * i, 0.5 * i + 0.1), node="n1")
    h.write("b/k", "x0", (10.0, 10.01), type="fail", error="EndpointConnectionError")
    h.write("b/k", "x1", (11.0, 13.0), type="info", error="DEADLINE_EXCEEDED")
    h.write("b/k", "x2", (12.0, 12.5))
    h.write("b/k", "x3", (13.5, 14.5))
    h.write("b/k", "x4", (14.0, 14.2), type="fail", error="ServiceUnavailable")
    h.read("b/k", "v0" if stale_read else "x3", (16.2, 16.3))
    for i in range(16):
        h.write("b/k", f"y{i}", (17.0 + 0.5 * i, 17.1 + 0.5 * i))
    return h.ops


def fault_log(path: Path) -> None:
    clock = ManualClock(start_ns=0)
    with FaultLog(path, clock) as log:
        clock.advance(10)
        kill = log.start("kill", ["n2"], "kill -9 n2")
        clock.advance(5)
        log.end(kill)
        log.record("bitrot", ["n4/d0/shard-3"], 20 * NS, 20 * NS, "flip 1 bit")


@pytest.fixture
def run(tmp_path: Path) -> tuple[Path, Path]:
    history, faults = tmp_path / "history.jsonl", tmp_path / "faults.jsonl"
    write_history(scenario(stale_read=True), history)
    fault_log(faults)
    return history, faults


def report_of(run: tuple[Path, Path], out: Path) -> dict:
    history, faults = run
    return write_report(history, faults, check_all(history), out, "rolling-kill", 7, COMMAND)


def test_figures_of_a_known_run(run, tmp_path: Path):
    r = report_of(run, tmp_path / "out")
    assert (r["scenario"], r["seed"], r["command"]) == (
        "rolling-kill", 7, "engine chaos rolling-kill --seed 7")
    assert r["duration_s"] == 24.6
    assert (r["operations"], r["acknowledged"], r["indeterminate"], r["failed"]) == (
        42, 39, 1, 2)
    assert r["failed_by_code"] == {"EndpointConnectionError": 1, "ServiceUnavailable": 1}
    # 39 of 42 overall; of the 5 invoked while n2 was down, 2; all 37 outside.
    assert r["availability"] == {
        "overall": {"attempted": 42, "acknowledged": 39, "percent": 92.857},
        "during_faults": {"attempted": 5, "acknowledged": 2, "percent": 40.0},
        "outside_faults": {"attempted": 37, "acknowledged": 37, "percent": 100.0}}
    lat = r["latency"]
    assert lat["during_faults"] == {"count": 2, "p50_ms": 500.0, "p99_ms": 1000.0}
    assert lat["outside_faults"] == {"count": 37, "p50_ms": 100.0, "p99_ms": 100.0}
    assert lat["overall"] == {"count": 39, "p50_ms": 100.0, "p99_ms": 1000.0}
    assert lat["by_kind"]["read"]["overall"] == {"count": 1, "p50_ms": 100.0, "p99_ms": 100.0}
    assert lat["by_kind"]["read"]["during_faults"]["p50_ms"] is None


def test_time_to_recover(run, tmp_path: Path):
    kill, bitrot = report_of(run, tmp_path / "out")["faults"]
    assert (kill["nemesis"], kill["targets"], kill["start_ms"], kill["end_ms"]) == (
        "kill", ["n2"], 10000.0, 15000.0)
    # First read acknowledged 1.3 s after the end, first write 2.1 s after it.
    assert kill["recovery"]["first_ack_ms"] == {"read": 1300.0, "write": 2100.0}
    # Baseline 2 ops/s (20 in the 10 s before); [15,16) has 0, [16,17) 1, [17,18) 2.
    assert kill["recovery"]["throughput"] == {"baseline_ops_per_s": 2.0, "recovered_s": 2.0}
    # An instant fault: baseline from the previous fault's end (7 in 5 s), back at once.
    assert bitrot["recovery"]["throughput"] == {"baseline_ops_per_s": 1.4,
                                                "recovered_s": 0.0}
    assert bitrot["recovery"]["first_ack_ms"]["write"] == 100.0


def test_anomaly_rendered_with_its_excerpt(run, tmp_path: Path):
    r = report_of(run, tmp_path / "out")
    assert r["summary"] == "FAIL: 1 anomaly" and not r["valid"]
    assert r["anomalies_by_kind"] == {"nonlinearizable": 1}
    (anomaly,) = r["anomalies"]
    stale = [op for op in anomaly["excerpt"] if op["f"] == "read"]
    assert stale and stale[0]["result"] == "v0"
    assert (stale[0]["invoke_ms"], stale[0]["complete_ms"]) == (16200.0, 16300.0)

    md = (tmp_path / "out" / "report.md").read_text()
    assert "**FAIL: 1 anomaly**" in md
    assert "### 1. nonlinearizable on `b/k`" in md
    assert ("| index | process | f | key | value | type | result | error | invoke_ms "
            "| complete_ms |") in md
    row = next(line for line in md.splitlines() if "| read | b/k |" in line)
    assert row.endswith("|  | ok | v0 |  | 16200.0 | 16300.0 |")
    assert "| availability, during faults | 40.00 % (2 of 5) |" in md
    assert "| latency p50 / p99, during faults | 500.0 / 1000.0 ms (2 acknowledged) |" in md
    assert "| 0 | kill | n2 | kill -9 n2 | 10000.0 | 15000.0 | 2.0 | read 1300.0, write " \
           "2100.0 |" in md


def test_pass_when_no_anomaly(tmp_path: Path):
    history, faults = tmp_path / "h.jsonl", tmp_path / "faults.jsonl"
    write_history(scenario(stale_read=False), history)
    r = write_report(history, faults, check_all(history), tmp_path / "out", "calm", 1,
                     "engine chaos calm")
    assert r["summary"] == "PASS: no anomaly" and r["anomalies"] == []
    assert r["faults"] == [] and r["linearizability"]["linearizable"] == 1
    assert r["availability"]["during_faults"]["percent"] is None
    md = (tmp_path / "out" / "report.md").read_text()
    assert "**PASS: no anomaly**" in md and "No fault was injected." in md


def test_files_round_trip_and_are_deterministic(run, tmp_path: Path):
    first = report_of(run, tmp_path / "a")
    report_of(run, tmp_path / "b")
    text = (tmp_path / "a" / "report.json").read_text()
    assert read_report(tmp_path / "a" / "report.json") == first
    assert to_json(first) == text
    for name in ("report.json", "report.md", "timeline.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_timeline_png(run, tmp_path: Path):
    r = report_of(run, tmp_path / "out")
    t = r["timeline"]
    assert t["t_s"][:3] == [0.0, 1.0, 2.0] and len(t["t_s"]) == 25
    assert t["acknowledged"]["objects"][:3] == [2, 2, 2]
    assert t["acknowledged"]["objects"][15:18] == [0, 1, 2]
    assert t["errors"][10] == 1 and t["errors"][13:15] == [1, 1]  # the info ended at 13 s
    png = (tmp_path / "out" / "timeline.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1100, 650)


def test_fault_log_reads_back_open_torn_and_appended(tmp_path: Path):
    path = tmp_path / "faults.jsonl"
    clock = ManualClock(start_ns=0)
    with FaultLog(path, clock) as log:
        pause = log.start("pause", ["n1"], "SIGSTOP n1")
    with FaultLog(path, clock) as log:  # a restarted harness continues the ids
        clock.advance(3)
        cut = log.start("partition", ["n1", "n2"])
        clock.advance(2)
        log.end(cut)
    with path.open("a") as f:
        f.write('{"id": 9, "nem')  # the harness died mid-line
    got = read_faults(path)
    assert [(f.id, f.nemesis, f.start_ns, f.end_ns) for f in got] == [
        (pause.id, "pause", 0, None), (1, "partition", 3 * NS, 5 * NS)]
    assert windows(got, run_end_ns=8 * NS) == [(0, 8 * NS)]  # the open one lasts to the end
    assert read_faults(tmp_path / "missing.jsonl") == []
    path.write_text('{"id": 4, "end_ns": 5}\n{"id": 5}\n')
    with pytest.raises(FaultLogError, match="never started"):
        read_faults(path)


def test_open_fault_is_still_active_in_the_report(tmp_path: Path):
    history, faults = tmp_path / "h.jsonl", tmp_path / "faults.jsonl"
    write_history(scenario(stale_read=False), history)
    with FaultLog(faults, ManualClock(start_ns=22 * NS)) as log:
        log.start("pause", ["n3"], "SIGSTOP n3")
    r = write_report(history, faults, check_all(history), tmp_path / "out", "pause", 2,
                     COMMAND)
    (fault,) = r["faults"]
    assert fault["end_ms"] is None and fault["recovery"] is None
    # Invoked from 22 s on: 22.0 ... 24.5, six writes, all acknowledged.
    assert r["availability"]["during_faults"] == {"attempted": 6, "acknowledged": 6,
                                                  "percent": 100.0}
    assert "| still active | - |" in (tmp_path / "out" / "report.md").read_text()
