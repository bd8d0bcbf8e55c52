"""Key commands over every type (TYPE, RENAME, COPY, KEYS, SCAN, RANDOMKEY, OBJECT, MEMORY
USAGE) and the store's rules for typed values: TTLs, the byte budget, LRU eviction, OOM."""

from __future__ import annotations

import tracemalloc

import pytest

from engine.cache.store import CacheStore
from engine.cache.types.values import HashValue, ListValue, SetValue, ZSetValue
from engine.clock import ManualClock
from engine.errors import EngineError


def make(budget: int = 1 << 22) -> tuple[CacheStore, ManualClock]:
    clock = ManualClock()
    return CacheStore(budget, clock), clock


def error(fn, *args, **kw) -> EngineError:
    with pytest.raises(EngineError) as info:
        fn(*args, **kw)
    return info.value


def fill(store: CacheStore) -> None:
    store.set(b"str", b"v")
    store.hset(b"hash", [(b"f", b"v")])
    store.rpush(b"list", [b"a", b"b"])
    store.sadd(b"set", [b"m"])
    store.zadd(b"zset", [(b"1", b"m")])


def test_type_names_every_type() -> None:
    store, _ = make()
    fill(store)
    assert [store.type(k) for k in (b"str", b"hash", b"list", b"set", b"zset", b"none")] == [
        "string", "hash", "list", "set", "zset", "none"]
    assert store.dbsize() == 5
    assert sorted(store.keys(b"*")) == [b"hash", b"list", b"set", b"str", b"zset"]
    assert sorted(store.keys(b"?et")) == [b"set"]


def test_ttls_apply_to_every_type_and_expired_collections_leave_memory() -> None:
    store, clock = make()
    fill(store)
    for key in (b"hash", b"list", b"set", b"zset"):
        assert store.expire(key, px=1000)
    assert store.persist(b"hash") is True and store.persist(b"hash") is False
    clock.advance(1.01)
    assert store.llen(b"list") == 0 and store.type(b"set") == "none"
    assert store.zscore(b"zset", b"m") is None
    assert store.hget(b"hash", b"f") == b"v"  # persisted
    assert store.sweep() == 0  # list, set and zset already went lazily
    assert store.stats().keys == 2
    assert store.stats().bytes_used == sum(store.memory_usage(k) for k in (b"str", b"hash"))


def test_sweep_drops_expired_collections() -> None:
    store, clock = make()
    store.sadd(b"s", [b"a", b"b"])
    store.expire(b"s", px=10)
    clock.advance(1)
    assert store.sweep() == 1
    assert store.stats().bytes_used == 0


def test_collections_are_evicted_least_recently_used_first() -> None:
    store, _ = make(4000)
    store.rpush(b"old", [b"x"])  # 800 + 42 + 1 + 3 + 160
    store.sadd(b"mid", [b"1"])
    store.hset(b"new", [(b"f", b"v")])
    store.llen(b"old")  # a use: old is now the most recent
    store.zadd(b"big", [(b"1", b"m" * 1500)])  # needs room: mid goes first, then new
    assert store.type(b"mid") == "none" and store.type(b"new") == "none"
    assert store.type(b"old") == "list" and store.type(b"big") == "zset"
    assert store.stats().bytes_used <= 4000
    assert store.stats().evictions == 2


def test_a_collection_that_would_outgrow_the_budget_is_oom_and_unchanged() -> None:
    store, _ = make(2000)
    store.sadd(b"s", [b"a"])
    err = error(store.sadd, b"s", [b"x" * 2000])
    assert err.code == "OOM"
    assert store.smembers(b"s") == [b"a"]
    assert error(store.rpush, b"fresh", [b"x" * 2000]).code == "OOM"
    assert store.exists([b"fresh"]) == 0


def test_rename_moves_value_and_ttl() -> None:
    store, _ = make()
    fill(store)
    store.expire(b"hash", px=5000)
    store.rename(b"hash", b"renamed")
    assert store.hget(b"renamed", b"f") == b"v" and store.pttl(b"renamed") == 5000
    assert store.exists([b"hash"]) == 0
    store.rename(b"list", b"str")  # replaces a key of another type
    assert store.lrange(b"str", 0, -1) == [b"a", b"b"]
    assert store.renamenx(b"set", b"zset") is False
    assert store.renamenx(b"set", b"set2") is True
    assert error(store.rename, b"nosuch", b"x").message == "no such key"
    store.rename(b"set2", b"set2")  # the same name: nothing to do
    assert store.type(b"set2") == "set"


def test_copy_is_deep() -> None:
    store, _ = make()
    fill(store)
    assert store.copy(b"list", b"list2") is True
    store.rpush(b"list2", [b"c"])
    assert store.lrange(b"list", 0, -1) == [b"a", b"b"]
    assert store.copy(b"set", b"list2") is False
    assert store.copy(b"set", b"list2", replace=True) is True
    assert store.type(b"list2") == "set"
    assert store.copy(b"nosuch", b"x") is False
    assert error(store.copy, b"set", b"set").message == (
        "source and destination objects are the same")
    assert store.stats().bytes_used == sum(store.memory_usage(k) for k in store.keys(b"*"))


def test_scan_visits_every_key_once_and_filters_by_type_and_match() -> None:
    store, _ = make()
    for i in range(100):
        store.set(b"s%d" % i, b"v")
        store.sadd(b"t%d" % i, [b"m"])
    seen: list[bytes] = []
    cursor = 0
    while True:
        cursor, page = store.scan(cursor, count=7)
        seen.extend(page)
        if cursor == 0:
            break
    assert sorted(seen) == sorted(store.keys(b"*")) and len(seen) == 200
    sets: list[bytes] = []
    cursor = 0
    while True:
        cursor, page = store.scan(cursor, count=50, type="set", match=b"t1*")
        sets.extend(page)
        if cursor == 0:
            break
    assert sorted(sets) == sorted([b"t1"] + [b"t1%d" % i for i in range(10)])


def test_randomkey_skips_expired_keys() -> None:
    store, clock = make()
    assert store.randomkey() is None
    store.set(b"gone", b"v", px=1)
    store.set(b"kept", b"v")
    clock.advance(0.01)
    assert {store.randomkey() for _ in range(20)} == {b"kept"}


def test_object_idletime_counts_seconds_since_the_last_use() -> None:
    store, clock = make()
    store.hset(b"h", [(b"f", b"v")])
    clock.advance(5)
    assert store.object_idletime(b"h") == 5
    assert store.type(b"h") == "hash"  # TYPE is not a use
    assert store.object_idletime(b"h") == 5
    store.hget(b"h", b"f")
    assert store.object_idletime(b"h") == 0
    assert store.object_idletime(b"missing") is None
    assert store.object_encoding(b"missing") is None


@pytest.mark.parametrize(("build", "add"), [
    (HashValue, lambda v, i: v.put(b"%08d" % i, b"%08d" % i)),
    (ListValue, lambda v, i: (v.items.append(b"%08d" % i), v.charge([b"%08d" % i], 1))),
    (SetValue, lambda v, i: v.add(b"%08d" % i)),
    (ZSetValue, lambda v, i: v.put(b"%08d" % i, i * 1.5)),
])
def test_charges_are_what_python_really_allocates(build, add) -> None:
    tracemalloc.start()
    value = build()
    for i in range(20_000):
        add(value, i)
    real, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # hash tables' share per entry swings with their fullness: the charge is its middle
    assert 0.65 <= value.nbytes / real <= 1.35
