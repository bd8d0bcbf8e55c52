"""Cache checkers: no stale read from a key's owner after an acknowledged write; INCR
counters never go backwards. Both outside failover windows, where a loss is counted.

The harness records SET as ``set`` (value), DEL as ``del``, GET as ``get`` (result: the
value, None for a miss), INCR/INCRBY as ``incr`` (value: the increment, default 1;
result: the new count). A read served by a replica (READONLY) is marked
``"replica": true`` and not checked: replicas lag by design. ``failover_windows`` are the
intervals (ns) in which the harness killed or partitioned an owner until its replica
took over.

Model: a read that completes after a write's acknowledgement must return that write's
value or the value of a write not acknowledged before that one was invoked (concurrent
or later; an indeterminate write counts). Redis replication is asynchronous, so a
failover may lose the last acknowledged writes ("the master can lose writes ... during a
failover"): a stale read whose missed write and failover window overlap is allowed but
counted. A counter read (GET or INCR's reply) must not be below one that completed
before it was invoked (INCR: strictly above), with the same exemption.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from engine.chaos.checkers.anomaly import Anomaly, excerpt_of
from engine.chaos.checkers.register import freeze
from engine.chaos.history import Operation, by_key

WRITES = frozenset({"set", "del"})
READS = frozenset({"get"})
COUNTERS = frozenset({"incr"})
FS = WRITES | READS | COUNTERS
Window = tuple[int, int]


@dataclass
class CacheReport:
    anomalies: list[Anomaly] = field(default_factory=list)
    failover_lost_writes: int = 0  # acknowledged writes a failover lost (allowed)
    failover_counter_regressions: int = 0


def check(ops: Iterable[Operation], failover_windows: Sequence[Window] = (),
          misses_allowed: bool = False) -> CacheReport:
    """``misses_allowed``: a miss may be an eviction or an expiry (LRU under pressure, a
    TTL), so a read of None proves nothing."""
    report = CacheReport()
    for key, key_ops in by_key(ops, FS):
        if any(op.f in COUNTERS for op in key_ops):
            if not any(op.f in WRITES for op in key_ops) and all(
                    _amount(op) > 0 for op in key_ops if op.f in COUNTERS):
                _counter(key, key_ops, failover_windows, report)
            continue
        _stale_reads(key, key_ops, failover_windows, misses_allowed, report)
    return report


def _overlaps(windows: Sequence[Window], start: float, end: float) -> bool:
    return any(s <= end and e >= start for s, e in windows)


def _value(op: Operation) -> Hashable:
    return None if op.f == "del" else freeze(op.value)


def _stale_reads(key: str, ops: Sequence[Operation], windows: Sequence[Window],
                 misses_allowed: bool, report: CacheReport) -> None:
    writes = [w for w in ops if w.f in WRITES and w.type != "fail"]
    acked = [w for w in writes if w.type == "ok"]
    excused: set[int] = set()
    for r in ops:
        if r.f not in READS or r.type != "ok" or r.extra.get("replica"):
            continue
        seen = freeze(r.result)
        if seen is None and misses_allowed:
            continue
        sources = [w for w in writes if _value(w) == seen and w.invoke_ns <= r.end_ns]
        if seen is not None and not sources:
            failed = [w for w in ops if w.f in WRITES and _value(w) == seen]
            report.anomalies.append(Anomaly(
                "unwritten-read", key,
                f"get {r.index} returned {r.result!r}, which "
                + ("only a failed write" if failed else "no write") + " wrote",
                excerpt_of([*failed, r])))
            continue
        before = [w for w in acked if w.precedes(r)]
        if not before:
            continue
        missed = max(before, key=lambda w: w.invoke_ns)
        if any(s.end_ns >= missed.invoke_ns for s in sources):
            continue
        if _overlaps(windows, missed.invoke_ns, r.end_ns):
            if missed.index not in excused:
                excused.add(missed.index)
                report.failover_lost_writes += 1
            continue
        report.anomalies.append(Anomaly(
            "stale-read", key,
            f"get {r.index} returned {r.result!r} after {missed.f} {missed.index} of "
            f"{missed.value!r} was acknowledged, outside any failover window",
            excerpt_of([*sources[-1:], missed, r])))


def _amount(op: Operation) -> int:
    return 1 if op.value is None else int(op.value)


def _count(op: Operation) -> int:
    return 0 if op.result is None else int(op.result)


def _counter(key: str, ops: Sequence[Operation], windows: Sequence[Window],
             report: CacheReport) -> None:
    """A sweep in invocation order keeping the highest count observed by an operation
    that completed before the current one was invoked."""
    observations = sorted(
        (op for op in ops if op.type == "ok" and not op.extra.get("replica")
         and (op.f in COUNTERS or op.f in READS)), key=lambda op: op.invoke_ns)
    pending: list[tuple[int, int, Operation]] = []
    highest: Operation | None = None
    for op in observations:
        while pending and pending[0][0] < op.invoke_ns:
            _, _, done = heapq.heappop(pending)
            if highest is None or _count(done) > _count(highest):
                highest = done
        heapq.heappush(pending, (int(op.end_ns), op.index, op))
        if highest is None:
            continue
        floor = _count(highest) + (1 if op.f in COUNTERS else 0)
        if _count(op) >= floor:
            continue
        if _overlaps(windows, highest.invoke_ns, op.end_ns):
            report.failover_counter_regressions += 1
            continue
        report.anomalies.append(Anomaly(
            "counter-regression", key,
            f"{op.f} {op.index} saw {_count(op)} after {highest.f} {highest.index} saw "
            f"{_count(highest)}, outside any failover window", (highest, op)))
