"""plan_queue_groups and partition_group: which nodes hold which queue partitions.

The plan is a pure function of the topology (node ids and zones), so everything here is
checked on topologies built in code (generate_local and hand-made NodeSpecs); nothing
listens on a port. Every group is a consensus group named ``q<index>`` on its members'
consensus hosts: there are no per-group ports any more.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from engine.cluster.topology import NodeSpec, Topology, generate_local
from engine.queues.groups import (
    GroupMember,
    GroupSpec,
    group_name,
    partition_group,
    plan_queue_groups,
    single_group,
)

SECRET = "unit-test-cluster-secret-0123456789"
BASE_PORT = 7001


def local(nodes: int, azs: int, tmp_path: Path, base_port: int = BASE_PORT) -> Topology:
    return generate_local(nodes, azs, tmp_path, base_port)


def hand_made(tmp_path: Path, *specs: tuple[str, str]) -> Topology:
    """Nodes (id, zone) on distinct loopback ports."""
    return Topology(name="t", secret=SECRET, nodes=tuple(
        NodeSpec(id=i, address=f"127.0.0.1:{7001 + k}", zone=z, drives=(tmp_path / i,),
                 raft_address=f"127.0.0.1:{8001 + k}")
        for k, (i, z) in enumerate(specs)))


def memberships(groups: list[GroupSpec]) -> Counter[str]:
    return Counter(m.node_id for g in groups for m in g.members)


def members(groups: list[GroupSpec]) -> list[list[str]]:
    return [[m.node_id for m in g.members] for g in groups]


def check_plan(topology: Topology) -> list[GroupSpec]:
    """The invariants every plan must satisfy, whatever the topology."""
    groups = plan_queue_groups(topology)
    zones = topology.zones()
    by_id = {n.id: n for n in topology.nodes}
    assert len(groups) == len(topology.nodes)
    assert [g.index for g in groups] == list(range(len(groups)))
    assert [g.name for g in groups] == [f"q{i}" for i in range(len(groups))]
    for g, home in zip(groups, sorted(by_id), strict=True):
        assert len(g.members) == min(3, len(zones))
        assert g.members[0].node_id == home  # group i is led off by the i-th node by id
        assert len({m.node_id for m in g.members}) == len(g.members)
        assert len({m.zone for m in g.members}) == len(g.members), g  # distinct zones
        for m in g.members:
            assert m.zone == by_id[m.node_id].zone
            assert g.member(m.node_id) is m
    # Every zone is balanced: its nodes' membership counts differ by at most one.
    counts = memberships(groups)
    assert set(counts) == set(by_id)  # every node hosts at least its own group
    for zone in zones:
        in_zone = [counts[n.id] for n in topology.nodes if n.zone == zone]
        assert max(in_zone) - min(in_zone) <= 1, (zone, in_zone)
    return groups


# -- the 6-node, 3-AZ cluster --------------------------------------------------------------


def test_six_nodes_three_azs(tmp_path: Path) -> None:
    topology = local(6, 3, tmp_path)
    groups = check_plan(topology)
    for g in groups:
        assert sorted(m.zone for m in g.members) == ["az-1", "az-2", "az-3"]
    # 18 memberships over 6 nodes: exactly 3 each.
    assert set(memberships(groups).values()) == {3}
    assert groups[0].member("n1") is not None and groups[0].member("n9") is None


def test_the_six_node_plan_is_pinned(tmp_path: Path) -> None:
    """Nodes of a running cluster must agree on the plan, and a node that restarts with
    a different one finds its queue groups' state under other names: any change of the
    planner is a format change, to be made on purpose (this test then changes with it)."""
    groups = plan_queue_groups(local(6, 3, tmp_path))  # n1..n6 round-robin over az-1..3
    assert groups == [
        GroupSpec(0, (GroupMember("n1", "az-1"), GroupMember("n2", "az-2"),
                      GroupMember("n3", "az-3"))),
        GroupSpec(1, (GroupMember("n2", "az-2"), GroupMember("n6", "az-3"),
                      GroupMember("n4", "az-1"))),
        GroupSpec(2, (GroupMember("n3", "az-3"), GroupMember("n1", "az-1"),
                      GroupMember("n5", "az-2"))),
        GroupSpec(3, (GroupMember("n4", "az-1"), GroupMember("n5", "az-2"),
                      GroupMember("n6", "az-3"))),
        GroupSpec(4, (GroupMember("n5", "az-2"), GroupMember("n3", "az-3"),
                      GroupMember("n1", "az-1"))),
        GroupSpec(5, (GroupMember("n6", "az-3"), GroupMember("n4", "az-1"),
                      GroupMember("n2", "az-2"))),
    ]
    assert [g.name for g in groups] == ["q0", "q1", "q2", "q3", "q4", "q5"]


def test_plan_is_deterministic_and_ignores_node_order(tmp_path: Path) -> None:
    topology = local(6, 3, tmp_path)
    first = plan_queue_groups(topology)
    assert plan_queue_groups(topology) == first
    shuffled = Topology(name=topology.name, secret=topology.secret,
                        nodes=tuple(reversed(topology.nodes[3:] + topology.nodes[:3])))
    assert plan_queue_groups(shuffled) == first


def test_plan_depends_on_ids_and_zones_only(tmp_path: Path) -> None:
    """Moving a node to other ports (or another host) keeps every group as it was."""
    first = plan_queue_groups(local(6, 3, tmp_path / "a", base_port=7001))
    moved = plan_queue_groups(local(6, 3, tmp_path / "b", base_port=20001))
    assert moved == first


# -- uneven topologies ---------------------------------------------------------------------


def test_five_nodes_over_three_azs(tmp_path: Path) -> None:
    topology = local(5, 3, tmp_path)  # az-3 has one node only
    groups = check_plan(topology)
    counts = memberships(groups)
    assert counts["n3"] == 5  # the lone node of az-3 is in every group
    assert sorted([counts["n1"], counts["n4"]]) == [2, 3]
    assert sorted([counts["n2"], counts["n5"]]) == [2, 3]


def test_four_nodes_over_two_azs(tmp_path: Path) -> None:
    groups = check_plan(local(4, 2, tmp_path))
    assert all(len(g.members) == 2 for g in groups)
    assert set(memberships(groups).values()) == {2}


def test_one_az_gives_groups_of_one(tmp_path: Path) -> None:
    groups = check_plan(local(3, 1, tmp_path))
    assert members(groups) == [["n1"], ["n2"], ["n3"]]


def test_a_single_node_topology(tmp_path: Path) -> None:
    groups = check_plan(local(1, 1, tmp_path))
    assert len(groups) == 1 and groups[0].members[0].node_id == "n1"


def test_more_than_three_azs_keeps_three_replicas(tmp_path: Path) -> None:
    groups = check_plan(local(8, 4, tmp_path))
    assert all(len(g.members) == 3 for g in groups)
    counts = memberships(groups)  # zones are even here: balanced over all nodes
    assert max(counts.values()) - min(counts.values()) <= 1


def test_hand_made_ids_and_zone_names(tmp_path: Path) -> None:
    """Ids sort as strings (n10 before n2) and zones by name, whatever the file order."""
    topology = hand_made(tmp_path, ("n2", "west"), ("n10", "east"), ("db-1", "central"),
                         ("n3", "east"), ("n1", "west"), ("db-2", "central"))
    groups = check_plan(topology)
    assert [g.members[0].node_id for g in groups] == ["db-1", "db-2", "n1", "n10", "n2", "n3"]
    assert all({m.zone for m in g.members} == {"central", "east", "west"} for g in groups)
    assert set(memberships(groups).values()) == {3}


@pytest.mark.parametrize(("nodes", "azs"), [
    (n, a) for n in range(1, 16) for a in range(1, min(n, 5) + 1)
])
def test_invariants_over_many_shapes(tmp_path: Path, nodes: int, azs: int) -> None:
    groups = check_plan(local(nodes, azs, tmp_path))
    if nodes % azs == 0:  # even zones: balanced over the whole cluster
        counts = memberships(groups)
        assert max(counts.values()) - min(counts.values()) <= 1, counts


# -- a single node ------------------------------------------------------------------------


def test_single_group() -> None:
    (group,) = single_group("solo", "az-1")
    assert group.index == 0 and group.name == "q0"
    assert group.members == (GroupMember("solo", "az-1"),)
    assert group.member("solo") is group.members[0] and group.member("other") is None
    (no_zone,) = single_group("solo")
    assert no_zone.members == (GroupMember("solo", ""),)


def test_group_names() -> None:
    assert [group_name(i) for i in (0, 1, 12)] == ["q0", "q1", "q12"]
    assert GroupSpec(7, ()).name == "q7"


# -- partition_group -----------------------------------------------------------------------


@pytest.mark.parametrize("groups", [2, 3, 6, 7])
def test_consecutive_partitions_land_on_different_groups(groups: int) -> None:
    for name in ("orders", "orders.fifo", "q-1", "x" * 80):
        placed = [partition_group(name, p, groups) for p in range(groups)]
        assert sorted(placed) == list(range(groups)), (name, placed)  # a full cycle
        for p in range(3 * groups):
            assert partition_group(name, p, groups) != partition_group(name, p + 1, groups)
            assert partition_group(name, p, groups) == partition_group(name, p + groups, groups)


def test_partition_group_is_stable_and_queues_start_apart() -> None:
    assert partition_group("orders", 0, 6) == partition_group("orders", 0, 6)
    starts = {partition_group(f"queue-{i}", 0, 6) for i in range(100)}
    assert starts == set(range(6))  # different queues start at different groups
    assert {partition_group("solo", p, 1) for p in range(5)} == {0}


def test_partition_group_is_pinned() -> None:
    """crc32 of the name plus the partition, modulo the groups: a queue's partitions
    never move between versions (a change would strand every stored message)."""
    assert [partition_group("orders", p, 6) for p in range(6)] == [2, 3, 4, 5, 0, 1]
    assert [partition_group("orders.fifo", 0, g) for g in (1, 3, 6, 7)] == [0, 1, 4, 6]
