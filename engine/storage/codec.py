"""Erasure codecs: a stripe in, k data + m parity shard blocks out, and back.

A single drive uses :class:`IdentityCodec` (k=1, m=0: the stripe is the block). Erasure
sets use :class:`ReedSolomonCodec`, Reed-Solomon through pyeclib with the ISA-L
backend. Which codec wrote a version is recorded in its layout, so a version is always
decoded with the code it was encoded with, whatever the current defaults are.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Protocol

from pyeclib.ec_iface import ECDriver

from engine.v1.records_pb2 import DataLayout

Block = bytes | memoryview


class Codec(Protocol):
    name: str
    data_shards: int
    parity_shards: int

    def encode(self, stripe: Block) -> list[Block]:
        """All k+m shard blocks of one stripe, in shard order."""
        ...

    def decode(self, blocks: Mapping[int, Block], stripe_len: int) -> bytes:
        """The stripe from any k of its blocks (keyed by shard index)."""
        ...


class IdentityCodec:
    name = "identity"
    data_shards = 1
    parity_shards = 0

    def encode(self, stripe: Block) -> list[Block]:
        return [stripe]

    def decode(self, blocks: Mapping[int, Block], stripe_len: int) -> bytes:
        return bytes(blocks[0][:stripe_len])


class ReedSolomonCodec:
    def __init__(self, data_shards: int, parity_shards: int,
                 ec_type: str = "isa_l_rs_vand") -> None:
        self.name = ec_type
        self.data_shards = data_shards
        self.parity_shards = parity_shards
        self._driver = ECDriver(k=data_shards, m=parity_shards, ec_type=ec_type)

    def encode(self, stripe: Block) -> list[Block]:
        return list(self._driver.encode(bytes(stripe)))

    def decode(self, blocks: Mapping[int, Block], stripe_len: int) -> bytes:
        data: bytes = self._driver.decode([bytes(b) for b in blocks.values()])
        return data[:stripe_len]


@cache
def codec_for(name: str, data_shards: int, parity_shards: int) -> Codec:
    if name == IdentityCodec.name:
        return IdentityCodec()
    return ReedSolomonCodec(data_shards, parity_shards, name)


def layout_codec(layout: DataLayout) -> Codec:
    return codec_for(layout.codec, layout.data_shards, layout.parity_shards)
