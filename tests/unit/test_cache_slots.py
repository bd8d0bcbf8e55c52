"""Hash slots as Redis Cluster computes them, and a balanced, AZ-aware slot map."""

from __future__ import annotations

import binascii
import itertools
import math
from collections import Counter

import pytest

from engine.cache.slots import SLOTS, SlotMap, hash_tag, key_slot


def crc16(data: bytes) -> int:
    return binascii.crc_hqx(data, 0)


# -- key_slot ----------------------------------------------------------------------------


def test_crc16_is_the_redis_cluster_variant() -> None:
    assert SLOTS == 16384
    assert crc16(b"123456789") == 0x31C3  # the check value in Redis's cluster spec


@pytest.mark.parametrize(
    ("key", "slot"),
    [(b"foo", 12182), (b"bar", 5061), (b"hello", 866), (b"", 0), (b"123456789", 0x31C3)],
)
def test_key_slot_of_plain_keys(key: bytes, slot: int) -> None:
    assert key_slot(key) == slot


@pytest.mark.parametrize(
    ("key", "hashed"),
    [
        (b"{user1000}.following", b"user1000"),
        (b"foo{}{bar}", b"foo{}{bar}"),  # empty first tag: the whole key
        (b"foo{{bar}}zap", b"{bar"),  # from the first '{' to the first '}' after it
        (b"foo{bar}{zap}", b"bar"),  # only the first tag counts
        (b"{}", b"{}"),
        (b"{", b"{"),
        (b"}{a", b"}{a"),  # a '}' before the '{' does not close it
        (b"a}b{c}", b"c"),
        (b"{\xff\x00}", b"\xff\x00"),  # keys are bytes, not text
    ],
)
def test_hash_tags_follow_redis(key: bytes, hashed: bytes) -> None:
    assert hash_tag(key) == hashed
    assert key_slot(key) == crc16(hashed) % SLOTS


def test_a_hash_tag_puts_related_keys_in_one_slot() -> None:
    assert key_slot(b"{user1000}.following") == key_slot(b"{user1000}.followers")
    assert key_slot(b"{user1000}.following") == key_slot(b"user1000")
    assert key_slot(b"user1000.following") != key_slot(b"user1000.followers")


def test_slots_spread_keys_evenly() -> None:
    counts = Counter(key_slot(b"key:%d" % i) // 1024 for i in range(64_000))
    assert len(counts) == 16
    assert max(counts.values()) < 1.15 * 4000


# -- SlotMap -----------------------------------------------------------------------------


def topology(n: int, azs: int) -> list[tuple[str, str]]:
    """n nodes dealt round robin over the AZs, listed in a scrambled order."""
    nodes = [(f"node-{i + 1}", f"az-{i % azs + 1}") for i in range(n)]
    return nodes[::-1]


def check_map(slot_map: SlotMap, nodes: list[tuple[str, str]], replicas: int) -> None:
    az = dict(nodes)
    ranges = slot_map.ranges()
    # contiguous, complete, one range per node in node-id order, sizes within one slot
    assert ranges[0][0] == 0 and ranges[-1][1] == SLOTS - 1
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))
    assert [owners[0] for _, _, owners in ranges] == sorted(az)
    sizes = [end - start + 1 for start, end, _ in ranges]
    assert max(sizes) - min(sizes) <= 1
    assert sum(slot_map.slots_of(node) for node in az) == SLOTS
    for start, end, owners in ranges:
        assert len(owners) == 1 + replicas
        assert slot_map.owners(start) == slot_map.owners(end) == owners
        assert slot_map.primary(start) == owners[0]
        if replicas:
            assert az[owners[1]] != az[owners[0]], "replica must be in another AZ"


@pytest.mark.parametrize(
    ("n", "azs"),
    [(1, 1), (2, 1), (2, 2), (3, 1), (3, 2), (3, 3), (6, 1), (6, 2), (6, 3), (9, 1), (9, 2),
     (9, 3)],
)
def test_slot_map_without_replicas(n: int, azs: int) -> None:
    nodes = topology(n, azs)
    slot_map = SlotMap.build(nodes, 0)
    check_map(slot_map, nodes, 0)
    assert slot_map.replicas == 0


@pytest.mark.parametrize(
    ("n", "azs", "max_load"),
    [
        (2, 2, 1),
        (3, 2, 2),  # 2 nodes in az-1 must both use the single az-2 node
        (3, 3, 1),
        (6, 2, 1),
        (6, 3, 1),  # every node is replica for exactly one range
        (9, 2, 2),  # 5 + 4 nodes: the five az-1 ranges need the four az-2 nodes
        (9, 3, 1),
    ],
)
def test_slot_map_with_replicas_is_balanced_across_azs(n: int, azs: int, max_load: int) -> None:
    nodes = topology(n, azs)
    slot_map = SlotMap.build(nodes, 1)
    check_map(slot_map, nodes, 1)
    load = Counter(owners[1] for _, _, owners in slot_map.ranges())
    assert max(load.values()) == max_load
    if max_load == 1:
        assert set(load) == {node for node, _ in nodes}


@pytest.mark.parametrize(("big", "small"), [(5, 1), (5, 2), (7, 3), (4, 3)])
def test_replicas_with_one_dominant_az_spread_as_little_as_possible(big: int, small: int) -> None:
    nodes = [(f"a{i}", "az-a") for i in range(big)] + [(f"b{i}", "az-b") for i in range(small)]
    slot_map = SlotMap.build(nodes, 1)
    check_map(slot_map, nodes, 1)
    load = Counter(owners[1] for _, _, owners in slot_map.ranges())
    # the big AZ's ranges must all go to the small AZ: the best is an even split there
    n = big + small
    m = max(big, small)
    assert max(load.values()) == max(1, math.ceil(m / (n - m)))


def test_the_map_is_the_same_whatever_order_nodes_are_listed() -> None:
    nodes = topology(9, 3)
    assert SlotMap.build(nodes, 1).ranges() == SlotMap.build(sorted(nodes), 1).ranges()


def test_single_node_owns_everything() -> None:
    slot_map = SlotMap.build([("node-1", "az-1")], 0)
    assert slot_map.ranges() == [(0, SLOTS - 1, ("node-1",))]
    assert slot_map.slots_of("node-1") == SLOTS
    assert slot_map.owners(key_slot(b"anything")) == ("node-1",)


def test_three_nodes_split_16384_slots_as_evenly_as_possible() -> None:
    slot_map = SlotMap.build(topology(3, 3), 0)
    assert [(s, e) for s, e, _ in slot_map.ranges()] == [(0, 5461), (5462, 10922),
                                                          (10923, 16383)]
    assert slot_map.slots_of("nobody") == 0


@pytest.mark.parametrize("nodes", [[("node-1", "az-1")], topology(3, 1), topology(6, 1)])
def test_replicas_need_two_azs(nodes: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError, match="--cache-replicas 1 needs nodes in at least two AZs"):
        SlotMap.build(nodes, 1)


@pytest.mark.parametrize("replicas", [-1, 2, 3])
def test_replicas_is_zero_or_one(replicas: int) -> None:
    with pytest.raises(ValueError, match="0 or 1"):
        SlotMap.build(topology(6, 3), replicas)


def test_bad_node_lists_are_refused() -> None:
    with pytest.raises(ValueError):
        SlotMap.build([], 0)
    with pytest.raises(ValueError):
        SlotMap.build([("node-1", "az-1"), ("node-1", "az-2")], 0)


def test_owners_of_a_slot_outside_the_range_is_an_error() -> None:
    slot_map = SlotMap.build(topology(2, 2), 1)
    for slot in (-1, SLOTS):
        with pytest.raises(ValueError):
            slot_map.owners(slot)


def test_group_keys_splits_by_owner_and_keeps_request_order() -> None:
    slot_map = SlotMap.build(topology(6, 3), 1)
    keys = [b"k%d" % i for i in range(200)] + [b"{tag}a", b"{tag}b"]
    groups = slot_map.group_keys(keys)
    assert sorted(i for indexes in groups.values() for i in indexes) == list(range(len(keys)))
    assert len(groups) == 6
    for owners, indexes in groups.items():
        assert indexes == sorted(indexes)
        assert all(slot_map.owners(key_slot(keys[i])) == owners for i in indexes)
    tagged = [owners for owners, idx in groups.items() if 200 in idx or 201 in idx]
    assert len(tagged) == 1  # keys sharing a hash tag are never split
    assert slot_map.group_keys([]) == {}
