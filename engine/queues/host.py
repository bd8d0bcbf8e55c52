"""This node's membership of one queue replica group: its partitions' commands and waits.

Every command (send, receive, delete, visibility change, purge, sweep) is a
PartitionCommand applied by the group's PartitionMachine through the consensus kit: it
is acknowledged once a majority of the group has it durably and this member applied it,
so an acknowledged send survives the loss of any minority of the group.

Long polling waits here, on a member, for the applied state to change: every applied
command wakes the waiters of its queue, so nothing polls. A waiter also wakes when the
earliest hidden message is due (delays, visibility timeouts), measured on the engine
clock. Readiness checks read this member's state as it is (``stale_ok``): a wait only
decides when to try a receive, and the receive itself goes through the log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

from engine.clock import Clock
from engine.cluster.consensus.group import ConsensusGroup
from engine.cluster.consensus.machine import ReadKeyspace
from engine.queues.partition import PartitionMachine
from engine.v1.queue_records_pb2 import (
    PartitionCommand,
    PartitionResult,
    PartitionStats,
    QueueRef,
)

NS = 1_000_000_000
MACHINE = PartitionMachine.name


class GroupHost:
    """One group as seen from a member: submit commands, read local state, wait."""

    def __init__(self, index: int, group: ConsensusGroup, machine: PartitionMachine,
                 clock: Clock) -> None:
        self.index = index
        self.group = group
        self.machine = machine
        self._clock = clock
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        group.on_applied(self._applied)
        group.on_restored(self.wake_all)

    async def apply(self, command: PartitionCommand, timeout: float | None = None
                    ) -> PartitionResult:
        data = await self.group.call(MACHINE, command.SerializeToString(),
                                     op_id=command.op_id, timeout=timeout,
                                     remember=_remember(command), visible=False)
        return PartitionResult.FromString(data)

    async def apply_bytes(self, data: bytes, timeout: float | None = None) -> bytes:
        """A command forwarded by another node, untouched (its op id is inside)."""
        command = PartitionCommand.FromString(data)
        return await self.group.call(MACHINE, data, op_id=command.op_id, timeout=timeout,
                                     remember=_remember(command), visible=False)

    def stats(self, queue: QueueRef) -> list[PartitionStats]:
        """This member's counts (approximate, as SQS's are)."""
        now = self._clock.now_ns()
        return self.group.read_local(MACHINE, lambda k: self.machine.stats(k, queue, now))

    def ready_now(self, queue: QueueRef, partitions: list[int]) -> list[int]:
        """Partitions with a deliverable message now (this member's state)."""
        now = self._clock.now_ns()
        return self.group.read_local(
            MACHINE, lambda keys: self.machine.ready(keys, queue, partitions, now))

    def ready(self, queue: QueueRef, partitions: list[int]) -> tuple[list[int], int]:
        """Partitions with a deliverable message now, and when the next hidden one shows."""
        now = self._clock.now_ns()

        def query(keys: ReadKeyspace) -> tuple[list[int], int]:
            return (self.machine.ready(keys, queue, partitions, now),
                    self.machine.next_visible_ns(keys, queue, partitions, now))

        return self.group.read_local(MACHINE, query)

    async def wait(self, queue: QueueRef, partitions: list[int], timeout: float) -> list[int]:
        """Partitions of ``queue`` with a deliverable message, as soon as there is one;
        [] after ``timeout`` seconds. Sleeps on apply notifications, never polls."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        event = asyncio.Event()
        self._waiters[queue.name].add(event)
        try:
            while True:
                event.clear()
                now = self._clock.now_ns()
                ready, next_ns = self.ready(queue, partitions)
                remaining = deadline - loop.time()
                if ready or remaining <= 0:
                    return ready
                if next_ns:
                    remaining = min(remaining, max(0.001, (next_ns - now) / NS))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            waiters = self._waiters.get(queue.name)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[queue.name]

    def wake_all(self) -> None:
        """Re-check every wait (the engine clock moved)."""
        for events in self._waiters.values():
            for event in events:
                event.set()

    def _applied(self, machine: str, payload: bytes) -> None:
        if machine != MACHINE or not self._waiters:
            return
        command = PartitionCommand.FromString(payload)
        name = _queue_name(command)
        if name is None:
            self.wake_all()
            return
        for event in self._waiters.get(name, ()):
            event.set()


def _queue_name(command: PartitionCommand) -> str | None:
    """The queue a command touches; None for commands that touch every queue (sweep)."""
    op = command.WhichOneof("op")
    if op in ("purge", "drop"):
        return str(getattr(command, op).name)
    if op in ("send", "receive", "delete", "change_visibility"):
        return str(getattr(command, op).queue.name)
    return None


def _remember(command: PartitionCommand) -> bool:
    """Whether a retry must get the first outcome rather than apply again. Deleting a
    message twice succeeds (SQS); a standard queue's receive applied twice hides a second
    batch that nobody holds, which comes back after its visibility timeout (SQS's own
    at-least-once delivery). A FIFO receive is remembered: a second one would hold up
    another message group."""
    kind = command.WhichOneof("op")
    return not (kind == "delete" or (kind == "receive" and not command.receive.policy.fifo))

