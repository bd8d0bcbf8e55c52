"""One node's share of the cache tier: Redis's data types in a byte budget with a maxmemory
policy (engine/cache/eviction.py; exact LRU by default).

:class:`CacheStore` holds keys of Redis's five types (string, hash, list, set, sorted
set) with Redis 7.0's semantics and error texts, TTLs on the engine clock (tests move time
with a ``ManualClock`` instead of sleeping), and one byte budget for all of them. The
commands live in one module per type (strings.py, keys.py, types/hashes.py, types/lists.py,
types/sets.py, types/zsets.py), all on the core in keyspace.py; this class puts them
together and adds what replication and the node's upkeep need.

Invariants (each has a unit test):

- The budget is never exceeded: after any call returns, ``bytes_used <= budget``. A write
  evicts entries as the maxmemory policy picks them (least recently used by default)
  until it fits; an entry that cannot fit even in an empty store is refused with ``OOM``
  and changes nothing, and so is a write that grows memory when the policy cannot free
  enough (noeviction; volatile-* short of keys with a TTL). Two exceptions, as in Redis:
  lowering the budget (:meth:`set_budget`) under such a policy keeps the data, and
  :meth:`load` (a replica's copy, as Redis's replica-ignore-maxmemory) is never refused
  by the policy; both leave the store over budget until keys go.
- An expired key is never returned. Expiry is lazy (checked on every access) and active
  (:meth:`CacheStore.sweep`, driven by the node's timer), so expired keys do not keep
  holding memory. As in Redis a key with expiry ``T`` (Unix ms) is live while
  ``now_ms <= T``; SET/EXPIRE with a time at or before now delete the key at once.
- LRU order is exact (an ``OrderedDict`` moved to the end on each use), not Redis's
  sampled approximation: allkeys-lru always removes the least recently used key, and the
  other policies are exact too (eviction.py). Before evicting live data, already-expired
  keys are dropped first (they count as expirations).
- A command on a key of another type raises WRONGTYPE and changes nothing; a collection
  left empty is deleted, as Redis deletes it.

Which calls count as a use (move a key to most-recently-used), as in Redis: GET, MGET,
SET (also when NX/XX stops it), INCRBY, EXPIRE on an existing key, and every command of
the collection types. EXISTS, PTTL, TYPE, OBJECT, MEMORY USAGE and :meth:`CacheStore.peek`
do not (Redis looks those up with ``LOOKUP_NOTOUCH``).

Concurrency: the store is called from the node's single asyncio loop and never awaits, so
every method runs to completion without interleaving; it has no locks and must not be
shared across threads.
"""

from __future__ import annotations

from engine.cache.eviction import Lfu
from engine.cache.keys import KeyCommands
from engine.cache.keyspace import (
    DEFAULT_BUDGET,
    ENTRY_OVERHEAD,
    INT64_MAX,
    INT64_MIN,
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    WRONGTYPE,
    CacheStats,
    charge,
)
from engine.cache.strings import StringCommands, parse_redis_int
from engine.cache.types.hashes import HashCommands
from engine.cache.types.lists import ListCommands
from engine.cache.types.sets import SetCommands
from engine.cache.types.values import Value
from engine.cache.types.zsets import ZSetCommands
from engine.errors import EngineError

LFU_NOT_SELECTED = (
    "An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some "
    "time to adjust.")

__all__ = [
    "DEFAULT_BUDGET", "ENTRY_OVERHEAD", "INT64_MAX", "INT64_MIN", "MAX_KEY_BYTES",
    "MAX_VALUE_BYTES", "WRONGTYPE", "CacheStats", "CacheStore", "parse_redis_int",
]


class CacheStore(StringCommands, KeyCommands, HashCommands, ListCommands, SetCommands,
                 ZSetCommands):
    """A byte-bounded exact-LRU keyspace with Redis's data types."""

    # -- upkeep and replication ----------------------------------------------------------

    def sweep(self, limit: int = 1000) -> int:
        """Active expiry: remove up to ``limit`` expired keys, soonest first; how many.

        The node calls this on a timer so keys nobody reads again still free their bytes.
        """
        now = self._now_ms()
        removed = 0
        while removed < limit and self._pop_expired(now):
            removed += 1
        return removed

    def object_freq(self, key: bytes) -> int | None:
        """OBJECT FREQ: the key's LFU counter, decayed to now (None: no such key). Only
        an LFU policy tracks it; otherwise Redis's error (after the lookup, as Redis)."""
        now = self._now_ms()
        if self._live(key, now) is None:
            return None
        if not isinstance(self._policy, Lfu):
            raise EngineError("InvalidArgument", LFU_NOT_SELECTED)
        return self._policy.counter(key, now)

    def stats(self) -> CacheStats:
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            evictions=self._evictions,
            expirations=self._expirations,
            keys=len(self._data),
            bytes_used=self._used,
            budget=self.budget,
        )

    def stored_keys(self) -> list[bytes]:
        """Every stored key (expired ones included), as of now; for a replica's hand-back."""
        return list(self._data)

    def peek(self, key: bytes) -> tuple[Value, int | None] | None:
        """(value, expiry in Unix ms or None), or None; for replication.

        A string comes back as ``bytes`` (a ``bytearray`` after APPEND/SETRANGE, which
        compares equal); a collection as the stored object itself. Either is to be
        encoded (engine/cache/value_records.py) before the store changes again. Touches
        nothing: no stats, no LRU move, and an expired key is reported missing but left
        for lazy expiry or the sweep to count.
        """
        value = self._data.get(key)
        if value is None:
            return None
        at = self._expires.get(key)
        if at is not None and self._now_ms() > at:
            return None
        return value, at

    def load(self, key: bytes, value: Value | None, expire_at_ms: int | None) -> None:
        """Install exactly this state (None value: absent); for replication.

        The entry becomes most recently used and may evict others. If it is refused (too
        large, OOM) the key is removed before the error is raised, so a replica never keeps
        a stale value its primary has replaced. A collection is stored as given (the
        caller hands over a freshly decoded one).
        """
        if value is None or (not isinstance(value, bytes | bytearray) and not len(value)):
            if key in self._data:
                self._remove(key)
            return
        try:
            if isinstance(value, bytes | bytearray):
                size = self._entry_size(key, value)
            else:
                self._check_key(key)
                size = charge(key, value)
            self._check_fits(size)
        except EngineError:
            if key in self._data:
                self._remove(key)
            raise
        if expire_at_ms is not None and self._now_ms() > expire_at_ms:
            if key in self._data:
                self._remove(key)
            return
        self._write(key, value, size, expire_at_ms)
