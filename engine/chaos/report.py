"""A chaos scenario's report: report.json for machines, report.md for people and
timeline.png, written from the history, the fault log and the checkers' result.

Pure functions of those files: no cluster needed, so a report can be rebuilt from a saved
run. The output is deterministic for a given input (sorted keys, floats rounded to fixed
places, no wall-clock time of its own). What each figure means is defined in
engine/chaos/figures.py.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.chaos import figures
from engine.chaos.check import CheckResult
from engine.chaos.faults import read_faults
from engine.chaos.history import Operation, load
from engine.chaos.report_markdown import render_markdown
from engine.chaos.timeline import write_timeline

JSON_NAME = "report.json"
MARKDOWN_NAME = "report.md"
TIMELINE_NAME = "timeline.png"


def summary(result: CheckResult) -> str:
    n = len(result.anomalies)
    if not n:
        return "PASS: no anomaly"
    return f"FAIL: {n} anomal{'y' if n == 1 else 'ies'}"


def build_report(ops: Sequence[Operation], faults_path: str | Path, result: CheckResult,
                 scenario: str, seed: int, command: Sequence[str] | str) -> dict[str, Any]:
    """report.json's document (also what report.md and timeline.png are drawn from)."""
    faults = read_faults(faults_path)
    run = figures.run_span(ops, faults)
    spans = figures.fault_spans(faults, run)
    checked = result.to_json()
    anomalies = [{**a.to_json(), "excerpt": [_excerpt_row(op, run) for op in a.excerpt]}
                 for a in result.anomalies]
    return {
        "scenario": scenario,
        "seed": seed,
        "command": command if isinstance(command, str) else shlex.join(command),
        "summary": summary(result),
        "valid": result.valid,
        "start_ns": run.start_ns,
        "duration_s": figures.fixed(run.duration_s),
        "operations": result.operations,
        "acknowledged": result.acknowledged,
        "indeterminate": result.indeterminate,
        "failed": sum(result.failed_by_code.values()),
        "failed_by_code": checked["failed_by_code"],
        "lost": checked["lost"],
        "allowed": checked["allowed"],
        "linearizability": checked["linearizability"],
        "unknown_keys": sorted(result.unknown_keys),
        "anomalies_by_kind": result.anomalies_by_kind,
        "anomalies": anomalies,
        "availability": figures.availability(ops, spans),
        "latency": figures.latencies(ops, spans),
        "faults": figures.fault_figures(faults, ops, run),
        "timeline": figures.timeline(ops, run),
    }


def _excerpt_row(op: Operation, run: figures.Run) -> dict[str, Any]:
    """An excerpt operation as recorded, with its times also in ms from the run start."""
    return {**op.to_json(), "invoke_ms": run.ms(op.invoke_ns),
            "complete_ms": run.ms(op.complete_ns)}


def write_report(history_path: str | Path, faults_path: str | Path, check_result: CheckResult,
                 out_dir: str | Path, scenario: str, seed: int,
                 command: Sequence[str] | str) -> dict[str, Any]:
    """Writes report.json, report.md and timeline.png into ``out_dir`` (created if
    needed); returns the report document. A missing fault log means no fault."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(load(history_path), faults_path, check_result, scenario, seed,
                          command)
    (out / JSON_NAME).write_text(to_json(report), encoding="utf-8")
    (out / MARKDOWN_NAME).write_text(render_markdown(report, TIMELINE_NAME),
                                     encoding="utf-8")
    write_timeline(report, out / TIMELINE_NAME)
    return report


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def read_report(path: str | Path) -> dict[str, Any]:
    """A report.json back (to redraw, compare or aggregate scenarios)."""
    loaded: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return loaded
