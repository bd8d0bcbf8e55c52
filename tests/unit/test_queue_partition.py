"""PartitionMachine: the deterministic state machine behind every queue partition.

Time is driven explicitly through each command's now_ns; nothing sleeps. Commands go
through ``MachineHarness`` exactly as the consensus kit applies them (one LMDB write
transaction each). Besides one test per rule, a property test runs random command
sequences through the real machine, a second copy restored from a streamed snapshot along
the way, and a slow obviously-correct model of the same rules, and demands byte-identical
results and statistics from all three, plus exact indexes after every command. The
bounded-work tests lower the budgets and check that purge, drop, retention, visibility
expiry and FIFO timers spread over commands while every answer stays right.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_machines import MachineHarness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.queues.partition import (
    DEDUP_WINDOW_NS,
    FIRST_SEQUENCE,
    INVALID_HANDLE,
    INVALID_PARAMETER,
    MAX_VISIBILITY_NS,
    NOT_INFLIGHT,
    PartitionMachine,
    limits,
)
from engine.queues.partition import keys as K
from engine.queues.partition.fifo import group_time
from engine.queues.partition.messages import Msg
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


@pytest.fixture
def h(tmp_path: Path) -> Iterator[MachineHarness]:
    harness = MachineHarness(PartitionMachine(), tmp_path / "machine")
    yield harness
    harness.close()


def apply(h: MachineHarness, cmd: rec.PartitionCommand) -> rec.PartitionResult:
    return rec.PartitionResult.FromString(h.apply(cmd.SerializeToString()))


class Q:
    """Drives one queue of a PartitionMachine with readable calls."""

    def __init__(self, h: MachineHarness, ref: rec.QueueRef, pol: rec.PartitionPolicy):
        self.h, self.ref, self.pol = h, ref, pol
        self.machine: PartitionMachine = h.machine  # type: ignore[assignment]

    def run(self, now: int, **op) -> rec.PartitionResult:
        return apply(self.h, rec.PartitionCommand(now_ns=now, **op))

    def send(self, now: int, *msgs: rec.NewMessage, part: int = 0):
        cmd = rec.SendCommand(queue=self.ref, partition=part, policy=self.pol, messages=msgs)
        return self.run(now, send=cmd).send.outcomes

    def receive(self, now: int, n: int = 10, vis: int = 30 * S, part: int = 0):
        cmd = rec.ReceiveCommand(
            queue=self.ref, partition=part, policy=self.pol, max_messages=n, visibility_ns=vis
        )
        return self.run(now, receive=cmd).receive

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

    def sweep(self, now: int) -> rec.PartitionResult:
        return self.run(now, sweep=True)

    def all_stats(self, now: int, ref: rec.QueueRef | None = None) -> list[rec.PartitionStats]:
        return self.h.read(lambda keys: self.machine.stats(keys, ref or self.ref, now))

    def stats(self, now: int, part: int = 0) -> rec.PartitionStats:
        found = [s for s in self.all_stats(now) if s.partition == part]
        return found[0] if found else rec.PartitionStats(partition=part)

    def counts(self, now: int, part: int = 0) -> tuple[int, int, int]:
        s = self.stats(now, part)
        return s.visible, s.in_flight, s.delayed

    def ready(self, parts: list[int], now: int, ref: rec.QueueRef | None = None) -> list[int]:
        return self.h.read(lambda keys: self.machine.ready(keys, ref or self.ref, parts, now))

    def next_visible(self, parts: list[int], now: int, ref: rec.QueueRef | None = None) -> int:
        return self.h.read(
            lambda keys: self.machine.next_visible_ns(keys, ref or self.ref, parts, now)
        )

    def now(self) -> int:
        return self.h.read(self.machine.now_ns)

    def message(self, mid: str, part: int = 0) -> Msg | None:
        """The stored changing fields of a message (None if not stored)."""
        pid = part_ids(self.h, self.ref).get(part)
        value = (
            None
            if pid is None
            else self.h.read(lambda keys: keys.get(K.data(pid) + K.MSG + mid.encode()))
        )
        return None if value is None else Msg.decode(mid.encode(), value)


def std(h: MachineHarness, **kw) -> Q:
    return Q(h, STD, policy(**kw))


def fifo(h: MachineHarness, **kw) -> Q:
    return Q(h, FIFO, policy(fifo=True, **kw))


def queue_id(h: MachineHarness, ref: rec.QueueRef) -> int | None:
    name = ref.name.encode()
    key = K.NAMES + K.U16.pack(len(name)) + name + ref.incarnation.encode()
    value = h.read(lambda keys: keys.get(key))
    return None if value is None else K.U64.unpack(value)[0]


def part_ids(h: MachineHarness, ref: rec.QueueRef) -> dict[int, int]:
    """partition -> pid (its current epoch)."""
    qid = queue_id(h, ref)
    if qid is None:
        return {}
    prefix = K.PARTS + K.u64(qid)
    heads = h.read(lambda keys: list(keys.prefix(prefix)))
    return {K.U32.unpack_from(k, 9)[0]: K.U64.unpack_from(v)[0] for k, v in heads}


def table(h: MachineHarness, ident: int, name: bytes) -> list[tuple[bytes, bytes]]:
    """The pairs of one table under ``s + ident``, keys without their prefix."""
    prefix = K.data(ident) + name
    return [(k[len(prefix) :], v) for k, v in h.read(lambda keys: list(keys.prefix(prefix)))]


# -- standard queues ---------------------------------------------------------------------------


def test_send_then_receive_sets_delivery_fields(h):
    q = std(h)
    (out,) = q.send(T0, new("a"))
    assert (out.entry_id, out.message_id, out.sequence) == ("e-a", "a", 0)
    (m,) = q.receive(T0 + S, vis=30 * S).messages
    assert m.message_id == "a" and m.body == "body-a"
    assert m.sent_ns == T0 and m.receive_count == 1 and m.receipt_seq == 1
    assert m.in_flight and m.received_ns == T0 + S and m.first_receive_ns == T0 + S
    assert m.visible_ns == T0 + 31 * S and m.sequence == 0
    assert q.counts(T0 + S) == (0, 1, 0)


def test_message_content_is_delivered_unchanged(h):
    q = fifo(h)
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


def test_large_content_is_stored_apart_and_delivered_unchanged(h):
    q = fifo(h)
    big = "é" * 3000  # over the inline limit
    q.send(T0, new("big", group="g", body=big), new("small", group="g"))
    pid = part_ids(h, FIFO)[0]
    assert [k for k, _ in table(h, pid, K.BODY)] == [K.u64(1)]
    got = q.receive(T0).messages
    assert [(m.message_id, m.body) for m in got] == [("big", big), ("small", "body-small")]
    assert got[0].receipt_seq == 1 and got[0].sequence == FIRST_SEQUENCE
    assert q.chvis(T0, ("big", 1, 0)) == [""]
    check_keyspace(h)
    assert q.delete(T0, ("big", 1)) == [""]
    assert table(h, pid, K.BODY) == []
    check_keyspace(h)


def test_explicit_sent_ns_is_kept(h):
    q = std(h)
    q.send(T0, new("a", sent=T0 - 100 * S))
    (m,) = q.receive(T0).messages
    assert m.sent_ns == T0 - 100 * S


def test_standard_receive_arrival_order_and_max_messages_clamped(h):
    q = std(h)
    q.send(T0, *(new(f"m{i:02}") for i in range(15)))
    assert q.ids(T0, n=0) == ["m00"]  # 0 means 1
    assert q.ids(T0, n=50) == [f"m{i:02}" for i in range(1, 11)]  # at most 10
    assert q.ids(T0, n=3) == ["m11", "m12", "m13"]


def test_delay_hides_until_due(h):
    q = std(h)
    q.send(T0, new("late", delay=10 * S), new("now"))
    assert q.counts(T0) == (1, 0, 1)
    assert q.stats(T0).next_visible_ns == T0 + 10 * S
    assert q.ids(T0 + 9 * S) == ["now"]
    assert q.ids(T0 + 10 * S - 1) == []
    assert q.ids(T0 + 10 * S) == ["late"]


def test_visibility_expiry_redelivers_with_new_handle(h):
    q = std(h)
    q.send(T0, new("a"), new("b"))
    first = q.receive(T0, n=1, vis=30 * S).messages[0]
    assert q.ids(T0 + 29 * S) == ["b"]
    assert q.receive(T0 + 30 * S - 1).messages == []
    again = q.receive(T0 + 30 * S, vis=30 * S).messages
    assert [m.message_id for m in again] == ["a"]
    assert again[0].receipt_seq == first.receipt_seq + 1 == 2
    assert again[0].receive_count == 2
    assert again[0].first_receive_ns == T0 and again[0].received_ns == T0 + 30 * S


def test_redelivered_message_keeps_its_arrival_place(h):
    q = std(h)
    q.send(T0, new("a"), new("b"), new("c"))
    q.receive(T0, n=1, vis=10 * S)  # a hidden until T0+10
    assert q.ids(T0 + 20 * S, n=10, vis=0) == ["a", "b", "c"]


def test_visibility_zero_receive_is_visible_again_but_not_twice_in_one_receive(h):
    q = std(h)
    q.send(T0, new("a"))
    assert q.ids(T0, vis=0) == ["a"]
    assert q.counts(T0) == (1, 0, 0)
    again = q.receive(T0, vis=0).messages
    assert [m.receipt_seq for m in again] == [2]


def test_same_message_id_is_stored_once(h):
    q = std(h)
    q.send(T0, new("a"))
    (out,) = q.send(T0 + S, new("a"))
    assert out.message_id == "a"
    assert q.counts(T0 + S) == (1, 0, 0)
    q.delete(T0 + S, ("a", 0))  # invalid handle: never received, nothing deleted
    assert q.counts(T0 + S) == (1, 0, 0)


def test_send_without_message_id_stores_nothing(h):
    q = std(h)
    (out,) = q.send(T0, rec.NewMessage(entry_id="x", message=rec.StoredMessage(body="b")))
    assert (out.entry_id, out.message_id) == ("x", "")
    assert q.counts(T0) == (0, 0, 0)


# -- delete and change visibility --------------------------------------------------------------


def test_delete_outcomes(h):
    q = std(h)
    q.send(T0, new("a"), new("b"), new("c"))
    q.receive(T0, n=2, vis=10 * S)  # a, b: handle 1
    q.receive(T0 + 10 * S, n=1, vis=10 * S)  # a again: handle 2
    codes = q.delete(T0 + 11 * S, ("a", 0), ("a", 3), ("c", 1), ("nope", 1), ("b", 1))
    assert codes == [INVALID_HANDLE, INVALID_HANDLE, INVALID_HANDLE, "", ""]
    assert q.delete(T0 + 11 * S, ("a", 1)) == [""]  # an older issued handle deletes
    assert q.delete(T0 + 11 * S, ("a", 1), ("b", 1)) == ["", ""]  # gone: still success
    assert q.ids(T0 + DAY) == ["c"]


def test_handles_on_unknown_queue_or_partition(h):
    q = std(h)
    assert q.delete(T0, ("a", 1)) == [""]
    assert q.chvis(T0, ("a", 1, 0)) == [INVALID_HANDLE]
    q.send(T0, new("a"))
    assert q.delete(T0, ("a", 1), part=7) == [""]
    assert q.chvis(T0, ("a", 1, 0), part=7) == [INVALID_HANDLE]


def test_change_visibility_outcomes(h):
    q = std(h)
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


def test_change_visibility_to_zero_makes_visible_and_not_in_flight(h):
    q = std(h)
    q.send(T0, new("a"))
    q.receive(T0, vis=30 * S)
    assert q.chvis(T0 + S, ("a", 1, 0)) == [""]
    assert q.counts(T0 + S) == (1, 0, 0)
    assert not q.message("a").in_flight
    assert q.chvis(T0 + S, ("a", 1, 10 * S)) == [NOT_INFLIGHT]
    (m,) = q.receive(T0 + S).messages
    assert m.receipt_seq == 2


def test_change_visibility_after_expiry_is_not_inflight(h):
    q = std(h)
    q.send(T0, new("a"))
    q.receive(T0, vis=30 * S)
    assert q.chvis(T0 + 30 * S, ("a", 1, 10 * S)) == [NOT_INFLIGHT]
    # the old handle still deletes
    assert q.delete(T0 + 31 * S, ("a", 1)) == [""]
    assert q.counts(T0 + 31 * S) == (0, 0, 0)


# -- retention, purge, drop, sweep -------------------------------------------------------------


def test_retention_removes_messages_lazily_and_in_stats(h):
    q = std(h, retention=100 * S)
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


def test_retention_boundary_is_exact(h):
    q = std(h, retention=100 * S)
    q.send(T0, new("a"))
    assert q.counts(T0 + 100 * S - 1) == (1, 0, 0)
    assert q.ids(T0 + 100 * S - 1, vis=0) == ["a"]
    assert q.counts(T0 + 100 * S) == (0, 0, 0)
    assert q.ids(T0 + 100 * S) == []


def test_retention_of_dead_letter_moves_uses_their_older_sent_ns(h):
    q = std(h, retention=100 * S)
    q.send(T0, new("fresh"))
    q.send(T0 + S, new("old1", sent=T0 - 90 * S), new("old2", sent=T0 - 50 * S))
    q.send(T0 + 2 * S, new("ancient", sent=T0 - 200 * S))  # too old: gone at once
    assert q.counts(T0 + 2 * S) == (3, 0, 0)
    assert q.counts(T0 + 10 * S) == (2, 0, 0)
    assert q.ids(T0 + 10 * S, vis=0) == ["fresh", "old2"]
    assert q.ids(T0 + 50 * S, vis=0) == ["fresh"]
    assert q.ids(T0 + 100 * S) == []


def test_sweep_applies_retention_and_dedup_everywhere(h):
    a = Q(h, STD, policy(retention=100 * S))
    f = Q(h, FIFO, policy(fifo=True, retention=DAY))
    a.send(T0, new("a"), part=0)
    a.send(T0, new("b"), part=1)
    f.send(T0, new("x", group="g", dedup="d"))
    result = a.sweep(T0 + 400 * S)
    assert result.done and not result.more
    pids = part_ids(h, STD)
    assert table(h, pids[0], K.MSG) == [] and table(h, pids[1], K.MSG) == []
    assert table(h, pids[0], K.RETAIN) == [] and table(h, pids[0], K.READY) == []
    qid = queue_id(h, FIFO)
    assert table(h, qid, K.DEDUP) == [] and table(h, qid, K.DEDUP_AGE) == []
    assert [s.visible for s in a.all_stats(T0 + 400 * S)] == [0, 0]
    check_keyspace(h)


def test_purge_deletes_only_messages_sent_up_to_now(h):
    q = fifo(h)
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
    q2 = std(h)
    q2.send(T0 + 10 * S, new("x"))
    q2.run(T0 + 5 * S, purge=STD)
    assert q2.counts(T0 + 10 * S) == (0, 0, 0)


def test_purge_keeps_in_flight_future_message_blocking_its_group(h):
    q = fifo(h)
    q.send(T0, new("f1", group="g", sent=T0 + DAY), new("f2", group="g", sent=T0 + DAY))
    q.send(T0, new("h1", group="h"))
    assert q.ids(T0, n=1) == ["f1"]
    q.run(T0 + S, purge=FIFO)
    assert q.counts(T0 + S) == (1, 1, 0)
    assert q.ids(T0 + S) == []  # f2 stays behind in-flight f1
    assert q.ids(T0 + 30 * S) == ["f1", "f2"]


def test_purge_keeps_blocking_by_a_later_in_flight_message(h):
    q = fifo(h)
    q.send(T0, new("f1", group="g", sent=T0 + DAY), new("f2", group="g", sent=T0 + DAY))
    assert q.ids(T0, n=2) == ["f1", "f2"]
    assert q.chvis(T0, ("f1", 1, 0)) == [""]
    q.run(T0 + S, purge=FIFO)
    assert q.ids(T0 + S) == []  # f1 is visible, but f2 is still in flight
    assert q.ids(T0 + 30 * S) == ["f1", "f2"]


def test_sends_to_an_available_group_keep_one_registration(h):
    q = fifo(h)
    for i in range(300):
        q.send(T0, new(f"m{i}", group="g"))
    pid = part_ids(h, FIFO)[0]
    assert len(table(h, pid, K.AVAIL)) == 1 and table(h, pid, K.TIMER) == []
    assert len(table(h, pid, K.STATUS)) == 1
    check_keyspace(h)


def test_deleted_messages_leave_no_index_entries(h):
    q = std(h)
    q.send(T0, new("keep"), *(new(f"m{i:04}") for i in range(300)))
    q.receive(T0, n=1, vis=10 * S)  # keep: the earliest hidden entry
    for _ in range(30):
        got = q.receive(T0, vis=3600 * S).messages
        q.delete(T0, *((m.message_id, m.receipt_seq) for m in got))
    pid = part_ids(h, STD)[0]
    assert [k[-8:] for k, _ in table(h, pid, K.HIDDEN)] == [K.u64(1)]
    assert len(table(h, pid, K.MSG)) == 1 and table(h, pid, K.READY) == []
    check_keyspace(h)


def test_purge_standard_all_partitions_keeps_later_sends(h):
    q = std(h)
    q.send(T0, new("a"), part=0)
    q.send(T0, new("b"), part=3)
    q.run(T0 + S, purge=STD)
    q.send(T0 + 2 * S, new("c"), part=0)
    assert [(s.partition, s.visible) for s in q.all_stats(T0 + 2 * S)] == [(0, 1), (3, 0)]
    assert q.ids(T0 + 2 * S) == ["c"]


def test_drop_forgets_queue_and_counters(h):
    q = fifo(h)
    (first,) = q.send(T0, new("a", group="g", dedup="d"))
    assert first.sequence == FIRST_SEQUENCE
    assert q.run(T0 + S, drop=FIFO).done
    assert q.all_stats(T0 + S) == []
    assert q.receive(T0 + S).messages == []
    (again,) = q.send(T0 + 2 * S, new("a2", group="g", dedup="d"))
    assert (again.message_id, again.sequence) == ("a2", FIRST_SEQUENCE)


def test_drop_does_not_touch_other_incarnation(h):
    old = Q(h, rec.QueueRef(name="q", incarnation="1"), policy())
    cur = Q(h, rec.QueueRef(name="q", incarnation="2"), policy())
    old.send(T0, new("a"))
    cur.send(T0, new("b"))
    old.run(T0, drop=old.ref)
    assert cur.ids(T0) == ["b"]


# -- dead letters ------------------------------------------------------------------------------


def test_dead_letter_after_max_receive_count(h):
    q = std(h, mrc=2)
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


def test_dead_letters_are_bounded_per_receive(h):
    q = std(h, mrc=1)
    q.send(T0, *(new(f"d{i:02}") for i in range(15)))
    q.receive(T0, vis=S)
    q.receive(T0, vis=S)
    q.send(T0 + S, new("fresh"))
    first = q.receive(T0 + 2 * S, vis=S)
    assert len(first.dead_letters) == 10 and first.messages == []
    second = q.receive(T0 + 2 * S, vis=S)
    assert len(second.dead_letters) == 5
    assert [m.message_id for m in second.messages] == ["fresh"]


def test_dead_letter_move_is_idempotent_by_message_id(h):
    dlq = std(h)
    moved = new("a", sent=T0 - 5 * S)
    dlq.send(T0, moved)
    dlq.send(T0 + S, moved)  # the coordinator retried the move
    assert dlq.counts(T0 + S) == (1, 0, 0)


# -- FIFO --------------------------------------------------------------------------------------


def test_fifo_groups_are_delivered_in_order_and_together(h):
    q = fifo(h)
    q.send(T0, new("a1", group="A"), new("b1", group="B"), new("a2", group="A"))
    q.send(T0 + S, new("b2", group="B"), new("a3", group="A"), new("c1", group="C"))
    assert q.ids(T0 + S, n=10) == ["a1", "a2", "a3", "b1", "b2", "c1"]


def test_fifo_group_blocks_while_in_flight(h):
    q = fifo(h)
    q.send(T0, new("a1", group="A"), new("a2", group="A"), new("b1", group="B"))
    assert q.ids(T0, n=1) == ["a1"]
    assert q.ready([0], T0) == [0]
    assert q.ids(T0, n=1) == ["b1"]
    assert q.ready([0], T0) == []
    assert q.next_visible([0], T0) == T0 + 30 * S
    assert q.ids(T0 + S) == []
    assert q.counts(T0 + S) == (1, 2, 0)  # a2 counts as visible although blocked
    assert q.delete(T0 + 2 * S, ("a1", 1)) == [""]
    assert q.ids(T0 + 2 * S) == ["a2"]


def test_fifo_expired_visibility_keeps_head_and_order(h):
    q = fifo(h)
    q.send(T0, *(new(f"a{i}", group="A") for i in range(4)))
    assert q.ids(T0, n=2, vis=10 * S) == ["a0", "a1"]
    assert q.ids(T0 + 9 * S) == []
    assert q.delete(T0 + 9 * S, ("a0", 1)) == [""]
    assert q.ids(T0 + 9 * S) == []  # a1 still in flight
    got = q.receive(T0 + 10 * S, n=10, vis=10 * S).messages
    assert [(m.message_id, m.receipt_seq) for m in got] == [("a1", 2), ("a2", 1), ("a3", 1)]


def test_fifo_any_in_flight_message_blocks_the_group(h):
    q = fifo(h)
    q.send(T0, new("a1", group="A"), new("a2", group="A"))
    q.receive(T0, n=2, vis=30 * S)
    assert q.chvis(T0 + S, ("a1", 1, 0)) == [""]
    assert q.ids(T0 + S) == []  # a2 still in flight
    assert q.ready([0], T0 + S) == []
    assert q.counts(T0 + S) == (1, 1, 0)
    assert q.next_visible([0], T0 + S) == T0 + 30 * S
    assert q.ready([0], T0 + 30 * S) == [0]
    assert q.ids(T0 + 30 * S) == ["a1", "a2"]


def test_fifo_delayed_head_blocks_group(h):
    q = fifo(h)
    q.send(T0, new("a1", group="A", delay=10 * S))
    q.send(T0, new("a2", group="A"), new("b1", group="B"))
    assert q.ids(T0) == ["b1"]
    assert q.next_visible([0], T0) == T0 + 10 * S
    assert q.ids(T0 + 10 * S) == ["a1", "a2"]


def test_fifo_oldest_head_first_across_groups(h):
    q = fifo(h)
    q.send(T0, new("a1", group="A"), new("b1", group="B"), new("b2", group="B"))
    q.receive(T0, n=1, vis=5 * S)  # a1
    q.send(T0 + S, new("a2", group="A"))
    # at T0+5s a1 is back at the head of A, which is older than B's head b1
    assert q.ids(T0 + 5 * S, n=10) == ["a1", "a2", "b1", "b2"]


def test_fifo_dedup_window_and_after_delete(h):
    q = fifo(h)
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


def test_fifo_sequence_strictly_increases_and_empty_dedup_never_dedups(h):
    q = fifo(h)
    seqs = []
    for i in range(5):
        outs = q.send(T0 + i * S, new(f"m{i}a", group="g"), new(f"m{i}b", group="h"))
        seqs += [o.sequence for o in outs]
    assert seqs == sorted(seqs) and len(set(seqs)) == 10 and seqs[0] == FIRST_SEQUENCE
    got = q.receive(T0 + 10 * S).messages
    assert [m.message_id for m in got] == [f"m{i}{g}" for g in "ab" for i in range(5)]
    assert [m.sequence for m in got] == seqs[::2] + seqs[1::2]


def test_fifo_dedup_is_per_queue_incarnation(h):
    a = Q(h, rec.QueueRef(name="x.fifo", incarnation="1"), policy(fifo=True))
    b = Q(h, rec.QueueRef(name="x.fifo", incarnation="2"), policy(fifo=True))
    a.send(T0, new("m1", group="g", dedup="d"))
    (out,) = b.send(T0, new("m2", group="g", dedup="d"))
    assert out.message_id == "m2"


def test_fifo_dead_letter_unblocks_after_delete(h):
    q = fifo(h, mrc=1)
    q.send(T0, new("a1", group="A"), new("a2", group="A"))
    assert q.ids(T0, n=1, vis=S) == ["a1"]
    out = q.receive(T0 + S, n=1, vis=S)
    assert [m.message_id for m in out.dead_letters] == ["a1"]
    assert [m.message_id for m in out.messages] == ["a2"]
    assert q.delete(T0 + S, ("a1", 2), ("a2", 1)) == ["", ""]
    assert q.counts(T0 + S) == (0, 0, 0)


# -- op ids and time ---------------------------------------------------------------------------


def test_op_ids_are_left_to_the_consensus_kit(h):
    """The kit deduplicates retries by op_id before apply; the machine applies each entry."""
    q = std(h)
    q.send(T0, new("a"))
    recv = rec.ReceiveCommand(queue=STD, policy=q.pol, max_messages=1, visibility_ns=0)
    first = q.run(T0, op_id="op-1", receive=recv)
    again = q.run(T0, op_id="op-1", receive=recv)
    assert [m.receipt_seq for m in (*first.receive.messages, *again.receive.messages)] == [1, 2]


def test_time_never_goes_backwards(h):
    q = std(h)
    q.send(T0 + 100 * S, new("a", delay=5 * S))
    assert q.now() == T0 + 100 * S
    assert q.ids(T0) == []  # stamped in the past: still T0+100s, a is delayed
    assert q.ids(T0 + 104 * S) == []
    (m,) = q.receive(T0 + 105 * S, vis=30 * S).messages
    assert m.visible_ns == T0 + 135 * S
    q.run(T0, sweep=True)
    assert q.now() == T0 + 105 * S
    assert q.chvis(T0, ("a", 1, 10 * S)) == [""]  # evaluated at T0+105s
    assert q.stats(T0).next_visible_ns == T0 + 115 * S


def test_stats_and_queries_use_monotonic_time(h):
    q = std(h)
    q.send(T0, new("a"), new("b", delay=10 * S))
    assert q.counts(T0 - DAY) == (1, 0, 1)  # asked about the past: answered for T0
    assert q.ready([0, 0, 5], T0 - DAY) == [0]
    assert q.next_visible([0], T0 - DAY) == T0 + 10 * S


# -- queries -----------------------------------------------------------------------------------


def test_ready_and_next_visible_standard(h):
    q = std(h)
    assert q.ready([0], T0) == []
    assert q.next_visible([0], T0) == 0
    q.send(T0, new("a", delay=20 * S), part=0)
    q.send(T0, new("b", delay=10 * S), part=1)
    q.send(T0, new("c"), part=2)
    assert q.ready([2, 1, 0, 9], T0) == [2]
    assert q.next_visible([0, 1, 2], T0) == T0 + 10 * S
    assert q.next_visible([0], T0) == T0 + 20 * S
    assert q.ready([0, 1], T0 + 10 * S) == [1]  # no command needed
    q.receive(T0, part=2, vis=30 * S)
    assert q.ready([2], T0) == []
    assert q.next_visible([2], T0) == T0 + 30 * S
    assert q.next_visible([0, 1, 2], T0 + 15 * S) == T0 + 20 * S


def test_stats_lists_every_partition_sorted(h):
    q = std(h)
    q.send(T0, new("a"), part=5)
    q.send(T0, new("b", delay=S), part=1)
    stats = q.all_stats(T0)
    assert [(s.partition, s.visible, s.in_flight, s.delayed, s.next_visible_ns) for s in stats] == [
        (1, 0, 0, 1, T0 + S),
        (5, 1, 0, 0, 0),
    ]
    assert q.all_stats(T0, rec.QueueRef(name="other")) == []


def test_queries_do_not_change_state(h):
    q = std(h)
    q.send(T0, new("a", delay=10 * S), new("b"))
    before = h.pairs()
    q.all_stats(T0 + DAY * 10)
    q.ready([0], T0 + 20 * S)
    q.next_visible([0], T0 + 5 * S)
    assert h.pairs() == before


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
def test_malformed_commands_give_neutral_results(h, cmd):
    assert isinstance(apply(h, cmd), rec.PartitionResult)
    check_keyspace(h)


def test_apply_never_raises_on_garbage(h):
    assert h.apply(b"junk") == b""
    assert h.apply(b"\xff\xff\xff") == b""
    assert h.pairs() == []


def test_oversized_ids_and_names_store_nothing(h):
    q = std(h)
    long = "x" * (limits.MAX_ID_BYTES + 1)
    outs = q.send(T0, new(long), new("a", group=long), new("b", dedup=long), new("ok"))
    assert [o.message_id for o in outs] == ["", "", "", "ok"]
    assert q.delete(T0, (long, 1)) == [""] and q.chvis(T0, (long, 1, 0)) == [INVALID_HANDLE]
    huge = Q(h, rec.QueueRef(name="q" * 500, incarnation="1"), policy())
    assert [o.message_id for o in huge.send(T0, new("a"))] == [""]
    assert huge.all_stats(T0) == [] and huge.receive(T0).messages == []
    check_keyspace(h)


def test_extreme_values_do_not_raise(h, tmp_path):
    q = std(h, mrc=0)
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
    check_keyspace(h)
    fresh = MachineHarness(PartitionMachine(), tmp_path / "fresh")
    x = std(fresh, mrc=0)
    x.send(T0, rec.NewMessage(entry_id="1", message=big))
    (got,) = x.receive(T0).messages
    assert got.receive_count == (1 << 32) - 1 and got.receipt_seq == (1 << 32) - 1
    fresh.close()


def test_send_on_empty_queue_name_stores_nothing(h):
    cmd = rec.SendCommand(queue=rec.QueueRef(), messages=[new("a")])
    out = apply(h, rec.PartitionCommand(now_ns=T0, send=cmd)).send.outcomes
    assert [(o.entry_id, o.message_id) for o in out] == [("e-a", "")]
    assert [k for k, _ in h.pairs()] == [K.META]  # only the clock moved


# -- snapshots ---------------------------------------------------------------------------------


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
        for s in q.all_stats(T0 + 500 * S):
            out.append(s.SerializeToString())
    return out


def test_streamed_snapshot_preserves_behaviour(h, tmp_path):
    s, f = Q(h, STD, policy(mrc=2)), Q(h, FIFO, policy(fifo=True))
    s.send(T0 - S, new("pre"), new("pre-delayed", delay=100 * S))
    f.send(T0 - S, new("p1", group="g0", dedup="k0"), new("p2", group="g1"))
    f.receive(T0 - S, n=1)
    s.run(T0 - S, purge=STD)  # leaves a garbage epoch for the snapshot to carry
    copy = MachineHarness(PartitionMachine(), tmp_path / "copy")
    h.copy_to(copy)
    assert copy.pairs() == h.pairs()
    expected = _script(s, f)
    got = _script(Q(copy, STD, policy(mrc=2)), Q(copy, FIFO, policy(fifo=True)))
    assert got == expected
    assert any(b for b in expected)
    assert copy.pairs() == h.pairs()
    copy.close()


# -- exact indexes -----------------------------------------------------------------------------


def _split(key: bytes) -> tuple[int, bytes, bytes]:
    return K.U64.unpack_from(key, 1)[0], key[9:10], key[10:]


def check_keyspace(h: MachineHarness) -> None:
    """Every index is exactly what the stored messages imply; counters match; no orphans."""
    pairs = dict(h.pairs())
    tables: dict[bytes, dict[bytes, bytes]] = {}
    for key, value in pairs.items():
        tables.setdefault(key[:1], {})[key[1:]] = value
    assert set(tables) <= {K.META, K.SWEEP, K.NAMES, K.QUEUES, K.PARTS, K.GARBAGE, K.DATA}
    qids = {K.U64.unpack(v)[0] for v in tables.get(K.NAMES, {}).values()}
    assert len(qids) == len(tables.get(K.NAMES, {}))
    assert {K.U64.unpack(k)[0] for k in tables.get(K.QUEUES, {})} == qids
    heads = {}
    for key, value in tables.get(K.PARTS, {}).items():
        assert K.U64.unpack_from(key)[0] in qids
        heads[K.U64.unpack_from(value)[0]] = value
    garbage = {K.U64.unpack(k)[0] for k in tables.get(K.GARBAGE, {})}
    data: dict[int, dict[bytes, dict[bytes, bytes]]] = {}
    for key, value in pairs.items():
        if key[:1] == K.DATA:
            ident, sub, rest = _split(key)
            data.setdefault(ident, {}).setdefault(sub, {})[rest] = value
    assert set(data) <= qids | set(heads) | garbage
    assert not garbage & (qids | set(heads))
    for pid, head in heads.items():
        _check_partition(h, pid, head, data.get(pid, {}))
    for qid in qids:
        sub = data.get(qid, {})
        assert set(sub) <= {K.DEDUP, K.DEDUP_AGE}
        ages = {(K.time_of(k, 0), k[8:]) for k in sub.get(K.DEDUP_AGE, {})}
        firsts = {(K.DEDUP_VALUE.unpack_from(v)[0], k) for k, v in sub.get(K.DEDUP, {}).items()}
        assert ages == firsts


def _check_partition(h: MachineHarness, pid: int, head: bytes, sub: dict) -> None:
    _, fifo, tick, total, inflight, delayed = K.PART_HEAD.unpack(head)
    msgs = {mid: Msg.decode(mid, v) for mid, v in sub.get(K.MSG, {}).items()}
    assert total == len(msgs)
    assert set(sub.get(K.BODY, {})) == {K.u64(m.order) for m in msgs.values() if not m.content}
    assert len({m.order for m in msgs.values()}) == len(msgs)
    assert all(0 < m.order < tick for m in msgs.values())
    expect_t = {K.time_order(m.sent, m.order): mid for mid, m in msgs.items()}
    assert sub.get(K.RETAIN, {}) == expect_t
    hidden = sub.get(K.HIDDEN, {})
    by_hidden = {}
    for key, value in hidden.items():
        mid = value[9:]
        m = msgs[mid]
        assert key == K.time_order(m.visible, m.order) and value[0] == m.in_flight
        assert value[1:9] == K.I64.pack(m.sent)
        by_hidden[mid] = m
    assert inflight == sum(1 for m in by_hidden.values() if m.in_flight)
    assert delayed == len(by_hidden) - inflight
    ready = sub.get(K.READY, {})
    if not fifo:
        expect_r = {K.u64(m.order): K.I64.pack(m.sent) + mid
                    for mid, m in msgs.items() if mid not in by_hidden}  # fmt: skip
        assert ready == expect_r
        assert not set(sub) & {K.MEMBER, K.FLYING, K.STATUS, K.AVAIL, K.TIMER}
        return
    assert not ready
    members = {K.group_prefix(m.group) + K.u64(m.order): K.I64.pack(m.sent) + mid
               for mid, m in msgs.items()}  # fmt: skip
    assert sub.get(K.MEMBER, {}) == members
    flying = {K.group_prefix(m.group) + K.time_order(m.visible, m.order): K.I64.pack(m.sent) + mid
              for mid, m in msgs.items() if m.in_flight}  # fmt: skip
    assert sub.get(K.FLYING, {}) == flying
    groups = {m.group for m in msgs.values()}
    status = sub.get(K.STATUS, {})
    assert set(status) == groups
    avail, timers = {}, {}
    for group, value in status.items():
        at, head_order, timer = K.GROUP_HEAD.unpack(value)
        assert h.read(lambda keys, g=group: group_time(keys, K.data(pid), g, None, 0)) == (
            at, head_order,
        )  # fmt: skip
        if timer:
            timers[K.time_order(at, head_order)] = group
        else:
            avail[K.u64(head_order)] = group
    assert sub.get(K.AVAIL, {}) == avail
    assert sub.get(K.TIMER, {}) == timers


# -- property: real machine == restored copy == slow model --------------------------------------


class Model:
    """The rules read as literally as possible: lists and scans, no indexes."""

    def __init__(self) -> None:
        self.now = 0
        self.queues: dict = {}

    def apply(self, cmd: rec.PartitionCommand) -> rec.PartitionResult:
        self.now = now = max(cmd.now_ns, self.now)
        op = cmd.WhichOneof("op")
        body = getattr(cmd, op)
        if op in ("send", "receive") and _key(body.queue) in self.queues:
            self.queues[_key(body.queue)]["policy"] = body.policy
        self.expire(now)
        return getattr(self, op)(body, now)

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


@pytest.mark.parametrize("seed", range(8))
def test_long_seeded_runs_match_model(seed, tmp_path):
    _check(_seeded_ops(seed, 400), snapshot_at=200, root=tmp_path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, snapshot_at=st.integers(0, 80))
def test_random_commands_match_model_copy_and_restored_copy(ops, snapshot_at):
    with tempfile.TemporaryDirectory() as root:
        _check(ops, snapshot_at, Path(root))


def _check(ops: list[tuple], snapshot_at: int, root: Path) -> None:
    """Apply ops to two machines (one copied through a snapshot on the way) and the model."""
    a = MachineHarness(PartitionMachine(), root / "a")
    b = MachineHarness(PartitionMachine(), root / "b")
    harnesses = [a, b]
    model = Model()
    now, issued, counter = T0, {}, [0]
    for i, op in enumerate(ops):
        if i == snapshot_at:
            copy = MachineHarness(PartitionMachine(), root / "copy")
            harnesses.append(copy)
            b.copy_to(copy)
            b = copy
        now += op[-1]
        cmd = _build(op, now, issued, counter)
        wire = a.apply(cmd.SerializeToString())
        assert wire == b.apply(cmd.SerializeToString())
        assert wire == model.apply(cmd).SerializeToString(deterministic=True), (i, op)
        check_keyspace(a)
        ra = rec.PartitionResult.FromString(wire)
        if op[0] == "receive":
            pool = issued.setdefault(op[1], [])
            for m in [*ra.receive.messages, *ra.receive.dead_letters]:
                pool.append((op[2], m.message_id, m.receipt_seq))
            del pool[:-30]
        if i == snapshot_at or i % 50 == 0:
            assert a.pairs() == b.pairs()  # so queries on b would answer as on a
        qa = Q(a, STD, policy())
        for ref, _ in QUEUES.values():
            for ask in (now, now + 20 * S, now + 700 * S):
                sa = [x.SerializeToString() for x in qa.all_stats(ask, ref)]
                assert sa == [x.SerializeToString() for x in model.stats(ref, ask)], (i, ask)
            parts = [1, 0, 0, 2]
            for ask in (now, now + 10 * S, now + 400 * S):
                assert qa.ready(parts, ask, ref) == model.ready(ref, parts, ask), (i, ask)
                expected = model.next_visible_ns(ref, parts, ask)
                assert qa.next_visible(parts, ask, ref) == expected, (i, ask)
    assert a.pairs() == b.pairs()
    for harness in harnesses:
        harness.close()


# -- bounded work ------------------------------------------------------------------------------


def _fill(q: Q, n: int, now: int, prefix: str = "m", **kw) -> None:
    for i in range(0, n, 10):
        q.send(now, *(new(f"{prefix}{j:05}", **kw) for j in range(i, min(i + 10, n))))


def _sweep_all(q: Q, now: int, limit: int = 10_000) -> list[bool]:
    """Sweep until nothing is left; the ``more`` flags seen."""
    flags = []
    while True:
        flags.append(q.sweep(now).more)
        if not flags[-1] or len(flags) >= limit:
            return flags


def test_purge_of_a_big_queue_is_swept_in_chunks(h, monkeypatch):
    monkeypatch.setattr(limits, "GARBAGE_BUDGET", 500)
    q = std(h)
    _fill(q, 600, T0)
    q.receive(T0, n=10)  # some in flight
    before = len(h.pairs())
    old = part_ids(h, STD)[0]
    assert q.run(T0 + S, purge=STD).done
    assert len(h.pairs()) <= before + 3  # O(1): a new header, a garbage mark, the clock
    assert q.counts(T0 + S) == (0, 0, 0) and q.ready([0], T0 + S) == []
    assert q.receive(T0 + S).messages == []
    q.send(T0 + 2 * S, new("after"))
    garbage = sum(1 for k, _ in h.pairs() if k[:9] == K.data(old))
    assert garbage == 3 * 600  # message, retention and ready or hidden entry each
    flags = _sweep_all(q, T0 + 3 * S)
    assert flags[-1] is False and all(flags[:-1]) and len(flags) >= garbage // 500
    assert not any(k[:9] == K.data(old) for k, _ in h.pairs())
    assert q.ids(T0 + 3 * S) == ["after"]
    check_keyspace(h)


def test_purge_carries_over_at_most_purge_keep_later_messages(h, monkeypatch):
    monkeypatch.setattr(limits, "PURGE_KEEP", 2)
    q = std(h)
    q.send(T0, new("f3", sent=T0 + 3 * DAY), new("f1", sent=T0 + DAY), new("now"))
    q.send(T0, new("f2", sent=T0 + 2 * DAY))
    q.run(T0 + S, purge=STD)
    assert q.ids(T0 + S) == ["f1", "f2"]  # the earliest sent, in arrival order
    check_keyspace(h)


def test_drop_of_a_big_queue_is_swept_in_chunks(h, monkeypatch):
    monkeypatch.setattr(limits, "GARBAGE_BUDGET", 700)
    q = fifo(h)
    other = std(h)
    other.send(T0, new("keep"))
    for i in range(0, 400, 10):
        q.send(T0, *(new(f"m{j}", group=f"g{j % 7}", dedup=f"d{j}") for j in range(i, i + 10)))
    q.receive(T0)
    kept = [p for p in h.pairs() if p[0][:1] == K.DATA]
    q.run(T0 + S, drop=FIFO)
    assert q.all_stats(T0 + S) == [] and q.receive(T0 + S).messages == []
    (again,) = q.send(T0 + S, new("fresh", group="g0", dedup="d1"))  # a new incarnation
    assert (again.message_id, again.sequence) == ("fresh", FIRST_SEQUENCE)
    flags = _sweep_all(q, T0 + 2 * S)
    assert flags[-1] is False and len(flags) >= 3 and all(flags[:-1])
    assert table(h, queue_id(h, FIFO), K.DEDUP) != []
    left = {k for k, _ in h.pairs() if k[:1] == K.DATA}
    assert len(left) < len(kept) // 10
    assert other.ids(T0 + 2 * S) == ["keep"]
    assert q.ids(T0 + 2 * S) == ["fresh"]
    assert table(h, 0, K.MSG) == []
    check_keyspace(h)


def test_retention_backlog_expires_across_commands_and_is_never_delivered(h, monkeypatch):
    monkeypatch.setattr(limits, "WORK_BUDGET", 50)
    q = std(h, retention=100 * S)
    _fill(q, 500, T0, "old")  # sends expire nothing yet: nothing is old
    _fill(q, 5, T0 + 50 * S, "new")
    now = T0 + 100 * S  # the 500 old ones are past retention, no command has run
    assert q.counts(now) == (5, 0, 0)
    assert q.ready([0], now) == [0] and q.next_visible([0], now) == 0
    got = q.ids(now, vis=0)  # removes 50, steps over the rest
    assert got == [f"new{i:05}" for i in range(5)]
    stored = len(table(h, part_ids(h, STD)[0], K.MSG))
    assert stored == 505 - 50  # the receive removed its budget's worth
    assert q.delete(now, ("old00499", 1)) == [""]  # past retention: already gone
    assert q.chvis(now, ("old00498", 1, S)) == [INVALID_HANDLE]
    (resent,) = q.send(now, new("old00497"))  # its id is free again
    assert resent.message_id == "old00497"
    assert q.counts(now) == (6, 0, 0)
    flags = _sweep_all(q, now)
    assert flags[-1] is False and len(flags) > 3 and all(flags[:-1])
    assert len(table(h, part_ids(h, STD)[0], K.MSG)) == 6
    assert sorted(q.ids(now)) == sorted([f"new{i:05}" for i in range(5)] + ["old00497"])
    check_keyspace(h)


def test_fifo_retention_backlog_unblocks_groups_in_reads(h, monkeypatch):
    monkeypatch.setattr(limits, "WORK_BUDGET", 20)
    q = fifo(h, retention=100 * S)
    for i in range(0, 200, 10):
        q.send(T0, *(new(f"a{j:03}", group=f"g{j % 50}") for j in range(i, i + 10)))
    assert len(q.ids(T0, vis=DAY)) == 10  # group g0's head run is in flight for a day
    q.send(T0 + 50 * S, new("late", group="g0"))
    now = T0 + 100 * S
    assert q.counts(now) == (1, 0, 0)
    assert q.ready([0], now) == [0]  # its blocker expired though nothing removed it
    assert q.next_visible([0], now) == 0
    seen = []
    for _ in range(30):
        seen += q.ids(now)
    assert seen == ["late"]
    _sweep_all(q, now)
    assert len(table(h, part_ids(h, FIFO)[0], K.MSG)) == 1
    check_keyspace(h)


def test_visibility_backlog_is_revealed_across_commands_in_order(h, monkeypatch):
    monkeypatch.setattr(limits, "WORK_BUDGET", 30)
    q = std(h)
    _fill(q, 300, T0, delay=10 * S)
    now = T0 + 10 * S
    assert q.counts(now) == (300, 0, 0) and q.ready([0], now) == [0]
    seen = []
    for _ in range(40):
        seen += q.ids(now, vis=DAY)
    assert seen == [f"m{i:05}" for i in range(300)]
    assert q.counts(now) == (0, 300, 0)
    check_keyspace(h)


def test_fifo_timer_backlog_wakes_across_commands(h, monkeypatch):
    monkeypatch.setattr(limits, "WORK_BUDGET", 25)
    q = fifo(h)
    for i in range(0, 200, 10):
        q.send(T0, *(new(f"m{j:03}", group=f"g{j:03}") for j in range(i, i + 10)))
    first = []
    for _ in range(25):
        first += q.ids(T0, vis=10 * S)
    assert first == [f"m{i:03}" for i in range(200)]
    now = T0 + 10 * S  # every group's timer is due at once
    assert q.ready([0], now) == [0] and q.counts(now) == (200, 0, 0)
    seen = []
    for _ in range(25):
        seen += q.ids(now, vis=DAY)
    assert sorted(seen) == first and len(set(seen)) == 200
    check_keyspace(h)


@pytest.mark.parametrize("seed", range(4))
def test_tiny_budgets_stay_consistent_and_safe(seed, tmp_path, monkeypatch):
    """With budgets of 1-3 items, deliveries may come later or in another order, but the
    indexes stay exact, nothing past retention or still invisible is delivered, and sweeps
    catch up."""
    monkeypatch.setattr(limits, "WORK_BUDGET", 1 + seed % 3)
    monkeypatch.setattr(limits, "GARBAGE_BUDGET", 1 + seed)
    monkeypatch.setattr(limits, "SWEEP_BUDGET", 2 + seed)
    h = MachineHarness(PartitionMachine(), tmp_path / "m")
    now, issued, counter = T0, {}, [0]
    hidden: dict[tuple, tuple[int, int]] = {}  # (queue, part, id) -> (visible, receipt)
    for op in _seeded_ops(100 + seed, 300):
        now += op[-1]
        now = max(now, T0)
        cmd = _build(op, now, issued, counter)
        at = max(now, Q(h, STD, policy()).now())
        result = apply(h, cmd)
        check_keyspace(h)
        if op[0] == "receive":
            ret = QUEUES[op[1]][1].retention_ns
            pool = issued.setdefault(op[1], [])
            for m in [*result.receive.messages, *result.receive.dead_letters]:
                assert at < m.sent_ns + ret  # never past retention
                key = (op[1], op[2], m.message_id)
                visible, receipt = hidden.get(key, (0, 0))
                assert m.receipt_seq <= receipt or at >= visible  # never while invisible
                hidden[key] = (m.visible_ns, m.receipt_seq)
                pool.append((op[2], m.message_id, m.receipt_seq))
            del pool[:-30]
        elif op[0] == "change_visibility":
            handles = cmd.change_visibility.handles
            for ref, code in zip(handles, result.handles.outcomes, strict=True):
                if not code.error_code:
                    key = (op[1], cmd.change_visibility.partition, ref.message_id)
                    hidden[key] = (at + ref.visibility_ns, hidden[key][1])
    q = Q(h, STD, policy())
    flags = _sweep_all(q, now + DAY)
    assert flags[-1] is False
    for ref, _ in QUEUES.values():
        for pid in part_ids(h, ref).values():
            assert table(h, pid, K.MSG) == []  # a day later everything is past retention
    assert table(h, 0, K.MSG) == [] and not any(k[:1] == K.GARBAGE for k, _ in h.pairs())
    check_keyspace(h)
    h.close()


# -- scale -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_scale_20k_messages_send_receive_delete(h):
    q = std(h)
    n = 20_000
    now = T0
    for i in range(0, n, 10):
        outs = q.send(now, *(new(f"m{j:06}") for j in range(i, i + 10)))
        assert len(outs) == 10
        now += 1000
    assert q.counts(now) == (n, 0, 0)
    seen = 0
    last = ""
    while True:
        got = q.receive(now, n=10, vis=30 * S).messages
        if not got:
            break
        assert all(m.message_id > last for m in got)  # arrival order, each exactly once
        last = got[-1].message_id
        seen += len(got)
        if seen % 5_000 < 10:
            assert q.counts(now) == (n - seen, len(got), 0)
        assert q.delete(now, *((m.message_id, m.receipt_seq) for m in got)) == [""] * len(got)
        now += 1000
    assert seen == n
    assert q.counts(now) == (0, 0, 0)
    assert q.counts(now + DAY) == (0, 0, 0)
    check_keyspace(h)


@pytest.mark.slow
def test_scale_fifo_many_groups(h):
    q = fifo(h)
    n, groups = 10_000, 1_000
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
    assert table(h, part_ids(h, FIFO)[0], K.STATUS) == []
    check_keyspace(h)
