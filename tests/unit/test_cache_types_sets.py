"""CacheStore's sets: the algebra as documented, SPOP/SRANDMEMBER counts, SMOVE, SSCAN,
intset/hashtable encodings."""

from __future__ import annotations

import pytest

from engine.cache.store import WRONGTYPE, CacheStore
from engine.clock import ManualClock
from engine.errors import EngineError


@pytest.fixture
def store() -> CacheStore:
    return CacheStore(1 << 22, ManualClock())


def error(fn, *args, **kw) -> EngineError:
    with pytest.raises(EngineError) as info:
        fn(*args, **kw)
    return info.value


def test_members_as_documented(store: CacheStore) -> None:
    assert store.sadd(b"myset", [b"Hello", b"World", b"World"]) == 2
    assert sorted(store.smembers(b"myset")) == [b"Hello", b"World"]
    assert store.sismember(b"myset", b"Hello") and not store.sismember(b"myset", b"x")
    assert store.smismember(b"myset", [b"Hello", b"nope"]) == [True, False]
    assert store.scard(b"myset") == 2
    assert store.srem(b"myset", [b"Hello", b"nope"]) == 1
    assert store.srem(b"myset", [b"World"]) == 1
    assert store.type(b"myset") == "none"


def test_algebra_documentation_examples(store: CacheStore) -> None:
    store.sadd(b"key1", [b"a", b"b", b"c"])
    store.sadd(b"key2", [b"c", b"d", b"e"])
    assert sorted(store.sinter([b"key1", b"key2"])) == [b"c"]
    assert sorted(store.sunion([b"key1", b"key2"])) == [b"a", b"b", b"c", b"d", b"e"]
    assert sorted(store.sdiff([b"key1", b"key2"])) == [b"a", b"b"]
    assert store.sinter([b"key1", b"missing"]) == []
    assert sorted(store.sdiff([b"key1", b"missing"])) == [b"a", b"b", b"c"]
    assert store.sinterstore(b"out", [b"key1", b"key2"]) == 1
    assert store.smembers(b"out") == [b"c"]
    assert store.sunionstore(b"out", [b"key1", b"key2"]) == 5
    assert store.sdiffstore(b"out", [b"key1", b"key1"]) == 0
    assert store.exists([b"out"]) == 0  # an empty result deletes the destination
    store.sadd(b"key3", [b"a", b"c", b"e"])
    assert store.sintercard([b"key1", b"key2", b"key3"]) == 1
    assert store.sintercard([b"key1", b"key3"], limit=1) == 1
    assert error(store.sintercard, [b"key1"], limit=-1).message == "LIMIT can't be negative"
    store.set(b"str", b"v")
    assert error(store.sunion, [b"key1", b"str"]).message == WRONGTYPE


def test_store_replaces_a_destination_of_any_type_and_its_ttl(store: CacheStore) -> None:
    store.sadd(b"a", [b"1"])
    store.set(b"dest", b"string", px=5000)
    assert store.sunionstore(b"dest", [b"a"]) == 1
    assert store.type(b"dest") == "set"
    assert store.pttl(b"dest") == -1


def test_spop_and_srandmember_counts(store: CacheStore) -> None:
    store.sadd(b"s", [b"one", b"two", b"three"])
    drawn = store.srandmember(b"s", -5)
    assert len(drawn) == 5 and set(drawn) <= {b"one", b"two", b"three"}
    assert sorted(store.srandmember(b"s", 10)) == [b"one", b"three", b"two"]
    assert store.srandmember(b"missing") is None and store.srandmember(b"missing", 3) == []
    popped = store.spop(b"s")
    assert popped in {b"one", b"two", b"three"} and store.scard(b"s") == 2
    assert len(store.spop(b"s", 5)) == 2
    assert store.exists([b"s"]) == 0
    assert store.spop(b"s") is None and store.spop(b"s", 1) == []
    assert error(store.spop, b"s", -1).message == "value is out of range, must be positive"


def test_smove(store: CacheStore) -> None:
    store.sadd(b"myset", [b"one", b"two"])
    store.sadd(b"myotherset", [b"three"])
    assert store.smove(b"myset", b"myotherset", b"two") is True
    assert store.smembers(b"myset") == [b"one"]
    assert sorted(store.smembers(b"myotherset")) == [b"three", b"two"]
    assert store.smove(b"myset", b"myotherset", b"nope") is False
    assert store.smove(b"missing", b"myotherset", b"one") is False
    assert store.smove(b"myset", b"new", b"one") is True
    assert store.exists([b"myset"]) == 0 and store.smembers(b"new") == [b"one"]


def test_sscan_covers_every_member(store: CacheStore) -> None:
    members = [b"m%d" % i for i in range(200)]
    store.sadd(b"s", members)
    seen: list[bytes] = []
    cursor = 0
    while True:
        cursor, page = store.sscan(b"s", cursor, count=20)
        seen.extend(page)
        if cursor == 0:
            break
    assert sorted(seen) == sorted(members)
    store.sadd(b"ints", [b"1", b"2", b"3"])
    assert sorted(store.sscan(b"ints", 0, match=b"[12]")[1]) == [b"1", b"2"]


@pytest.mark.parametrize(("members", "encoding"), [
    ([b"1", b"2", b"-3"], "intset"),
    ([b"1", b"a"], "hashtable"),
    ([b"01"], "hashtable"),  # not how Redis writes an integer
    ([b"%d" % i for i in range(512)], "intset"),
    ([b"%d" % i for i in range(513)], "hashtable"),
])
def test_encoding_follows_redis_70(store: CacheStore, members: list[bytes], encoding: str
                                   ) -> None:
    store.sadd(b"s", members)
    assert store.object_encoding(b"s") == encoding
