"""The figures of a chaos report, computed from the operations and the faults alone.

Definitions (every figure in report.json and report.md is one of these):

- **Run span**: from the earliest invocation or fault start to the latest completion,
  invocation or fault end. Times in a report are milliseconds from its start.
- **During faults**: an operation is *during faults* when it was invoked inside a fault
  window ``[start, end)`` (a fault never ended lasts to the end of the run; windows of
  overlapping faults are merged), otherwise *outside faults*.
- **Availability**: acknowledged (``ok``) operations / attempted operations (every
  invocation: ``ok``, ``fail`` and ``info``), in percent; overall, during and outside
  faults. A refusal the workload provokes on purpose (a CopyObject's 412) counts against
  it too: compare a scenario with its fault-free baseline, not with 100 %.
- **Latency**: completion minus invocation of *acknowledged* operations (what a client
  that got an answer waited), p50 and p99 by nearest rank (the smallest latency that at
  least p % of the sample do not exceed), overall, during and outside faults, and per
  operation kind (``f``).
- **Time to recover** from a fault that ended at ``E``:
  - *first acknowledgement*, per operation kind: the first acknowledgement of that kind
    at or after ``E``, in ms after ``E`` (an operation invoked during the fault and
    acknowledged after it counts: the service answered again). None: never.
  - *throughput*: the baseline is the acknowledged ops/s (by completion time) over the
    10 s before the fault started (less if the run or the previous fault's end is
    nearer; None when that leaves under 1 s or no acknowledgement). From ``E`` the run is
    cut into whole 1 s buckets; the time to recover is the start, in seconds after ``E``,
    of the first bucket with at least 80 % of the baseline's acknowledgements per second
    (0.0: back within the first second). None: not back before the run ended.
- **Timeline**: acknowledged operations per 1 s bucket of the run by completion time, per
  family (objects, queues, cache, iam, other), and errors (``fail`` and ``info``; an
  operation that never completed is counted at its invocation).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.chaos.checkers import cache, iam, queue_deliveries, register
from engine.chaos.faults import Fault, windows
from engine.chaos.history import Operation

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
BUCKET_NS = NS_PER_S
BASELINE_NS = 10 * NS_PER_S
MIN_BASELINE_NS = NS_PER_S
RECOVERED_SHARE = 0.8
FAMILIES = ("objects", "queues", "cache", "iam", "other")
_FAMILY_OF_F = {
    **{f: "objects" for f in register.FS},
    **{f: "queues" for f in queue_deliveries.FS},
    **{f: "cache" for f in cache.FS},
    **{f: "iam" for f in iam.DEACTIVATIONS | iam.ACTIVATIONS},
}


def family(op: Operation) -> str:
    """The workload an operation belongs to: its ``family`` field if the workload wrote
    one, else what its ``f`` means to the checkers."""
    named = op.extra.get("family")
    if isinstance(named, str) and named in FAMILIES:
        return named
    return _FAMILY_OF_F.get(op.f, "other")


def fixed(value: float | None, places: int = 3) -> float | None:
    """A float rounded for a report (same input, same bytes)."""
    return None if value is None else round(float(value), places)


@dataclass(frozen=True)
class Run:
    start_ns: int
    end_ns: int

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S

    def ms(self, t_ns: int | None) -> float | None:
        """A time as ms from the run's start."""
        return None if t_ns is None else fixed((t_ns - self.start_ns) / NS_PER_MS)


def run_span(ops: Sequence[Operation], faults: Sequence[Fault]) -> Run:
    starts = [op.invoke_ns for op in ops] + [f.start_ns for f in faults]
    ends = ([op.complete_ns or op.invoke_ns for op in ops]
            + [f.end_ns if f.end_ns is not None else f.start_ns for f in faults])
    if not starts:
        return Run(0, 0)
    return Run(min(starts), max(max(ends), min(starts)))


def percentile(sorted_values: Sequence[int], p: float) -> int | None:
    """Nearest rank: the smallest value that at least ``p`` % of the values do not exceed."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency(ops: Iterable[Operation]) -> dict[str, Any]:
    """{"count", "p50_ms", "p99_ms"} of the acknowledged operations among ``ops``."""
    values = sorted(op.complete_ns - op.invoke_ns for op in ops
                    if op.type == "ok" and op.complete_ns is not None)
    p50, p99 = percentile(values, 50), percentile(values, 99)
    return {"count": len(values),
            "p50_ms": None if p50 is None else fixed(p50 / NS_PER_MS),
            "p99_ms": None if p99 is None else fixed(p99 / NS_PER_MS)}


def during(op: Operation, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start <= op.invoke_ns < end for start, end in spans)


def _split(ops: Sequence[Operation], spans: Sequence[tuple[int, int]]
           ) -> dict[str, list[Operation]]:
    inside = [op for op in ops if during(op, spans)]
    outside = [op for op in ops if not during(op, spans)]
    return {"overall": list(ops), "during_faults": inside, "outside_faults": outside}


def availability(ops: Sequence[Operation], spans: Sequence[tuple[int, int]]
                 ) -> dict[str, Any]:
    """Per part of the run: attempted, acknowledged and the percentage (None: no attempt)."""
    out: dict[str, Any] = {}
    for part, chosen in _split(ops, spans).items():
        acked = sum(1 for op in chosen if op.type == "ok")
        out[part] = {"attempted": len(chosen), "acknowledged": acked,
                     "percent": fixed(100 * acked / len(chosen)) if chosen else None}
    return out


def latencies(ops: Sequence[Operation], spans: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """Latency overall, during and outside faults, and the same per operation kind."""
    parts = _split(ops, spans)
    out: dict[str, Any] = {part: latency(chosen) for part, chosen in parts.items()}
    out["by_kind"] = {f: {part: latency(op for op in chosen if op.f == f)
                          for part, chosen in parts.items()}
                      for f in sorted({op.f for op in ops})}
    return out


def recovery(fault: Fault, ops: Sequence[Operation], run: Run,
             previous_end_ns: int | None = None) -> dict[str, Any] | None:
    """Time to recover from ``fault`` (see the module docstring); None while active."""
    if fault.end_ns is None:
        return None
    end = fault.end_ns
    acked = sorted((op.complete_ns, op.f) for op in ops
                   if op.type == "ok" and op.complete_ns is not None)
    times = [done for done, _ in acked]

    def count(lo: int, hi: int) -> int:
        return bisect_left(times, hi) - bisect_left(times, lo)

    first: dict[str, float | None] = {f: None for f in sorted({op.f for op in ops})}
    for done, f in acked[bisect_left(times, end):]:
        if first[f] is None:
            first[f] = fixed((done - end) / NS_PER_MS)

    base_start = max(run.start_ns, fault.start_ns - BASELINE_NS,
                     previous_end_ns if previous_end_ns is not None else run.start_ns)
    base_ns = fault.start_ns - base_start
    base_count = count(base_start, fault.start_ns)
    baseline = base_count * NS_PER_S / base_ns if base_ns >= MIN_BASELINE_NS else None
    recovered: float | None = None
    if baseline:
        needed = RECOVERED_SHARE * baseline * BUCKET_NS / NS_PER_S
        i = 0
        while end + (i + 1) * BUCKET_NS <= run.end_ns:
            if count(end + i * BUCKET_NS, end + (i + 1) * BUCKET_NS) >= needed:
                recovered = float(i * BUCKET_NS / NS_PER_S)
                break
            i += 1
    return {"first_ack_ms": first,
            "throughput": {"baseline_ops_per_s": fixed(baseline) if baseline else None,
                           "recovered_s": fixed(recovered)}}


def timeline(ops: Sequence[Operation], run: Run) -> dict[str, Any]:
    """Per 1 s bucket from the run's start: acknowledged ops per family, and errors."""
    n = max(1, math.ceil((run.end_ns - run.start_ns) / BUCKET_NS))
    acked = {name: [0] * n for name in FAMILIES}
    errors = [0] * n

    def bucket(t_ns: int) -> int:
        return min(n - 1, max(0, (t_ns - run.start_ns) // BUCKET_NS))

    for op in ops:
        if op.type == "ok" and op.complete_ns is not None:
            acked[family(op)][bucket(op.complete_ns)] += 1
        elif op.type != "ok":
            errors[bucket(op.complete_ns if op.complete_ns is not None else op.invoke_ns)] += 1
    return {"bucket_s": BUCKET_NS / NS_PER_S, "t_s": [float(i) for i in range(n)],
            "acknowledged": {k: v for k, v in acked.items() if any(v)}, "errors": errors}


def fault_figures(faults: Sequence[Fault], ops: Sequence[Operation], run: Run
                  ) -> list[dict[str, Any]]:
    """Each fault with its window in run ms and its time to recover."""
    out = []
    previous_end: int | None = None
    for fault in faults:
        out.append({"id": fault.id, "nemesis": fault.nemesis, "targets": list(fault.targets),
                    "description": fault.description, "start_ms": run.ms(fault.start_ns),
                    "end_ms": run.ms(fault.end_ns),
                    "recovery": recovery(fault, ops, run, previous_end)})
        if fault.end_ns is not None:
            previous_end = (fault.end_ns if previous_end is None
                            else max(previous_end, fault.end_ns))
    return out


def fault_spans(faults: Sequence[Fault], run: Run) -> list[tuple[int, int]]:
    return windows(faults, run.end_ns)
