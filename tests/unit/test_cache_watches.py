"""WATCH's per-key signal in the store (engine/cache/watches.py, keyspace.py): every kind
of change to a watched key dirties the watch, reads and other keys do not, and nothing
is kept for keys nobody watches."""

from __future__ import annotations

import pytest

from engine.cache.store import CacheStore
from engine.cache.watches import KeyWatch
from engine.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> CacheStore:
    s = CacheStore(1 << 20, clock)
    s.set(b"k", b"v")
    s.hset(b"h", [(b"f", b"1")])
    return s


def watching(store: CacheStore, *keys: bytes) -> KeyWatch:
    w = KeyWatch()
    store.watch(w, list(keys))
    return w


def test_reads_and_other_keys_leave_the_watch_intact(store):
    w = watching(store, b"k", b"h")
    store.get(b"k")
    store.hget(b"h", b"f")
    store.set(b"other", b"x")
    store.delete([b"missing"])
    assert store.watch_intact(w)


@pytest.mark.parametrize("change", [
    lambda s: s.set(b"k", b"v"),  # the same value still counts, as in Redis
    lambda s: s.delete([b"k"]),
    lambda s: s.append(b"k", b"!"),
    lambda s: s.expire(b"k", px=10_000),
    lambda s: s.hset(b"h", [(b"g", b"2")]),
    lambda s: s.rename(b"k", b"h"),
    lambda s: s.flushall(),
])
def test_every_kind_of_write_dirties_it(store, change):
    w = watching(store, b"k", b"h")
    change(store)
    assert not store.watch_intact(w)


def test_an_expiry_after_watch_dirties_it_one_before_does_not(store, clock):
    store.set(b"gone", b"x", px=1000)
    store.set(b"soon", b"x", px=5000)
    clock.advance(2)
    w = watching(store, b"gone", b"soon")
    assert store.watch_intact(w)
    clock.advance(4)  # "soon" expires; nobody reads it: EXEC's check finds it
    assert not store.watch_intact(w)


def test_eviction_of_a_watched_key_dirties_it(clock):
    store = CacheStore(2000, clock)
    store.set(b"old", b"x" * 500)
    w = watching(store, b"old")
    store.set(b"new", b"y" * 900)
    store.set(b"newer", b"z" * 900)
    assert store.get(b"old") is None and not store.watch_intact(w)


def test_unwatched_keys_cost_nothing(store):
    w = watching(store, b"k", b"nope")
    assert set(store.watches.by_key) == {b"k", b"nope"}
    store.watches.drop(w)
    assert store.watches.by_key == {} and w.keys == set()
    store.set(b"k", b"new")
    assert store.watch_intact(w)
