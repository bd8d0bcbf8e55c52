"""PartitionState: the deterministic state machine behind every queue partition.

Time is driven explicitly through each command's now_ns; nothing sleeps. Besides one test
per rule, a property test runs random command sequences through the real state, a second
copy that is pickled and restored along the way, and a slow obviously-correct model of the
same rules, and demands byte-identical results and statistics from all three.
"""

from __future__ import annotations

import pickle
import random
from collections import OrderedDict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.queues import partition as part_mod
from engine.queues.partition import (
    DEDUP_WINDOW_NS,
    FIRST_SEQUENCE,
    INVALID_HANDLE,
    INVALID_PARAMETER,
    MAX_VISIBILITY_NS,
    MEMO_ENTRIES,
    NOT_INFLIGHT,
    PartitionState,
)
from engine.v1 import queue_records_pb2 as rec
from engine.v1 import queues_pb2

S = 1_000_000_000
T0 = 1_700_000_000 * S
DAY = 86_400 * S
STD = rec.QueueRef(name="orders", incarnation="inc-1")
FIFO = rec.QueueRef(name="orders.fifo", incarnation="inc-1")
I64 = (1 << 63) - 1


def policy(fifo: bool = False, retention: int = 4 * DAY, mrc: int = 0) -> rec.PartitionPolicy:
    return rec.PartitionPolicy(fifo=fifo, retention_ns=retention, max_receive_count=mrc)


def new(mid: str, group: str = "", dedup: str = "", sent: int = 0, delay: int = 0, **kw):
    fields = {"body": f"body-{mid}", **kw}
    message = rec.StoredMessage(
        message_id=mid, group_id=group, dedup_id=dedup, sent_ns=sent, **fields
    )
    return rec.NewMessage(entry_id=f"e-{mid}", message=message, delay_ns=delay)


class Q:
    """Drives one queue of a PartitionState with readable calls."""

    def __init__(self, state: PartitionState, ref: rec.QueueRef, pol: rec.PartitionPolicy):
        self.state, self.ref, self.pol = state, ref, pol

    def run(self, now: int, op_id: str = "", **op) -> rec.PartitionResult:
        return self.state.apply(rec.PartitionCommand(now_ns=now, op_id=op_id, **op))

    def send(self, now: int, *msgs: rec.NewMessage, part: int = 0, op_id: str = ""):
        cmd = rec.SendCommand(queue=self.ref, partition=part, policy=self.pol, messages=msgs)
        return self.run(now, op_id, send=cmd).send.outcomes

    def receive(self, now: int, n: int = 10, vis: int = 30 * S, part: int = 0, op_id: str = ""):
        cmd = rec.ReceiveCommand(
            queue=self.ref, partition=part, policy=self.pol, max_messages=n, visibility_ns=vis
        )
        return self.run(now, op_id, receive=cmd).receive

    def ids(self, now: int, n: int = 10, vis: int = 30 * S, part: int = 0) -> list[str]:
        return [m.message_id for m in self.receive(now, n, vis, part).messages]

    def _handles(self, op: str, now: int, handles, part: int) -> list[str]:
        refs = [
            rec.HandleRef(
                entry_id=str(i),
                message_id=h[0],
                receipt_seq=h[1],
                visibility_ns=h[2] if len(h) > 2 else 0,
            )
            for i, h in enumerate(handles)
        ]
        cmd = rec.HandleCommand(queue=self.ref, partition=part, handles=refs)
        outcomes = self.run(now, **{op: cmd}).handles.outcomes
        assert [o.entry_id for o in outcomes] == [str(i) for i in range(len(refs))]
        return [o.error_code for o in outcomes]

    def delete(self, now: int, *handles: tuple, part: int = 0) -> list[str]:
        return self._handles("delete", now, handles, part)

    def chvis(self, now: int, *handles: tuple, part: int = 0) -> list[str]:
        return self._handles("change_visibility", now, handles, part)

    def stats(self, now: int, part: int = 0) -> rec.PartitionStats:
        found = [s for s in self.state.stats(self.ref, now) if s.partition == part]
        return found[0] if found else rec.PartitionStats(partition=part)

    def counts(self, now: int, part: int = 0) -> tuple[int, int, int]:
        s = self.stats(now, part)
        return s.visible, s.in_flight, s.delayed


def std(**kw) -> Q:
    return Q(PartitionState(), STD, policy(**kw))


def fifo(**kw) -> Q:
    return Q(PartitionState(), FIFO, policy(fifo=True, **kw))


# -- standard queues ---------------------------------------------------------------------------


def test_send_then_receive_sets_delivery_fields():
    q = std()
    (out,) = q.send(T0, new("a"))
    assert (out.entry_id, out.message_id, out.sequence) == ("e-a", "a", 0)
    (m,) = q.receive(T0 + S, vis=30 * S).messages
    assert m.message_id == "a" and m.body == "body-a"
    assert m.sent_ns == T0 and m.receive_count == 1 and m.receipt_seq == 1
    assert m.in_flight and m.received_ns == T0 + S and m.first_receive_ns == T0 + S
    assert m.visible_ns == T0 + 31 * S and m.sequence == 0
    assert q.counts(T0 + S) == (0, 1, 0)


def test_message_content_is_delivered_unchanged():
    q = fifo()
    attrs = {
        "n": queues_pb2.MessageAttributeValue(data_type="Number", string_value="42"),
        "b": queues_pb2.MessageAttributeValue(data_type="Binary.x", binary_value=b"\x00\xff"),
    }
    trace = {
        "AWSTraceHeader": queues_pb2.MessageAttributeValue(
            data_type="String", string_value="Root=1"
        )
    }
    sent = rec.StoredMessage(
        message_id="a", body="héllo", attributes=attrs, system_attributes=trace,
        md5_of_body="m1", md5_of_attributes="m2", md5_of_system_attributes="m3",
        group_id="g", dedup_id="d", receive_count=3, receipt_seq=4,
    )  # fmt: skip
    q.send(T0, rec.NewMessage(entry_id="1", message=sent))
    (m,) = q.receive(T0).messages
    expected = rec.StoredMessage()
    expected.CopyFrom(sent)
    expected.sent_ns = T0
    expected.visible_ns = T0 + 30 * S
    expected.sequence = FIRST_SEQUENCE
    expected.receive_count = 4  # counts on from what the sender gave (dead-letter moves)
    expected.receipt_seq = 5
    expected.in_flight = True
    expected.received_ns = expected.first_receive_ns = T0
    assert m == expected


def test_explicit_sent_ns_is_kept():
    q = std()
    q.send(T0, new("a", sent=T0 - 100 * S))
    (m,) = q.receive(T0).messages
    assert m.sent_ns == T0 - 100 * S


def test_standard_receive_arrival_order_and_max_messages_clamped():
    q = std()
    q.send(T0, *(new(f"m{i:02}") for i in range(15)))
    assert q.ids(T0, n=0) == ["m00"]  # 0 means 1
    assert q.ids(T0, n=50) == [f"m{i:02}" for i in range(1, 11)]  # at most 10
    assert q.ids(T0, n=3) == ["m11", "m12", "m13"]


def test_delay_hides_until_due():
    q = std()
    q.send(T0, new("late", delay=10 * S), new("now"))
    assert q.counts(T0) == (1, 0, 1)
    assert q.stats(T0).next_visible_ns == T0 + 10 * S
    assert q.ids(T0 + 9 * S) == ["now"]
    assert q.ids(T0 + 10 * S - 1) == []
    assert q.ids(T0 + 10 * S) == ["late"]


def test_visibility_expiry_redelivers_with_new_handle():
    q = std()
    q.send(T0, new("a"), new("b"))
    first = q.receive(T0, n=1, vis=30 * S).messages[0]
    assert q.ids(T0 + 29 * S) == ["b"]
    assert q.receive(T0 + 30 * S - 1).messages == []
    again = q.receive(T0 + 30 * S, vis=30 * S).messages
    assert [m.message_id for m in again] == ["a"]
    assert again[0].receipt_seq == first.receipt_seq + 1 == 2
    assert again[0].receive_count == 2
    assert again[0].first_receive_ns == T0 and again[0].received_ns == T0 + 30 * S


def test_redelivered_message_keeps_its_arrival_place():
    q = std()
    q.send(T0, new("a"), new("b"), new("c"))
    q.receive(T0, n=1, vis=10 * S)  # a hidden until T0+10
    assert q.ids(T0 + 20 * S, n=10, vis=0) == ["a", "b", "c"]


def test_visibility_zero_receive_is_visible_again_but_not_twice_in_one_receive():
    q = std()
    q.send(T0, new("a"))
    assert q.ids(T0, vis=0) == ["a"]
    assert q.counts(T0) == (1, 0, 0)
    again = q.receive(T0, vis=0).messages
    assert [m.receipt_seq for m in again] == [2]


def test_same_message_id_is_stored_once():
    q = std()
    q.send(T0, new("a"))
    (out,) = q.send(T0 + S, new("a"))
    assert out.message_id == "a"
    assert q.counts(T0 + S) == (1, 0, 0)
    q.delete(T0 + S, ("a", 0))  # invalid handle: never received, nothing deleted
    assert q.counts(T0 + S) == (1, 0, 0)


def test_send_without_message_id_stores_nothing():
    q = std()
    (out,) = q.send(T0, rec.NewMessage(entry_id="x", message=rec.StoredMessage(body="b")))
    assert (out.entry_id, out.message_id) == ("x", "")
    assert q.counts(T0) == (0, 0, 0)


# -- delete and change visibility --------------------------------------------------------------


def test_delete_outcomes():
    q = std()
    q.send(T0, new("a"), new("b"), new("c"))
    q.receive(T0, n=2, vis=10 * S)  # a, b: handle 1
    q.receive(T0 + 10 * S, n=1, vis=10 * S)  # a again: handle 2
    codes = q.delete(T0 + 11 * S, ("a", 0), ("a", 3), ("c", 1), ("nope", 1), ("b", 1))
    assert codes == [INVALID_HANDLE, INVALID_HANDLE, INVALID_HANDLE, "", ""]
    assert q.delete(T0 + 11 * S, ("a", 1)) == [""]  # an older issued handle deletes
    assert q.delete(T0 + 11 * S, ("a", 1), ("b", 1)) == ["", ""]  # gone: still success
    assert q.ids(T0 + DAY) == ["c"]


def test_handles_on_unknown_queue_or_partition():
    q = std()
    assert q.delete(T0, ("a", 1)) == [""]
    assert q.chvis(T0, ("a", 1, 0)) == [INVALID_HANDLE]
    q.send(T0, new("a"))
    assert q.delete(T0, ("a", 1), part=7) == [""]
    assert q.chvis(T0, ("a", 1, 0), part=7) == [INVALID_HANDLE]


def test_change_visibility_outcomes():
    q = std()
    q.send(T0, new("a"), new("b"), new("c"))
    assert q.chvis(T0, ("a", 0, S), ("a", 1, S), ("zz", 1, S)) == [INVALID_HANDLE] * 3
    q.receive(T0, n=1, vis=10 * S)  # a: handle 1
    q.receive(T0 + 10 * S, n=1, vis=10 * S)  # a: handle 2, until T0+20
    now = T0 + 11 * S
    assert q.chvis(now, ("a", 3, S)) == [INVALID_HANDLE]
    assert q.chvis(now, ("a", 1, S)) == [NOT_INFLIGHT]  # stale handle
    limit = T0 + 10 * S + MAX_VISIBILITY_NS  # received at T0+10
    assert q.chvis(now, ("a", 2, limit - now + 1)) == [INVALID_PARAMETER]
    assert q.chvis(now, ("a", 2, -1)) == [INVALID_PARAMETER]
    assert q.chvis(now, ("a", 2, limit - now)) == [""]
    assert q.stats(now).next_visible_ns == limit
    assert q.chvis(now, ("a", 2, 5 * S)) == [""]  # shorten
    assert q.ids(now + 5 * S - 1, n=1) == ["b"]
    assert q.ids(now + 5 * S, n=1) == ["a"]


def test_change_visibility_to_zero_makes_visible_and_not_in_flight():
    q = std()
    q.send(T0, new("a"))
    q.receive(T0, vis=30 * S)
    assert q.chvis(T0 + S, ("a", 1, 0)) == [""]
    assert q.counts(T0 + S) == (1, 0, 0)
    assert not q.state._queues[_key(STD)].parts[0].slots["a"].in_flight
    assert q.chvis(T0 + S, ("a", 1, 10 * S)) == [NOT_INFLIGHT]
    (m,) = q.receive(T0 + S).messages
    assert m.receipt_seq == 2


def test_change_visibility_after_expiry_is_not_inflight():
    q = std()
    q.send(T0, new("a"))
    q.receive(T0, vis=30 * S)
    assert q.chvis(T0 + 30 * S, ("a", 1, 10 * S)) == [NOT_INFLIGHT]
    # the old handle still deletes
    assert q.delete(T0 + 31 * S, ("a", 1)) == [""]
    assert q.counts(T0 + 31 * S) == (0, 0, 0)


# -- retention, purge, drop, sweep -------------------------------------------------------------


def test_retention_removes_messages_lazily_and_in_stats():
    q = std(retention=100 * S)
    q.send(T0, new("a"))
    q.send(T0 + 50 * S, new("b", delay=80 * S))
    q.send(T0 + 60 * S, new("c"))
    q.receive(T0 + 60 * S, n=1, vis=600 * S)  # a in flight
    assert q.counts(T0 + 100 * S - 1) == (1, 1, 1)
    assert q.counts(T0 + 100 * S) == (1, 0, 1)  # a expired, no command needed
    assert q.ids(T0 + 130 * S, vis=0) == ["b", "c"]
    assert q.counts(T0 + 150 * S) == (1, 0, 0)  # b expired
    assert q.counts(T0 + 160 * S) == (0, 0, 0)  # and c
    assert q.delete(T0 + 130 * S, ("a", 1)) == [""]  # already gone


def test_retention_boundary_is_exact():
    q = std(retention=100 * S)
    q.send(T0, new("a"))
    assert q.counts(T0 + 100 * S - 1) == (1, 0, 0)
    assert q.ids(T0 + 100 * S - 1, vis=0) == ["a"]
    assert q.counts(T0 + 100 * S) == (0, 0, 0)
    assert q.ids(T0 + 100 * S) == []


def test_retention_of_dead_letter_moves_uses_their_older_sent_ns():
    q = std(retention=100 * S)
    q.send(T0, new("fresh"))
    q.send(T0 + S, new("old1", sent=T0 - 90 * S), new("old2", sent=T0 - 50 * S))
    q.send(T0 + 2 * S, new("ancient", sent=T0 - 200 * S))  # too old: gone at once
    assert q.counts(T0 + 2 * S) == (3, 0, 0)
    assert q.counts(T0 + 10 * S) == (2, 0, 0)
    assert q.ids(T0 + 10 * S, vis=0) == ["fresh", "old2"]
    assert q.ids(T0 + 50 * S, vis=0) == ["fresh"]
    assert q.ids(T0 + 100 * S) == []


def test_sweep_applies_retention_and_dedup_everywhere():
    state = PartitionState()
    a = Q(state, STD, policy(retention=100 * S))
    f = Q(state, FIFO, policy(fifo=True, retention=DAY))
    a.send(T0, new("a"), part=0)
    a.send(T0, new("b"), part=1)
    f.send(T0, new("x", group="g", dedup="d"))
    assert state.apply(rec.PartitionCommand(now_ns=T0 + 400 * S, sweep=True)).done
    part0 = state._queues[("orders", "inc-1")].parts[0]
    assert part0.slots == {}
    assert state._queues[("orders.fifo", "inc-1")].dedup == OrderedDict()
    assert [s.visible for s in state.stats(STD, T0 + 400 * S)] == [0, 0]


def test_purge_deletes_only_messages_sent_up_to_now():
    q = fifo()
    q.send(T0, new("a", group="g", dedup="d1"))
    q.send(T0 + S, new("b", group="g", dedup="d2"), new("future", group="h", sent=T0 + DAY))
    q.receive(T0 + S, n=1)  # a in flight
    assert q.run(T0 + 2 * S, purge=FIFO).done
    assert q.counts(T0 + 2 * S) == (1, 0, 0)
    (dup,) = q.send(T0 + 3 * S, new("b2", group="g", dedup="d2"))  # dedup survives purge
    assert dup.message_id == "b"
    (fresh,) = q.send(T0 + 3 * S, new("c", group="g", dedup="d3"))
    assert fresh.sequence > dup.sequence  # counter survives purge
    assert q.ids(T0 + 3 * S) == ["future", "c"]
    # a purge stamped in the past still runs at the latest time: x is purged
    q2 = std()
    q2.send(T0 + 10 * S, new("x"))
    q2.run(T0 + 5 * S, purge=STD)
    assert q2.counts(T0 + 10 * S) == (0, 0, 0)


def test_purge_keeps_in_flight_future_message_blocking_its_group():
    q = fifo()
    q.send(T0, new("f1", group="g", sent=T0 + DAY), new("f2", group="g", sent=T0 + DAY))
    q.send(T0, new("h1", group="h"))
    assert q.ids(T0, n=1) == ["f1"]
    q.run(T0 + S, purge=FIFO)
    assert q.counts(T0 + S) == (1, 1, 0)
    assert q.ids(T0 + S) == []  # f2 stays behind in-flight f1
    assert q.ids(T0 + 30 * S) == ["f1", "f2"]


def test_purge_keeps_blocking_by_a_later_in_flight_message():
    q = fifo()
    q.send(T0, new("f1", group="g", sent=T0 + DAY), new("f2", group="g", sent=T0 + DAY))
    assert q.ids(T0, n=2) == ["f1", "f2"]
    assert q.chvis(T0, ("f1", 1, 0)) == [""]
    q.run(T0 + S, purge=FIFO)
    assert q.ids(T0 + S) == []  # f1 is visible, but f2 is still in flight
    assert q.ids(T0 + 30 * S) == ["f1", "f2"]


def test_sends_to_an_available_group_leave_no_heap_garbage():
    q = fifo()
    for i in range(3000):
        q.send(T0, new(f"m{i}", group="g"))
    part = q.state._queues[_key(FIFO)].parts[0]
    assert len(part.avail) == 1 and part.timers == []


def test_deleted_hidden_messages_do_not_pile_up_under_a_live_top():
    q = std()
    q.send(T0, new("keep"), *(new(f"m{i:04}") for i in range(3000)))
    q.receive(T0, n=1, vis=10 * S)  # keep: the earliest hidden entry, stays valid
    for _ in range(300):
        got = q.receive(T0, vis=3600 * S).messages
        q.delete(T0, *((m.message_id, m.receipt_seq) for m in got))
    part = q.state._queues[_key(STD)].parts[0]
    assert len(part.slots) == 1
    assert len(part.hidden) <= 2 + part_mod.GARBAGE_SLACK
    _heaps_bounded(q.state, STD)


def test_purge_standard_all_partitions_keeps_later_sends():
    q = std()
    q.send(T0, new("a"), part=0)
    q.send(T0, new("b"), part=3)
    q.run(T0 + S, purge=STD)
    q.send(T0 + 2 * S, new("c"), part=0)
    assert [(s.partition, s.visible) for s in q.state.stats(STD, T0 + 2 * S)] == [(0, 1), (3, 0)]
    assert q.ids(T0 + 2 * S) == ["c"]


def test_drop_forgets_queue_and_counters():
    q = fifo()
    (first,) = q.send(T0, new("a", group="g", dedup="d"))
    assert first.sequence == FIRST_SEQUENCE
    assert q.run(T0 + S, drop=FIFO).done
    assert q.state.stats(FIFO, T0 + S) == []
    assert q.receive(T0 + S).messages == []
    (again,) = q.send(T0 + 2 * S, new("a2", group="g", dedup="d"))
    assert (again.message_id, again.sequence) == ("a2", FIRST_SEQUENCE)


def test_drop_does_not_touch_other_incarnation():
    state = PartitionState()
    old = Q(state, rec.QueueRef(name="q", incarnation="1"), policy())
    cur = Q(state, rec.QueueRef(name="q", incarnation="2"), policy())
    old.send(T0, new("a"))
    cur.send(T0, new("b"))
    old.run(T0, drop=old.ref)
    assert cur.ids(T0) == ["b"]


# -- dead letters ------------------------------------------------------------------------------


def test_dead_letter_after_max_receive_count():
    q = std(mrc=2)
    q.send(T0, new("a"), new("b"))
    for i in range(2):
        assert q.ids(T0 + i * 10 * S, n=1, vis=10 * S) == ["a"]
    out = q.receive(T0 + 20 * S, n=1, vis=10 * S)
    assert [m.message_id for m in out.messages] == ["b"]  # dead letters do not count
    (dead,) = out.dead_letters
    assert dead.message_id == "a" and dead.receive_count == 3 and dead.receipt_seq == 3
    assert dead.in_flight and dead.visible_ns == T0 + 30 * S
    assert q.counts(T0 + 20 * S) == (0, 2, 0)
    assert q.delete(T0 + 21 * S, ("a", 3)) == [""]
    assert q.counts(T0 + 21 * S) == (0, 1, 0)


def test_dead_letters_are_bounded_per_receive():
    q = std(mrc=1)
    q.send(T0, *(new(f"d{i:02}") for i in range(15)))
    q.receive(T0, vis=S)
    q.receive(T0, vis=S)
    q.send(T0 + S, new("fresh"))
    first = q.receive(T0 + 2 * S, vis=S)
    assert len(first.dead_letters) == 10 and first.messages == []
    second = q.receive(T0 + 2 * S, vis=S)
    assert len(second.dead_letters) == 5
    assert [m.message_id for m in second.messages] == ["fresh"]


def test_dead_letter_move_is_idempotent_by_message_id():
    dlq = std()
    moved = new("a", sent=T0 - 5 * S)
    dlq.send(T0, moved)
    dlq.send(T0 + S, moved)  # the coordinator retried the move
    assert dlq.counts(T0 + S) == (1, 0, 0)


# -- FIFO --------------------------------------------------------------------------------------


def test_fifo_groups_are_delivered_in_order_and_together():
    q = fifo()
    q.send(T0, new("a1", group="A"), new("b1", group="B"), new("a2", group="A"))
    q.send(T0 + S, new("b2", group="B"), new("a3", group="A"), new("c1", group="C"))
    assert q.ids(T0 + S, n=10) == ["a1", "a2", "a3", "b1", "b2", "c1"]


def test_fifo_group_blocks_while_in_flight():
    q = fifo()
    q.send(T0, new("a1", group="A"), new("a2", group="A"), new("b1", group="B"))
    assert q.ids(T0, n=1) == ["a1"]
    assert q.state.ready(FIFO, [0], T0) == [0]
    assert q.ids(T0, n=1) == ["b1"]
    assert q.state.ready(FIFO, [0], T0) == []
    assert q.state.next_visible_ns(FIFO, [0], T0) == T0 + 30 * S
    assert q.ids(T0 + S) == []
    assert q.counts(T0 + S) == (1, 2, 0)  # a2 counts as visible although blocked
    assert q.delete(T0 + 2 * S, ("a1", 1)) == [""]
    assert q.ids(T0 + 2 * S) == ["a2"]


def test_fifo_expired_visibility_keeps_head_and_order():
    q = fifo()
    q.send(T0, *(new(f"a{i}", group="A") for i in range(4)))
    assert q.ids(T0, n=2, vis=10 * S) == ["a0", "a1"]
    assert q.ids(T0 + 9 * S) == []
    assert q.delete(T0 + 9 * S, ("a0", 1)) == [""]
    assert q.ids(T0 + 9 * S) == []  # a1 still in flight
    got = q.receive(T0 + 10 * S, n=10, vis=10 * S).messages
    assert [(m.message_id, m.receipt_seq) for m in got] == [("a1", 2), ("a2", 1), ("a3", 1)]


def test_fifo_any_in_flight_message_blocks_the_group():
    q = fifo()
    q.send(T0, new("a1", group="A"), new("a2", group="A"))
    q.receive(T0, n=2, vis=30 * S)
    assert q.chvis(T0 + S, ("a1", 1, 0)) == [""]
    assert q.ids(T0 + S) == []  # a2 still in flight
    assert q.state.ready(FIFO, [0], T0 + S) == []
    assert q.counts(T0 + S) == (1, 1, 0)
    assert q.state.next_visible_ns(FIFO, [0], T0 + S) == T0 + 30 * S
    assert q.state.ready(FIFO, [0], T0 + 30 * S) == [0]
    assert q.ids(T0 + 30 * S) == ["a1", "a2"]


def test_fifo_delayed_head_blocks_group():
    q = fifo()
    q.send(T0, new("a1", group="A", delay=10 * S))
    q.send(T0, new("a2", group="A"), new("b1", group="B"))
    assert q.ids(T0) == ["b1"]
    assert q.state.next_visible_ns(FIFO, [0], T0) == T0 + 10 * S
    assert q.ids(T0 + 10 * S) == ["a1", "a2"]


def test_fifo_oldest_head_first_across_groups():
    q = fifo()
    q.send(T0, new("a1", group="A"), new("b1", group="B"), new("b2", group="B"))
    q.receive(T0, n=1, vis=5 * S)  # a1
    q.send(T0 + S, new("a2", group="A"))
    # at T0+5s a1 is back at the head of A, which is older than B's head b1
    assert q.ids(T0 + 5 * S, n=10) == ["a1", "a2", "b1", "b2"]


def test_fifo_dedup_window_and_after_delete():
    q = fifo()
    (a,) = q.send(T0, new("a", group="g", dedup="d"))
    dup_out = q.send(T0 + 10 * S, new("a-again", group="g", dedup="d"), new("x", dedup="d"))
    assert [(o.entry_id, o.message_id, o.sequence) for o in dup_out] == [
        ("e-a-again", "a", a.sequence),
        ("e-x", "a", a.sequence),
    ]
    assert q.counts(T0 + 10 * S) == (1, 0, 0)
    q.receive(T0 + 20 * S)
    assert q.delete(T0 + 21 * S, ("a", 1)) == [""]
    (dup,) = q.send(T0 + DEDUP_WINDOW_NS - 1, new("a3", group="g", dedup="d"))
    assert dup.message_id == "a"  # remembered after the first copy was deleted
    assert q.counts(T0 + DEDUP_WINDOW_NS - 1) == (0, 0, 0)
    (late,) = q.send(T0 + DEDUP_WINDOW_NS, new("a4", group="g", dedup="d"))
    assert late.message_id == "a4" and late.sequence > a.sequence
    (dup2,) = q.send(T0 + DEDUP_WINDOW_NS + S, new("a5", group="g", dedup="d"))
    assert dup2.message_id == "a4"  # a new window from the new first send


def test_fifo_sequence_strictly_increases_and_empty_dedup_never_dedups():
    q = fifo()
    seqs = []
    for i in range(5):
        outs = q.send(T0 + i * S, new(f"m{i}a", group="g"), new(f"m{i}b", group="h"))
        seqs += [o.sequence for o in outs]
    assert seqs == sorted(seqs) and len(set(seqs)) == 10 and seqs[0] == FIRST_SEQUENCE
    got = q.receive(T0 + 10 * S).messages
    assert [m.message_id for m in got] == [f"m{i}{g}" for g in "ab" for i in range(5)]
    assert [m.sequence for m in got] == seqs[::2] + seqs[1::2]


def test_fifo_dedup_is_per_queue_incarnation():
    state = PartitionState()
    a = Q(state, rec.QueueRef(name="x.fifo", incarnation="1"), policy(fifo=True))
    b = Q(state, rec.QueueRef(name="x.fifo", incarnation="2"), policy(fifo=True))
    a.send(T0, new("m1", group="g", dedup="d"))
    (out,) = b.send(T0, new("m2", group="g", dedup="d"))
    assert out.message_id == "m2"


def test_fifo_dead_letter_unblocks_after_delete():
    q = fifo(mrc=1)
    q.send(T0, new("a1", group="A"), new("a2", group="A"))
    assert q.ids(T0, n=1, vis=S) == ["a1"]
    out = q.receive(T0 + S, n=1, vis=S)
    assert [m.message_id for m in out.dead_letters] == ["a1"]
    assert [m.message_id for m in out.messages] == ["a2"]
    assert q.delete(T0 + S, ("a1", 2), ("a2", 1)) == ["", ""]
    assert q.counts(T0 + S) == (0, 0, 0)


# -- op ids and time ---------------------------------------------------------------------------


def test_op_id_retry_returns_remembered_result_and_applies_once():
    q = std()
    first = q.run(T0, "op-1", send=rec.SendCommand(queue=STD, policy=q.pol, messages=[new("a")]))
    recv = rec.ReceiveCommand(queue=STD, policy=q.pol, max_messages=10, visibility_ns=S)
    r1 = q.run(T0 + S, "op-2", receive=recv)
    r2 = q.run(T0 + 5 * S, "op-2", receive=recv)  # visibility expired, yet not received again
    assert r1.SerializeToString(deterministic=True) == r2.SerializeToString(deterministic=True)
    assert [m.receipt_seq for m in r2.receive.messages] == [1]
    again = q.run(T0 + 5 * S, "op-1", send=rec.SendCommand(queue=STD, messages=[new("b")]))
    assert again == first
    assert q.counts(T0 + 5 * S) == (1, 0, 0)  # b was never sent
    assert [m.receipt_seq for m in q.receive(T0 + 5 * S).messages] == [2]


def test_op_id_memo_is_bounded_oldest_out():
    q = std()
    q.send(T0, new("a"))
    recv = rec.ReceiveCommand(queue=STD, policy=q.pol, max_messages=1, visibility_ns=0)
    r1 = q.run(T0, "first", receive=recv)
    for i in range(MEMO_ENTRIES):
        q.run(T0, f"filler-{i}", sweep=True)
    assert len(q.state._memo) == MEMO_ENTRIES
    r2 = q.run(T0, "first", receive=recv)  # forgotten: applied again
    assert r1.receive.messages[0].receipt_seq == 1
    assert r2.receive.messages[0].receipt_seq == 2


def test_op_id_memo_is_bounded_in_bytes(monkeypatch):
    monkeypatch.setattr(part_mod, "MEMO_BYTES", 1000)
    q = std()
    q.send(T0, *(new(f"m{i}", body="x" * 300) for i in range(1, 10)))
    recv = rec.ReceiveCommand(queue=STD, policy=q.pol, max_messages=1, visibility_ns=0)
    for i in range(5):
        q.run(T0, f"r{i}", receive=recv)
    assert q.state._memo_bytes <= 1000
    assert q.state._memo_bytes == sum(len(v) for v in q.state._memo.values())
    assert "r0" not in q.state._memo and "r4" in q.state._memo


def test_time_never_goes_backwards():
    q = std()
    q.send(T0 + 100 * S, new("a", delay=5 * S))
    assert q.state.now_ns == T0 + 100 * S
    assert q.ids(T0) == []  # stamped in the past: still T0+100s, a is delayed
    assert q.ids(T0 + 104 * S) == []
    (m,) = q.receive(T0 + 105 * S, vis=30 * S).messages
    assert m.visible_ns == T0 + 135 * S
    q.run(T0, sweep=True)
    assert q.state.now_ns == T0 + 105 * S
    assert q.chvis(T0, ("a", 1, 10 * S)) == [""]  # evaluated at T0+105s
    assert q.stats(T0).next_visible_ns == T0 + 115 * S


def test_stats_and_queries_use_monotonic_time():
    q = std()
    q.send(T0, new("a"), new("b", delay=10 * S))
    assert q.counts(T0 - DAY) == (1, 0, 1)  # asked about the past: answered for T0
    assert q.state.ready(STD, [0, 0, 5], T0 - DAY) == [0]
    assert q.state.next_visible_ns(STD, [0], T0 - DAY) == T0 + 10 * S


# -- queries -----------------------------------------------------------------------------------


def test_ready_and_next_visible_standard():
    q = std()
    assert q.state.ready(STD, [0], T0) == []
    assert q.state.next_visible_ns(STD, [0], T0) == 0
    q.send(T0, new("a", delay=20 * S), part=0)
    q.send(T0, new("b", delay=10 * S), part=1)
    q.send(T0, new("c"), part=2)
    assert q.state.ready(STD, [2, 1, 0, 9], T0) == [2]
    assert q.state.next_visible_ns(STD, [0, 1, 2], T0) == T0 + 10 * S
    assert q.state.next_visible_ns(STD, [0], T0) == T0 + 20 * S
    assert q.state.ready(STD, [0, 1], T0 + 10 * S) == [1]  # no command needed
    q.receive(T0, part=2, vis=30 * S)
    assert q.state.ready(STD, [2], T0) == []
    assert q.state.next_visible_ns(STD, [2], T0) == T0 + 30 * S
    assert q.state.next_visible_ns(STD, [0, 1, 2], T0 + 15 * S) == T0 + 20 * S


def test_stats_lists_every_partition_sorted():
    q = std()
    q.send(T0, new("a"), part=5)
    q.send(T0, new("b", delay=S), part=1)
    stats = q.state.stats(STD, T0)
    assert [(s.partition, s.visible, s.in_flight, s.delayed, s.next_visible_ns) for s in stats] == [
        (1, 0, 0, 1, T0 + S),
        (5, 1, 0, 0, 0),
    ]
    assert q.state.stats(rec.QueueRef(name="other"), T0) == []


def test_queries_do_not_change_state():
    q = std()
    q.send(T0, new("a", delay=10 * S), new("b"))
    before = pickle.dumps(q.state)
    q.state.stats(STD, T0 + DAY * 10)
    q.state.ready(STD, [0], T0 + 20 * S)
    q.state.next_visible_ns(STD, [0], T0 + 5 * S)
    assert pickle.dumps(q.state) == before


# -- malformed input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cmd",
    [
        rec.PartitionCommand(),
        rec.PartitionCommand(now_ns=-5),
        rec.PartitionCommand(now_ns=I64, send=rec.SendCommand()),
        rec.PartitionCommand(now_ns=T0, receive=rec.ReceiveCommand(queue=STD)),
        rec.PartitionCommand(now_ns=T0, delete=rec.HandleCommand()),
        rec.PartitionCommand(now_ns=T0, purge=rec.QueueRef()),
        rec.PartitionCommand(now_ns=T0, drop=rec.QueueRef(name="nope")),
    ],
)
def test_malformed_commands_give_neutral_results(cmd):
    state = PartitionState()
    result = state.apply(cmd)
    assert isinstance(result, rec.PartitionResult)


def test_apply_never_raises_on_garbage():
    state = PartitionState()
    assert state.apply(None) == rec.PartitionResult()  # type: ignore[arg-type]
    assert state.apply("junk") == rec.PartitionResult()  # type: ignore[arg-type]


def test_extreme_values_do_not_raise():
    q = std(mrc=0)
    big = rec.StoredMessage(message_id="x", receive_count=(1 << 32) - 1, receipt_seq=(1 << 32) - 1)
    q.send(I64 - 10, rec.NewMessage(entry_id="1", message=big, delay_ns=I64))
    q.send(I64 - 10, new("y"))
    (m,) = q.receive(I64 - 10, vis=I64).messages
    assert m.visible_ns == I64
    assert q.chvis(I64 - 5, ("y", 1, I64)) == [INVALID_PARAMETER]
    assert q.chvis(I64, ("y", 1, 0)) == [NOT_INFLIGHT]  # visible_ns I64 <= now
    q.send(
        I64 - 10,
        rec.NewMessage(entry_id="2", message=rec.StoredMessage(message_id="z"), delay_ns=-5),
    )
    assert q.stats(I64) == rec.PartitionStats(visible=3)
    r = q.receive(I64, vis=-3)
    assert all(x.visible_ns == I64 for x in r.messages)
    x = std(mrc=0)
    x.send(T0, rec.NewMessage(entry_id="1", message=big))
    (got,) = x.receive(T0).messages
    assert got.receive_count == (1 << 32) - 1 and got.receipt_seq == (1 << 32) - 1


def test_send_on_empty_queue_name_stores_nothing():
    state = PartitionState()
    cmd = rec.SendCommand(queue=rec.QueueRef(), messages=[new("a")])
    out = state.apply(rec.PartitionCommand(now_ns=T0, send=cmd)).send.outcomes
    assert [(o.entry_id, o.message_id) for o in out] == [("e-a", "")]
    assert state._queues == {}


# -- pickling ----------------------------------------------------------------------------------


def _script(std_q: Q, fifo_q: Q) -> list[bytes]:
    """A fixed run of commands touching every structure; returns serialized results."""
    out = []
    for i in range(3):
        t = T0 + 40 * i * S
        out += [
            r.SerializeToString() for r in std_q.send(t, new(f"s{i}"), new(f"d{i}", delay=7 * S))
        ]
        out += [
            r.SerializeToString()
            for r in fifo_q.send(t, new(f"f{i}", group=f"g{i % 2}", dedup=f"k{i % 2}"))
        ]
        out.append(std_q.receive(t + S, n=2, vis=30 * S).SerializeToString())
        out.append(fifo_q.receive(t + S, n=1, vis=50 * S).SerializeToString())
        out += std_q.delete(t + 2 * S, (f"s{i}", 1))
        out += fifo_q.chvis(t + 3 * S, (f"f{i}", 1, 0))
    for q in (std_q, fifo_q):
        for s in q.state.stats(q.ref, T0 + 500 * S):
            out.append(s.SerializeToString())
    return out


def test_pickle_round_trip_preserves_behaviour():
    state = PartitionState()
    s, f = Q(state, STD, policy(mrc=2)), Q(state, FIFO, policy(fifo=True))
    s.send(T0 - S, new("pre"), new("pre-delayed", delay=100 * S))
    f.send(T0 - S, new("p1", group="g0", dedup="k0"), new("p2", group="g1"))
    f.receive(T0 - S, n=1)
    copy = pickle.loads(pickle.dumps(state))
    expected = _script(s, f)
    got = _script(Q(copy, STD, policy(mrc=2)), Q(copy, FIFO, policy(fifo=True)))
    assert got == expected
    assert any(b for b in expected)


# -- property: real state == pickled copy == slow model ----------------------------------------


class Model:
    """The rules read as literally as possible: lists and scans, no indexes."""

    def __init__(self) -> None:
        self.now = 0
        self.queues: dict = {}
        self.memo: dict[str, bytes] = {}

    def apply(self, cmd: rec.PartitionCommand) -> rec.PartitionResult:
        self.now = now = max(cmd.now_ns, self.now)
        if cmd.op_id and cmd.op_id in self.memo:
            return rec.PartitionResult.FromString(self.memo[cmd.op_id])
        op = cmd.WhichOneof("op")
        body = getattr(cmd, op)
        if op in ("send", "receive") and _key(body.queue) in self.queues:
            self.queues[_key(body.queue)]["policy"] = body.policy
        self.expire(now)
        result = getattr(self, op)(body, now)
        if cmd.op_id:
            self.memo[cmd.op_id] = result.SerializeToString(deterministic=True)
        return result

    def expire(self, now: int) -> None:
        for q in self.queues.values():
            ret = q["policy"].retention_ns
            for msgs in q["parts"].values():
                msgs[:] = [m for m in msgs if not ret or now < m.sent_ns + ret]

    def send(self, cmd, now):
        out = rec.SendOutcomes()
        q = self.queues.setdefault(
            _key(cmd.queue),
            {"policy": cmd.policy, "parts": {}, "dedup": {}, "seq": FIRST_SEQUENCE, "fifo": {}},
        )
        msgs = q["parts"].setdefault(cmd.partition, [])
        fifo = q["fifo"].setdefault(cmd.partition, cmd.policy.fifo)
        for nm in cmd.messages:
            o = out.outcomes.add(entry_id=nm.entry_id)
            src = nm.message
            d = q["dedup"].get(src.dedup_id)
            if fifo and src.dedup_id and d and now < d[0] + DEDUP_WINDOW_NS:
                o.message_id, o.sequence = d[1], d[2]
                continue
            o.message_id = src.message_id
            same = [m for m in msgs if m.message_id == src.message_id]
            if same:
                o.sequence = same[0].sequence
                continue
            m = rec.StoredMessage()
            m.CopyFrom(src)
            m.sent_ns = m.sent_ns or now
            m.visible_ns = now + nm.delay_ns
            if fifo:
                m.sequence = q["seq"]
                q["seq"] += 1
                if m.dedup_id:
                    q["dedup"][m.dedup_id] = (now, m.message_id, m.sequence)
            o.sequence = m.sequence
            msgs.append(m)
        self.expire(now)
        return rec.PartitionResult(send=out)

    def receive(self, cmd, now):
        out = rec.ReceiveOutcome()
        q = self.queues.get(_key(cmd.queue))
        if not q or cmd.partition not in q["parts"]:
            return rec.PartitionResult(receive=out)
        msgs = q["parts"][cmd.partition]
        n = min(max(cmd.max_messages, 1), 10)
        mrc = q["policy"].max_receive_count

        def full():
            return len(out.messages) >= n or len(out.dead_letters) >= 10

        def deliver(m):
            m.receive_count += 1
            m.receipt_seq += 1
            m.in_flight = True
            m.received_ns = now
            m.visible_ns = now + cmd.visibility_ns
            if mrc and m.receive_count > mrc:
                out.dead_letters.append(m)
            else:
                m.first_receive_ns = m.first_receive_ns or now
                out.messages.append(m)

        if not q["fifo"][cmd.partition]:
            for m in [m for m in msgs if m.visible_ns <= now]:
                if full():
                    break
                deliver(m)
            return rec.PartitionResult(receive=out)
        for group in self.available_groups(msgs, now):
            if full():
                break
            for m in group:
                if m.visible_ns > now or full():
                    break
                deliver(m)
        return rec.PartitionResult(receive=out)

    @staticmethod
    def groups(msgs):
        groups: dict[str, list] = {}
        for m in msgs:
            groups.setdefault(m.group_id, []).append(m)
        return groups.values()

    @staticmethod
    def group_at(group, now):
        flying = [m.visible_ns for m in group if m.in_flight and m.visible_ns > now]
        return max([group[0].visible_ns, *flying])

    def available_groups(self, msgs, now):
        return [g for g in self.groups(msgs) if self.group_at(g, now) <= now]

    def _handles(self, cmd, now, fn):
        out = rec.HandleOutcomes()
        q = self.queues.get(_key(cmd.queue))
        msgs = q["parts"].get(cmd.partition) if q else None
        for h in cmd.handles:
            found = [m for m in msgs or [] if m.message_id == h.message_id]
            code = fn(msgs, found[0] if found else None, h)
            out.outcomes.add(entry_id=h.entry_id, error_code=code)
        return rec.PartitionResult(handles=out)

    def delete(self, cmd, now):
        def one(msgs, m, h):
            if m is None:
                return ""
            if h.receipt_seq == 0 or h.receipt_seq > m.receipt_seq:
                return INVALID_HANDLE
            msgs.remove(m)
            return ""

        return self._handles(cmd, now, one)

    def change_visibility(self, cmd, now):
        def one(msgs, m, h):
            if m is None or h.receipt_seq == 0 or h.receipt_seq > m.receipt_seq:
                return INVALID_HANDLE
            if h.receipt_seq != m.receipt_seq or not m.in_flight or m.visible_ns <= now:
                return NOT_INFLIGHT
            if h.visibility_ns < 0 or now + h.visibility_ns > m.received_ns + MAX_VISIBILITY_NS:
                return INVALID_PARAMETER
            m.visible_ns = now + h.visibility_ns
            if h.visibility_ns == 0:
                m.in_flight = False
            return ""

        return self._handles(cmd, now, one)

    def purge(self, ref, now):
        q = self.queues.get(_key(ref))
        for msgs in q["parts"].values() if q else []:
            msgs[:] = [m for m in msgs if m.sent_ns > now]
        return rec.PartitionResult(done=True)

    def drop(self, ref, now):
        self.queues.pop(_key(ref), None)
        return rec.PartitionResult(done=True)

    def sweep(self, _flag, now):
        return rec.PartitionResult(done=True)

    def stats(self, ref, now):
        now = max(now, self.now)
        q = self.queues.get(_key(ref))
        out = []
        for idx in sorted(q["parts"]) if q else []:
            ret = q["policy"].retention_ns
            msgs = [m for m in q["parts"][idx] if not ret or now < m.sent_ns + ret]
            hidden = [m for m in msgs if m.visible_ns > now]
            out.append(
                rec.PartitionStats(
                    partition=idx,
                    visible=len(msgs) - len(hidden),
                    in_flight=sum(1 for m in hidden if m.in_flight),
                    delayed=sum(1 for m in hidden if not m.in_flight),
                    next_visible_ns=min((m.visible_ns for m in hidden), default=0),
                )
            )
        return out

    def alive(self, q, idx, now):
        ret = q["policy"].retention_ns
        return [m for m in q["parts"][idx] if not ret or now < m.sent_ns + ret]

    def ready(self, ref, parts, now):
        now = max(now, self.now)
        q = self.queues.get(_key(ref))
        out = []
        for idx in dict.fromkeys(parts):
            msgs = self.alive(q, idx, now) if q and idx in q["parts"] else None
            if msgs is None:
                continue
            if q["fifo"][idx]:
                ok = bool(self.available_groups(msgs, now))
            else:
                ok = any(m.visible_ns <= now for m in msgs)
            if ok:
                out.append(idx)
        return out

    def next_visible_ns(self, ref, parts, now):
        now = max(now, self.now)
        q = self.queues.get(_key(ref))
        times = []
        for idx in parts:
            msgs = self.alive(q, idx, now) if q and idx in q["parts"] else None
            if not msgs:
                continue
            if q["fifo"][idx]:
                times += [self.group_at(g, now) for g in self.groups(msgs)]
            else:
                times += [m.visible_ns for m in msgs]
        return min((t for t in times if t > now), default=0)


def _key(ref):
    return ref.name, ref.incarnation


QUEUES = {
    "s": (rec.QueueRef(name="s", incarnation="1"), policy(retention=900 * S, mrc=2)),
    "f": (
        rec.QueueRef(name="f.fifo", incarnation="1"),
        policy(fifo=True, retention=1200 * S, mrc=2),
    ),
}
OP_IDS = st.sampled_from(["", "", "", "", "op-a", "op-b"])
DT = st.sampled_from([0, 0, S, 7 * S, 31 * S, 301 * S, -50 * S])

_send_op = st.tuples(
    st.just("send"),
    st.sampled_from("sf"),
    st.integers(0, 1),
    st.lists(
        st.tuples(
            st.integers(0, 400),
            st.integers(0, 2),
            st.sampled_from([0, 0, 0, 1, 2, 3]),
            st.sampled_from([0, 0, 5 * S, 60 * S]),
            st.sampled_from([0, 0, 0, -500 * S, -1000 * S]),
        ),
        min_size=1,
        max_size=10,
    ),
    OP_IDS,
    DT,
)
_receive_op = st.tuples(
    st.just("receive"),
    st.sampled_from("sf"),
    st.integers(0, 1),
    st.integers(0, 12),
    st.sampled_from([0, 10 * S, 30 * S]),
    OP_IDS,
    DT,
)
_handle_op = st.tuples(
    st.sampled_from(["delete", "change_visibility"]),
    st.sampled_from("sf"),
    st.integers(0, 1),
    st.lists(
        st.tuples(
            st.integers(0, 50),
            st.sampled_from([0, 0, 0, -1, 1, -99]),
            st.sampled_from([0, 5 * S, 40 * S, 13 * 3600 * S]),
        ),
        max_size=4,
    ),
    OP_IDS,
    DT,
)
_queue_op = st.tuples(
    st.sampled_from(["purge", "drop", *["sweep"] * 6]),
    st.sampled_from("sf"),
    OP_IDS,
    DT,
)
OPS = st.lists(
    st.one_of(
        _send_op, _send_op, _receive_op, _receive_op, _receive_op, _handle_op, _handle_op, _queue_op
    ),
    min_size=5,
    max_size=80,
)


def _build(op, now: int, issued: dict, counter: list) -> rec.PartitionCommand:
    """The command an op tuple stands for; handles come from recent receives of the queue."""
    kind = op[0]
    ref, pol = QUEUES[op[1]]
    op_id = op[-2]
    cmd = rec.PartitionCommand(now_ns=now, op_id=op_id)
    if kind == "send":
        msgs = []
        for mid, group, dedup, delay, sent in op[3]:
            counter[0] += 1
            msgs.append(
                rec.NewMessage(
                    entry_id=str(len(msgs)),
                    delay_ns=delay,
                    message=rec.StoredMessage(
                        message_id=f"m{mid}",
                        body=f"b{counter[0]}",
                        group_id=f"g{group}",
                        dedup_id=f"d{dedup}" if dedup else "",
                        sent_ns=now + sent if sent else 0,
                    ),
                )
            )
        cmd.send.CopyFrom(rec.SendCommand(queue=ref, partition=op[2], policy=pol, messages=msgs))
    elif kind == "receive":
        cmd.receive.CopyFrom(
            rec.ReceiveCommand(
                queue=ref, partition=op[2], policy=pol, max_messages=op[3], visibility_ns=op[4]
            )
        )
    elif kind in ("delete", "change_visibility"):
        handles, pool, partition = [], issued.get(op[1]) or [(op[2], "m0", 1)], None
        for i, (pick, offset, vis) in enumerate(op[3]):
            part, mid, rs = pool[-1 - (i + pick) % len(pool)]
            partition = part if partition is None else partition
            handles.append(
                rec.HandleRef(
                    entry_id=str(len(handles)),
                    message_id=mid,
                    receipt_seq=max(rs + offset, 0),
                    visibility_ns=vis,
                )
            )
        getattr(cmd, kind).CopyFrom(
            rec.HandleCommand(queue=ref, partition=partition or 0, handles=handles)
        )
    elif kind == "sweep":
        cmd.sweep = True
    else:
        getattr(cmd, kind).CopyFrom(ref)
    return cmd


def _heaps_bounded(state: PartitionState, ref: rec.QueueRef) -> None:
    """Index invariants: garbage bounded, valid heap tops, counters match the messages."""
    queue = state._queues.get(_key(ref))
    for p in queue.parts.values() if queue else ():
        live = len(p.slots)
        bound = 2 * live + part_mod.GARBAGE_SLACK
        assert len(p.ready) <= bound and len(p.hidden) <= bound and len(p.late) <= bound
        assert len(p.lane) <= live
        groups = 2 * len(p.groups) + part_mod.GARBAGE_SLACK
        assert len(p.avail) <= groups and len(p.timers) <= groups
        for heap, valid in (
            (p.ready, p._live_msg),
            (p.hidden, p._live_msg),
            (p.late, p._live_order),
            (p.avail, p._live_group),
            (p.timers, p._live_group),
        ):
            assert not heap or valid(heap[0])
        for group in p.groups.values():
            assert group.ids and p._live_order(group.ids[0])  # dead heads are dropped
            assert len(group.ids) <= 2 * group.live + part_mod.GROUP_SLACK
        if live <= 1000:
            hidden = [s for s in p.slots.values() if s.hidden]
            assert p.inflight == sum(1 for m in hidden if m.in_flight)
            assert p.delayed == len(hidden) - p.inflight


def _seeded_ops(seed: int, n: int) -> list[tuple]:
    """Long plain-random runs: hypothesis favours short, simple cases; these reach deep."""
    rng = random.Random(seed)
    dts = [0, 0, 0, S, S, 7 * S, 31 * S, 301 * S, -50 * S]
    ops: list[tuple] = []
    for _ in range(n):
        q, part, op_id, dt = (
            rng.choice("sf"),
            rng.randint(0, 1),
            rng.choice(["", "", "", "", "", "", "op-a", "op-b"]),
            rng.choice(dts),
        )
        kind = rng.choices(["send", "receive", "handle", "queue"], [3, 4, 3, 1])[0]
        if kind == "send":
            msgs = [
                (
                    rng.randint(0, 300),
                    rng.randint(0, 3),
                    rng.choice([0, 0, 0, 1, 2, 3]),
                    rng.choice([0, 0, 0, 5 * S, 60 * S]),
                    rng.choice([0] * 6 + [-500 * S, -1000 * S]),
                )
                for _ in range(rng.randint(1, 10))
            ]
            ops.append(("send", q, part, msgs, op_id, dt))
        elif kind == "receive":
            ops.append(
                (
                    "receive",
                    q,
                    part,
                    rng.randint(0, 12),
                    rng.choice([0, 10 * S, 30 * S, 30 * S]),
                    op_id,
                    dt,
                )
            )
        elif kind == "handle":
            handles = [
                (
                    rng.randint(0, 3),
                    rng.choice([0, 0, 0, 0, -1, 1, -99]),
                    rng.choice([0, 5 * S, 40 * S, 13 * 3600 * S]),
                )
                for _ in range(rng.randint(1, 5))
            ]
            ops.append((rng.choice(["delete", "change_visibility"]), q, part, handles, op_id, dt))
        else:
            ops.append((rng.choice(["purge", "drop", *["sweep"] * 8]), q, op_id, dt))
    return ops


@pytest.mark.parametrize("seed", range(12))
def test_long_seeded_runs_match_model(seed, monkeypatch):
    monkeypatch.setattr(part_mod, "GARBAGE_SLACK", seed % 3)  # exercise heap rebuilds
    monkeypatch.setattr(part_mod, "GROUP_SLACK", seed % 2)
    _check(_seeded_ops(seed, 400), pickle_at=200)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, pickle_at=st.integers(0, 80))
def test_random_commands_match_model_copy_and_pickled_copy(ops, pickle_at):
    _check(ops, pickle_at)


def _check(ops: list[tuple], pickle_at: int) -> None:
    """Apply ops to two states (one pickled and restored on the way) and to the model."""
    a, b, model = PartitionState(), PartitionState(), Model()
    now, issued, counter = T0, {}, [0]
    for i, op in enumerate(ops):
        if i == pickle_at:
            b = pickle.loads(pickle.dumps(b))
        now += op[-1]
        cmd = _build(op, now, issued, counter)
        ra, rb, rm = a.apply(cmd), b.apply(cmd), model.apply(cmd)
        for ref, _ in QUEUES.values():
            _heaps_bounded(a, ref)
            _heaps_bounded(b, ref)
        wire = ra.SerializeToString(deterministic=True)
        assert wire == rb.SerializeToString(deterministic=True)
        assert wire == rm.SerializeToString(deterministic=True), (i, op)
        if op[0] == "receive":
            pool = issued.setdefault(op[1], [])
            for m in [*ra.receive.messages, *ra.receive.dead_letters]:
                pool.append((op[2], m.message_id, m.receipt_seq))
            del pool[:-30]
        for ref, _ in QUEUES.values():
            for ask in (now, now + 20 * S, now + 700 * S):
                sa = [x.SerializeToString() for x in a.stats(ref, ask)]
                assert sa == [x.SerializeToString() for x in b.stats(ref, ask)]
                assert sa == [x.SerializeToString() for x in model.stats(ref, ask)], (i, ask)
            parts = [1, 0, 0, 2]
            for ask in (now, now + 10 * S, now + 400 * S):
                expected = model.ready(ref, parts, ask)
                assert a.ready(ref, parts, ask) == expected, (i, ask)
                assert b.ready(ref, parts, ask) == expected
                expected = model.next_visible_ns(ref, parts, ask)
                assert a.next_visible_ns(ref, parts, ask) == expected, (i, ask)
                assert b.next_visible_ns(ref, parts, ask) == expected


# -- scale -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_scale_200k_messages_send_receive_delete():
    q = std()
    n = 200_000
    now = T0
    for i in range(0, n, 10):
        outs = q.send(now, *(new(f"m{j:06}") for j in range(i, i + 10)))
        assert len(outs) == 10
        now += 1000
    assert q.counts(now) == (n, 0, 0)
    _heaps_bounded(q.state, STD)
    seen = 0
    last = ""
    while True:
        got = q.receive(now, n=10, vis=30 * S).messages
        if not got:
            break
        assert all(m.message_id > last for m in got)  # arrival order, each exactly once
        last = got[-1].message_id
        seen += len(got)
        if seen % 20_000 < 10:
            _heaps_bounded(q.state, STD)
            assert q.counts(now) == (n - seen, len(got), 0)
        assert q.delete(now, *((m.message_id, m.receipt_seq) for m in got)) == [""] * len(got)
        now += 1000
    assert seen == n
    assert q.counts(now) == (0, 0, 0)
    assert q.counts(now + DAY) == (0, 0, 0)
    _heaps_bounded(q.state, STD)


@pytest.mark.slow
def test_scale_fifo_many_groups():
    q = fifo()
    n, groups = 50_000, 5_000
    now = T0
    for i in range(0, n, 10):
        q.send(now, *(new(f"m{j:06}", group=f"g{j % groups}") for j in range(i, i + 10)))
        now += 1000
    last_seq: dict[str, int] = {}
    seen = 0
    while True:
        got = q.receive(now, n=10, vis=30 * S).messages
        if not got:
            break
        for m in got:
            assert m.sequence > last_seq.get(m.group_id, 0)
            last_seq[m.group_id] = m.sequence
        seen += len(got)
        q.delete(now, *((m.message_id, m.receipt_seq) for m in got))
        now += 1000
    assert seen == n
    assert q.counts(now) == (0, 0, 0)
    _heaps_bounded(q.state, FIFO)
    assert q.state._queues[_key(FIFO)].parts[0].groups == {}
