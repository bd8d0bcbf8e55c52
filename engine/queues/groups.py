"""Queue replica groups: which nodes hold which queue partitions.

A cluster has one Raft group per node. Each group has up to three members, all in
different availability zones, so a group keeps its majority when a whole AZ is down.
Members are picked greedily, least-loaded node of each zone first, so every node is in
about the same number of groups; the plan is a pure function of the topology, so every
node computes the same one without talking to anyone.

A queue's partition ``p`` lives in group ``(hash(name) + p) % groups``: consecutive
partitions land on different groups, and different queues start at different groups.

Every group is a consensus group of the node's consensus host (named ``q<index>``); all
of a node's groups share its one store, its one writer and its gRPC channels.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from engine.cluster.topology import Topology

MAX_REPLICAS = 3


@dataclass(frozen=True)
class GroupMember:
    node_id: str
    zone: str


@dataclass(frozen=True)
class GroupSpec:
    index: int
    members: tuple[GroupMember, ...]

    @property
    def name(self) -> str:
        """The consensus group's name."""
        return group_name(self.index)

    def member(self, node_id: str) -> GroupMember | None:
        for m in self.members:
            if m.node_id == node_id:
                return m
        return None


def plan_queue_groups(topology: Topology) -> list[GroupSpec]:
    """One group per node (sorted by id), members in distinct zones, load-balanced."""
    nodes = sorted(topology.nodes, key=lambda n: n.id)
    zones = sorted({n.zone for n in nodes})
    replicas = min(MAX_REPLICAS, len(zones))
    load = {n.id: 0 for n in nodes}
    memberships: list[list[str]] = []
    for home in nodes:
        chosen = [home.id]
        load[home.id] += 1
        # The other zones, starting after the home zone, so groups spread over zones.
        start = zones.index(home.zone)
        for zone in (zones[(start + k) % len(zones)] for k in range(1, len(zones))):
            if len(chosen) == replicas:
                break
            candidates = [n for n in nodes if n.zone == zone]
            pick = min(candidates, key=lambda n: (load[n.id], n.id))
            chosen.append(pick.id)
            load[pick.id] += 1
        memberships.append(chosen)
    zone = {n.id: n.zone for n in nodes}
    return [GroupSpec(index, tuple(GroupMember(i, zone[i]) for i in ids))
            for index, ids in enumerate(memberships)]


def single_group(node_id: str, zone: str = "") -> list[GroupSpec]:
    """A single node: one group of one member."""
    return [GroupSpec(0, (GroupMember(node_id, zone),))]


def group_name(index: int) -> str:
    return f"q{index}"


def partition_group(name: str, partition: int, groups: int) -> int:
    return (zlib.crc32(name.encode()) + partition) % groups
