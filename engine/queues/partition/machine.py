"""PartitionMachine: the queue partitions of one replica group as a replicated state machine.

Every replica applies the same ``PartitionCommand`` sequence to the same keyspace, so
``apply`` reads no clock, draws no random number and iterates only LMDB ranges (sorted)
and dicts filled in command order. Time is the command's ``now_ns``, never going
backwards. Retries are deduplicated by ``op_id`` in the consensus kit before ``apply``.
The machine object holds no state: everything is in the keyspace (``keys.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from google.protobuf.message import DecodeError

from engine.cluster.consensus.machine import Keyspace, ReadKeyspace, ReplicatedStateMachine
from engine.queues.partition import lifecycle, reads
from engine.queues.partition.handles import handles
from engine.queues.partition.queues import advance_clock, now_of
from engine.queues.partition.receive import receive, varint
from engine.queues.partition.send import send
from engine.v1 import queue_records_pb2 as rec

_RECEIVE = b"\x12"  # PartitionResult.receive: field 2, length-delimited
_DONE = rec.PartitionResult(done=True).SerializeToString()
_DONE_MORE = rec.PartitionResult(done=True, more=True).SerializeToString()


class PartitionMachine(ReplicatedStateMachine):
    """All queue partitions of one replica group."""

    name: ClassVar[str] = "partitions"

    def apply(self, keys: Keyspace, command: bytes, index: int) -> bytes:
        """PartitionCommand bytes -> PartitionResult bytes (deterministic serialization);
        an unreadable command gets an empty result and changes nothing."""
        try:
            cmd = rec.PartitionCommand.FromString(command)
        except DecodeError:
            return b""
        now = advance_clock(keys, cmd.now_ns)
        op = cmd.WhichOneof("op")
        if op is None:
            return b""
        if op == "send":
            return _result(send=send(keys, cmd.send, now))
        if op == "receive":
            outcome = receive(keys, cmd.receive, now)
            return _RECEIVE + varint(len(outcome)) + outcome
        if op == "delete":
            return _result(handles=handles(keys, cmd.delete, now, delete=True))
        if op == "change_visibility":
            return _result(handles=handles(keys, cmd.change_visibility, now, delete=False))
        if op == "purge":
            lifecycle.purge(keys, cmd.purge, now)
        elif op == "drop":
            lifecycle.drop(keys, cmd.drop)
        elif lifecycle.sweep(keys, now):
            return _DONE_MORE
        return _DONE

    # -- read-only queries, on a read transaction ----------------------------------------

    def stats(
        self, keys: ReadKeyspace, queue: rec.QueueRef, now_ns: int
    ) -> list[rec.PartitionStats]:
        """Counts for every partition of ``queue`` held here, as of max(now_ns, last command)."""
        return reads.stats(keys, queue, now_ns)

    def ready(
        self, keys: ReadKeyspace, queue: rec.QueueRef, partitions: Iterable[int], now_ns: int
    ) -> list[int]:
        """The given partitions where a receive now would return at least one message."""
        return reads.ready(keys, queue, partitions, now_ns)

    def next_visible_ns(
        self, keys: ReadKeyspace, queue: rec.QueueRef, partitions: Iterable[int], now_ns: int
    ) -> int:
        """Earliest time after now when one of the partitions gets something to deliver
        (0 if none): long polling sleeps until then unless a command wakes it earlier."""
        return reads.next_visible_ns(keys, queue, partitions, now_ns)

    def now_ns(self, keys: ReadKeyspace) -> int:
        """The latest command time applied (time here never goes backwards)."""
        return now_of(keys)


def _result(**field: rec.SendOutcomes | rec.HandleOutcomes) -> bytes:
    return rec.PartitionResult(**field).SerializeToString(deterministic=True)
