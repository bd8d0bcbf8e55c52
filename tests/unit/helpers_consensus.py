"""Consensus hosts in one process: real LMDB stores and groups, an in-process network.

Unit tests of the kit and of the state machines built on it run whole groups here
without ports or processes; a node in ``Net.down`` hears and says nothing, as if cut
off. Real processes, gRPC and kill -9 are the integration and cluster tests' job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.clock import ManualClock
from engine.cluster.consensus.group import ConsensusGroup
from engine.cluster.consensus.host import ConsensusHost
from engine.cluster.consensus.machine import ReplicatedStateMachine
from engine.cluster.consensus.store import ConsensusStore
from engine.v1.raft_pb2 import RaftMessage

MAP = 1 << 30

class Net:
    """Delivers messages between hosts on the loop; a node in `down` hears nothing."""

    def __init__(self) -> None:
        self.hosts: dict[str, ConsensusHost] = {}
        self.down: set[str] = set()

    def transport(self, sender: str) -> _Wire:
        return _Wire(self, sender)


class _Wire:
    def __init__(self, net: Net, sender: str) -> None:
        self.net, self.sender = net, sender

    def send(self, messages: list[RaftMessage]) -> None:
        loop = asyncio.get_running_loop()
        for m in messages:
            if self.sender in self.net.down or m.to in self.net.down:
                continue
            host = self.net.hosts.get(m.to)
            if host is not None:
                copy = RaftMessage.FromString(m.SerializeToString())  # as on a wire
                loop.call_soon(host.receive, [copy])


Made = ReplicatedStateMachine | Sequence[ReplicatedStateMachine]


class LocalCluster:
    """Nodes ``ids``, each hosting group ``name`` ("g") with the machine or machines
    ``make(node, broken)`` returns (``machines[node]`` is the first of them)."""

    def __init__(self, root: Path, make: Callable[..., Made],
                 ids: list[str], *, keep: int = 10_000, broken: frozenset[str] = frozenset(),
                 clock: ManualClock | None = None, name: str = "g") -> None:
        self.root, self.make, self.ids, self.keep, self.broken = root, make, ids, keep, broken
        self.name = name
        self.net = Net()
        self.clock = clock or ManualClock()
        self.machines: dict[str, ReplicatedStateMachine] = {}

    async def start(self, node: str) -> ConsensusHost:
        store = ConsensusStore(self.root / node, MAP)
        host = ConsensusHost(node, store, self.clock, tick_seconds=0.02, election_ticks=5,
                             keep_entries=self.keep)
        made = self.make(node, self.broken)
        machines = [made] if isinstance(made, ReplicatedStateMachine) else list(made)
        self.machines[node] = machines[0]
        host.add_group(self.name, self.ids, machines)
        host.transport = self.net.transport(node)
        self.net.hosts[node] = host
        self.net.down.discard(node)
        await host.start()
        return host

    async def stop(self, node: str) -> None:
        self.net.down.add(node)
        host = self.net.hosts.pop(node)
        await host.close()

    def group(self, node: str) -> ConsensusGroup:
        return self.net.hosts[node].groups[self.name]

    async def leader(self, timeout: float = 10.0) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            leaders = [n for n, h in self.net.hosts.items() if h.groups[self.name].is_leader
                       and n not in self.net.down]
            if len(leaders) == 1:
                return leaders[0]
            await asyncio.sleep(0.02)
        raise AssertionError("no leader")

    async def close(self) -> None:
        for node in list(self.net.hosts):
            await self.stop(node)


