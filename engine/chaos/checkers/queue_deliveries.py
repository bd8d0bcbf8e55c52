"""The facts the queue checkers share, read once from a history: every acknowledged or
indeterminate send, every delivery (one message in one receive's result) and what a
FIFO queue's deduplication makes one logical message.

The harness records SendMessage as ``send`` (key: the queue name or URL, value: a unique
body id the consumer can read back from the body, extra ``group`` and ``dedup_id`` for
FIFO, ``batch`` and ``position`` for an entry of a SendMessageBatch), ReceiveMessage as
``receive`` (extra ``visibility_timeout``: the effective one in seconds, ``attempt_id``:
a ReceiveRequestAttemptId; result: a list of ``{"id": body id, "receipt": handle}``),
DeleteMessage as ``delete_message`` and ChangeMessageVisibility as ``change_visibility``
(value: the body id, extra ``receipt`` and ``visibility_timeout``). A queue whose name
ends in ``.fifo`` is a FIFO queue, as SQS requires.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.chaos.history import Operation

SENDS = frozenset({"send"})
RECEIVES = frozenset({"receive"})
DELETES = frozenset({"delete_message"})
VISIBILITY_CHANGES = frozenset({"change_visibility"})
FS = SENDS | RECEIVES | DELETES | VISIBILITY_CHANGES
DEDUPLICATION_WINDOW_NS = 300 * 1_000_000_000  # SQS FIFO: 5 minutes


def is_fifo(queue: str) -> bool:
    return queue.rstrip("/").endswith(".fifo")


@dataclass(frozen=True, eq=False)
class Delivery:
    """One message in the result of one ok receive."""

    receive: Operation
    position: int
    body: str
    receipt: str | None

    @property
    def queue(self) -> str:
        return str(self.receive.key)

    def before(self, other: Delivery) -> bool:
        """Certainly delivered before ``other``: an earlier receive, or earlier in the
        same receive's result."""
        if self.receive is other.receive:
            return self.position < other.position
        return self.receive.precedes(other.receive)


@dataclass
class QueueFacts:
    sends: dict[str, list[Operation]] = field(default_factory=dict)  # body -> its sends
    deliveries: list[Delivery] = field(default_factory=list)
    deletes: list[Operation] = field(default_factory=list)
    changes: list[Operation] = field(default_factory=list)
    logical: dict[tuple[str, str], tuple[str, str, int]] = field(default_factory=dict)
    by_message: dict[tuple[str, str], list[Delivery]] = field(default_factory=dict)

    def group_of(self, body: str) -> str | None:
        for send in self.sends.get(body, ()):
            if "group" in send.extra:
                return str(send.extra["group"])
        return None


def body_id(entry: Any) -> tuple[str, str | None]:
    """A receive result entry: a body id, or ``{"id": ..., "receipt": ...}``."""
    if isinstance(entry, dict):
        receipt = entry.get("receipt")
        return str(entry["id"]), None if receipt is None else str(receipt)
    return str(entry), None


def collect(ops: Iterable[Operation]) -> QueueFacts:
    facts = QueueFacts()
    for op in ops:
        if op.f not in FS or op.key is None:
            continue
        if op.f in SENDS:
            facts.sends.setdefault(str(op.value), []).append(op)
        elif op.f in RECEIVES and op.type == "ok":
            for position, entry in enumerate(op.result or ()):
                body, receipt = body_id(entry)
                delivery = Delivery(op, position, body, receipt)
                facts.deliveries.append(delivery)
                facts.by_message.setdefault((str(op.key), body), []).append(delivery)
        elif op.f in DELETES:
            facts.deletes.append(op)
        else:
            facts.changes.append(op)
    facts.logical = _logical_messages(facts.sends)
    return facts


def dedup_id(send: Operation) -> str:
    return str(send.extra.get("dedup_id", send.value))


def _logical_messages(sends: dict[str, list[Operation]]) -> dict[tuple[str, str],
                                                                   tuple[str, str, int]]:
    """(queue, body) -> (queue, deduplication id, epoch) for FIFO sends: sends with one
    deduplication id that may fall within one 5-minute window are one message."""
    by_dedup: dict[tuple[str, str], list[Operation]] = {}
    for body_sends in sends.values():
        for send in body_sends:
            if send.type != "fail" and is_fifo(str(send.key)):
                by_dedup.setdefault((str(send.key), dedup_id(send)), []).append(send)
    logical: dict[tuple[str, str], tuple[str, str, int]] = {}
    for (queue, dedup), group in by_dedup.items():
        group.sort(key=lambda op: op.invoke_ns)
        epoch, anchor = 0, group[0]
        for send in group:
            if send.invoke_ns > anchor.end_ns + DEDUPLICATION_WINDOW_NS:
                epoch, anchor = epoch + 1, send
            logical.setdefault((queue, str(send.value)), (queue, dedup, epoch))
    return logical
