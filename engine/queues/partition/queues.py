"""The directory: the machine's clock, queue incarnations, their partitions, fresh ids.

A queue incarnation gets a numeric id (qid) at its first send and each of its partitions
an epoch id (pid) from the same counter; all data hangs under those ids, so dropping a
queue or purging a partition only forgets ids (see ``lifecycle.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.cluster.consensus.machine import Keyspace, ReadKeyspace
from engine.queues.partition import keys as K
from engine.queues.partition import limits
from engine.queues.partition.messages import Part
from engine.v1 import queue_records_pb2 as rec


def now_of(keys: ReadKeyspace) -> int:
    value = keys.get(K.META)
    return 0 if value is None else K.META_VALUE.unpack(value)[0]


def advance_clock(keys: Keyspace, stamped: int) -> int:
    """The command's time: never before the last one (stamps come from several nodes)."""
    value = keys.get(K.META)
    now, next_id = (0, 1) if value is None else K.META_VALUE.unpack(value)
    if stamped > now:
        keys.put(K.META, K.META_VALUE.pack(stamped, next_id))
        return stamped
    return now


def new_id(keys: Keyspace) -> int:
    value = keys.get(K.META)
    now, next_id = (0, 1) if value is None else K.META_VALUE.unpack(value)
    keys.put(K.META, K.META_VALUE.pack(now, next_id + 1))
    return next_id


def name_key(ref: rec.QueueRef) -> bytes | None:
    """The directory key of a queue incarnation; None for a nameless or oversized ref."""
    name, incarnation = ref.name.encode(), ref.incarnation.encode()
    if not name or len(name) + len(incarnation) > limits.MAX_NAME_BYTES:
        return None
    return K.NAMES + K.U16.pack(len(name)) + name + incarnation


class Queue:
    """A queue incarnation's record: its id, FIFO sequence counter and policy."""

    __slots__ = ("changed", "fifo", "max_receive_count", "next_sequence", "qid", "retention_ns")

    def __init__(self, qid: int) -> None:
        self.qid = qid
        self.next_sequence = limits.FIRST_SEQUENCE
        self.fifo = False
        self.retention_ns = 0
        self.max_receive_count = 0
        self.changed = False

    @classmethod
    def find(cls, keys: ReadKeyspace, ref: rec.QueueRef) -> Queue | None:
        key = name_key(ref)
        qid = keys.get(key) if key is not None else None
        return None if qid is None else cls.by_id(keys, K.U64.unpack(qid)[0])

    @classmethod
    def by_id(cls, keys: ReadKeyspace, qid: int) -> Queue | None:
        value = keys.get(K.QUEUES + K.u64(qid))
        if value is None:
            return None
        queue = cls(qid)
        next_sequence, fifo, retention, mrc = K.QUEUE_HEAD.unpack(value)
        queue.next_sequence, queue.fifo = next_sequence, bool(fifo)
        queue.retention_ns, queue.max_receive_count = retention, mrc
        return queue

    @classmethod
    def create(cls, keys: Keyspace, ref: rec.QueueRef) -> Queue | None:
        key = name_key(ref)
        if key is None:
            return None
        queue = cls(new_id(keys))
        keys.put(key, K.u64(queue.qid))
        queue.changed = True
        return queue

    def set_policy(self, policy: rec.PartitionPolicy) -> None:
        new = (policy.fifo, policy.retention_ns, policy.max_receive_count)
        if new != (self.fifo, self.retention_ns, self.max_receive_count):
            self.fifo, self.retention_ns, self.max_receive_count = new
            self.changed = True

    def save(self, keys: Keyspace) -> None:
        if self.changed:
            keys.put(K.QUEUES + K.u64(self.qid), K.QUEUE_HEAD.pack(
                self.next_sequence, self.fifo, self.retention_ns, self.max_receive_count
            ))  # fmt: skip
            self.changed = False

    def cutoff(self, now: int) -> int | None:
        """Messages sent at or before this are past retention (None: kept forever)."""
        return now - self.retention_ns if self.retention_ns > 0 else None

    # -- partitions ------------------------------------------------------------------------

    def part_key(self, index: int) -> bytes:
        return K.PARTS + K.u64(self.qid) + K.U32.pack(index)

    def part(self, keys: Keyspace, index: int, now: int) -> Part | None:
        part = Part.load(keys, self.part_key(index))
        if part is not None:
            part.cutoff = self.cutoff(now)
        return part

    def part_at(self, keys: Keyspace, head_key: bytes, now: int) -> Part:
        part = Part.load(keys, head_key)
        assert part is not None
        part.cutoff = self.cutoff(now)
        return part

    def new_part(self, keys: Keyspace, index: int, now: int) -> Part:
        part = Part(keys, self.part_key(index), new_id(keys), self.fifo)
        part.cutoff = self.cutoff(now)
        return part

    def part_heads(self, keys: ReadKeyspace) -> Iterator[tuple[int, bytes, bytes]]:
        """(partition, header key, header) of every partition, in partition order."""
        prefix = K.PARTS + K.u64(self.qid)
        for key, value in keys.prefix(prefix):
            yield K.U32.unpack_from(key, len(prefix))[0], key, value


def part_pid(head: bytes) -> int:
    return K.U64.unpack_from(head)[0]
