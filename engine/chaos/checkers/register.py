"""Objects as per-key read/write registers: linearizability, no acknowledged write lost,
no torn body.

The harness records PUT (and CompleteMultipartUpload) as ``write`` of a value that names
the write and carries a checksum of its body, GET as ``read`` returning that value (None
for NoSuchKey), DELETE as ``delete`` (a write of None); a CopyObject whose source value
is known is a ``write`` of that value. Keys are independent registers, so the history is
checked key by key (linearizability is compositional). A read after the faults healed
is marked ``"final": true``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.chaos.checkers.anomaly import Anomaly, excerpt_of
from engine.chaos.checkers.linearizability import (
    DEFAULT_MAX_CONFIGURATIONS,
    Verdict,
    excerpt_around,
    search,
)
from engine.chaos.history import Operation, by_key

WRITES = frozenset({"write", "delete"})
READS = frozenset({"read"})
FS = WRITES | READS


def freeze(value: Any) -> Hashable:
    """A JSON value as a hashable one (lists to tuples, objects to sorted pairs)."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    return value


def written(op: Operation) -> Hashable:
    """The register value a write leaves (None: the key is absent)."""
    return None if op.f == "delete" else freeze(op.value)


def observed(op: Operation) -> Hashable:
    return freeze(op.result)


class RegisterModel:
    """A register that starts absent: writes always succeed, a read must return the
    current value."""

    def __init__(self, initial: Hashable = None) -> None:
        self._initial = initial

    def init(self) -> Hashable:
        return self._initial

    def step(self, state: Hashable, op: Operation) -> tuple[bool, Hashable]:
        if op.f in WRITES:
            return True, written(op)
        return observed(op) == state, state


@dataclass
class RegisterReport:
    """Per-key verdicts and the anomalies found; ``lost`` counts acknowledged writes a
    final read did not see."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    anomalies: list[Anomaly] = field(default_factory=list)
    lost: int = 0

    @property
    def unknown(self) -> list[str]:
        return sorted(k for k, v in self.verdicts.items() if v == "unknown")


def check(ops: Iterable[Operation],
          max_configurations: int = DEFAULT_MAX_CONFIGURATIONS) -> RegisterReport:
    """Every register check on the object operations of a history."""
    report = RegisterReport()
    for key, key_ops in by_key(ops, FS):
        verdict, anomaly = linearizable(key, key_ops, max_configurations)
        report.verdicts[key] = verdict
        if anomaly is not None:
            report.anomalies.append(anomaly)
        report.anomalies.extend(torn_bodies(key, key_ops))
        lost_anomalies, lost = lost_writes(key, key_ops)
        report.anomalies.extend(lost_anomalies)
        report.lost += lost
    return report


def linearizable(key: str, ops: Sequence[Operation],
                 max_configurations: int = DEFAULT_MAX_CONFIGURATIONS
                 ) -> tuple[Verdict, Anomaly | None]:
    """Whether one key's operations linearize as a register; on a violation, the
    operations around the first point where no linearization exists."""

    def writers_of(op: Operation) -> list[Operation]:
        if op.f not in READS:
            return []
        return [w for w in ops if w.f in WRITES and written(w) == observed(op)][-3:]

    candidates = [op for op in ops if op.type in ("ok", "info")
                  and not (op.f in READS and op.type == "info")]
    producible = {written(op) for op in candidates if op.f in WRITES} | {None}
    unproduced = [op for op in candidates if op.f in READS and observed(op) not in producible]
    if unproduced:  # no search needed: no linearizable write could have produced it
        read = unproduced[0]
        cause = ("a write that failed" if writers_of(read) else "no write")
        return "nonlinearizable", Anomaly(
            "nonlinearizable", key,
            f"read {read.index} returned {read.result!r}, which {cause} produced",
            excerpt_of(excerpt_around(ops, read, writers_of)))
    # An indeterminate write no read observed can always be left out: in a linearization
    # it is directly followed by another write or the end. Dropping it keeps the search
    # from trying every subset of a run's timed-out writes.
    read_values = {observed(op) for op in candidates if op.f in READS}
    candidates = [op for op in candidates if op.type == "ok" or written(op) in read_values]
    result = search(candidates, RegisterModel(), max_configurations,
                    interchangeable=lambda op: (op.f in WRITES, written(op)))
    if result.verdict != "nonlinearizable" or result.blocking is None:
        return result.verdict, None
    blocking = result.blocking
    what = (f"read {blocking.index} returning {blocking.result!r}" if blocking.f in READS
            else f"{blocking.f} {blocking.index} of {blocking.value!r}")
    return "nonlinearizable", Anomaly(
        "nonlinearizable", key,
        f"no linearization of {key!r} places {what} before it completed",
        excerpt_of(excerpt_around(ops, blocking, writers_of)))


def torn_bodies(key: str, ops: Sequence[Operation]) -> list[Anomaly]:
    """Reads whose body failed the checksum the reader verified, or whose value no write
    of this key produced (a torn, corrupt or misdirected body)."""
    produced = {written(op) for op in ops if op.f in WRITES}
    anomalies = []
    for op in ops:
        if op.f not in READS or op.type != "ok" or op.result is None:
            continue
        if op.extra.get("checksum_ok") is False:
            message = f"read {op.index} returned a body that fails its checksum"
        elif observed(op) not in produced:
            message = f"read {op.index} returned {op.result!r}, which no write of {key!r} wrote"
        else:
            continue
        anomalies.append(Anomaly("torn-body", key, message, (op,)))
    return anomalies


def lost_writes(key: str, ops: Sequence[Operation]) -> tuple[list[Anomaly], int]:
    """The last final read of the key must return the last acknowledged write, or one
    concurrent with it or later (an ``info`` write may have landed last)."""
    finals = [op for op in ops if op.f in READS and op.type == "ok" and op.extra.get("final")]
    if not finals:
        return [], 0
    final = max(finals, key=lambda op: (op.invoke_ns, op.index))
    acked = [w for w in ops if w.f in WRITES and w.type == "ok" and w.precedes(final)]

    def superseded(w: Operation) -> bool:
        return any(w.precedes(later) for later in acked)

    latest = [w for w in acked if not superseded(w)]
    sources = [w for w in ops if w.f in WRITES and w.type in ("ok", "info")
               and written(w) == observed(final) and w.invoke_ns <= final.end_ns
               and not superseded(w)]
    if sources or (not acked and observed(final) is None):
        return [], 0
    return [Anomaly(
        "lost-write", key,
        f"final read {final.index} returned {final.result!r}; acknowledged "
        + ", ".join(f"{w.f} {w.index} of {w.value!r}" for w in latest) + " lost",
        excerpt_of([*latest, final]))], len(latest)
