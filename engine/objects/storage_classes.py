"""Storage classes: which drives of its erasure set a body uses, with which code, and
whether it is compressed at rest (the table in DESIGN.md, "Storage classes").

A class never moves a key to another set; it only picks positions inside the set and a
code over them, so the key -> set mapping stays a function of the topology alone. The
plan is recorded in the body's DataLayout (codec, k, m, drives, compression), so a body
is always read back with what it was written with, whatever the class means later.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from engine.cluster.placement import ErasureSet
from engine.storage.codec import Codec, IdentityCodec, codec_for
from engine.storage.compression import ZSTD
from engine.v1.records_pb2 import DataLayout

COMPRESSED_CLASSES = frozenset({"STANDARD_IA", "ONEZONE_IA", "GLACIER"})


@dataclass(frozen=True)
class BodyPlan:
    codec: Codec
    positions: tuple[int, ...]  # set position of the drive holding shard 0, 1, ...
    compression: str = ""  # "" or "zstd"
    zone: str = ""  # the one zone holding every shard (ONEZONE_IA), else ""

    @property
    def width(self) -> int:
        return len(self.positions)

    @property
    def write_quorum(self) -> int:
        """k, or k+1 when k == m so that two disjoint halves never both accept a write."""
        k, m = self.codec.data_shards, self.codec.parity_shards
        return k + 1 if k == m else k


def shard_positions(layout: DataLayout) -> list[int]:
    """Set position of the drive holding shard 0, 1, ... of a written layout."""
    return list(layout.drives) or list(range(layout.data_shards + layout.parity_shards))


def standard_plan(eset: ErasureSet) -> BodyPlan:
    return BodyPlan(eset.codec, tuple(range(len(eset.drives))))


def plan_for(eset: ErasureSet, storage_class: str, zone_hint: str = "") -> BodyPlan:
    """The plan a new body of `storage_class` gets in `eset`; `zone_hint` is the
    coordinator's zone (ONEZONE_IA keeps the data near the writer when it can)."""
    compression = ZSTD if storage_class in COMPRESSED_CLASSES else ""
    every = tuple(range(len(eset.drives)))
    if len(eset.drives) == 1:
        return BodyPlan(IdentityCodec(), every, compression)
    if storage_class == "REDUCED_REDUNDANCY":
        return BodyPlan(_node_tolerant(eset, every) or eset.codec, every)
    if storage_class == "ONEZONE_IA":
        return _one_zone(eset, zone_hint, compression)
    return BodyPlan(eset.codec, every, compression)


def _node_tolerant(eset: ErasureSet, positions: Sequence[int]) -> Codec | None:
    """The k+m over `positions` that survives losing one node, if it has less parity
    than the set's code and k > m; None otherwise."""
    m = _most_on_one_node(eset, positions)
    k = len(positions) - m
    if m >= eset.codec.parity_shards or k <= m:
        return None
    return codec_for(eset.codec.name, k, m)


def _one_zone(eset: ErasureSet, zone_hint: str, compression: str) -> BodyPlan:
    zones = [eset.zone_of(p) for p in range(len(eset.drives))]
    zone = zone_hint if zone_hint in zones else zones[0]
    positions = tuple(p for p, z in enumerate(zones) if z == zone)
    count = len(positions)
    if count == 1:
        return BodyPlan(IdentityCodec(), positions, compression, zone)
    m = _most_on_one_node(eset, positions)
    k = count - m
    if k < 1 or k < m:  # the zone's drives share nodes too much to survive one
        if count == len(eset.drives):
            return BodyPlan(eset.codec, positions, compression, zone)
        k, m = count - 1, 1  # then at least survive one drive
    return BodyPlan(codec_for(eset.codec.name, k, m), positions, compression, zone)


def _most_on_one_node(eset: ErasureSet, positions: Sequence[int]) -> int:
    """The largest number of `positions` on one node (all of them on a single node)."""
    if len(positions) <= 1:
        return 0
    return max(Counter(eset.node_of(p) for p in positions).values())
