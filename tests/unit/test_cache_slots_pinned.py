"""Slot placement pinned to literals: a change in how keys hash or how slots are dealt to
nodes would move every key on an upgrade (a node of the old version and one of the new
would disagree on owners), so it must be a deliberate, visible change."""

from __future__ import annotations

import pytest

from engine.cache.slots import SLOTS, SlotMap, hash_tag, key_slot


@pytest.mark.parametrize(("key", "slot"), [
    (b"somekey", 11058),  # CLUSTER KEYSLOT's documented example
    (b"foo{hash_tag}", 2515),  # ditto, with a hash tag
    (b"{user1000}.following", 3443),  # the cluster spec's hash-tag example pair
    (b"{user1000}.followers", 3443),
    (b"foo{}{bar}", 8363),  # spec: an empty first tag hashes the whole key
    (b"foo{{bar}}zap", 4015),  # spec: hashes "{bar"
    (b"foo{bar}{zap}", 5061),  # spec: hashes "bar", as the key "bar" does
])
def test_key_slot_of_redis_documented_keys(key: bytes, slot: int) -> None:
    assert key_slot(key) == slot


def nodes(n: int, azs: int) -> list[tuple[str, str]]:
    return [(f"node-{i + 1}", f"az-{i % azs + 1}") for i in range(n)]


PINNED = {
    (3, 3, 0): [(0, 5461, ("node-1",)), (5462, 10922, ("node-2",)),
                (10923, 16383, ("node-3",))],
    (3, 3, 1): [(0, 5461, ("node-1", "node-2")), (5462, 10922, ("node-2", "node-3")),
                (10923, 16383, ("node-3", "node-1"))],
    (6, 3, 0): [(0, 2730, ("node-1",)), (2731, 5461, ("node-2",)), (5462, 8192, ("node-3",)),
                (8193, 10923, ("node-4",)), (10924, 13653, ("node-5",)),
                (13654, 16383, ("node-6",))],
    # AZs: az-1 = {1, 4}, az-2 = {2, 5}, az-3 = {3, 6}; each node replicates one range
    (6, 3, 1): [(0, 2730, ("node-1", "node-2")), (2731, 5461, ("node-2", "node-3")),
                (5462, 8192, ("node-3", "node-1")), (8193, 10923, ("node-4", "node-5")),
                (10924, 13653, ("node-5", "node-6")), (13654, 16383, ("node-6", "node-4"))],
    # az-1 = {1, 4}, az-2 = {2, 5}, az-3 = {3}: no AZ holds more than half, so every node
    # still replicates exactly one range
    (5, 3, 1): [(0, 3276, ("node-1", "node-2")), (3277, 6553, ("node-2", "node-3")),
                (6554, 9830, ("node-3", "node-4")), (9831, 13107, ("node-4", "node-5")),
                (13108, 16383, ("node-5", "node-1"))],
    # a dominant AZ (az-1 = {1, 3, 5}, az-2 = {2, 4}): its ranges share az-2's nodes
    (5, 2, 1): [(0, 3276, ("node-1", "node-2")), (3277, 6553, ("node-2", "node-1")),
                (6554, 9830, ("node-3", "node-4")), (9831, 13107, ("node-4", "node-3")),
                (13108, 16383, ("node-5", "node-2"))],
}


@pytest.mark.parametrize(("n", "azs", "replicas"), sorted(PINNED))
def test_slot_map_of_a_known_topology_is_pinned(n: int, azs: int, replicas: int) -> None:
    slot_map = SlotMap.build(nodes(n, azs), replicas)
    assert slot_map.ranges() == PINNED[n, azs, replicas]
    for start, end, owners in PINNED[n, azs, replicas]:
        assert slot_map.owners(start) == slot_map.owners(end) == owners
        assert slot_map.primary(end) == owners[0]
        assert slot_map.slots_of(owners[0]) == end - start + 1


def test_where_documented_keys_live_on_six_nodes() -> None:
    slot_map = SlotMap.build(nodes(6, 3), 1)
    assert slot_map.owners(key_slot(b"{user1000}.following")) == ("node-2", "node-3")
    assert slot_map.owners(key_slot(b"somekey")) == ("node-5", "node-6")
    assert slot_map.owners(0) == ("node-1", "node-2")
    assert slot_map.owners(16383) == ("node-6", "node-4")


def test_equal_azs_are_ordered_by_name() -> None:
    """AZs of one size are taken in AZ-name order, whatever their nodes are called."""
    nodes = [("n4", "az-a"), ("n1", "az-b"), ("n3", "az-c"), ("n2", "az-d")]
    assert SlotMap.build(nodes, 1).ranges() == [
        (0, 4095, ("n1", "n3")), (4096, 8191, ("n2", "n4")), (8192, 12287, ("n3", "n2")),
        (12288, 16383, ("n4", "n1")),
    ]


@pytest.mark.parametrize(("key", "hashed"), [
    (b"a{b}", b"b"),  # a tag that starts at the second byte
    (b"ab}c", b"ab}c"),  # a '}' with no '{' at all
    (b"}x{y}", b"y"),
])
def test_hash_tag_edges(key: bytes, hashed: bytes) -> None:
    assert hash_tag(key) == hashed


def test_ready_ranges_must_cover_every_slot_once() -> None:
    one = SlotMap([(0, 0, ("a",)), (1, SLOTS - 1, ("b",))], 0)  # a one-slot range is fine
    assert one.owners(0) == ("a",) and one.owners(1) == ("b",)
    message = "slot ranges must cover 0..16383 contiguously, with owners"
    for ranges in (
        [(0, 10, ("a",)), (12, SLOTS - 1, ("b",))],  # a gap
        [(0, 10, ("a",)), (10, SLOTS - 1, ("b",))],  # an overlap
        [(1, SLOTS - 1, ("a",))],  # slot 0 missing
        [(0, SLOTS - 2, ("a",))],  # the last slot missing
        [(0, 10, ("a",)), (11, 5, ("b",)), (6, SLOTS - 1, ("c",))],  # a backwards range
        [(0, SLOTS - 1, ())],  # no owner
    ):
        with pytest.raises(ValueError) as info:
            SlotMap(ranges, 0)
        assert str(info.value) == message, ranges


def test_what_an_operator_reads_for_a_bad_topology() -> None:
    cases = [
        (([("node-1", "az-1")], 2), "--cache-replicas must be 0 or 1, not 2"),
        (([], 0), "a slot map needs at least one node"),
        (([("node-1", "az-1"), ("node-1", "az-2")], 0), "node ids must be unique"),
        (([("node-1", "az-1"), ("node-2", "az-1")], 1),
         "--cache-replicas 1 needs nodes in at least two AZs "
         "(a replica lives in a different AZ from its primary)"),
    ]
    for (topology, replicas), message in cases:
        with pytest.raises(ValueError) as info:
            SlotMap.build(topology, replicas)
        assert str(info.value) == message
    slot_map = SlotMap.build([("node-1", "az-1")], 0)
    for slot in (-1, SLOTS):
        with pytest.raises(ValueError) as info:
            slot_map.owners(slot)
        assert str(info.value) == f"slot {slot} is outside 0..16383"
