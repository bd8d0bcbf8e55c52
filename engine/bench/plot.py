"""`--plot FILE.png`: throughput over time and the latency distribution of every phase,
drawn from the report dict (so a saved --json can be plotted the same way).

Top: ops/s per time-series slot, the phases laid end to end on one time axis (each
phase's measured window only; warm-ups and set-up are left out). Bottom: the latency
CDF of each phase from its log-bucketed histogram, on a log axis, with p50/p99 marked
by the grid lines people read them at. Matplotlib's Agg backend: no display needed.
"""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path
from typing import Any


def write_plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import FuncFormatter

    phases = report["phases"]
    c = report["config"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8.5))
    title = (f"engine bench {c.get('workload', '')}  {c.get('endpoint', '')}  "
             f"{c.get('concurrency')} x {c.get('processes')} in flight  "
             f"{c.get('timestamp', '')}")
    fig.suptitle(title, fontsize=10)

    offset = 0.0
    starts: dict[str, float] = {}
    for name, phase in phases.items():
        series = phase["timeseries"]
        if "/" in name:  # a kind of a mixed phase: drawn on its phase's span
            start = starts.get(name.split("/", 1)[0], 0.0)
        else:
            start = starts[name] = offset
            offset += max(phase["seconds"], series["t_s"][-1] if series["t_s"] else 0.0)
            if start:
                top.axvline(start, color="grey", linewidth=0.5, linestyle=":")
        t = [start + x for x in series["t_s"]]
        top.plot(t, series["ops_per_s"], marker="." if len(t) < 30 else None,
                 linestyle="--" if "/" in name else "-", label=name)
    top.set_xlabel("seconds (measured windows of the phases, end to end)")
    top.set_ylabel("ops/s")
    top.set_ylim(bottom=0)
    top.set_title("throughput over time", fontsize=10)
    top.grid(True, alpha=0.3)
    top.legend(fontsize=8, loc="best")

    for name, phase in phases.items():
        hist = phase["latency_histogram"]
        total = sum(hist["counts"])
        if not total:
            continue
        cdf = [n / total for n in accumulate(hist["counts"])]
        bottom.step(hist["edges_ms"][1:], cdf, where="post",
                    linestyle="--" if "/" in name else "-",
                    label=f"{name} (p50 {phase['latency_ms']['p50']:.2f} ms, "
                          f"p99 {phase['latency_ms']['p99']:.2f} ms)")
    bottom.set_xscale("log")
    bottom.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    bottom.set_xlabel("latency, ms (log)")
    bottom.set_ylabel("fraction of calls at or below")
    bottom.set_ylim(0, 1.01)
    bottom.set_yticks([0, 0.25, 0.5, 0.75, 0.95, 0.99])
    bottom.set_title("latency distribution (CDF)", fontsize=10)
    bottom.grid(True, alpha=0.3, which="both")
    bottom.legend(fontsize=8, loc="lower right")

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
