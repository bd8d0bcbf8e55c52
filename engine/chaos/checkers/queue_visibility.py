"""Queue checkers for redelivery: no message received while invisible, none redelivered
after it was deleted from a FIFO queue.

Model (SQS): a receive hides each message it returns for its visibility timeout, counted
from the moment the receive took it, somewhere between the receive's invocation and its
completion. So the message is certainly invisible from the receive's completion until
its invocation plus the timeout. A ChangeMessageVisibility (acknowledged or
indeterminate) may shorten that, counted from its invocation at the earliest; extensions
are ignored, which can hide a violation but never invent one. A retried receive with the
same ReceiveRequestAttemptId may legitimately return the same messages again. A
receive that, start to end, fell inside the window is a violation, with a tolerance for
the granularity of clocks and of SQS's whole-second timeouts.

A delete is certain to have removed the message when it used the receipt handle of the
message's latest delivery (SQS: an older handle "succeeds, but the message might not be
deleted"). Receiving the message after such a delete completed is a duplicate: a FIFO
queue forbids it (exactly-once processing); a standard queue allows it ("on rare
occasions ... you might get that message copy again"), so it is only counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.chaos.checkers.anomaly import Anomaly, excerpt_of
from engine.chaos.checkers.queue_deliveries import Delivery, QueueFacts, is_fifo
from engine.chaos.history import Operation

NS = 1_000_000_000
DEFAULT_TOLERANCE_NS = 1 * NS


@dataclass
class VisibilityReport:
    anomalies: list[Anomaly] = field(default_factory=list)
    redelivered_after_delete: int = 0


def check(facts: QueueFacts, tolerance_ns: int = DEFAULT_TOLERANCE_NS) -> VisibilityReport:
    changes: dict[tuple[str, str], list[Operation]] = {}
    for c in facts.changes:
        if c.type != "fail":
            changes.setdefault((str(c.key), str(c.value)), []).append(c)
    deletes: dict[tuple[str, str], list[Operation]] = {}
    for x in facts.deletes:
        if x.type == "ok":
            deletes.setdefault((str(x.key), str(x.value)), []).append(x)
    report = VisibilityReport()
    for message, deliveries in facts.by_message.items():
        deliveries = sorted(deliveries, key=lambda d: (d.receive.invoke_ns, d.position))
        report.anomalies.extend(_while_invisible(
            deliveries, changes.get(message, []), deletes.get(message, []), tolerance_ns))
        for x in deletes.get(message, []):
            again = _after_delete(deliveries, x)
            if not again:
                continue
            if not is_fifo(message[0]):
                report.redelivered_after_delete += len(again)
                continue
            report.anomalies.append(Anomaly(
                "duplicate-delivery", message[0],
                f"message {message[1]!r} was deleted (delete {x.index}) yet received again "
                f"(receive {again[0].receive.index})",
                excerpt_of([x, *(d.receive for d in deliveries)])))
    return report


def _while_invisible(deliveries: list[Delivery], changes: list[Operation],
                     deletes: list[Operation], tolerance_ns: int) -> list[Anomaly]:
    anomalies = []
    for later in deliveries:
        end = later.receive.end_ns
        if any(x.invoke_ns < end for x in deletes):
            continue  # deleted by then: a redelivery is _after_delete's business
        for earlier in deliveries:
            first = earlier.receive
            if not first.precedes(later.receive) or _same_attempt(first, later.receive):
                continue
            timeout = first.extra.get("visibility_timeout")
            if timeout is None:
                continue
            deadline = first.invoke_ns + int(float(timeout) * NS)
            for c in changes:
                if first.invoke_ns <= c.invoke_ns <= end:
                    new = float(c.extra.get("visibility_timeout", 0))
                    deadline = min(deadline, c.invoke_ns + int(new * NS))
            if end < deadline - tolerance_ns:
                anomalies.append(Anomaly(
                    "received-while-invisible", later.queue,
                    f"message {later.body!r} was received by receive {later.receive.index} "
                    f"while invisible after receive {first.index} (visibility timeout "
                    f"{timeout} s, {(deadline - end) / NS:.3f} s before it could expire)",
                    excerpt_of([first, *(c for c in changes if c.invoke_ns <= end),
                                later.receive])))
                break
    return anomalies


def _same_attempt(a: Operation, b: Operation) -> bool:
    attempt = a.extra.get("attempt_id")
    return attempt is not None and attempt == b.extra.get("attempt_id")


def _after_delete(deliveries: list[Delivery], delete: Operation) -> list[Delivery]:
    """Deliveries after ``delete`` completed, if it certainly removed the message."""
    receipt = delete.extra.get("receipt")
    if receipt is not None:
        targets = [d for d in deliveries if d.receipt == receipt]
    else:
        targets = [d for d in deliveries if d.receive.precedes(delete)][-1:]
    if not targets or delete.complete_ns is None:
        return []
    target = targets[0]
    if any(d is not target and not d.before(target) and d.receive.invoke_ns < delete.end_ns
           for d in deliveries):
        return []  # the handle may be stale: the delete might not have removed it
    return [d for d in deliveries if d.receive.invoke_ns > delete.complete_ns]
