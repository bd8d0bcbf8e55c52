"""`--compare OLD.json`: every figure of this run as a ratio to the same figure of an
earlier run, so a change's effect reads as "1.27x ops/s, 0.80x p99".

Ratios are new / old for every figure, latencies included (below 1 is faster there,
above 1 is faster for throughput). Phases that only one of the runs has are left out;
a figure that was 0 before has no ratio (None).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

THROUGHPUT = ("ops_per_s", "mb_per_s")
LATENCY = ("p50", "p95", "p99", "max")
FIGURES = (*THROUGHPUT, *LATENCY)
SECTIONS = ("phases", "baseline")


def load_report(path: Path) -> dict[str, Any]:
    """A report written by --json; ValueError saying what is wrong with the file."""
    try:
        report = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    if not isinstance(report, dict) or not isinstance(report.get("phases"), dict):
        raise ValueError(f"{path} is not an engine bench report (no phases)")
    return report


def _figures(phase: dict[str, Any]) -> dict[str, float]:
    lat = phase.get("latency_ms", {})
    return {**{k: phase.get(k, 0.0) for k in THROUGHPUT}, **{k: lat.get(k, 0.0) for k in LATENCY}}


def compare(new: dict[str, Any], old: dict[str, Any], old_path: Path) -> dict[str, Any]:
    """{"file", "old_timestamp", "phases": {name: {figure: ratio}}, "baseline": ...}."""
    out: dict[str, Any] = {"file": str(old_path),
                           "old_timestamp": old.get("config", {}).get("timestamp")}
    for section in SECTIONS:
        ratios: dict[str, dict[str, float | None]] = {}
        for name, phase in (new.get(section) or {}).items():
            before = (old.get(section) or {}).get(name)
            if before is None:
                continue
            now, then = _figures(phase), _figures(before)
            ratios[name] = {k: now[k] / then[k] if then[k] else None for k in FIGURES}
        out[section] = ratios
    return out


def _ratio_text(value: float | None, higher_is_better: bool) -> str:
    if value is None:
        return "-"
    better = value > 1.05 if higher_is_better else value < 0.95
    worse = value < 0.95 if higher_is_better else value > 1.05
    style = "green" if better else "red" if worse else ""
    text = f"{value:.2f}x"
    return f"[{style}]{text}[/{style}]" if style else text


def render_compare(report: dict[str, Any], console: Console) -> None:
    cmp = report.get("compare")
    if not cmp:
        return
    table = Table(title=f"compared with {cmp['file']} ({cmp['old_timestamp']}): new / old",
                  title_justify="left")
    table.add_column("phase")
    for col in ("ops/s", "MB/s", "p50", "p95", "p99", "max"):
        table.add_column(col, justify="right")
    for section in SECTIONS:
        for name, ratios in cmp[section].items():
            label = name if section == "phases" else f"baseline {name}"
            table.add_row(label, *(_ratio_text(ratios[k], k in THROUGHPUT) for k in FIGURES))
    if not table.rows:
        console.print(f"[yellow]{cmp['file']} has none of this run's phases[/yellow]")
        return
    console.print(table)
