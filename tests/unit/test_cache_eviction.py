"""The cache store's maxmemory policies (engine/cache/eviction.py): which key goes, which
stays, OOM that changes nothing, and byte accounting that stays exact, on the engine clock."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cache.eviction import POLICIES
from engine.cache.store import ENTRY_OVERHEAD, CacheStore, charge
from engine.cache.value_records import encode_value
from engine.clock import ManualClock
from engine.errors import EngineError

OOM = "OOM command not allowed when used memory > 'maxmemory'."
V = b"v" * 40  # every test value: each entry costs the same
ENTRY = 2 + len(V) + ENTRY_OVERHEAD  # a two-byte key with V


def make(entries: int, policy: str, seed: int = 7) -> tuple[CacheStore, ManualClock]:
    """A store with room for exactly ``entries`` two-byte keys holding V."""
    clock = ManualClock()
    return CacheStore(entries * ENTRY, clock, policy=policy, rng=random.Random(seed)), clock


def snapshot(store: CacheStore) -> dict[bytes, tuple[object, int | None]]:
    """Every live key's value (collections serialized) and expiry."""
    state = {}
    for key in store.stored_keys():
        found = store.peek(key)
        if found is None:
            continue  # expired, not yet dropped
        value, at = found
        state[key] = (encode_value(value), at)  # what a replica would be sent
    return state


def assert_exact(store: CacheStore) -> None:
    """bytes_used is the sum of every stored entry's charge (expired ones included)."""
    entries = store._data  # the invariant is about the store's own entries
    assert store.stats().bytes_used == sum(charge(k, v) for k, v in entries.items())


def oom(fn, *args, **kw) -> None:
    with pytest.raises(EngineError) as info:
        fn(*args, **kw)
    assert info.value.code == "OOM" and info.value.message == OOM


# -- which key goes ----------------------------------------------------------------------


def test_allkeys_lru_is_the_default_and_takes_the_least_recently_used() -> None:
    store, _ = make(3, "allkeys-lru")
    assert CacheStore(1000, ManualClock()).policy == "allkeys-lru"
    for key in (b"k1", b"k2", b"k3"):
        store.set(key, V)
    store.get(b"k1")
    store.set(b"k4", V)
    assert sorted(store.stored_keys()) == [b"k1", b"k3", b"k4"]
    assert store.stats().evictions == 1
    assert_exact(store)


def test_volatile_lru_takes_the_least_recently_used_key_with_a_ttl() -> None:
    store, _ = make(4, "volatile-lru")
    store.set(b"p1", V)  # no TTL: never a candidate, though least recently used
    store.set(b"t1", V, px=60_000)
    store.set(b"t2", V, px=60_000)
    store.set(b"p2", V)
    store.get(b"t1")  # t2 is now the least recently used key with a TTL
    store.set(b"k5", V)
    assert sorted(store.stored_keys()) == [b"k5", b"p1", b"p2", b"t1"]
    store.persist(b"t1")  # no TTL any more: no candidate left
    snap, used = snapshot(store), store.stats().bytes_used
    oom(store.set, b"k6", V)
    assert snapshot(store) == snap and store.stats().bytes_used == used
    assert_exact(store)


def test_allkeys_lfu_keeps_the_frequently_used_key_over_the_recent_one() -> None:
    store, _ = make(3, "allkeys-lfu")
    for key in (b"k1", b"k2", b"k3"):
        store.set(key, V)
    for _ in range(50):
        store.get(b"k1")
        store.get(b"k2")
    store.get(b"k3")  # most recently used, but used once: LRU would keep it
    store.set(b"k4", V)
    assert sorted(store.stored_keys()) == [b"k1", b"k2", b"k4"]
    assert store.object_freq(b"k1") > store.object_freq(b"k4") == 5  # LFU_INIT_VAL
    assert_exact(store)


def test_lfu_counters_decay_one_per_minute_of_the_engine_clock() -> None:
    store, clock = make(2, "allkeys-lfu")
    store.set(b"k1", V)
    for _ in range(300):
        store.get(b"k1")
    hot = store.object_freq(b"k1")
    assert hot is not None and hot > 7
    clock.advance(3 * 60)
    assert store.object_freq(b"k1") == hot - 3
    clock.advance(60 * 60)
    store.set(b"k2", V)  # a fresh key: 5
    store.get(b"k1")  # k1 was hot but decayed to 0, so one use makes it 1
    assert store.object_freq(b"k1") == 1
    store.set(b"k3", V)
    assert sorted(store.stored_keys()) == [b"k2", b"k3"]  # k1 went, though used last


def test_object_freq_needs_an_lfu_policy() -> None:
    store, _ = make(2, "allkeys-lru")
    store.set(b"k1", V)
    assert store.object_freq(b"nope") is None  # the key is looked up first, as in Redis
    with pytest.raises(EngineError, match="An LFU maxmemory policy is not selected"):
        store.object_freq(b"k1")
    store.set_policy("volatile-lfu")
    assert store.object_freq(b"k1") == 5 and store.object_freq(b"nope") is None


def test_volatile_lfu_only_evicts_keys_with_a_ttl() -> None:
    store, _ = make(3, "volatile-lfu")
    store.set(b"p1", V)  # never used again, the least frequent: not a candidate
    store.set(b"t1", V, px=60_000)
    store.set(b"t2", V, px=60_000)
    for _ in range(50):
        store.get(b"t1")
    store.set(b"k4", V)
    assert sorted(store.stored_keys()) == [b"k4", b"p1", b"t1"]
    store.set(b"k5", V)  # t1, however frequent, is the last key with a TTL
    assert sorted(store.stored_keys()) == [b"k4", b"k5", b"p1"]
    oom(store.set, b"k6", V)
    assert_exact(store)


def test_volatile_ttl_takes_the_nearest_expiry() -> None:
    store, _ = make(4, "volatile-ttl")
    store.set(b"p1", V)
    store.set(b"t1", V, px=10_000)
    store.set(b"t2", V, px=50_000)
    store.set(b"t3", V, px=90_000)
    store.expire(b"t1", px=70_000)  # t1's old heap entry is stale now: t2 is nearest
    store.set(b"k5", V)
    assert sorted(store.stored_keys()) == [b"k5", b"p1", b"t1", b"t3"]
    store.set(b"k6", V)
    assert sorted(store.stored_keys()) == [b"k5", b"k6", b"p1", b"t3"]
    assert store.stats().evictions == 2
    assert_exact(store)


def test_expired_keys_go_before_any_live_key_under_every_policy() -> None:
    for policy in POLICIES:
        store, clock = make(3, policy)
        store.set(b"p1", V)
        store.set(b"t1", V, px=1000)
        store.set(b"p2", V)
        clock.advance(2)
        store.set(b"k4", V)  # even noeviction: dropping an expired key is expiry
        assert sorted(store.stored_keys()) == [b"k4", b"p1", b"p2"], policy
        assert store.stats().evictions == 0 and store.stats().expirations == 1


@pytest.mark.parametrize("policy", ["allkeys-random", "volatile-random"])
def test_random_policies_evict_only_candidates_and_never_the_written_key(policy) -> None:
    store, _ = make(10, policy)
    volatile = policy.startswith("volatile")
    for i in range(5):
        store.set(b"p%d" % i, V)
    for i in range(200):
        key = b"%02d" % (i % 100)
        store.set(key, V, px=60_000 if volatile else None)
        assert store.peek(key) is not None and store.stats().bytes_used <= store.budget
    keys = store.stored_keys()
    assert len(keys) == 10
    if volatile:
        assert {b"p0", b"p1", b"p2", b"p3", b"p4"} <= set(keys)
    assert_exact(store)


# -- noeviction and OOM ------------------------------------------------------------------


def test_noeviction_refuses_growing_writes_and_changes_nothing() -> None:
    store, _ = make(12, "noeviction")
    store.rpush(b"li", [b"a"])
    store.hset(b"hh", [(b"f", b"v")])
    store.set(b"k1", V)
    fill = store.budget - store.stats().bytes_used - (2 + ENTRY_OVERHEAD)
    store.set(b"f1", b"f" * fill)
    snap, used = snapshot(store), store.stats().bytes_used
    assert used == store.budget  # each write below fits alone, not with the rest
    oom(store.set, b"k4", V)
    oom(store.mset, [(b"k1", b"v"), (b"k5", V)])
    oom(store.append, b"k1", b"m" * 100)
    oom(store.rpush, b"li", [b"b" * 100])
    oom(store.lset, b"li", 0, b"c" * 100)
    oom(store.linsert, b"li", True, b"a", b"d" * 100)
    oom(store.hset, b"hh", [(b"g", b"x" * 100)])
    oom(store.sadd, b"new", [b"m"])
    oom(store.zadd, b"new", [(b"1", b"m")])
    oom(store.copy, b"k1", b"k9")
    assert snapshot(store) == snap and store.stats().bytes_used == used
    assert store.stats().evictions == 0
    # reads, writes that do not grow, and deletes still work
    assert store.get(b"k1") == V and store.lrange(b"li", 0, -1) == [b"a"]
    assert store.set(b"k1", b"w" * len(V)) == (True, None)
    assert store.set(b"k1", b"short") == (True, None)
    assert store.delete([b"hh"]) == 1
    store.set(b"k4", V)  # room again
    assert store.get(b"k4") == V and store.stats().bytes_used <= store.budget
    assert_exact(store)


def test_volatile_policy_without_enough_candidates_refuses_and_evicts_nothing() -> None:
    store, _ = make(3, "volatile-lru")
    store.set(b"t1", V, px=60_000)
    store.set(b"p1", V)
    store.set(b"p2", V)
    snap = snapshot(store)
    oom(store.set, b"k4", V * 3)  # t1 alone would not make room: t1 stays
    assert snapshot(store) == snap and store.stats().evictions == 0
    store.set(b"k4", V)  # t1 does make room for this one
    assert sorted(store.stored_keys()) == [b"k4", b"p1", b"p2"]
    assert_exact(store)


def test_mset_never_evicts_its_own_keys() -> None:
    for policy in ("allkeys-lfu", "allkeys-random", "allkeys-lru"):
        store, _ = make(4, policy)
        for i in range(50):
            pairs = [(b"%02d" % ((i * 3 + j) % 40), V) for j in range(3)]
            store.mset(pairs)
            for key, _ in pairs:
                assert store.get(key) == V, policy
        assert_exact(store)


def test_lmove_into_a_new_list_keeps_the_destination_under_lfu() -> None:
    store, _ = make(8, "allkeys-lfu")
    store.rpush(b"src", [b"a" * 30, b"b" * 30])
    fill = store.budget - store.stats().bytes_used
    store.set(b"k1", V)
    store.set(b"k2", b"f" * (fill - ENTRY - 2 - ENTRY_OVERHEAD))
    assert store.stats().bytes_used == store.budget
    for _ in range(20):
        store.get(b"k1")
        store.get(b"k2")
        store.lrange(b"src", 0, 0)
    # the new destination (counter 5) is the least frequent key while the source settles
    assert store.lmove(b"src", b"dst", "LEFT", "RIGHT") == b"a" * 30
    assert store.lrange(b"dst", 0, -1) == [b"a" * 30]
    assert store.stats().bytes_used <= store.budget
    assert_exact(store)


def test_smove_keeps_its_source_while_the_destination_takes_room() -> None:
    for seed in range(40):  # allkeys-random may draw the source: it must never get it
        store, _ = make(6, "allkeys-random", seed)
        store.sadd(b"src", [b"m1", b"m2"])
        while store.stats().bytes_used + ENTRY <= store.budget:
            store.set(b"f%d" % len(store.stored_keys()), V)
        assert store.smove(b"src", b"dst", b"m1") is True
        assert set(store.smembers(b"dst")) == {b"m1"}
        assert set(store.smembers(b"src")) in ({b"m2"}, set())  # empty: evicted after
        assert_exact(store)


# -- CONFIG SET: budget and policy at run time -------------------------------------------


def test_lowering_the_budget_evicts_at_once_by_the_policy() -> None:
    store, _ = make(4, "allkeys-lru")
    for key in (b"k1", b"k2", b"k3", b"k4"):
        store.set(key, V)
    store.get(b"k1")
    store.set_budget(2 * ENTRY)
    assert sorted(store.stored_keys()) == [b"k1", b"k4"]
    assert store.budget == 2 * ENTRY and store.stats().evictions == 2
    with pytest.raises(ValueError):
        store.set_budget(0)


def test_lowering_the_budget_under_noeviction_keeps_the_data_and_refuses_writes() -> None:
    store, _ = make(4, "noeviction")
    for key in (b"k1", b"k2", b"k3", b"k4"):
        store.set(key, V)
    store.set_budget(2 * ENTRY)
    assert len(store.stored_keys()) == 4 and store.stats().bytes_used == 4 * ENTRY
    oom(store.set, b"k5", V)
    oom(store.append, b"k1", b"x")
    assert store.get(b"k2") == V
    store.delete([b"k1", b"k2", b"k3"])
    store.set(b"k5", V)  # 2 entries fit again
    assert sorted(store.stored_keys()) == [b"k4", b"k5"]
    store.set_budget(ENTRY)  # a policy that evicts takes effect on the next switch
    store.set_policy("allkeys-lru")
    assert store.stored_keys() == [b"k5"] and store.policy == "allkeys-lru"


def test_switching_policy_indexes_the_existing_keys() -> None:
    store, _ = make(4, "allkeys-lru")
    store.set(b"t1", V, px=60_000)
    store.set(b"t2", V, px=60_000)
    store.set(b"p1", V)
    store.get(b"t1")
    store.set_policy("volatile-lru")
    store.set(b"p2", V)
    store.set(b"p3", V)  # t2 is the least recently used key with a TTL
    assert sorted(store.stored_keys()) == [b"p1", b"p2", b"p3", b"t1"]
    with pytest.raises(ValueError):
        store.set_policy("allkeys-fifo")
    assert store.policy == "volatile-lru"


def test_flushall_forgets_the_policy_index() -> None:
    for policy in POLICIES:
        store, _ = make(2, policy)
        store.set(b"k1", V, px=60_000)
        store.set(b"k2", V, px=60_000)
        store.flushall()
        store.set(b"k3", V, px=60_000)
        store.set(b"k4", V, px=60_000)
        if policy != "noeviction":
            store.set(b"k5", V, px=60_000)
            assert len(store.stored_keys()) == 2, policy
        assert_exact(store)


# -- the accounting stays exact whatever the policy --------------------------------------

OPS = st.lists(st.tuples(
    st.sampled_from(["set", "setex", "get", "del", "rpush", "sadd", "expire", "persist",
                     "mset", "append", "tick", "budget", "policy", "lmove", "hset",
                     "smove"]),
    st.integers(0, 7), st.integers(0, 120)), max_size=60)


@settings(max_examples=150, deadline=None)
@given(policy=st.sampled_from(POLICIES), ops=OPS, seed=st.integers(0, 1000))
def test_any_sequence_keeps_bytes_exact_and_within_budget(policy, ops, seed) -> None:
    store, clock = make(6, policy, seed)
    for op, k, n in ops:
        key = b"k%d" % k
        grows = not store.policy.startswith("allkeys")
        snap = snapshot(store)
        try:
            if op == "set":
                store.set(key, b"x" * n)
            elif op == "setex":
                store.set(key, b"x" * n, px=1 + n * 100)
            elif op == "get":
                store.get(key)
            elif op == "del":
                store.delete([key])
            elif op == "rpush":
                store.rpush(b"L" + key, [b"y" * n])
            elif op == "sadd":
                store.sadd(b"S" + key, [b"m%d" % n])
            elif op == "expire":
                store.expire(key, px=1 + n * 100)
            elif op == "persist":
                store.persist(key)
            elif op == "mset":
                store.mset([(key, b"a" * n), (b"k%d" % ((k + 1) % 8), b"b")])
            elif op == "append":
                store.append(key, b"z" * n)
            elif op == "lmove":
                store.lmove(b"L" + key, b"L" + b"k%d" % ((k + n) % 8), "LEFT", "RIGHT")
            elif op == "hset":
                store.hset(b"H" + key, [(b"f%d" % (n % 5), b"h" * n)])
            elif op == "smove":
                store.smove(b"S" + key, b"S" + b"k%d" % ((k + 1) % 8), b"m%d" % n)
            elif op == "tick":
                clock.advance(n * 5)
            elif op == "budget":
                store.set_budget((2 + k) * ENTRY)
            else:
                store.set_policy(POLICIES[k])
        except EngineError as err:
            assert err.code in ("OOM", "WrongType"), err
            if err.code == "OOM" and grows:  # expired keys may go; nothing visible does
                assert snapshot(store) == snap
        assert_exact(store)
        if store.policy.startswith("allkeys") and op != "budget":
            assert store.stats().bytes_used <= store.budget
