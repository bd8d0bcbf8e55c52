"""The faults a chaos run injected, as JSON lines beside its history (``faults.jsonl``).

The nemesis scheduler only appends: a fault's start is one line, its end another, so a
harness killed mid-fault leaves a log that reads back (the fault is still active: its
``end_ns`` is None, and a report treats it as lasting to the end of the run)::

    {"id": 0, "nemesis": "kill", "targets": ["n3"], "start_ns": 1700..., "end_ns": null,
     "description": "kill -9 n3"}
    {"id": 0, "end_ns": 1700...}

A line may also carry a whole fault (``start_ns`` and ``end_ns``) when its window is
only known afterwards. Times are the engine clock's wall time, as in the history, so a
fault and the operations it hit share one axis. A torn last line is dropped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from engine.chaos.history import json_lines
from engine.clock import Clock, SystemClock


class FaultLogError(ValueError):
    """The fault log breaks the format (a harness bug)."""


@dataclass(frozen=True)
class Fault:
    """One fault: which nemesis, on what, from when to when, and what it did."""

    id: int
    nemesis: str  # "kill", "pause", "partition", "clock-skew", "bitrot", ...
    targets: tuple[str, ...]  # nodes, AZs, drives or files it hit
    start_ns: int
    end_ns: int | None = None  # None while active (or the harness died first)
    description: str = ""  # what it did, for people: "kill -9 n3", "partition n1 | n2 n3"

    def window(self, run_end_ns: int) -> tuple[int, int]:
        """[start, end) in ns; a fault never ended lasts to the end of the run."""
        end = run_end_ns if self.end_ns is None else self.end_ns
        return self.start_ns, max(self.start_ns, end)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "nemesis": self.nemesis, "targets": list(self.targets),
                "start_ns": self.start_ns, "end_ns": self.end_ns,
                "description": self.description}


class FaultLog:
    """Appends faults to ``faults.jsonl``, one flushed line per start or end.

    Ids continue an existing file's, so a restarted harness keeps one log. Safe to share
    between threads (nemeses may run concurrently).
    """

    def __init__(self, path: str | Path, clock: Clock | None = None) -> None:
        self._path = Path(path)
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        existing = read_faults(self._path) if self._path.exists() else []
        self._next = max((f.id for f in existing), default=-1) + 1
        self._file: IO[str] = self._path.open("a", encoding="utf-8")

    def start(self, nemesis: str, targets: Iterable[str], description: str = "") -> Fault:
        """Records that a fault begins now; returns it, to :meth:`end` later."""
        with self._lock:
            fault = Fault(self._next, nemesis, tuple(targets), self._clock.now_ns(), None,
                          description)
            self._next += 1
            self._write(fault.to_json())
        return fault

    def end(self, fault: Fault) -> Fault:
        """Records that ``fault`` was healed now."""
        with self._lock:
            ended = replace(fault, end_ns=self._clock.now_ns())
            self._write({"id": ended.id, "end_ns": ended.end_ns})
        return ended

    def record(self, nemesis: str, targets: Iterable[str], start_ns: int, end_ns: int | None,
               description: str = "") -> Fault:
        """Records a whole fault whose window is known (an instant one: start == end)."""
        with self._lock:
            fault = Fault(self._next, nemesis, tuple(targets), start_ns, end_ns, description)
            self._next += 1
            self._write(fault.to_json())
        return fault

    def _write(self, doc: dict[str, Any]) -> None:
        self._file.write(json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> FaultLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_faults(path: str | Path) -> list[Fault]:
    """The faults of a log, by start time (then id); a missing file is no fault."""
    path = Path(path)
    if not path.exists():
        return []
    faults: dict[int, Fault] = {}
    for number, doc in json_lines(path, FaultLogError):
        _apply(faults, doc, number)
    return sorted(faults.values(), key=lambda f: (f.start_ns, f.id))


def _apply(faults: dict[int, Fault], doc: dict[str, Any], number: int) -> None:
    try:
        ident = int(doc["id"])
        if "start_ns" in doc:
            faults[ident] = Fault(ident, str(doc["nemesis"]),
                                  tuple(str(t) for t in doc.get("targets") or ()),
                                  int(doc["start_ns"]), _opt_int(doc.get("end_ns")),
                                  str(doc.get("description") or ""))
        elif ident in faults:
            faults[ident] = replace(faults[ident], end_ns=_opt_int(doc["end_ns"]))
        else:
            raise FaultLogError(f"line {number}: fault {ident} ends but never started")
    except KeyError as e:
        raise FaultLogError(f"line {number}: no {e.args[0]!r}") from None


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def windows(faults: Sequence[Fault], run_end_ns: int) -> list[tuple[int, int]]:
    """The faults' [start, end) windows, merged where they overlap, in time order."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(f.window(run_end_ns) for f in faults):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
