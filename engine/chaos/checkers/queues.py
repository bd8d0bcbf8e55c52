"""Queue checkers: nothing acknowledged lost, FIFO order per message group, no duplicate
a FIFO queue's exactly-once processing forbids.

Models (SQS's documented semantics):
- at-least-once: every acknowledged send is received at least once by the end of the run
  (the harness drains every queue, and its dead-letter queue, after the faults heal), in
  any queue (a message moved to a DLQ still counts). A FIFO send deduplicated into an
  earlier message with its deduplication id counts as received with that message.
- a receive returns only messages that were sent: never one whose send failed.
- FIFO order: if send A of a message group was acknowledged before send B was invoked
  (or A came before B in one SendMessageBatch), A's first delivery is not after B's.
- FIFO deduplication: two sends with one deduplication id certainly within 5 minutes of
  each other are delivered as one message, never two.
Redelivery (after a visibility timeout, or after a delete on a standard queue) is the
subject of queue_visibility.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.chaos.checkers import queue_visibility
from engine.chaos.checkers.anomaly import Anomaly, excerpt_of
from engine.chaos.checkers.queue_deliveries import (
    DEDUPLICATION_WINDOW_NS,
    Delivery,
    QueueFacts,
    collect,
    is_fifo,
)
from engine.chaos.history import Operation


@dataclass
class QueueReport:
    anomalies: list[Anomaly] = field(default_factory=list)
    acknowledged_sends: int = 0
    lost: int = 0
    redelivered_after_delete: int = 0  # standard queues: allowed, counted


def check(ops: Iterable[Operation],
          tolerance_ns: int = queue_visibility.DEFAULT_TOLERANCE_NS) -> QueueReport:
    """Every queue check on the queue operations of a history."""
    facts = collect(ops)
    report = QueueReport()
    report.acknowledged_sends = sum(
        1 for sends in facts.sends.values() for s in sends if s.type == "ok")
    lost = lost_messages(facts)
    report.lost = len(lost)
    report.anomalies.extend(lost)
    report.anomalies.extend(unsent_deliveries(facts))
    report.anomalies.extend(fifo_order(facts))
    report.anomalies.extend(deduplication(facts))
    visibility = queue_visibility.check(facts, tolerance_ns)
    report.anomalies.extend(visibility.anomalies)
    report.redelivered_after_delete = visibility.redelivered_after_delete
    return report


def lost_messages(facts: QueueFacts) -> list[Anomaly]:
    """Acknowledged sends never received."""
    received = {d.body for d in facts.deliveries}
    received_logical = {facts.logical[(d.queue, d.body)] for d in facts.deliveries
                        if (d.queue, d.body) in facts.logical}
    anomalies = []
    for body, sends in facts.sends.items():
        acked = [s for s in sends if s.type == "ok"]
        if not acked or body in received:
            continue
        if facts.logical.get((str(acked[0].key), body)) in received_logical:
            continue  # deduplicated into a message that was received
        anomalies.append(Anomaly(
            "lost-message", str(acked[0].key),
            f"message {body!r} was acknowledged (send {acked[0].index}) but never received",
            excerpt_of(acked)))
    return anomalies


def unsent_deliveries(facts: QueueFacts) -> list[Anomaly]:
    """Received messages nobody sent, or whose every send failed (no effect)."""
    anomalies = []
    reported: set[str] = set()
    for d in facts.deliveries:
        if d.body in reported:
            continue
        sends = facts.sends.get(d.body, [])
        if any(s.type != "fail" for s in sends):
            continue
        reported.add(d.body)
        why = "whose send failed" if sends else "that was never sent"
        anomalies.append(Anomaly(
            "unsent-message", d.queue,
            f"receive {d.receive.index} returned message {d.body!r}, {why}",
            excerpt_of([*sends, d.receive])))
    return anomalies


def _sent_before(a: Operation, b: Operation) -> bool:
    """Send ``a`` certainly entered the queue before send ``b``."""
    if a.precedes(b):
        return True
    batch = a.extra.get("batch")
    return (batch is not None and batch == b.extra.get("batch")
            and int(a.extra.get("position", 0)) < int(b.extra.get("position", 0)))


def fifo_order(facts: QueueFacts) -> list[Anomaly]:
    """FIFO queues: first deliveries of a message group in send order."""
    first: dict[tuple[str, str], Delivery] = {}
    for d in facts.deliveries:
        if is_fifo(d.queue):
            earlier = first.get((d.queue, d.body))
            if earlier is None or d.before(earlier):
                first[(d.queue, d.body)] = d
    groups: dict[tuple[str, str], list[tuple[Operation, Delivery]]] = {}
    for (queue, body), delivery in first.items():
        group = facts.group_of(body)
        acked = [s for s in facts.sends.get(body, ()) if s.type == "ok" and s.key == queue]
        if group is not None and acked:
            send = min(acked, key=lambda s: s.end_ns)
            groups.setdefault((queue, group), []).append((send, delivery))
    anomalies = []
    for (queue, group), sent in groups.items():
        for a, b in _overtaken(sent):
            anomalies.append(Anomaly(
                "fifo-order", queue,
                f"group {group!r}: message {a[1].body!r} (send {a[0].index}) was sent before "
                f"{b[1].body!r} (send {b[0].index}) but first delivered after it",
                excerpt_of([a[0], b[0], b[1].receive, a[1].receive])))
    return anomalies


Sent = tuple[Operation, Delivery]


def _overtaken(sent: list[Sent]) -> list[tuple[Sent, Sent]]:
    """Pairs (a, b): a sent before b, b first delivered certainly before a; one pair per
    overtaken message a. A sweep over sends by invocation keeps, among the sends
    acknowledged before the current one was invoked, the one first delivered latest."""
    pairs: dict[int, tuple[Sent, Sent]] = {}
    by_end = sorted(sent, key=lambda s: s[0].end_ns)
    latest: Sent | None = None
    i = 0
    for b in sorted(sent, key=lambda s: s[0].invoke_ns):
        while i < len(by_end) and by_end[i][0].end_ns < b[0].invoke_ns:
            cand = by_end[i]
            if latest is None or cand[1].receive.invoke_ns > latest[1].receive.invoke_ns:
                latest = cand
            i += 1
        if latest is not None and b[1].before(latest[1]):
            pairs.setdefault(id(latest[0]), (latest, b))
    # Orders within one receive's result or one batch, which the sweep cannot see.
    buckets: dict[object, list[Sent]] = {}
    for s in sent:
        buckets.setdefault(("receive", id(s[1].receive)), []).append(s)
        if s[0].extra.get("batch") is not None:
            buckets.setdefault(("batch", s[0].extra["batch"]), []).append(s)
    for bucket in buckets.values():
        for a in bucket:
            for b in bucket:
                if a is not b and _sent_before(a[0], b[0]) and b[1].before(a[1]):
                    pairs.setdefault(id(a[0]), (a, b))
    return list(pairs.values())


def deduplication(facts: QueueFacts) -> list[Anomaly]:
    """FIFO: sends sharing a deduplication id within 5 minutes delivered as two messages."""
    bodies: dict[tuple[str, str, int], set[str]] = {}
    for d in facts.deliveries:
        logical = facts.logical.get((d.queue, d.body))
        if logical is not None:
            bodies.setdefault(logical, set()).add(d.body)
    anomalies = []
    for (queue, dedup, _), delivered in bodies.items():
        sends = sorted((s for body in delivered for s in facts.sends[body]
                        if s.type != "fail" and s.key == queue), key=lambda s: s.invoke_ns)
        for a, b in itertools.combinations(sends, 2):
            if a.value != b.value and b.end_ns < a.invoke_ns + DEDUPLICATION_WINDOW_NS:
                anomalies.append(Anomaly(
                    "duplicate-delivery", queue,
                    f"messages {a.value!r} and {b.value!r} share deduplication id {dedup!r} "
                    "within 5 minutes, yet both were delivered",
                    excerpt_of([a, b, *(d.receive for d in facts.deliveries
                                        if d.queue == queue and d.body in (a.value, b.value))])))
                break  # one anomaly per message
    return anomalies
