"""Which drives, code and compression each storage class gets (DESIGN.md's table)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from engine.cluster.placement import ErasureSet
from engine.objects.storage_classes import plan_for
from engine.storage.codec import codec_for

RS = "isa_l_rs_vand"


class FakeDrive:
    def __init__(self, name: str) -> None:
        self.name = name


def make_set(zones: str, nodes: str | None, k: int, m: int) -> ErasureSet:
    """A set whose position i is in zone zones[i] on node nodes[i] (None: one node)."""
    drives: Any = tuple(FakeDrive(f"d{i}") for i in range(len(zones)))
    return ErasureSet(0, drives, codec_for(RS, k, m), zones=tuple(zones),
                      nodes=tuple(nodes) if nodes else ())


SIX = make_set("aabbcc", "123456", 4, 2)


def shape(eset: ErasureSet, cls: str, hint: str = "a") -> tuple[Any, ...]:
    p = plan_for(eset, cls, hint)
    return (p.codec.data_shards, p.codec.parity_shards, p.positions, p.compression, p.zone)


def test_six_drives_over_three_zones() -> None:
    every = tuple(range(6))
    assert shape(SIX, "STANDARD") == (4, 2, every, "", "")
    assert shape(SIX, "REDUCED_REDUNDANCY") == (5, 1, every, "", "")
    assert shape(SIX, "STANDARD_IA") == (4, 2, every, "zstd", "")
    assert shape(SIX, "GLACIER") == (4, 2, every, "zstd", "")
    assert shape(SIX, "ONEZONE_IA", "b") == (1, 1, (2, 3), "zstd", "b")
    # A coordinator in a zone the set has no drive in: the zone of position 0.
    assert shape(SIX, "ONEZONE_IA", "elsewhere") == (1, 1, (0, 1), "zstd", "a")


def test_write_quorum_is_a_majority() -> None:
    assert plan_for(SIX, "STANDARD").write_quorum == 4
    assert plan_for(SIX, "REDUCED_REDUNDANCY").write_quorum == 5
    assert plan_for(SIX, "ONEZONE_IA", "c").write_quorum == 2  # 1+1: both copies


def test_nine_drives() -> None:
    nine = make_set("aaabbbccc", "123456789", 6, 3)
    assert shape(nine, "REDUCED_REDUNDANCY")[:2] == (8, 1)
    assert shape(nine, "ONEZONE_IA", "c")[:3] == (2, 1, (6, 7, 8))


def test_rrs_keeps_the_set_code_when_fewer_parity_would_not_survive_a_node() -> None:
    two_per_node = make_set("aabbcc", "112233", 4, 2)
    assert shape(two_per_node, "REDUCED_REDUNDANCY")[:2] == (4, 2)
    single_node = make_set("aaaaaa", None, 4, 2)
    assert shape(single_node, "REDUCED_REDUNDANCY")[:2] == (4, 2)


def test_onezone_within_a_crowded_zone() -> None:
    # Both drives of zone a on one node: no node-tolerant code fits, a mirror does.
    assert shape(make_set("aabbcc", "113456", 4, 2), "ONEZONE_IA")[:3] == (1, 1, (0, 1))
    # A zone with one drive: that drive alone, stored whole.
    p = plan_for(make_set("abbccc", "123456", 3, 3), "ONEZONE_IA", "a")
    assert (p.codec.name, p.positions) == ("identity", (0,))
    # One node, one zone: the whole set with its own code.
    single_node = make_set("aaaaaa", None, 4, 2)
    assert shape(single_node, "ONEZONE_IA")[:3] == (4, 2, tuple(range(6)))


@pytest.mark.parametrize("cls", ["STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA",
                                 "ONEZONE_IA", "GLACIER"])
def test_a_single_drive_is_stored_whole_in_every_class(cls: str) -> None:
    drive: Any = FakeDrive("d0")
    one = ErasureSet(0, (drive,), codec_for("identity", 1, 0))
    p = plan_for(one, cls, "")
    assert (p.codec.name, p.positions, p.write_quorum) == ("identity", (0,), 1)
    assert p.compression == ("" if cls in ("STANDARD", "REDUCED_REDUNDANCY") else "zstd")


def test_every_plan_survives_what_its_class_promises() -> None:
    """Losing any one node (RRS, ONEZONE) or any one zone (the others) leaves k shards."""
    for cls in ["STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "GLACIER"]:
        p = plan_for(SIX, cls, "a")
        domain = SIX.nodes if cls in ("REDUCED_REDUNDANCY", "ONEZONE_IA") else SIX.zones
        for lost in set(domain):
            left = [q for q in p.positions if domain[q] != lost]
            assert len(left) >= p.codec.data_shards
        for gone in itertools.combinations(p.positions, p.codec.parity_shards + 1):
            assert len(p.positions) - len(gone) < p.codec.data_shards
