"""CacheStore micro-benchmarks: the per-operation cost of the exact LRU and TTL bookkeeping.

Each timed call runs ``OPS`` operations (a single one takes well under a microsecond, close
to the timer's own overhead), so divide the reported time by ``extra_info["ops_per_call"]``
for the cost of one: set (overwrite), set of a new key into a full store (one eviction
each), get hit, get miss, and the active-expiry sweep of ``OPS`` expired keys. Keys are
16 bytes and values 100 bytes, a typical session/counter entry.

Run with:
    .venv/bin/python -m pytest bench/test_bench_cache_store.py --benchmark-only
"""

from __future__ import annotations

import itertools
import random

import pytest

from engine.cache.store import ENTRY_OVERHEAD, CacheStore
from engine.clock import ManualClock

KEYS = 100_000
OPS = 1000
VALUE = b"v" * 100
ENTRY = 16 + len(VALUE) + ENTRY_OVERHEAD


def _keys(count: int, prefix: bytes = b"k") -> list[bytes]:
    return [prefix + b"%015d" % i for i in range(count)]


@pytest.fixture(scope="module")
def keys() -> list[bytes]:
    return _keys(KEYS)


@pytest.fixture
def full_store(keys: list[bytes]) -> CacheStore:
    """A store whose budget holds exactly the ``KEYS`` entries it already has."""
    store = CacheStore(KEYS * ENTRY, ManualClock())
    for key in keys:
        store.set(key, VALUE)
    assert store.stats().bytes_used == store.budget
    return store


def _sample(keys: list[bytes]) -> list[bytes]:
    """OPS keys in random order, so the LRU list is not walked in insertion order."""
    return random.Random(7).sample(keys, OPS)


def _run(benchmark, fn, group: str) -> None:
    benchmark.group = "cache store"
    benchmark.name = group
    benchmark.extra_info["ops_per_call"] = OPS
    benchmark.pedantic(fn, rounds=200, warmup_rounds=5)


def test_set_overwrite(benchmark, full_store: CacheStore, keys: list[bytes]) -> None:
    batch = _sample(keys)

    def run() -> None:
        for key in batch:
            full_store.set(key, VALUE)

    _run(benchmark, run, "set (overwrite)")
    assert full_store.stats().evictions == 0


def test_set_with_eviction(benchmark, full_store: CacheStore) -> None:
    fresh = (b"n" + b"%015d" % i for i in itertools.count())

    def run() -> None:
        for _ in range(OPS):
            full_store.set(next(fresh), VALUE)

    _run(benchmark, run, "set new key, evicting one")
    stats = full_store.stats()
    assert stats.evictions >= OPS and stats.bytes_used <= stats.budget


def test_get_hit(benchmark, full_store: CacheStore, keys: list[bytes]) -> None:
    batch = _sample(keys)

    def run() -> None:
        for key in batch:
            full_store.get(key)

    _run(benchmark, run, "get hit")
    assert full_store.stats().misses == 0


def test_get_miss(benchmark, full_store: CacheStore) -> None:
    batch = _keys(OPS, b"m")

    def run() -> None:
        for key in batch:
            full_store.get(key)

    _run(benchmark, run, "get miss")
    assert full_store.stats().hits == 0


def test_sweep(benchmark) -> None:
    """Active expiry of OPS expired keys among KEYS live ones (heap pops + removals)."""
    clock = ManualClock()
    store = CacheStore(2 * KEYS * ENTRY, clock)
    for key in _keys(KEYS):
        store.set(key, VALUE, px=10**9)
    expiring = _keys(OPS, b"e")

    def setup() -> tuple[tuple, dict]:
        for index, key in enumerate(expiring):
            store.set(key, VALUE, px=1 + index % 50)
        clock.advance(0.1)
        return (), {}

    def run() -> None:
        assert store.sweep(limit=OPS) == OPS

    benchmark.group = "cache store"
    benchmark.name = "sweep (per expired key)"
    benchmark.extra_info["ops_per_call"] = OPS
    benchmark.pedantic(run, setup=setup, rounds=200, warmup_rounds=5)
    assert store.stats().keys == KEYS
