"""The history format (JSON lines, Jepsen's model) and the checkers' entry point."""

from __future__ import annotations

import json

import pytest

from engine.chaos.check import CheckOptions, check_all
from engine.chaos.history import HistoryError, HistoryWriter, load, pair, read_events
from engine.clock import ManualClock


def test_writer_records_invocations_and_completions_as_flushed_json_lines(tmp_path):
    path = tmp_path / "history.jsonl"
    clock = ManualClock(start_ns=1_000)
    writer = HistoryWriter(path, clock)
    put = writer.invoke(1, "write", "b/k", "v1")
    clock.advance(0.5)
    writer.complete(put, "ok")
    # flushed per line: a reader sees it while the writer is still open
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {"index": 0, "process": 1, "type": "invoke", "f": "write", "key": "b/k",
         "value": "v1", "time_ns": 1_000},
        {"index": 1, "process": 1, "type": "ok", "f": "write", "key": "b/k",
         "value": None, "time_ns": 500_001_000},
    ]
    get = writer.invoke(2, "read", "b/k")
    writer.complete(get, "fail", error="SlowDown")
    writer.close()
    ops = load(path)
    assert [(op.f, op.type, op.value, op.invoke_ns, op.complete_ns) for op in ops] == [
        ("write", "ok", "v1", 1_000, 500_001_000),
        ("read", "fail", None, 500_001_000, 500_001_000)]
    assert ops[1].error == "SlowDown"


def test_appending_continues_the_index(tmp_path):
    path = tmp_path / "history.jsonl"
    with HistoryWriter(path, ManualClock()) as writer:
        writer.complete(writer.invoke(1, "read", "k"), "ok", "v")
    with HistoryWriter(path, ManualClock()) as writer:
        assert writer.invoke(1, "read", "k").index == 2


def test_invocation_without_completion_is_indeterminate(tmp_path):
    path = tmp_path / "history.jsonl"
    with HistoryWriter(path, ManualClock()) as writer:
        writer.invoke(1, "write", "k", "lost-in-flight")
        writer.complete(writer.invoke(2, "read", "k"), "ok", None)
        writer.invoke(1, "write", "k", "next")  # process 1 moved on: the first is info
    ops = load(path)
    assert [(op.value, op.type, op.complete_ns) for op in ops if op.f == "write"] == [
        ("lost-in-flight", "info", None), ("next", "info", None)]


def test_torn_last_line_of_a_killed_harness_is_ignored(tmp_path):
    path = tmp_path / "history.jsonl"
    with HistoryWriter(path, ManualClock()) as writer:
        writer.complete(writer.invoke(1, "read", "k"), "ok", None)
    with path.open("a") as f:
        f.write('{"index": 2, "process": 1, "ty')
    assert len(read_events(path)) == 2
    path.write_text('{"index": 0\n' + path.read_text())
    with pytest.raises(HistoryError, match="line 1"):
        read_events(path)


def test_completion_without_invocation_is_a_format_error(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text(json.dumps({"index": 0, "process": 1, "type": "ok", "f": "read",
                                "key": "k", "value": None, "time_ns": 0}) + "\n")
    with pytest.raises(HistoryError, match="has no invocation"):
        pair(read_events(path))


def test_check_all_counts_and_reports_anomalies_by_kind(tmp_path):
    path = tmp_path / "history.jsonl"
    clock = ManualClock(start_ns=0)

    def op(process, f, key, value=None, type="ok", result=None, **extra):
        invocation = writer.invoke(process, f, key, value)
        clock.advance(1)
        writer.complete(invocation, type, result, **extra)
        clock.advance(1)

    with HistoryWriter(path, clock) as writer:
        op(1, "write", "b/k", "v1")
        op(1, "write", "b/k", "v2", type="fail", error="InternalError")
        op(1, "read", "b/k", result="v2", final=True)  # a failed write seen
        op(2, "send", "jobs", "m1")
        op(2, "send", "jobs", "m2", type="fail", error="InvalidParameterValue")
        op(3, "set", "c", "x")
        op(3, "get", "c", result="x")
        writer.invoke(4, "send", "jobs", "m3")  # never completed
    result = check_all(path, CheckOptions())
    assert (result.operations, result.acknowledged, result.indeterminate) == (8, 5, 1)
    assert result.failed_by_code == {"InternalError": 1, "InvalidParameterValue": 1}
    assert result.lost == {"object_writes": 1, "messages": 1}
    assert result.anomalies_by_kind == {"lost-message": 1, "lost-write": 1,
                                        "nonlinearizable": 1}
    assert result.linearizability == {"linearizable": 0, "nonlinearizable": 1, "unknown": 0}
    assert not result.valid
    doc = json.loads(json.dumps(result.to_json()))
    assert doc["anomalies"][0]["excerpt"][0]["f"] == "write"


def test_checkers_import_nothing_from_the_server_side():
    """A history is all a checker sees, so the same checkers can judge AWS itself."""
    import ast
    from pathlib import Path

    import engine.chaos

    allowed = ("engine.chaos", "engine.clock")
    root = Path(engine.chaos.__file__).parent
    # the checkers and what they read (the workloads and the launcher drive a cluster,
    # so they use the SDK and the topology)
    judged = [root / "history.py", root / "check.py", *(root / "checkers").rglob("*.py")]
    assert len(judged) > 5
    for source in judged:
        for node in ast.walk(ast.parse(source.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.startswith("engine"):
                    assert name.startswith(allowed), f"{source.name} imports {name}"
