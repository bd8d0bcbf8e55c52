"""The queue bench's figures beyond what the runner's PhaseStats carry: messages and
messages/s per phase, and the pipeline's own (messages sent, end-to-end latencies, time
producers waited, receives that came back empty).

Pipeline figures come from every worker process, so each writes them to an append-only
spool file of its own during the phase (`SpoolWriter`, one write per op) and the
coordinator adds them up afterwards (`PipelineTally.read`).
"""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from rich.console import Console
from rich.table import Table

from engine.bench.stats import PhaseStats

# spool record kinds (int64 pairs: kind, value)
E2E, SENT, EMPTY, WAIT = 1, 2, 3, 4


class SpoolWriter:
    """One worker process's pipeline records, appended to `directory` (None: kept
    nowhere). The file is opened on the first record, in the process that writes it."""

    def __init__(self, directory: str | None, process_index: int) -> None:
        self.directory = directory
        self.process_index = process_index
        self._file: BinaryIO | None = None

    def write(self, values: list[int]) -> None:
        """Append (kind, value) pairs flattened: [SENT, 10, E2E, 5_000_000, ...]."""
        if self.directory is None or not values:
            return
        if self._file is None:
            name = f"pipeline-{self.process_index}-{os.getpid()}.bin"
            self._file = (Path(self.directory) / name).open("ab", buffering=0)  # no flush
        self._file.write(array("q", values).tobytes())


@dataclass
class PipelineTally:
    """The pipeline's window as every worker process recorded it."""

    sent: int = 0
    empty_receives: int = 0
    wait_ns: int = 0
    e2e_ns: list[int] = field(default_factory=list)

    @classmethod
    def read(cls, spool: Path) -> PipelineTally:
        tally = cls()
        for path in sorted(spool.glob("pipeline-*.bin")):
            values = array("q")
            values.frombytes(path.read_bytes())
            for kind, value in zip(values[::2], values[1::2], strict=True):
                if kind == E2E:
                    tally.e2e_ns.append(value)
                elif kind == SENT:
                    tally.sent += value
                elif kind == EMPTY:
                    tally.empty_receives += value
                elif kind == WAIT:
                    tally.wait_ns += value
        return tally


def add_queue_figures(report: dict[str, Any], message_size: int,
                      tally: PipelineTally | None, *, producers: int, consumers: int,
                      backlog_limit: int, processes: int = 1) -> None:
    """Add messages and messages/s to every engine phase and a `pipeline` section
    (None without that phase) to a report from engine.bench.report.build_report.
    `producers`, `consumers` and `backlog_limit` are per process."""
    for phase in report["phases"].values():
        phase["messages"] = phase["bytes"] // message_size
        phase["messages_per_s"] = phase["mb_per_s"] * 1e6 / message_size
    pipe = report["phases"].get("pipeline")
    if pipe is None or tally is None:
        report["pipeline"] = None
        return
    seconds = pipe["seconds"]
    e2e = PhaseStats("e2e", seconds=seconds, latencies_ns=sorted(tally.e2e_ns))
    report["pipeline"] = {
        "producers": producers,
        "consumers": consumers,
        "backlog_limit": backlog_limit,
        "sent": tally.sent,
        "sent_per_s": tally.sent / seconds if seconds else 0.0,
        "received": pipe["messages"],
        "received_per_s": pipe["messages_per_s"],
        "e2e_latency_ms": e2e.latency_ms(),
        "e2e_samples": e2e.ops,
        "empty_receives": tally.empty_receives,
        # of all producers' time in the window, over every process
        "producer_wait_fraction": tally.wait_ns / 1e9 / (seconds * producers * processes)
        if seconds and producers else 0.0,
    }


def render_messages(report: dict[str, Any], console: Console) -> None:
    """The message view of a report (after engine.bench.report.render's call view)."""
    table = Table(title="messages", title_justify="left")
    for col in ("phase", "messages", "msg/s", "calls/s", "msg/call", "call p50 ms",
                "call p99 ms"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for name, p in report["phases"].items():
        # pipeline ops are sends and receive+deletes (and waits): no per-call figure
        per_call = "-" if name.endswith("pipeline") or not p["ops"] else \
            f"{p['messages'] / p['ops']:.1f}"
        table.add_row(name, f"{p['messages']:,}", f"{p['messages_per_s']:,.0f}",
                      f"{p['ops_per_s']:,.0f}", per_call,
                      f"{p['latency_ms']['p50']:.2f}", f"{p['latency_ms']['p99']:.2f}")
    console.print(table)
    for name in report["phases"]:  # a pipeline phase's figures: report[its name]
        if name.endswith("pipeline") and report.get(name):
            _render_pipeline(name, report[name], console)


def _render_pipeline(name: str, pipe: dict[str, Any], console: Console) -> None:
    lat = pipe["e2e_latency_ms"]
    table = Table(title=f"{name}: {pipe['producers']} producer(s) + {pipe['consumers']} "
                  f"consumer(s) per process, at most {pipe['backlog_limit']} messages "
                  "queued per process", title_justify="left")
    for col in ("sent/s", "received+deleted/s", "e2e p50 ms", "e2e p95 ms", "e2e p99 ms",
                "e2e max ms", "producers waiting", "empty receives"):
        table.add_column(col, justify="right")
    table.add_row(f"{pipe['sent_per_s']:,.0f}", f"{pipe['received_per_s']:,.0f}",
                  *(f"{lat[k]:.2f}" for k in ("p50", "p95", "p99", "max")),
                  f"{pipe['producer_wait_fraction']:.0%}", f"{pipe['empty_receives']:,}")
    console.print(table)
