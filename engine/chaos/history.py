"""A chaos run's history: every operation's invocation and completion as JSON lines.

The model is Jepsen's. A process (one logical client, one operation at a time) writes an
``invoke`` event, then one completion: ``ok`` (acknowledged), ``fail`` (definitely did not
happen: an error the service documents as having no effect) or ``info`` (indeterminate: a
timeout or a lost connection, so it may or may not have happened). An invocation left
without a completion (the harness was killed) reads back as ``info``.

Each line is one event::

    {"index": 7, "process": 3, "type": "invoke", "f": "write", "key": "b/k1",
     "value": "v7", "time_ns": 1700000000000000000, ...extra fields}

Extra fields carry what a checker needs beyond the register model (``error`` for the AWS
code of a failure, ``group`` for a FIFO message group, ``node``, ``access_key``, ...).
The writer flushes every line, so a harness killed at any moment leaves a history that
reads back; a torn last line is ignored.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Literal

from engine.clock import Clock, SystemClock

EventType = Literal["invoke", "ok", "fail", "info"]
Outcome = Literal["ok", "fail", "info"]
COMPLETIONS: frozenset[str] = frozenset({"ok", "fail", "info"})
_CORE = ("index", "process", "type", "f", "key", "value", "time_ns")


class HistoryError(ValueError):
    """The history breaks the format (a harness bug, not an anomaly of the engine)."""


@dataclass(frozen=True)
class Event:
    """One line of the history: an invocation or a completion."""

    index: int
    process: int | str
    type: EventType
    f: str
    key: str | None = None
    value: Any = None
    time_ns: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"index": self.index, "process": self.process,
                               "type": self.type, "f": self.f, "key": self.key,
                               "value": self.value, "time_ns": self.time_ns}
        doc.update(self.extra)
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Event:
        try:
            kind = doc["type"]
            if kind != "invoke" and kind not in COMPLETIONS:
                raise HistoryError(f"unknown event type {kind!r} at index {doc.get('index')}")
            return cls(index=int(doc["index"]), process=doc["process"], type=kind,
                       f=str(doc["f"]), key=doc.get("key"), value=doc.get("value"),
                       time_ns=int(doc["time_ns"]),
                       extra={k: v for k, v in doc.items() if k not in _CORE})
        except KeyError as e:
            raise HistoryError(f"event without {e.args[0]!r}: {dict(doc)}") from None


@dataclass(frozen=True, eq=False)
class Operation:
    """An invocation paired with its completion (compared and hashed by identity).

    ``value`` is the invocation's argument (what a write wrote), ``result`` the
    completion's value (what a read returned). ``complete_ns`` is None when the operation
    never completed; such an operation is ``info`` and may take effect at any later time.
    """

    index: int
    process: int | str
    f: str
    key: str | None
    value: Any
    type: Outcome
    result: Any
    invoke_ns: int
    complete_ns: int | None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        """The AWS error code a ``fail`` or ``info`` completion recorded, if any."""
        code = self.extra.get("error")
        return None if code is None else str(code)

    @property
    def end_ns(self) -> float:
        """When the operation had certainly taken effect or not: infinity when unknown."""
        return float("inf") if self.complete_ns is None else self.complete_ns

    def precedes(self, other: Operation) -> bool:
        """Real-time order: this one completed before the other was invoked."""
        return self.complete_ns is not None and self.complete_ns < other.invoke_ns

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"index": self.index, "process": self.process, "f": self.f,
                               "key": self.key, "type": self.type, "value": self.value,
                               "result": self.result, "invoke_ns": self.invoke_ns,
                               "complete_ns": self.complete_ns}
        doc.update(self.extra)
        return doc


class HistoryWriter:
    """Appends events to a JSON-lines file, one flushed line per event.

    Appending to an existing file continues its index, so a harness restarted on the same
    file keeps one history. Safe to share between threads.
    """

    def __init__(self, path: str | Path, clock: Clock | None = None) -> None:
        self._path = Path(path)
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._next = _next_index(self._path)
        self._file: IO[str] = self._path.open("a", encoding="utf-8")

    def invoke(self, process: int | str, f: str, key: str | None = None,
               value: Any = None, **extra: Any) -> Event:
        """Record that ``process`` starts operation ``f``; returns the event to complete."""
        return self._append(process, "invoke", f, key, value, extra)

    def complete(self, invocation: Event, type: Outcome, value: Any = None,
                 **extra: Any) -> Event:
        """Record the outcome of ``invocation`` (``ok``, ``fail`` or ``info``)."""
        if invocation.type != "invoke":
            raise HistoryError(f"event {invocation.index} is not an invocation")
        if type not in COMPLETIONS:
            raise HistoryError(f"unknown completion type {type!r}")
        return self._append(invocation.process, type, invocation.f, invocation.key, value,
                            extra)

    def _append(self, process: int | str, type: EventType, f: str, key: str | None,
                value: Any, extra: Mapping[str, Any]) -> Event:
        clash = set(extra) & set(_CORE)
        if clash:
            raise HistoryError(f"extra fields may not be named {sorted(clash)}")
        with self._lock:
            event = Event(self._next, process, type, f, key, value, self._clock.now_ns(),
                          dict(extra))
            self._file.write(json.dumps(event.to_json(), separators=(",", ":")) + "\n")
            self._file.flush()
            self._next += 1
        return event

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _next_index(path: Path) -> int:
    last = -1
    if path.exists():
        for event in read_events(path):
            last = max(last, event.index)
    return last + 1


def json_lines(path: str | Path, error: type[Exception] = ValueError
               ) -> Iterator[tuple[int, Any]]:
    """(line number, document) of each line of a JSON-lines file the harness appends
    to; a torn last line (harness killed mid-write) is dropped, a malformed line
    anywhere else raises ``error``."""
    with Path(path).open(encoding="utf-8") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):  # no newline after it: the write was cut short
                break
            raise error(f"line {number} of {path} is not JSON") from None
        yield number, doc


def read_events(path: str | Path) -> list[Event]:
    """The events of a history file (json_lines: a torn last line is dropped, a
    malformed line anywhere else is a HistoryError)."""
    return [Event.from_json(doc) for _, doc in json_lines(path, HistoryError)]


def pair(events: Iterable[Event]) -> list[Operation]:
    """Operations in invocation order: each invocation with the next completion of its
    process. An invocation without one (the process gave up, or the harness died) is
    ``info`` with no completion time."""
    pending: dict[int | str, Event] = {}
    done: dict[int, Operation] = {}
    for event in events:
        if event.type == "invoke":
            earlier = pending.pop(event.process, None)
            if earlier is not None:
                done[earlier.index] = _unfinished(earlier)
            pending[event.process] = event
            continue
        invocation = pending.pop(event.process, None)
        if invocation is None:
            raise HistoryError(f"completion {event.index} of process {event.process!r} "
                               "has no invocation")
        if invocation.f != event.f:
            raise HistoryError(f"completion {event.index} ({event.f}) does not match "
                               f"invocation {invocation.index} ({invocation.f})")
        result = event.value if event.type == "ok" else None
        done[invocation.index] = Operation(
            invocation.index, invocation.process, invocation.f, invocation.key,
            invocation.value, event.type, result, invocation.time_ns, event.time_ns,
            MappingProxyType({**invocation.extra, **event.extra}))
    for invocation in pending.values():
        done[invocation.index] = _unfinished(invocation)
    return [done[i] for i in sorted(done)]


def _unfinished(invocation: Event) -> Operation:
    return Operation(invocation.index, invocation.process, invocation.f, invocation.key,
                     invocation.value, "info", None, invocation.time_ns, None,
                     MappingProxyType(dict(invocation.extra)))


def load(path: str | Path) -> list[Operation]:
    """The operations of a history file."""
    return pair(read_events(path))


def by_key(ops: Iterable[Operation], fs: frozenset[str]) -> Iterator[tuple[str, list[Operation]]]:
    """Operations named in ``fs``, partitioned by key, in invocation order."""
    groups: dict[str, list[Operation]] = {}
    for op in ops:
        if op.f in fs and op.key is not None:
            groups.setdefault(op.key, []).append(op)
    yield from groups.items()
