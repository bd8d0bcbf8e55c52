"""Typed values on their way to a replica (engine/cache/value_records.py): the encoding
pinned byte for byte, and every type copied by a key-state copy and by a resync."""

from __future__ import annotations

import asyncio

import pytest

from engine.cache.local import key_states, load
from engine.cache.resync import ResyncSource, ResyncTarget
from engine.cache.store import CacheStore
from engine.cache.value_records import decode_value, encode_value
from engine.clock import ManualClock
from engine.v1 import cache_records_pb2 as rec


def store(clock: ManualClock | None = None) -> CacheStore:
    return CacheStore(1 << 22, clock or ManualClock())


def fill(s: CacheStore) -> None:
    s.set(b"str", b"v")
    s.append(b"raw", b"ab")
    s.append(b"raw", b"c")
    s.hset(b"hash", [(b"f", b"v"), (b"g", b"w")])
    s.rpush(b"list", [b"a", b"b", b"a"])
    s.sadd(b"set", [b"1", b"2"])
    s.zadd(b"zset", [(b"2.5", b"b"), (b"-inf", b"a")])
    s.hset(b"bighash", [(b"f", b"v" * 65)])
    s.expire(b"zset", px=5000)


def contents(s: CacheStore) -> dict[bytes, object]:
    return {
        b"str": s.get(b"str"), b"raw": s.get(b"raw"), b"hash": s.hgetall(b"hash"),
        b"list": s.lrange(b"list", 0, -1), b"set": sorted(s.smembers(b"set")),
        b"zset": s.zrange(b"zset", 0, -1, withscores=True), b"zset-ttl": s.pttl(b"zset"),
        b"encodings": [s.object_encoding(k) for k in sorted(s.keys(b"*"))],
        b"bytes": s.stats().bytes_used,
    }


@pytest.mark.parametrize(("build", "kind", "data"), [
    (lambda s: s.set(b"k", b"hello"), rec.CACHE_VALUE_STRING, b"hello"),
    # CacheCollection{items: ["f", "v"]}: field 1 (items), length-delimited
    (lambda s: s.hset(b"k", [(b"f", b"v")]), rec.CACHE_VALUE_HASH,
     bytes.fromhex("0a01660a0176")),
    (lambda s: s.rpush(b"k", [b"a", b"b"]), rec.CACHE_VALUE_LIST,
     bytes.fromhex("0a01610a0162")),
    # items ["m"], scores [1.5] packed (field 2, 8 bytes of the little-endian double), big
    (lambda s: s.zadd(b"k", [(b"1.5", b"m" * 65)]), rec.CACHE_VALUE_ZSET,
     bytes.fromhex("0a41") + b"m" * 65 + bytes.fromhex("1208000000000000f83f") + b"\x18\x01"),
])
def test_the_encoding_is_pinned(build, kind: int, data: bytes) -> None:
    s = store()
    build(s)
    entry = s.peek(b"k")
    assert entry is not None
    assert encode_value(entry[0]) == (kind, data)
    state = key_states(s, [b"k"])[0]
    assert (state.type, state.value) == (kind, data)
    # and the whole state as it travels (key, present, value, type)
    wire = state.SerializeToString()
    assert wire.startswith(bytes.fromhex("0a016b1001"))
    assert rec.CacheKeyState.FromString(wire) == state


def test_a_string_state_is_what_it_was_before_types_existed() -> None:
    s = store()
    s.set(b"k", b"v")
    assert key_states(s, [b"k"])[0].SerializeToString() == bytes.fromhex("0a016b10011a0176")


def test_every_type_round_trips_through_key_states() -> None:
    clock = ManualClock()
    primary, replica = store(clock), store(clock)
    fill(primary)
    load(replica, key_states(primary, primary.stored_keys()))
    assert contents(replica) == contents(primary)
    primary.delete([b"hash"])
    primary.lpop(b"list", 3)
    load(replica, key_states(primary, [b"hash", b"list"]))
    assert replica.exists([b"hash", b"list"]) == 0


def test_every_type_round_trips_through_a_resync() -> None:
    clock = ManualClock()
    primary, replica = store(clock), store(clock)
    fill(primary)
    source = ResyncSource()

    async def call(node: str, request: rec.CacheResyncRequest) -> rec.CacheLeaseReply:
        return source.page(request, lambda: key_states(primary, primary.stored_keys()))

    asyncio.run(ResyncTarget("r", ["p"], call, lambda states: load(replica, states)).run())
    assert contents(replica) == contents(primary)


def test_bad_records_are_refused() -> None:
    with pytest.raises(ValueError):
        decode_value(99, b"")
    bad = rec.CacheCollection(items=[b"a", b"b"], scores=[1.0]).SerializeToString()
    with pytest.raises(ValueError):
        decode_value(rec.CACHE_VALUE_ZSET, bad)
