"""A run's figures as one JSON-ready dict, and the same dict rendered as rich tables.

Everything is rendered *from the dict*, so a saved --json file can be shown (or compared
with another) later exactly as it was printed. Shape:

    {"config": {...}, "phases": {name: PHASE}, "baseline": {name: PHASE} | null,
     "vs_baseline": {name: {"baseline": echo phase, "metric": ..., "fraction": x}},
     "compare": null | see engine.bench.compare}

where PHASE is PhaseStats.to_dict(): ops, bytes, seconds, ops_per_s, mb_per_s,
latency_ms {p50, p95, p99, max, mean}, errors {code: count}, timeseries {interval_s,
t_s, ops_per_s, mb_per_s, errors} and latency_histogram {edges_ms, counts}. A phase
that mixes kinds of operation is followed by one entry per kind, named "phase/kind".
docs/benchmarks.md has the whole schema.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from engine import __version__
from engine.bench.stats import PhaseStats

PHASE_KEYS = ("ops", "bytes", "seconds", "ops_per_s", "mb_per_s", "latency_ms", "errors",
              "timeseries", "latency_histogram")
CALL_RATE = "call_rate"  # metric of a kind in a mixed phase, see _fraction
TIMESERIES_KEYS = ("interval_s", "t_s", "ops_per_s", "mb_per_s", "errors")
LATENCY_KEYS = ("p50", "p95", "p99", "max", "mean")


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (what lscpu shows), else platform's."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info() -> dict[str, Any]:
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu_model": cpu_model(),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "hostname": platform.node(),
    }


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_config(started: str | None = None, **settings: Any) -> dict[str, Any]:
    """The run's settings plus where and when (`started`, UTC ISO 8601) it ran."""
    return {
        **settings,
        "host": host_info(),
        "engine_version": __version__,
        "timestamp": started or now(),
    }


def flatten(phases: dict[str, PhaseStats]) -> dict[str, PhaseStats]:
    """Every phase, each followed by its parts (kinds of operation) as "phase/kind"."""
    out: dict[str, PhaseStats] = {}
    for name, stats in phases.items():
        out[name] = stats
        for kind, part in stats.parts.items():
            out[f"{name}/{kind}"] = part
    return out


def build_report(config: dict[str, Any], phases: dict[str, PhaseStats],
                 baseline: dict[str, PhaseStats] | None,
                 matches: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """`matches` maps an engine phase (or "phase/kind") to the (baseline phase, metric)
    it is judged by."""
    report: dict[str, Any] = {
        "config": config,
        "phases": {name: s.to_dict() for name, s in flatten(phases).items()},
        "baseline": {name: s.to_dict() for name, s in baseline.items()}
        if baseline is not None else None,
        "vs_baseline": {},
        "compare": None,
    }
    if baseline is not None:
        for name, (base, metric) in matches.items():
            if name not in report["phases"] or base not in baseline:
                continue
            report["vs_baseline"][name] = {
                "baseline": base, "metric": metric,
                "fraction": _fraction(report["phases"][name], report["baseline"][base],
                                      metric),
            }
    return report


def _fraction(phase: dict[str, Any], base: dict[str, Any], metric: str) -> float | None:
    """phase / baseline for ops_per_s or mb_per_s. For "call_rate" (the kinds of a mixed
    phase, which get only a share of the calls) the bare call's mean latency over the
    kind's: in a closed loop that is the rate the kind would reach with every call."""
    if metric == CALL_RATE:
        mine = phase["latency_ms"]["mean"]
        return base["latency_ms"]["mean"] / mine if mine else None
    ref = base[metric]
    return phase[metric] / ref if ref else None


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")


def _phase_table(title: str, phases: dict[str, Any],
                 vs: dict[str, Any] | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("phase", "ops", "ops/s", "MB/s", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    table.add_column("errors")
    if vs is not None:
        table.add_column("vs baseline")
    for name, p in phases.items():
        lat = p["latency_ms"]
        errors = ", ".join(f"{code} {n}" for code, n in p["errors"].items())
        row = [name, f"{p['ops']:,}", f"{p['ops_per_s']:,.1f}", f"{p['mb_per_s']:,.1f}",
               *(f"{lat[k]:.2f}" for k in ("p50", "p95", "p99", "max")),
               f"[red]{errors}[/red]" if errors else "-"]
        if vs is not None:
            row.append(_fraction_text(vs.get(name)))
        table.add_row(*row, style="dim" if "/" in name else None)
    return table


def _fraction_text(vs: dict[str, Any] | None) -> str:
    if not vs or vs["fraction"] is None:
        return "-"
    metric = {"ops_per_s": "ops/s", "mb_per_s": "MB/s",
              CALL_RATE: "call rate (mean latency)"}[vs["metric"]]
    return f"{vs['fraction']:.0%} of {vs['baseline']} {metric}"


def render(report: dict[str, Any], console: Console) -> None:
    c = report["config"]
    host = c["host"]
    length = (f"{c['ops']:,} ops per phase" if c.get("ops")
              else f"{c['duration']} s per phase")
    cluster = f"  local cluster {c['local_cluster']}" if c.get("local_cluster") else ""
    console.print(
        f"[bold]engine bench {c.get('workload', '')}[/bold] {c['endpoint']}{cluster}  "
        f"size {c.get('size_text', c.get('size'))}  concurrency {c['concurrency']} x "
        f"{c['processes']} process(es)  {length} "
        f"(+{c['warmup']} s warm-up)  {host['nproc']} x {host['cpu_model']}")
    vs = report["vs_baseline"] if report["baseline"] is not None else None
    engine, bare = _TITLES.get(c.get("protocol", "grpc"), _TITLES["grpc"])
    console.print(_phase_table(engine, report["phases"], vs))
    if report["baseline"] is not None:
        console.print(_phase_table(bare, report["baseline"]))


# --protocol -> the titles of the engine's and the baseline's tables
_TITLES = {
    "grpc": ("engine", "bare gRPC (Echo)"),
    "s3": ("engine, S3 REST", "bare HTTP handler (/_engine/echo)"),
    "sqs": ("engine, SQS JSON over HTTP", "bare HTTP handler (/_engine/echo)"),
    "resp": ("engine, RESP (redis-py)", "bare RESP (ECHO)"),
    "both": ("engine: gRPC, then SQS JSON over HTTP (sqs:)",
             "bare gRPC (Echo), bare HTTP handler (http:unary, /_engine/echo)"),
}
