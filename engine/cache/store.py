"""One node's share of the cache tier: Redis string commands over an exact LRU in bytes.

:class:`CacheStore` holds ``bytes -> bytes`` with Redis semantics (SET with NX/XX/GET/
KEEPTTL and expiries, INCRBY, MGET/MSET, EXPIRE with NX/XX/GT/LT, PTTL) and TTLs on the
engine clock, so tests move time with a ``ManualClock`` instead of sleeping.

Invariants (each has a unit test):

- The budget is never exceeded: after any call returns, ``bytes_used <= budget``. A write
  evicts least-recently-used entries until it fits; an entry that cannot fit even in an
  empty store is refused with ``OOM`` and changes nothing.
- An expired key is never returned. Expiry is lazy (checked on every access) and active
  (:meth:`CacheStore.sweep`, driven by the node's timer), so expired keys do not keep
  holding memory. As in Redis a key with expiry ``T`` (Unix ms) is live while
  ``now_ms <= T``; SET/EXPIRE with a time at or before now delete the key at once.
- LRU order is exact (an ``OrderedDict`` moved to the end on each use), not Redis's
  sampled approximation: eviction always removes the least recently used key. Before
  evicting live data, already-expired keys are dropped first (they count as expirations).

Which calls count as a use (move a key to most-recently-used), as in Redis: GET, MGET,
SET (also when NX/XX stops it), INCRBY, EXPIRE on an existing key. EXISTS, PTTL and
:meth:`CacheStore.peek` do not (Redis looks those up with ``LOOKUP_NOTOUCH``).

Concurrency: the store is called from the node's single asyncio loop and never awaits, so
every method runs to completion without interleaving; it has no locks and must not be
shared across threads.
"""

from __future__ import annotations

import heapq
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from engine.clock import Clock
from engine.errors import EngineError

# A unary gRPC message is capped at 16 MiB on every channel (engine/node.py, client
# transport), and a forwarded or replicated SET carries key + value + framing. 8 MiB per
# value keeps a single-key call far from that cap; larger blobs belong in the object store.
MAX_VALUE_BYTES = 8 * 1024 * 1024
# Redis allows 512 MB keys, but a key is hashed, compared and copied on every call; 64 KiB
# is generous for any real key and keeps MGET/MSET of many keys inside one message.
MAX_KEY_BYTES = 64 * 1024
DEFAULT_BUDGET = 256 * 1024 * 1024
# Bytes charged per entry on top of len(key) + len(value). Measured on CPython 3.11/x86-64:
# sys.getsizeof(b"") == 33 for each of the key and value bytes objects (66), plus the
# OrderedDict's per-entry share, sys.getsizeof(od) / len(od) == 88..105 bytes depending on
# how full the hash table is (dict slot + index + the ordered list node). 66 + ~94 = 160;
# tracemalloc over 10^4..10^6 inserts agrees (141..171 bytes/entry). Keys with a TTL cost
# about 150 bytes more (expiry dict slot, int, heap tuple) which is not charged, so the
# budget, like Redis's maxmemory, bounds the data and not every interpreter byte.
ENTRY_OVERHEAD = 160

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Redis's string2ll: optional '-', no '+', no spaces, no leading zeros, "-0" refused, at
# most 20 characters; the range is checked after parsing.
_REDIS_INT = re.compile(rb"0|-?[1-9][0-9]{0,19}")
# The heap is rebuilt once stale entries outnumber live expiries by this factor (plus a
# floor so tiny stores do not rebuild all the time), keeping its memory O(live TTLs).
_HEAP_SLACK = 2
_HEAP_FLOOR = 64

_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters since start (FLUSHALL does not reset them, as Redis's INFO stats).

    ``hits``/``misses`` count GET and MGET lookups. ``keys`` and ``bytes_used`` include
    keys that have expired but were not yet removed by lazy expiry or :meth:`sweep`.
    """

    hits: int
    misses: int
    evictions: int
    expirations: int
    keys: int
    bytes_used: int
    budget: int


def _fail(code: str, message: str | None = None) -> EngineError:
    return EngineError(code, message)


def _syntax(message: str = "syntax error") -> EngineError:
    return EngineError("SyntaxError", message)


def parse_redis_int(raw: bytes) -> int:
    """The value as Redis's INCR reads it (string2ll), else ``NotAnInteger``."""
    if _REDIS_INT.fullmatch(raw):
        value = int(raw)
        if INT64_MIN <= value <= INT64_MAX:
            return value
    raise _fail("NotAnInteger")


class CacheStore:
    """A byte-bounded exact-LRU key/value store with Redis string semantics."""

    def __init__(
        self,
        budget_bytes: int,
        clock: Clock,
        *,
        max_key_bytes: int = MAX_KEY_BYTES,
        max_value_bytes: int = MAX_VALUE_BYTES,
    ) -> None:
        if budget_bytes <= 0:
            raise ValueError("the cache budget must be a positive number of bytes")
        self.budget = budget_bytes
        self.max_key_bytes = max_key_bytes
        self.max_value_bytes = max_value_bytes
        self._clock = clock
        self._data: OrderedDict[bytes, bytes] = OrderedDict()  # LRU first, MRU last
        self._expires: dict[bytes, int] = {}  # key -> Unix ms, only keys with a TTL
        self._heap: list[tuple[int, bytes]] = []  # (expire_at, key); may hold stale pairs
        self._used = 0
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._expirations = 0

    # -- reads ---------------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        """GET: the value, or None when missing or expired."""
        value = self._live(key, self._now_ms())
        if value is None:
            self._misses += 1
            return None
        self._hits += 1
        self._data.move_to_end(key)
        return value

    def mget(self, keys: Sequence[bytes]) -> list[bytes | None]:
        """MGET: one value (or None) per key, in order; each counts as a GET."""
        return [self.get(key) for key in keys]

    def exists(self, keys: Sequence[bytes]) -> int:
        """EXISTS: how many of ``keys`` exist, a repeated key counted each time."""
        now = self._now_ms()
        return sum(1 for key in keys if self._live(key, now) is not None)

    def pttl(self, key: bytes) -> int:
        """PTTL: ms left (>= 0), -1 without expiry, -2 when missing or expired."""
        now = self._now_ms()
        if self._live(key, now) is None:
            return -2
        at = self._expires.get(key)
        return -1 if at is None else at - now

    # -- writes --------------------------------------------------------------------------

    def set(
        self,
        key: bytes,
        value: bytes,
        *,
        px: int | None = None,
        pxat: int | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
        get: bool = False,
    ) -> tuple[bool, bytes | None]:
        """SET: returns (written, the old value when ``get`` else None).

        ``written`` is False only when NX/XX stopped the write. Without ``keepttl`` a write
        clears the key's expiry. A ``pxat`` in the past (but > 0) is accepted and leaves
        the key deleted, as Redis does.
        """
        size = self._entry_size(key, value)
        if nx and xx:
            raise _syntax()
        if px is not None and pxat is not None:
            raise _syntax()
        if keepttl and (px is not None or pxat is not None):
            raise _syntax()
        now = self._now_ms()
        expire_at: int | None = None
        if px is not None or pxat is not None:
            expire_at = self._set_expiry(px, pxat, now)
        self._check_fits(size)
        old = self._live(key, now)
        if old is not None:
            self._data.move_to_end(key)  # a lookup for write is a use, as in Redis
        result = old if get else None
        if (nx and old is not None) or (xx and old is None):
            return False, result
        if expire_at is not None and expire_at <= now:
            if old is not None:
                self._remove(key)
            return True, result
        if keepttl:
            expire_at = self._expires.get(key)
        self._write(key, value, size, expire_at)
        return True, result

    def mset(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        """MSET: all pairs or none; clears their expiries; a repeated key: the last wins.

        Every size is checked first, and so is the total: if the entries together do not
        fit in the budget the call fails with OOM instead of evicting its own keys.
        """
        last: dict[bytes, int] = {}
        sizes = [self._entry_size(key, value) for key, value in pairs]
        for index, (key, _) in enumerate(pairs):
            last.pop(key, None)  # re-insert so the dict follows last-occurrence order
            last[key] = index
        self._check_fits(sum(sizes[index] for index in last.values()))
        # Writing only each key's last pair, in order of last occurrence, gives the same
        # values and LRU order as writing every pair, without evicting for doomed values.
        for key, index in last.items():
            self._write(key, pairs[index][1], sizes[index], None)

    def delete(self, keys: Sequence[bytes]) -> int:
        """DEL: how many keys were removed (an expired key does not count)."""
        now = self._now_ms()
        removed = 0
        for key in keys:
            if self._live(key, now) is not None:
                self._remove(key)
                removed += 1
        return removed

    def incrby(self, key: bytes, amount: int) -> int:
        """INCRBY: add ``amount`` to the key's integer value (missing: 0); keeps the TTL."""
        if not INT64_MIN <= amount <= INT64_MAX:
            raise _fail("NotAnInteger")
        self._check_key(key)
        now = self._now_ms()
        old = self._live(key, now)
        current = 0 if old is None else parse_redis_int(old)
        result = current + amount
        if not INT64_MIN <= result <= INT64_MAX:
            raise _fail("Overflow")
        value = str(result).encode()
        size = len(key) + len(value) + ENTRY_OVERHEAD
        self._check_fits(size)
        self._write(key, value, size, self._expires.get(key))
        return result

    def expire(
        self,
        key: bytes,
        *,
        px: int | None = None,
        pxat: int | None = None,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        """PEXPIRE/PEXPIREAT: True when the expiry was set (or the key deleted).

        Exactly one of ``px`` (relative ms, may be negative) and ``pxat`` (Unix ms). A time
        at or before now deletes the key. For GT/LT a key without expiry counts as an
        infinite TTL, as in Redis 7.
        """
        if (px is None) == (pxat is None):
            raise _syntax()
        if nx and (xx or gt or lt):
            raise _syntax("NX and XX, GT or LT options at the same time are not compatible")
        if gt and lt:
            raise _syntax("GT and LT options at the same time are not compatible")
        now = self._now_ms()
        when = self._absolute(px, pxat, now, "expire")
        if self._live(key, now) is None:
            return False
        current = self._expires.get(key)
        if nx and current is not None:
            return False
        if xx and current is None:
            return False
        if gt and (current is None or when <= current):
            return False
        if lt and current is not None and when >= current:
            return False
        if when <= now:
            self._remove(key)  # a delete, not an expiration (as Redis counts it)
            return True
        self._data.move_to_end(key)
        self._set_ttl(key, when)
        return True

    def flushall(self) -> None:
        """FLUSHALL: drop every key; counters keep counting."""
        self._data.clear()
        self._expires.clear()
        self._heap.clear()
        self._used = 0

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

    def peek(self, key: bytes) -> tuple[bytes, int | None] | None:
        """(value, expiry in Unix ms or None), or None; for replication.

        Touches nothing: no stats, no LRU move, and an expired key is reported missing but
        left for lazy expiry or the sweep to count.
        """
        value = self._data.get(key)
        if value is None:
            return None
        at = self._expires.get(key)
        if at is not None and self._now_ms() > at:
            return None
        return value, at

    def load(self, key: bytes, value: bytes | None, expire_at_ms: int | None) -> None:
        """Install exactly this state (None value: absent); for replication.

        The entry becomes most recently used and may evict others. If it is refused (too
        large, OOM) the key is removed before the error is raised, so a replica never keeps
        a stale value its primary has replaced.
        """
        if value is None:
            if key in self._data:
                self._remove(key)
            return
        try:
            size = self._entry_size(key, value)
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

    # -- internals -----------------------------------------------------------------------

    def _now_ms(self) -> int:
        return self._clock.now_ns() // _NS_PER_MS

    def _live(self, key: bytes, now: int) -> bytes | None:
        """The value if present and not expired; an expired key is removed here (lazy
        expiry). Does not touch LRU order or hit/miss counters."""
        value = self._data.get(key)
        if value is None:
            return None
        at = self._expires.get(key)
        if at is not None and now > at:
            self._remove(key)
            self._expirations += 1
            return None
        return value

    def _check_key(self, key: bytes) -> None:
        if len(key) > self.max_key_bytes:
            raise _fail(
                "KeyTooLarge",
                f"key of {len(key)} bytes exceeds the maximum of {self.max_key_bytes} bytes",
            )

    def _entry_size(self, key: bytes, value: bytes) -> int:
        """What the entry is charged; refuses keys and values over their limits."""
        self._check_key(key)
        if len(value) > self.max_value_bytes:
            raise _fail(
                "ValueTooLarge",
                f"value of {len(value)} bytes exceeds the maximum of "
                f"{self.max_value_bytes} bytes",
            )
        return len(key) + len(value) + ENTRY_OVERHEAD

    def _check_fits(self, size: int) -> None:
        if size > self.budget:
            raise _fail(
                "OOM",
                "OOM command not allowed when used memory > 'maxmemory' "
                f"({size} bytes needed, cache budget {self.budget} bytes)",
            )

    def _absolute(self, px: int | None, pxat: int | None, now: int, command: str) -> int:
        """The expiry as Unix ms; out of int64 (also after adding now) is refused."""
        raw = px if px is not None else pxat
        assert raw is not None
        if not INT64_MIN <= raw <= INT64_MAX:
            raise _fail("InvalidExpireTime", f"invalid expire time in '{command}' command")
        when = raw + now if px is not None else raw
        if when > INT64_MAX:
            raise _fail("InvalidExpireTime", f"invalid expire time in '{command}' command")
        return when

    def _set_expiry(self, px: int | None, pxat: int | None, now: int) -> int:
        raw = px if px is not None else pxat
        assert raw is not None
        if raw <= 0:
            raise _fail("InvalidExpireTime", "invalid expire time in 'set' command")
        return self._absolute(px, pxat, now, "set")

    def _write(self, key: bytes, value: bytes, size: int, expire_at: int | None) -> None:
        """Store the entry as most recently used with this expiry, then evict to fit.
        The caller has checked that ``size`` fits in the budget on its own."""
        old = self._data.get(key)
        if old is not None:
            self._used -= len(key) + len(old) + ENTRY_OVERHEAD
        self._data[key] = value
        self._data.move_to_end(key)
        self._used += size
        if expire_at is None:
            self._clear_ttl(key)
        elif self._expires.get(key) != expire_at:
            self._set_ttl(key, expire_at)
        self._evict(key)

    def _evict(self, keep: bytes) -> None:
        """Free space until within budget: expired keys first, then the LRU end. ``keep``
        (just written, most recently used, fits alone) is never chosen."""
        if self._used <= self.budget:
            return
        now = self._now_ms()
        while self._used > self.budget:
            if self._pop_expired(now):
                continue
            victim = next(iter(self._data))
            if victim == keep:  # unreachable while the caller checked the entry fits
                raise AssertionError("cache entry larger than its budget")
            self._remove(victim)
            self._evictions += 1

    def _pop_expired(self, now: int) -> bool:
        """Remove the expired key due soonest, if any; drops stale heap pairs on the way."""
        heap = self._heap
        while heap and heap[0][0] < now:
            at, key = heapq.heappop(heap)
            if self._expires.get(key) == at:
                self._remove(key)
                self._expirations += 1
                return True
            # stale: the key's TTL changed or the key is gone
        return False

    def _set_ttl(self, key: bytes, at: int) -> None:
        self._expires[key] = at
        heapq.heappush(self._heap, (at, key))
        self._compact_heap()

    def _clear_ttl(self, key: bytes) -> None:
        if self._expires.pop(key, None) is not None:
            self._compact_heap()

    def _remove(self, key: bytes) -> None:
        value = self._data.pop(key)
        self._used -= len(key) + len(value) + ENTRY_OVERHEAD
        self._clear_ttl(key)

    def _compact_heap(self) -> None:
        """Rebuild the heap from the live expiries when stale pairs dominate, so memory
        stays O(keys with a TTL); amortised O(1) per TTL change."""
        if len(self._heap) > _HEAP_SLACK * len(self._expires) + _HEAP_FLOOR:
            self._heap = [(at, key) for key, at in self._expires.items()]
            heapq.heapify(self._heap)
