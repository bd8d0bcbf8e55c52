"""plan_queue_groups and partition_group: which nodes hold which queue partitions.

The plan is a pure function of the topology, so everything here is checked on topologies
built in code (generate_local and hand-made NodeSpecs); nothing listens on a port.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from engine.cluster.topology import (
    NodeSpec,
    Topology,
    TopologyError,
    generate_local,
    split_host_port,
)
from engine.queues.groups import (
    SLOT_PORT_STRIDE,
    GroupSpec,
    partition_group,
    plan_queue_groups,
    single_group,
)

SECRET = "unit-test-cluster-secret-0123456789"
BASE_PORT = 7001


def local(nodes: int, azs: int, tmp_path: Path) -> Topology:
    return generate_local(nodes, azs, tmp_path, BASE_PORT)


def node(node_id: str, zone: str, port: int, raft_port: int, tmp_path: Path) -> NodeSpec:
    return NodeSpec(id=node_id, address=f"127.0.0.1:{port}", zone=zone,
                    drives=(tmp_path / node_id,), raft_address=f"127.0.0.1:{raft_port}")


def hand_made(tmp_path: Path, *specs: tuple[str, str, int, int]) -> Topology:
    return Topology(name="t", secret=SECRET,
                    nodes=tuple(node(i, z, p, r, tmp_path) for i, z, p, r in specs))


def memberships(groups: list[GroupSpec]) -> Counter[str]:
    return Counter(m.node_id for g in groups for m in g.members)


def check_plan(topology: Topology) -> list[GroupSpec]:
    """The invariants every plan must satisfy, whatever the topology."""
    groups = plan_queue_groups(topology)
    zones = topology.zones()
    by_id = {n.id: n for n in topology.nodes}
    assert len(groups) == len(topology.nodes)
    assert [g.index for g in groups] == list(range(len(groups)))
    for g, home in zip(groups, sorted(by_id), strict=True):
        assert len(g.members) == min(3, len(zones))
        assert g.members[0].node_id == home  # group i is led off by the i-th node by id
        assert len({m.node_id for m in g.members}) == len(g.members)
        assert len({m.zone for m in g.members}) == len(g.members), g  # distinct zones
        for m in g.members:
            spec = by_id[m.node_id]
            assert m.zone == spec.zone
            host, _ = split_host_port(m.raft_address)
            assert host == split_host_port(spec.raft_address)[0]
            assert g.member(m.node_id) is m
    # Every node's zone is balanced: its nodes' membership counts differ by at most one.
    counts = memberships(groups)
    assert set(counts) == set(by_id)  # every node hosts at least its own group
    for zone in zones:
        in_zone = [counts[n.id] for n in topology.nodes if n.zone == zone]
        assert max(in_zone) - min(in_zone) <= 1, (zone, in_zone)
    # Listeners: all distinct and none on a node's gRPC or Raft port.
    listeners = [m.raft_address for g in groups for m in g.members]
    assert len(set(listeners)) == len(listeners)
    others = {a for n in topology.nodes for a in (n.address, n.raft_address)}
    assert not set(listeners) & others
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


def test_listener_ports_follow_the_slot_rule(tmp_path: Path) -> None:
    topology = local(6, 3, tmp_path)
    groups = plan_queue_groups(topology)
    seen: Counter[str] = Counter()
    for g in groups:  # a node's k-th group listens on its raft port + 100 * (k + 1)
        for m in g.members:
            raft_port = split_host_port(topology.node(m.node_id).raft_address)[1]
            seen[m.node_id] += 1
            assert m.raft_address == f"127.0.0.1:{raft_port + SLOT_PORT_STRIDE * seen[m.node_id]}"


def test_plan_is_deterministic_and_ignores_node_order(tmp_path: Path) -> None:
    topology = local(6, 3, tmp_path)
    first = plan_queue_groups(topology)
    assert plan_queue_groups(topology) == first
    shuffled = Topology(name=topology.name, secret=topology.secret,
                        nodes=tuple(reversed(topology.nodes[3:] + topology.nodes[:3])))
    assert plan_queue_groups(shuffled) == first


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
    assert [[m.node_id for m in g.members] for g in groups] == [["n1"], ["n2"], ["n3"]]


def test_a_single_node_topology(tmp_path: Path) -> None:
    groups = check_plan(local(1, 1, tmp_path))
    assert len(groups) == 1 and groups[0].members[0].node_id == "n1"


def test_more_than_three_azs_keeps_three_replicas(tmp_path: Path) -> None:
    groups = check_plan(local(8, 4, tmp_path))
    assert all(len(g.members) == 3 for g in groups)
    counts = memberships(groups)  # zones are even here: balanced over all nodes
    assert max(counts.values()) - min(counts.values()) <= 1


@pytest.mark.parametrize(("nodes", "azs"), [
    (n, a) for n in range(1, 16) for a in range(1, min(n, 5) + 1)
])
def test_invariants_over_many_shapes(tmp_path: Path, nodes: int, azs: int) -> None:
    groups = check_plan(local(nodes, azs, tmp_path))
    if nodes % azs == 0:  # even zones: balanced over the whole cluster
        counts = memberships(groups)
        assert max(counts.values()) - min(counts.values()) <= 1, counts


def test_hosts_on_separate_machines_may_share_port_numbers(tmp_path: Path) -> None:
    topology = Topology(name="t", secret=SECRET, nodes=tuple(
        NodeSpec(id=f"n{i}", address=f"10.0.0.{i}:7001", zone=f"az-{i}",
                 drives=(tmp_path / f"n{i}",), raft_address=f"10.0.0.{i}:8001")
        for i in range(1, 4)))
    groups = check_plan(topology)
    assert {m.raft_address for g in groups for m in g.members} == {
        f"10.0.0.{i}:{port}" for i in range(1, 4) for port in (8101, 8201, 8301)}


# -- port errors ---------------------------------------------------------------------------


def test_a_listener_port_beyond_65535_is_a_topology_error(tmp_path: Path) -> None:
    topology = hand_made(tmp_path, ("a", "az-1", 7001, 65400), ("b", "az-2", 7002, 8002))
    with pytest.raises(TopologyError, match="65600 is out of range"):
        plan_queue_groups(topology)  # a's first slot is fine (65500), its second is not


def test_the_last_fitting_port_is_accepted(tmp_path: Path) -> None:
    # Each node is in both groups: slots 1 and 2, the highest exactly 65535.
    topology = hand_made(tmp_path, ("a", "az-1", 7001, 65335), ("b", "az-2", 7002, 8002))
    groups = check_plan(topology)
    assert "127.0.0.1:65535" in {m.raft_address for g in groups for m in g.members}


def test_a_listener_on_another_nodes_raft_port_is_refused(tmp_path: Path) -> None:
    topology = hand_made(tmp_path, ("a", "az-1", 7001, 8000), ("b", "az-2", 7002, 8100))
    with pytest.raises(TopologyError, match="clash"):
        plan_queue_groups(topology)


def test_a_listener_on_another_nodes_grpc_port_is_refused(tmp_path: Path) -> None:
    topology = hand_made(tmp_path, ("a", "az-1", 7001, 8000), ("b", "az-2", 8100, 9000))
    with pytest.raises(TopologyError, match="clash"):
        plan_queue_groups(topology)


def test_listeners_of_nodes_on_one_host_may_interleave(tmp_path: Path) -> None:
    # a listens on 8100/8200, b on 8150/8250: close, but no port is used twice.
    topology = hand_made(tmp_path, ("a", "az-1", 7001, 8000), ("b", "az-2", 7002, 8050))
    check_plan(topology)


def test_single_group() -> None:
    (group,) = single_group()
    assert group.index == 0
    assert [(m.node_id, m.raft_address) for m in group.members] == [("local", "127.0.0.1:0")]


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
