"""CacheStore's hashes: Redis's documented replies, error texts, encodings and charges."""

from __future__ import annotations

import pytest

from engine.cache.store import ENTRY_OVERHEAD, WRONGTYPE, CacheStore
from engine.cache.types.values import HASH_FIELD_COST, HashValue
from engine.clock import ManualClock
from engine.errors import EngineError


@pytest.fixture
def store() -> CacheStore:
    return CacheStore(1 << 22, ManualClock())


def error(fn, *args, **kw) -> EngineError:
    with pytest.raises(EngineError) as info:
        fn(*args, **kw)
    return info.value


def test_hset_hget_hgetall_as_documented(store: CacheStore) -> None:
    assert store.hset(b"myhash", [(b"field1", b"Hello")]) == 1
    assert store.hset(b"myhash", [(b"field2", b"Hi"), (b"field3", b"World")]) == 2
    assert store.hset(b"myhash", [(b"field1", b"Hey")]) == 0  # updated, not new
    assert store.hget(b"myhash", b"field1") == b"Hey"
    assert store.hget(b"myhash", b"nofield") is None
    assert store.hgetall(b"myhash") == [(b"field1", b"Hey"), (b"field2", b"Hi"),
                                        (b"field3", b"World")]
    assert store.hkeys(b"myhash") == [b"field1", b"field2", b"field3"]
    assert store.hvals(b"myhash") == [b"Hey", b"Hi", b"World"]
    assert store.hmget(b"myhash", [b"field1", b"nofield"]) == [b"Hey", None]
    assert store.hlen(b"myhash") == 3
    assert store.hexists(b"myhash", b"field2") and not store.hexists(b"myhash", b"x")
    assert store.hstrlen(b"myhash", b"field3") == 5
    assert store.type(b"myhash") == "hash"


def test_hsetnx_and_hdel(store: CacheStore) -> None:
    assert store.hsetnx(b"h", b"f", b"1") is True
    assert store.hsetnx(b"h", b"f", b"2") is False
    assert store.hget(b"h", b"f") == b"1"
    assert store.hdel(b"h", [b"f", b"nofield"]) == 1
    assert store.exists([b"h"]) == 0  # the last field gone deletes the hash
    assert store.stats().bytes_used == 0


def test_hincrby_and_hincrbyfloat_as_documented(store: CacheStore) -> None:
    store.hset(b"myhash", [(b"field", b"5")])
    assert store.hincrby(b"myhash", b"field", 1) == 6
    assert store.hincrby(b"myhash", b"field", -1) == 5
    assert store.hincrby(b"myhash", b"field", -10) == -5
    store.hset(b"mykey", [(b"field", b"10.50")])
    assert store.hincrbyfloat(b"mykey", b"field", b"0.1") == b"10.6"
    assert store.hincrbyfloat(b"mykey", b"field", b"-5") == b"5.6"
    store.hset(b"mykey", [(b"field", b"5.0e3")])
    assert store.hincrbyfloat(b"mykey", b"field", b"2.0e2") == b"5200"


def test_hincr_errors_are_redis_texts(store: CacheStore) -> None:
    store.hset(b"h", [(b"s", b"abc"), (b"big", b"9223372036854775807")])
    assert error(store.hincrby, b"h", b"s", 1).message == "hash value is not an integer"
    assert error(store.hincrby, b"h", b"big", 1).message == (
        "increment or decrement would overflow")
    assert error(store.hincrbyfloat, b"h", b"s", b"1").message == "hash value is not a float"
    assert error(store.hincrbyfloat, b"h", b"s", b"x").message == "value is not a valid float"
    assert error(store.hincrbyfloat, b"h", b"s", b"inf").message == "value is NaN or Infinity"
    assert store.hget(b"h", b"s") == b"abc"
    store.set(b"str", b"v")
    assert error(store.hset, b"str", [(b"f", b"v")]).message == WRONGTYPE
    assert error(store.hget, b"str", b"f").code == "WrongType"
    assert store.get(b"str") == b"v"


def test_hrandfield_counts_as_redis(store: CacheStore) -> None:
    fields = [(b"heads", b"obverse"), (b"tails", b"reverse"), (b"edge", b"null")]
    store.hset(b"coin", fields)
    assert store.hrandfield(b"coin") in {f for f, _ in fields}
    assert sorted(store.hrandfield(b"coin", 5)) == sorted(f for f, _ in fields)  # distinct
    drawn = store.hrandfield(b"coin", -5)
    assert len(drawn) == 5 and set(drawn) <= {f for f, _ in fields}  # with repetition
    assert sorted(store.hrandfield(b"coin", 3, withvalues=True)) == sorted(fields)
    assert store.hrandfield(b"coin", 0) == []
    assert store.hrandfield(b"missing") is None
    assert store.hrandfield(b"missing", 2) == []


def test_hscan_pages_cover_every_field_once(store: CacheStore) -> None:
    store.hset(b"small", [(b"a", b"1"), (b"b", b"2")])
    assert store.hscan(b"small", 0) == (0, [(b"a", b"1"), (b"b", b"2")])  # listpack: whole
    pairs = [(b"f%d" % i, b"v%d" % i) for i in range(300)]
    store.hset(b"big", pairs)
    seen: list[tuple[bytes, bytes]] = []
    cursor = 0
    while True:
        cursor, page = store.hscan(b"big", cursor, count=25)
        seen.extend(page)
        if cursor == 0:
            break
    assert sorted(seen) == sorted(pairs)
    _, matched = store.hscan(b"small", 0, match=b"a*")
    assert matched == [(b"a", b"1")]
    assert error(store.hscan, b"big", 0, count=0).message == "syntax error"


def test_encoding_follows_redis_70_thresholds_and_never_goes_back(store: CacheStore) -> None:
    store.hset(b"h", [(b"f%d" % i, b"v") for i in range(128)])
    assert store.object_encoding(b"h") == "listpack"
    store.hset(b"h", [(b"one-more", b"v")])
    assert store.object_encoding(b"h") == "hashtable"
    store.hdel(b"h", [b"one-more", b"f1"])
    assert store.object_encoding(b"h") == "hashtable"
    store.hset(b"long", [(b"f", b"v" * 65)])
    assert store.object_encoding(b"long") == "hashtable"


def test_a_hash_is_charged_per_field(store: CacheStore) -> None:
    store.hset(b"h", [(b"ab", b"xyz"), (b"c", b"")])
    expected = (len(b"h") + ENTRY_OVERHEAD + HashValue.BASE
                + 2 * HASH_FIELD_COST + len(b"abxyz") + len(b"c"))
    assert store.stats().bytes_used == expected == store.memory_usage(b"h")
    store.hset(b"h", [(b"ab", b"x")])  # a shorter value gives bytes back
    assert store.stats().bytes_used == expected - 2
    store.hdel(b"h", [b"ab", b"c"])
    assert store.stats().bytes_used == 0
