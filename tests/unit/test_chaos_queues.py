"""The queue checkers: lost messages, FIFO order and deduplication, visibility."""

from __future__ import annotations

from engine.chaos.checkers import queues
from tests.unit.helpers_chaos import History

STD, FIFO, DLQ = "jobs", "jobs.fifo", "jobs-dlq"


def send(h: History, body: str, at, queue: str = STD, type: str = "ok", **extra):
    return h.op("send", queue, body, at=at, type=type, **extra)


def receive(h: History, bodies, at, queue: str = STD, **extra):
    result = [b if isinstance(b, dict) else {"id": b, "receipt": f"r-{b}-{at[0]}"}
              for b in bodies]
    return h.op("receive", queue, at=at, result=result, **extra)


def kinds(h: History) -> list[str]:
    return sorted(a.kind for a in queues.check(h.ops).anomalies)


def only(h: History, kind: str):
    anomalies = queues.check(h.ops).anomalies
    assert [a.kind for a in anomalies] == [kind], anomalies
    return anomalies[0]


def test_every_acknowledged_send_received_passes():
    h = History()
    send(h, "m1", (0, 1))
    send(h, "m2", (0, 1))
    receive(h, ["m2", "m1"], (2, 3))  # a standard queue may reorder
    report = queues.check(h.ops)
    assert report.anomalies == []
    assert (report.acknowledged_sends, report.lost) == (2, 0)


def test_acknowledged_send_never_received_is_lost():
    h = History()
    acked = send(h, "m1", (0, 1))
    send(h, "m2", (0, 1), type="info")  # may never have happened: not lost
    send(h, "m3", (0, 1), type="fail", error="InvalidMessageContents")
    anomaly = only(h, "lost-message")
    assert anomaly.excerpt == (acked,)
    assert queues.check(h.ops).lost == 1


def test_message_moved_to_the_dead_letter_queue_is_not_lost():
    h = History()
    send(h, "m1", (0, 1))
    receive(h, ["m1"], (2, 3), visibility_timeout=1)
    receive(h, ["m1"], (10, 11), queue=DLQ)
    assert kinds(h) == []


def test_failed_or_unknown_message_received_is_an_anomaly():
    h = History()
    failed = send(h, "m1", (0, 1), type="fail", error="AWS.SimpleQueueService.NonExistentQueue")
    receive(h, ["m1", "ghost"], (2, 3))
    anomalies = queues.check(h.ops).anomalies
    assert [a.kind for a in anomalies] == ["unsent-message", "unsent-message"]
    assert "whose send failed" in anomalies[0].message and failed in anomalies[0].excerpt
    assert "never sent" in anomalies[1].message


def test_fifo_reorder_within_a_group_is_an_anomaly():
    h = History()
    a = send(h, "a", (0, 1), FIFO, group="g")
    b = send(h, "b", (2, 3), FIFO, group="g")
    rb = receive(h, ["b"], (4, 5), FIFO)
    ra = receive(h, ["a"], (6, 7), FIFO)
    anomaly = only(h, "fifo-order")
    assert "'a' (send 0) was sent before 'b' (send 1)" in anomaly.message
    assert anomaly.excerpt == (a, b, rb, ra)


def test_fifo_reorder_within_one_receive_or_one_batch_is_an_anomaly():
    listed = History()
    send(listed, "a", (0, 1), FIFO, group="g")
    send(listed, "b", (2, 3), FIFO, group="g")
    receive(listed, ["b", "a"], (4, 5), FIFO)
    assert kinds(listed) == ["fifo-order"]
    batch = History()
    send(batch, "a", (0, 1), FIFO, group="g", batch="req1", position=0)
    send(batch, "b", (0, 1), FIFO, group="g", batch="req1", position=1)
    receive(batch, ["b"], (2, 3), FIFO)
    receive(batch, ["a"], (4, 5), FIFO)
    assert kinds(batch) == ["fifo-order"]


def test_fifo_order_across_groups_or_concurrent_sends_is_free():
    groups = History()
    send(groups, "a", (0, 1), FIFO, group="g1")
    send(groups, "b", (2, 3), FIFO, group="g2")
    receive(groups, ["b"], (4, 5), FIFO)
    receive(groups, ["a"], (6, 7), FIFO)
    assert kinds(groups) == []
    concurrent = History()
    send(concurrent, "a", (0, 3), FIFO, group="g")
    send(concurrent, "b", (1, 2), FIFO, group="g")
    receive(concurrent, ["b", "a"], (4, 5), FIFO)
    assert kinds(concurrent) == []


def test_fifo_order_counts_first_deliveries_only():
    h = History()
    send(h, "a", (0, 1), FIFO, group="g")
    send(h, "b", (2, 3), FIFO, group="g")
    receive(h, ["a"], (4, 5), FIFO, visibility_timeout=1)
    receive(h, ["b"], (6, 7), FIFO)
    receive(h, ["a"], (8, 9), FIFO)  # a's redelivery after its timeout expired
    assert kinds(h) == []


def test_fifo_deduplication_within_five_minutes():
    h = History()
    send(h, "a", (0, 1), FIFO, group="g", dedup_id="d1")
    send(h, "a2", (60, 61), FIFO, group="g", dedup_id="d1")  # accepted, not delivered
    receive(h, ["a"], (70, 71), FIFO)
    assert kinds(h) == []  # and a2 is not lost: it is the same message
    receive(h, ["a2"], (80, 81), FIFO)
    assert kinds(h) == ["duplicate-delivery"]
    later = History()
    send(later, "a", (0, 1), FIFO, group="g", dedup_id="d1")
    send(later, "a2", (400, 401), FIFO, group="g", dedup_id="d1")  # a new message
    receive(later, ["a"], (402, 403), FIFO)
    receive(later, ["a2"], (404, 405), FIFO)
    assert kinds(later) == []


def test_message_received_while_invisible_is_an_anomaly():
    h = History()
    send(h, "m", (0, 1))
    first = receive(h, ["m"], (2, 3), visibility_timeout=30)
    again = receive(h, ["m"], (10, 11), visibility_timeout=30)
    anomaly = only(h, "received-while-invisible")
    assert anomaly.excerpt == (first, again)


def test_redelivery_after_the_timeout_or_a_visibility_change_is_allowed():
    expired = History()
    send(expired, "m", (0, 1))
    receive(expired, ["m"], (2, 3), visibility_timeout=30)
    receive(expired, ["m"], (32, 33))
    assert kinds(expired) == []
    early = History()  # done 0.8 s before the earliest deadline (32 s): within tolerance
    send(early, "m", (0, 1))
    receive(early, ["m"], (2, 3), visibility_timeout=30)
    receive(early, ["m"], (30.2, 31.2))
    assert queues.check(early.ops).anomalies == []
    assert [a.kind for a in queues.check(early.ops, tolerance_ns=0).anomalies] == [
        "received-while-invisible"]
    changed = History()
    send(changed, "m", (0, 1), FIFO, group="g")
    receive(changed, ["m"], (2, 3), FIFO, visibility_timeout=30)
    changed.op("change_visibility", FIFO, "m", at=(4, 5), visibility_timeout=0)
    receive(changed, ["m"], (6, 7), FIFO)
    assert kinds(changed) == []
    retried = History()
    send(retried, "m", (0, 1), FIFO, group="g")
    receive(retried, ["m"], (2, 3), FIFO, visibility_timeout=30, attempt_id="x")
    receive(retried, ["m"], (4, 5), FIFO, visibility_timeout=30, attempt_id="x")
    assert kinds(retried) == []


def test_redelivery_after_delete_fifo_anomaly_standard_counted():
    for queue, expected in ((FIFO, ["duplicate-delivery"]), (STD, [])):
        h = History()
        send(h, "m", (0, 1), queue, group="g")
        receive(h, [{"id": "m", "receipt": "r1"}], (2, 3), queue, visibility_timeout=30)
        h.op("delete_message", queue, "m", at=(4, 5), receipt="r1")
        receive(h, [{"id": "m", "receipt": "r2"}], (6, 7), queue, visibility_timeout=30)
        report = queues.check(h.ops)
        assert [a.kind for a in report.anomalies] == expected
        assert report.redelivered_after_delete == (0 if queue == FIFO else 1)


def test_delete_with_a_stale_receipt_may_not_delete():
    h = History()
    send(h, "m", (0, 1), FIFO, group="g")
    receive(h, [{"id": "m", "receipt": "r1"}], (2, 3), FIFO, visibility_timeout=1)
    receive(h, [{"id": "m", "receipt": "r2"}], (5, 6), FIFO, visibility_timeout=1)
    h.op("delete_message", FIFO, "m", at=(7, 8), receipt="r1")  # "succeeds", may not delete
    receive(h, [{"id": "m", "receipt": "r3"}], (10, 11), FIFO)
    assert kinds(h) == []
