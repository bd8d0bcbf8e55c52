"""timeline.png of a chaos report: acknowledged ops/s per workload family (top) and errors
per second (bottom) over the run, each fault's window shaded and labelled.

Drawn from report.json's ``timeline`` and ``faults`` (so a saved report can be redrawn).
Matplotlib's Agg backend, imported here only: no display, and no matplotlib import for a
caller that never plots. No timestamp in the file, so a report is byte-for-byte stable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_COLOURS = {"objects": "tab:blue", "queues": "tab:green", "cache": "tab:purple",
            "iam": "tab:orange", "other": "tab:grey"}


def write_timeline(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    series = report["timeline"]
    t = [*series["t_s"], series["t_s"][-1] + series["bucket_s"]]  # the last bucket's end

    def steps(counts: list[int]) -> list[int]:
        return [*counts, counts[-1]]

    end_s = report["duration_s"] or 0.0
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                      height_ratios=(2, 1))
    fig.suptitle(f"engine chaos {report['scenario']}  seed {report['seed']}  "
                 f"{report['summary']}", fontsize=10)
    for name, counts in sorted(series["acknowledged"].items()):
        top.step(t, steps(counts), where="post", label=name, color=_COLOURS.get(name))
    bottom.step(t, steps(series["errors"]), where="post", color="tab:red", label="fail + info")

    for fault in report["faults"]:
        start = fault["start_ms"] / 1000
        end = (fault["end_ms"] / 1000) if fault["end_ms"] is not None else end_s
        for ax in (top, bottom):
            if end > start:
                ax.axvspan(start, end, color="tab:red", alpha=0.12, linewidth=0)
            else:  # an instant fault (a bit flip): a line
                ax.axvline(start, color="tab:red", alpha=0.5, linewidth=1)
        top.annotate(f"{fault['id']}: {fault['nemesis']} {','.join(fault['targets'])}",
                     xy=(start, 1.0), xycoords=("data", "axes fraction"),
                     xytext=(2, -2), textcoords="offset points", fontsize=7,
                     va="top", rotation=90, color="tab:red")

    top.set_ylabel("acknowledged ops/s")
    top.set_ylim(bottom=0)
    top.set_title("throughput per 1 s, fault windows shaded", fontsize=10)
    top.grid(True, alpha=0.3)
    if series["acknowledged"]:
        top.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    bottom.set_ylabel("errors/s")
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel("seconds from the start of the run")
    bottom.grid(True, alpha=0.3)
    bottom.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    bottom.set_xlim(0, max(end_s, t[-1]))

    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
