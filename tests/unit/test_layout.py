"""Erasure-set planning: losing any one AZ loses no data and leaves reads and writes up.

The oracle is a brute-force search over set widths (and, for each width, over every way of
splitting the zones' drives into the sets), independent of the planner's dealing rule.
"""

from __future__ import annotations

import random
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cluster.layout import (
    DriveRef,
    LayoutError,
    SetLayout,
    describe,
    fault_tolerance,
    plan_erasure_sets,
)
from engine.cluster.topology import NodeSpec, Topology

ZONE_NAMES = ["az-1", "az-2", "az-3", "az-4"]


def topology(shape: list[tuple[int, int]], order_seed: int | None = None) -> Topology:
    """shape: one (zone index, drive count) per node; nodes optionally listed shuffled."""
    nodes = [
        NodeSpec(f"n{i + 1}", f"127.0.0.1:{7001 + i}", ZONE_NAMES[zone],
                 tuple(Path(f"/data/n{i + 1}/d{j}") for j in range(drives)),
                 f"127.0.0.1:{9001 + i}")
        for i, (zone, drives) in enumerate(shape)
    ]
    if order_seed is not None:
        random.Random(order_seed).shuffle(nodes)
    return Topology("t", "s" * 16, tuple(nodes))


def per_zone(counts: list[int], drives: int = 1) -> list[tuple[int, int]]:
    """n nodes in zone 0, m in zone 1, ...: [(0, d), (0, d), (1, d), ...]."""
    return [(z, drives) for z, n in enumerate(counts) for _ in range(n)]


@cache
def _splittable(remaining: tuple[int, ...], sets: int, width: int, cap: int) -> bool:
    """Can zone counts `remaining` fill `sets` sets of `width` with <= cap per zone and set?"""
    if sets == 0:
        return not any(remaining)

    def rows(i: int, left: int) -> list[tuple[int, ...]]:
        if i == len(remaining):
            return [()] if left == 0 else []
        return [(v, *rest) for v in range(min(cap, remaining[i], left) + 1)
                for rest in rows(i + 1, left - v)]

    return any(
        _splittable(tuple(sorted(r - v for r, v in zip(remaining, row, strict=True))),
                    sets - 1, width, cap)
        for row in rows(0, width)
    )


def brute_force(t: Topology, max_set_size: int = 16, by: str = "zone") -> dict[int, int]:
    """Every width that can survive losing one AZ (or node), with the least parity m it needs."""
    zones = tuple(sorted(Counter(getattr(n, by if by == "zone" else "id")
                                 for n in t.nodes for _ in n.drives).values()))
    total = sum(zones)
    found = {}
    for w in range(1, min(total, max_set_size) + 1):
        if total % w:
            continue
        for m in range(1, w):
            if w - m > m and _splittable(zones, total // w, w, m):
                found[w] = m
                break
    return found


def check_plan(t: Topology, sets: list[SetLayout]) -> None:
    everything = [DriveRef(n.id, i, n.zone) for n in t.nodes for i in range(len(n.drives))]
    placed = [d for s in sets for d in s.drives]
    assert sorted(placed) == sorted(everything)  # every drive in exactly one set
    assert len({s.width for s in sets}) == 1
    assert [s.index for s in sets] == list(range(len(sets)))
    for s in sets:
        assert s.data_shards + s.parity_shards == s.width
        assert s.data_shards > s.parity_shards >= 1
        for zone in t.zones():
            outside = sum(d.zone != zone for d in s.drives)
            assert outside >= s.write_quorum, (zone, s)
            assert outside >= s.read_quorum, (zone, s)
    assert fault_tolerance(sets) == "zone"


@pytest.mark.parametrize(("shape", "code", "set_count"), [
    (per_zone([1, 1, 1]), (2, 1), 1),
    (per_zone([2, 2, 2]), (4, 2), 1),
    (per_zone([3, 3, 3]), (6, 3), 1),
    (per_zone([4, 4, 4]), (8, 4), 1),
    (per_zone([3, 2, 2]), (4, 3), 1),
    (per_zone([2, 2, 1]), (3, 2), 1),
    (per_zone([3, 3, 2]), (5, 3), 1),
    (per_zone([2, 2, 2], drives=2), (8, 4), 1),
    (per_zone([2, 2, 2], drives=4), (8, 4), 2),
    (per_zone([4, 4, 4], drives=2), (8, 4), 2),
    (per_zone([1, 1, 1, 1]), (3, 1), 1),
    (per_zone([3, 3, 3, 3]), (9, 3), 1),
])
def test_listed_layouts(shape: list[tuple[int, int]], code: tuple[int, int],
                        set_count: int) -> None:
    t = topology(shape)
    sets = plan_erasure_sets(t)
    assert {(s.data_shards, s.parity_shards) for s in sets} == {code}
    assert len(sets) == set_count
    check_plan(t, sets)
    assert brute_force(t) and max(brute_force(t)) == sets[0].width


def test_six_nodes_three_azs_two_shards_per_az() -> None:
    t = topology(per_zone([2, 2, 2]))
    (s,) = plan_erasure_sets(t)
    assert Counter(d.zone for d in s.drives) == {"az-1": 2, "az-2": 2, "az-3": 2}
    # Data shards (the first k, preferred by reads) are spread round-robin over the AZs.
    assert [d.zone for d in s.drives] == ["az-1", "az-2", "az-3"] * 2
    assert describe([s]) == "1 erasure set of 4+2 (6 drives each); survives losing one AZ"


def test_a_nodes_drives_go_to_different_sets() -> None:
    t = topology(per_zone([2, 2, 2], drives=4))  # 24 drives: two sets of 12
    sets = plan_erasure_sets(t)
    for s in sets:
        assert max(Counter(d.node_id for d in s.drives).values()) == 2  # 4 drives, 2 sets


@pytest.mark.parametrize(("shape", "why"), [
    (per_zone([2, 1, 1]), r"az-1: 2, az-2: 1, az-3: 1.*w=4: 2 of 4 in az-1"),
    (per_zone([3]), "with a single AZ, losing it loses everything"),
    (per_zone([2, 2]), "az-1: 2, az-2: 2"),
    (per_zone([1, 1]), "every AZ to hold fewer than half"),
    (per_zone([6, 6, 5]), "at most 16 drives, so its width must divide 17"),
])
def test_no_az_tolerant_plan(shape: list[tuple[int, int]], why: str) -> None:
    t = topology(shape)
    with pytest.raises(LayoutError, match=why):
        plan_erasure_sets(t)
    assert brute_force(t) == {}


@pytest.mark.parametrize(("shape", "code", "domain"), [
    (per_zone([2, 1, 1]), (3, 1), "node"),
    (per_zone([2, 2]), (3, 1), "node"),
    (per_zone([6]), (5, 1), "node"),
    (per_zone([1], drives=4), (3, 1), "drive"),
    (per_zone([2], drives=2), (3, 1), "drive"),
    (per_zone([1]), (1, 0), "none"),
])
def test_fallback_plans(shape: list[tuple[int, int]], code: tuple[int, int],
                        domain: str) -> None:
    sets = plan_erasure_sets(topology(shape), require_az_tolerance=False)
    assert {(s.data_shards, s.parity_shards) for s in sets} == {code}
    assert fault_tolerance(sets) == domain


@pytest.mark.parametrize("shape", [per_zone([2]), per_zone([1], drives=2)])
def test_two_drives_have_no_plan_even_with_the_fallback(shape: list[tuple[int, int]]) -> None:
    with pytest.raises(LayoutError, match="at least 3"):
        plan_erasure_sets(topology(shape), require_az_tolerance=False)


def test_fallback_is_the_strict_plan_when_one_exists() -> None:
    t = topology(per_zone([2, 2, 2]))
    assert plan_erasure_sets(t, require_az_tolerance=False) == plan_erasure_sets(t)


def test_max_set_size_splits_into_more_sets() -> None:
    sets = plan_erasure_sets(topology(per_zone([4, 4, 4])), max_set_size=6)
    assert [(s.data_shards, s.parity_shards) for s in sets] == [(4, 2)] * 2
    with pytest.raises(ValueError, match="max_set_size"):
        plan_erasure_sets(topology(per_zone([1, 1, 1])), max_set_size=0)


shapes = st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), min_size=1, max_size=16)


@settings(max_examples=300, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_property_one_az_loss_is_survivable(shape: list[tuple[int, int]], seed: int) -> None:
    t = topology(shape)
    oracle = brute_force(t)
    try:
        sets = plan_erasure_sets(t)
    except LayoutError:
        assert oracle == {}, f"planner found nothing but {oracle} exist"
        return
    assert oracle, "planner returned a plan the brute force says is impossible"
    assert sets[0].width == max(oracle)  # the most efficient valid width
    assert sets[0].parity_shards == oracle[sets[0].width]  # with the least parity
    check_plan(t, sets)
    assert plan_erasure_sets(topology(shape, order_seed=seed)) == sets  # order-independent


@settings(max_examples=200, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_property_fallback_survives_what_it_claims(shape: list[tuple[int, int]],
                                                   seed: int) -> None:
    t = topology(shape)
    try:
        sets = plan_erasure_sets(t, require_az_tolerance=False)
    except LayoutError:
        drives = sum(d for _, d in shape)
        assert drives == 2 or all(drives % w for w in range(3, 17))
        return
    assert sorted(d for s in sets for d in s.drives) == sorted(
        DriveRef(n.id, i, n.zone) for n in t.nodes for i in range(len(n.drives)))
    domain = fault_tolerance(sets)
    if brute_force(t):
        assert domain == "zone"
    elif len(t.nodes) <= 8 and (by_node := brute_force(t, by="node")):
        assert domain == "node"
        assert sets[0].width == max(by_node)
        assert sets[0].parity_shards == by_node[sets[0].width]
    elif len(t.nodes) <= 8:
        assert domain == ("none" if len(sets[0].drives) == 1 else "drive")
    assert plan_erasure_sets(topology(shape, order_seed=seed),
                             require_az_tolerance=False) == sets


def test_data_shards_are_spread_over_nodes_first() -> None:
    (s,) = plan_erasure_sets(topology(per_zone([2, 2, 2], drives=2)))
    assert len({d.node_id for d in s.drives[:6]}) == 6  # one drive of each node first
    assert [d.drive_index for d in s.drives] == [0] * 6 + [1] * 6
