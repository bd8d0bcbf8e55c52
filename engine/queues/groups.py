"""Queue replica groups: which nodes hold which queue partitions.

A cluster has one Raft group per node. Each group has up to three members, all in
different availability zones, so a group keeps its majority when a whole AZ is down.
Members are picked greedily, least-loaded node of each zone first, so every node is in
about the same number of groups; the plan is a pure function of the topology, so every
node computes the same one without talking to anyone.

A queue's partition ``p`` lives in group ``(hash(name) + p) % groups``: consecutive
partitions land on different groups, and different queues start at different groups.

Each membership needs its own Raft listener (pysyncobj binds one port per group): a
node's k-th group listens on its raft_address port + 100 * (k + 1).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from engine.cluster.topology import Topology, TopologyError, join_host_port, split_host_port

MAX_REPLICAS = 3
SLOT_PORT_STRIDE = 100


@dataclass(frozen=True)
class GroupMember:
    node_id: str
    zone: str
    raft_address: str  # this membership's pysyncobj listener


@dataclass(frozen=True)
class GroupSpec:
    index: int
    members: tuple[GroupMember, ...]

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
    return _with_addresses(topology, memberships)


def _with_addresses(topology: Topology, memberships: list[list[str]]) -> list[GroupSpec]:
    slots: dict[str, int] = {}
    groups = []
    for index, ids in enumerate(memberships):
        members = []
        for node_id in ids:
            spec = topology.node(node_id)
            slot = slots.get(node_id, 0)
            slots[node_id] = slot + 1
            host, port = split_host_port(spec.raft_address)
            port += SLOT_PORT_STRIDE * (slot + 1)
            if port > 65535:
                raise TopologyError(f"node {node_id}: queue group port {port} is out of range; "
                                    "lower its raft_address port")
            members.append(GroupMember(node_id, spec.zone, join_host_port(host, port)))
        groups.append(GroupSpec(index, tuple(members)))
    taken = [m.raft_address for g in groups for m in g.members]
    others = {a for n in topology.nodes for a in (n.address, n.raft_address)}
    clash = sorted({a for a in taken if a in others or taken.count(a) > 1})
    if clash:
        raise TopologyError(f"queue group listeners clash with other ports: {', '.join(clash)}")
    return groups


def single_group() -> list[GroupSpec]:
    """A single node: one group of one member (port chosen by the OS; nobody joins)."""
    return [GroupSpec(0, (GroupMember("local", "", "127.0.0.1:0"),))]


def partition_group(name: str, partition: int, groups: int) -> int:
    return (zlib.crc32(name.encode()) + partition) % groups
