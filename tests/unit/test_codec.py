"""Erasure codecs reproduce the stripe from any k of k+m blocks."""

from __future__ import annotations

import itertools
import os

from engine.storage.codec import IdentityCodec, ReedSolomonCodec, codec_for


def test_identity_codec_is_the_stripe_itself() -> None:
    c = IdentityCodec()
    data = os.urandom(1000)
    assert c.encode(data) == [data]
    assert c.decode({0: data}, 1000) == data


def test_reed_solomon_survives_any_m_losses() -> None:
    c = ReedSolomonCodec(4, 2)
    stripe = os.urandom(1 << 20 | 7)
    blocks = c.encode(stripe)
    assert len(blocks) == 6
    for lost in itertools.combinations(range(6), 2):
        kept = {i: b for i, b in enumerate(blocks) if i not in lost}
        assert c.decode(kept, len(stripe)) == stripe


def test_codecs_are_shared_per_profile() -> None:
    assert codec_for("isa_l_rs_vand", 4, 2) is codec_for("isa_l_rs_vand", 4, 2)
    assert codec_for("identity", 1, 0).data_shards == 1


def test_storage_class_codes_survive_any_m_losses() -> None:
    """The codes storage classes pick besides the set's: RRS 5+1, one-zone 1+1 and 2+1."""
    stripe = os.urandom(100_003)
    for k, m in [(5, 1), (1, 1), (2, 1), (8, 1)]:
        c = codec_for("isa_l_rs_vand", k, m)
        blocks = c.encode(stripe)
        for lost in itertools.combinations(range(k + m), m):
            kept = {i: b for i, b in enumerate(blocks) if i not in lost}
            assert c.decode(kept, len(stripe)) == stripe
