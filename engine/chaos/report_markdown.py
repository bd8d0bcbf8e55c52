"""report.md: a chaos report for people, rendered from report.json's document.

A summary line, a table of figures, latency per operation kind, the fault timeline with
each fault's time to recover, then each anomaly with its history excerpt as a table
(times in ms from the run's start). Numbers have fixed formats, so equal documents
render to equal bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MISSING = "-"  # no figure: no sample, never happened, or still active
CELL_LIMIT = 80  # a long value (a receive's message list) is cut; report.json has it all
_EXCERPT_COLUMNS = ("index", "process", "f", "key", "value", "type", "result", "error",
                    "invoke_ms", "complete_ms")
_PARTS = ("overall", "during_faults", "outside_faults")


def render_markdown(report: Mapping[str, Any], timeline_name: str = "timeline.png") -> str:
    lines: list[str] = [f"# Chaos report: {report['scenario']}", "",
                        f"**{report['summary']}**", "",
                        f"Seed {report['seed']}, {_num(report['duration_s'], 1)} s. "
                        f"Command: `{report['command']}`", ""]
    lines += _figures(report)
    lines += _latency_by_kind(report["latency"]["by_kind"])
    lines += _faults(report["faults"])
    lines += [f"![throughput and errors over time, faults shaded]({timeline_name})", ""]
    lines += _anomalies(report["anomalies"])
    return "\n".join(lines).rstrip("\n") + "\n"


def _figures(r: Mapping[str, Any]) -> list[str]:
    avail = r["availability"]
    lat = r["latency"]
    rows = [
        ("operations", str(r["operations"])),
        ("acknowledged", str(r["acknowledged"])),
        ("indeterminate", str(r["indeterminate"])),
        ("failed", f"{r['failed']}" + (f" ({_pairs(r['failed_by_code'])})"
                                        if r["failed_by_code"] else "")),
        ("lost", _pairs(r["lost"])),
        ("anomalies", _pairs(r["anomalies_by_kind"]) or "none"),
        ("allowed by the models (counted)", _pairs(r["allowed"]) or "none"),
        ("linearizability (keys)", _pairs(r["linearizability"])),
    ]
    if r["unknown_keys"]:
        rows.append(("keys the search gave up on", ", ".join(r["unknown_keys"])))
    for part in _PARTS:
        a = avail[part]
        rows.append((f"availability, {part.replace('_', ' ')}",
                     f"{_num(a['percent'], 2)} % ({a['acknowledged']} of {a['attempted']})"))
    for part in _PARTS:
        rows.append((f"latency p50 / p99, {part.replace('_', ' ')}",
                     f"{_num(lat[part]['p50_ms'], 1)} / {_num(lat[part]['p99_ms'], 1)} ms "
                     f"({lat[part]['count']} acknowledged)"))
    return ["## Figures", "", "| figure | value |", "|---|---|",
            *(_row((name, value)) for name, value in rows), ""]


def _latency_by_kind(by_kind: Mapping[str, Any]) -> list[str]:
    if not by_kind:
        return []
    head = ["kind"] + [f"{part.replace('_', ' ')} p50 / p99 ms (n)" for part in _PARTS]
    out = ["## Latency by operation kind", "", _row(head), _rule(len(head))]
    for f, parts in by_kind.items():
        out.append(_row([f] + [f"{_num(parts[p]['p50_ms'], 1)} / {_num(parts[p]['p99_ms'], 1)}"
                               f" ({parts[p]['count']})" for p in _PARTS]))
    return [*out, ""]


def _faults(faults: Sequence[Mapping[str, Any]]) -> list[str]:
    if not faults:
        return ["## Faults", "", "No fault was injected.", ""]
    head = ["#", "nemesis", "targets", "what", "start ms", "end ms",
            "throughput back (s after end)", "first acknowledgement (ms after end)"]
    out = ["## Faults", "", _row(head), _rule(len(head))]
    for f in faults:
        rec = f["recovery"]
        if rec is None:
            back, first = "still active", MISSING
        else:
            back = _num(rec["throughput"]["recovered_s"], 1)
            if rec["throughput"]["baseline_ops_per_s"] is None:
                back = "no baseline"
            first = ", ".join(f"{k} {_num(v, 1)}" for k, v in rec["first_ack_ms"].items())
        out.append(_row([f["id"], f["nemesis"], ", ".join(f["targets"]), f["description"],
                         _num(f["start_ms"], 1), _num(f["end_ms"], 1), back, first]))
    return [*out, ""]


def _anomalies(anomalies: Sequence[Mapping[str, Any]]) -> list[str]:
    if not anomalies:
        return ["## Anomalies", "", "None.", ""]
    out = ["## Anomalies", ""]
    for n, a in enumerate(anomalies, 1):
        out += [f"### {n}. {a['kind']} on `{a['key']}`", "", _cell(a["message"]), ""]
        if a["excerpt"]:
            out += [_row(_EXCERPT_COLUMNS), _rule(len(_EXCERPT_COLUMNS))]
            out += [_row([_excerpt_cell(op, c) for c in _EXCERPT_COLUMNS])
                    for op in a["excerpt"]]
            out.append("")
    return out


def _excerpt_cell(op: Mapping[str, Any], column: str) -> str:
    value = op.get(column)
    if column.endswith("_ms"):
        return _num(value, 1)
    if value is None:
        return ""
    if column in ("value", "result") and not isinstance(value, str):
        value = json.dumps(value, sort_keys=True, separators=(",", ":"))
    text = str(value)
    return text if len(text) <= CELL_LIMIT else text[:CELL_LIMIT - 1] + "…"


def _num(value: float | None, places: int) -> str:
    return MISSING if value is None else f"{value:.{places}f}"


def _pairs(counts: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def _cell(value: Any) -> str:
    return str(value).replace("\n", " ").replace("|", "\\|")


def _row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _rule(n: int) -> str:
    return "|" + "---|" * n
