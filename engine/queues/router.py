"""Reaching a queue group from any node: locally when this node is a member, else
through a member over QueueNode (queue_records.proto).

Any member will do: a follower forwards the command to its leader and answers once it
has applied it itself. A member that cannot be reached, or has no quorum, is skipped
for the next one until the deadline; commands carry operation ids, so trying again
never applies one twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import grpc

from engine.cluster.peers import Peer
from engine.errors import EngineError
from engine.queues.groups import GroupSpec
from engine.queues.host import GroupHost
from engine.v1.admin_pb2 import QueueGroupStatus
from engine.v1.queue_records_pb2 import (
    PartitionCommand,
    PartitionResult,
    PartitionStats,
    QueueApplyRequest,
    QueueRef,
    QueueStatsRequest,
    QueueWaitRequest,
)

DEFAULT_TIMEOUT = 5.0
# How long one member may take to answer an Apply before the next one is asked. A
# healthy member answers in milliseconds, or within a Raft election (about 1.5 s) of
# a leader loss; operation ids make asking another member safe.
MEMBER_ATTEMPT_SECONDS = 1.0
T = TypeVar("T")
_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
              grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN}


class GroupRouter:
    def __init__(self, groups: list[GroupSpec], hosts: dict[int, GroupHost],
                 peer: Callable[[str], Peer] | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.groups = groups
        self.hosts = hosts
        self._peer = peer
        self._timeout = timeout
        self._preferred: dict[int, int] = {}  # group -> member index that answered last

    @property
    def count(self) -> int:
        return len(self.groups)

    async def apply(self, group: int, command: PartitionCommand) -> PartitionResult:
        host = self.hosts.get(group)
        if host is not None:
            return await host.apply(command, self._timeout)
        request = QueueApplyRequest(group=group, command=command.SerializeToString())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        last: EngineError | None = None
        while loop.time() < deadline:
            for index, peer in self._members(group):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    # A hung member (paused, black-holed) holds its connection open and
                    # never answers: give each member a slice, not the whole deadline.
                    reply = await peer.call(peer.queue_stub.Apply, request,
                                            timeout=min(remaining, MEMBER_ATTEMPT_SECONDS))
                except EngineError as err:
                    last = _retryable(err)
                    self._avoid(group, index)
                    continue
                self._preferred[group] = index
                return PartitionResult.FromString(reply.result)
            await asyncio.sleep(min(0.1, max(0.0, deadline - loop.time())))
        raise last or EngineError("ServiceUnavailable", f"queue group {group} is unreachable")

    def ready_here(self, groups: dict[int, list[int]], queue: QueueRef) -> list[int]:
        """Ready partitions among the groups this node is a member of (a local read, no
        waiting): lets a receive skip the wait when a message is already there."""
        out: list[int] = []
        for group, partitions in groups.items():
            host = self.hosts.get(group)
            if host is not None:
                out += host.ready_now(queue, partitions)
        return out

    async def wait(self, group: int, queue: QueueRef, partitions: list[int],
                   timeout: float) -> list[int]:
        """Ready partitions, or [] after ``timeout``. An unreachable group counts as
        empty (other groups may still have messages), after a pause so that a caller
        looping on it does not spin."""
        host = self.hosts.get(group)
        if host is not None:
            return await host.wait(queue, partitions, timeout)
        request = QueueWaitRequest(group=group, queue=queue, partitions=partitions,
                                   timeout_ms=int(timeout * 1000))

        async def ask(peer: Peer) -> list[int]:
            reply = await peer.call(peer.queue_stub.Wait, request,
                                    timeout=timeout + peer.timeout)
            return list(reply.ready)

        # Every member at once, first answer wins: a hung member must not stall the poll.
        ready = await first_accepted((ask(peer) for _, peer in self._members(group)),
                                     lambda _: True)
        if ready is None:
            await asyncio.sleep(min(timeout, 0.5))
        return ready or []

    async def stats(self, group: int, queue: QueueRef) -> list[PartitionStats]:
        """A member's approximate counts; [] when no member answers."""
        host = self.hosts.get(group)
        if host is not None:
            return host.stats(queue)
        for index, peer in self._members(group):
            with contextlib.suppress(EngineError):
                reply = await peer.call(peer.queue_stub.Stats,
                                        QueueStatsRequest(group=group, queue=queue),
                                        timeout=min(peer.timeout, MEMBER_ATTEMPT_SECONDS),
                                        idempotent=True)
                self._preferred[group] = index
                return list(reply.partitions)
        return []

    def status(self) -> list[QueueGroupStatus]:
        """The groups this node is a member of, with the leader it last heard of."""
        return [QueueGroupStatus(index=index, term=host.group.term, leader=host.group.leader,
                                 members=[m.node_id for m in self.groups[index].members])
                for index, host in sorted(self.hosts.items())]

    def _avoid(self, group: int, index: int) -> None:
        """After a failure, start with the next member from now on."""
        if self._preferred.get(group, 0) == index:
            self._preferred[group] = (index + 1) % len(self.groups[group].members)

    def _members(self, group: int) -> list[tuple[int, Peer]]:
        """The group's members as peers, the one that answered last first."""
        assert self._peer is not None, "a node outside a group needs peers to reach it"
        members = self.groups[group].members
        first = self._preferred.get(group, 0)
        order = [(first + k) % len(members) for k in range(len(members))]
        return [(i, self._peer(members[i].node_id)) for i in order]


async def first_accepted(calls: Iterable[Awaitable[T]], accept: Callable[[T], bool]
                         ) -> T | None:
    """Run the calls at once and return the first result ``accept`` takes (failures are
    skipped), cancelling the rest; None when every call failed or was refused."""
    tasks = [asyncio.ensure_future(c) for c in calls]
    try:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if not t.cancelled() and t.exception() is None and accept(t.result()):
                    return t.result()
    finally:
        for t in tasks:
            t.cancel()
    return None


def _retryable(err: EngineError) -> EngineError:
    """The error to report if every member fails; raises at once for a real answer."""
    if err.code == "ServiceUnavailable" or err.grpc_status in _RETRYABLE:
        return EngineError("ServiceUnavailable", f"queue group member: {err.message}")
    raise err
