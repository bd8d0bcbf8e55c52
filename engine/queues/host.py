"""This node's membership of one queue replica group: the Raft log of its partitions.

Every command (send, receive, delete, visibility change, purge) is a PartitionCommand
in the group's Raft log; it is acknowledged once a majority of the group stored it and
this member applied it, so an acknowledged send survives the loss of any minority of
the group, and a leader cut off from the majority cannot acknowledge anything (its
entries are never committed; pysyncobj's terms discard them when it rejoins).

Long polling waits here, on a member, for the applied state to change: the apply of
every command wakes the waiters of its queue through their event loops, so nothing
polls. A waiter also wakes when the earliest hidden message is due (delays,
visibility timeouts), measured on the engine clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pysyncobj import SyncObjConsumer, replicated

from engine.clock import Clock
from engine.cluster.raft_group import RaftGroup
from engine.queues.partition import PartitionState
from engine.v1.queue_records_pb2 import (
    PartitionCommand,
    PartitionResult,
    PartitionStats,
    QueueRef,
)

_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Event]
NS = 1_000_000_000
# Log entries between snapshots. A snapshot copies every message a group holds (in the
# tick thread, about 0.1 s per 100,000 messages), so taking one every 5,000 commands
# (pysyncobj's default) would cost more than the commands.
LOG_COMPACTION_ENTRIES = 50_000


class PartitionLog(SyncObjConsumer):
    """The replicated state machine of one group: a PartitionState behind a lock.

    ``apply`` runs in pysyncobj's tick thread on every member in log order; reads
    (stats, readiness) run on the event loop, hence the lock. Attributes set before
    ``SyncObjConsumer.__init__`` stay out of snapshots.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[_Waiter]] = defaultdict(set)
        super().__init__()
        self.state = PartitionState()

    @replicated
    def apply(self, data: bytes) -> bytes:
        try:
            command = PartitionCommand.FromString(data)
        except Exception:  # a corrupt entry must not stop the log (pysyncobj would retry)
            return b""
        with self._lock:
            result = self.state.apply(command)
        op = command.WhichOneof("op")
        if op in ("sweep", None):
            self.wake_all()
        else:
            self.wake(_queue_of(command).name)
        return result.SerializeToString()

    # -- snapshots (engine/cluster/raft_snapshot.py) --------------------------------------------

    def _capture(self) -> tuple:
        """Tick thread, between two applies: a copy the writer thread pickles."""
        return self.state.capture()

    def _restore(self, captured: tuple) -> None:
        state = PartitionState.restore(captured)
        with self._lock:
            self.state = state
        self.wake_all()

    # -- reads (event loop) -------------------------------------------------------------

    def stats(self, queue: QueueRef, now_ns: int) -> list[PartitionStats]:
        with self._lock:
            return self.state.stats(queue, now_ns)

    def ready(self, queue: QueueRef, partitions: Iterable[int],
              now_ns: int) -> tuple[list[int], int]:
        """Partitions with a deliverable message now, and when the next hidden one shows."""
        parts = list(partitions)
        with self._lock:
            return (self.state.ready(queue, parts, now_ns),
                    self.state.next_visible_ns(queue, parts, now_ns))

    # -- waking -----------------------------------------------------------------------------

    def subscribe(self, name: str, waiter: _Waiter) -> None:
        with self._lock:
            self._waiters[name].add(waiter)

    def unsubscribe(self, name: str, waiter: _Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(name)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[name]

    def wake(self, name: str) -> None:
        with self._lock:
            waiters = list(self._waiters.get(name, ()))
        _set_all(waiters)

    def wake_all(self) -> None:
        with self._lock:
            waiters = [w for ws in self._waiters.values() for w in ws]
        _set_all(waiters)


class GroupHost:
    """One group as seen from a member: submit commands, read local state, wait."""

    def __init__(self, index: int, group: RaftGroup, log: PartitionLog, clock: Clock) -> None:
        self.index = index
        self.group = group
        self.log = log
        self._clock = clock

    async def apply(self, command: PartitionCommand, timeout: float | None = None
                    ) -> PartitionResult:
        data = await self.apply_bytes(command.SerializeToString(), timeout)
        return PartitionResult.FromString(data)

    async def apply_bytes(self, data: bytes, timeout: float | None = None) -> bytes:
        return bytes(await self.group.call(self.log.apply, data, timeout=timeout) or b"")

    def stats(self, queue: QueueRef) -> list[PartitionStats]:
        return self.log.stats(queue, self._clock.now_ns())

    async def wait(self, queue: QueueRef, partitions: list[int], timeout: float) -> list[int]:
        """Partitions of ``queue`` with a deliverable message, as soon as there is one;
        [] after ``timeout`` seconds. Sleeps on apply notifications, never polls."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiter: _Waiter = (loop, asyncio.Event())
        self.log.subscribe(queue.name, waiter)
        try:
            while True:
                waiter[1].clear()
                now = self._clock.now_ns()
                ready, next_ns = self.log.ready(queue, partitions, now)
                remaining = deadline - loop.time()
                if ready or remaining <= 0:
                    return ready
                if next_ns:
                    remaining = min(remaining, max(0.001, (next_ns - now) / NS))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter[1].wait(), remaining)
        finally:
            self.log.unsubscribe(queue.name, waiter)

    def close(self) -> None:
        self.group.close()


def _queue_of(command: PartitionCommand) -> QueueRef:
    op = command.WhichOneof("op")
    body: Any = getattr(command, op) if op else None
    if isinstance(body, QueueRef):
        return body
    return body.queue if body is not None else QueueRef()


def _set_all(waiters: list[_Waiter]) -> None:
    for loop, event in waiters:
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
            loop.call_soon_threadsafe(event.set)
