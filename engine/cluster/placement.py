"""Which drives hold an object: erasure sets and the key -> set mapping.

An erasure set is a fixed, ordered group of drives with one codec; a STANDARD body has
shard i of every stripe on drive i of its set (other storage classes choose other codes
and positions, see engine/objects/storage_classes.py, which is why a set knows the zone
and node of each drive). The mapping from key to set depends only on the topology,
never on who is alive, so an outage never moves data.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Protocol

from engine.storage.codec import Codec, IdentityCodec, ReedSolomonCodec
from engine.storage.drive import Drive


@dataclass(frozen=True)
class ErasureSet:
    index: int
    drives: tuple[Drive, ...]
    codec: Codec
    zone: str = ""  # the coordinator's zone: its drives are preferred for reads
    zones: tuple[str, ...] = ()  # zone of each position (empty: a single node)
    nodes: tuple[str, ...] = ()  # node id of each position (empty: a single node)

    def zone_of(self, position: int) -> str:
        return self.zones[position] if self.zones else ""

    def node_of(self, position: int) -> str:
        return self.nodes[position] if self.nodes else ""

    @property
    def write_quorum(self) -> int:
        k, m = self.codec.data_shards, self.codec.parity_shards
        return k + 1 if k == m else k

    @property
    def read_quorum(self) -> int:
        return self.codec.data_shards


class Placement(Protocol):
    def sets(self) -> list[ErasureSet]: ...
    def set_for(self, bucket: str, key: str) -> ErasureSet: ...


class StaticPlacement:
    """Sets fixed at start-up, chosen by a stable hash of bucket and key."""

    def __init__(self, sets: list[ErasureSet]) -> None:
        if not sets:
            raise ValueError("a placement needs at least one erasure set")
        self._sets = sets

    @classmethod
    def single(cls, drive: Drive) -> StaticPlacement:
        """One drive, objects stored whole with checksums and no parity."""
        return cls([ErasureSet(0, (drive,), IdentityCodec())])

    @classmethod
    def erasure(cls, drives: list[Drive], data_shards: int, parity_shards: int) -> StaticPlacement:
        width = data_shards + parity_shards
        if len(drives) % width:
            raise ValueError(f"{len(drives)} drives do not split into sets of {width}")
        codec = ReedSolomonCodec(data_shards, parity_shards)
        return cls([ErasureSet(i, tuple(drives[i * width:(i + 1) * width]), codec)
                    for i in range(len(drives) // width)])

    def sets(self) -> list[ErasureSet]:
        return self._sets

    def set_for(self, bucket: str, key: str) -> ErasureSet:
        digest = zlib.crc32(f"{bucket}/{key}".encode())
        return self._sets[digest % len(self._sets)]
