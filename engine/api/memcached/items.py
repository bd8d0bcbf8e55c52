"""memcached items in the node's CacheStore, under a namespace of their own.

An item is stored as one string value: a fixed header (client flags, CAS unique, state
bits) and the data. Keys get the ``MEMCACHED`` prefix byte, beside the RESP keys and the
object read cache (engine/cache/local.py ``USER``/``OBJECTS``), so no Redis client can
reach a memcached item and the other way round, while all of them share the tier's byte
budget, exact LRU and TTL rules. Only the store's public methods are used.

Every method runs to its end without awaiting, on the node's single loop, so a
read-modify-write (cas, incr, append, ...) is atomic without locks.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from engine.cache.store import CacheStore
from engine.clock import Clock

MEMCACHED = b"m"
HEADER = struct.Struct(">IQB")  # client flags (32 bits), CAS unique (64), state bits
FETCHED = 1  # fetched at least once since stored (mg h)
STALE = 2  # invalidated by md/ms with I (mg X)
WON = 4  # a client was sent the recache "win" token (mg W, then Z)
THIRTY_DAYS = 60 * 60 * 24 * 30  # larger exptimes are Unix times (memcached's rule)


@dataclass(slots=True)
class Item:
    flags: int
    cas: int
    bits: int
    data: bytes | memoryview


def expiry_ms(exptime: int, now_ms: int) -> int | None:
    """memcached's exptime as absolute Unix ms (None: never). 0 never expires, a negative
    one is already expired, one over 30 days is a Unix time, else seconds from now."""
    if exptime == 0:
        return None
    if exptime < 0:
        return now_ms
    if exptime > THIRTY_DAYS:
        return exptime * 1000
    return now_ms + exptime * 1000


KEEP = -1  # put(): keep the item's current expiry


class Items:
    """The memcached namespace of one CacheStore, with CAS uniques and flush_all."""

    def __init__(self, store: CacheStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._cas = 0
        self._flush_at: int | None = None  # a delayed flush_all, Unix ms

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def next_cas(self) -> int:
        self._cas += 1
        return self._cas

    # -- reads ---------------------------------------------------------------------------

    def get(self, key: bytes, *, bump: bool = True) -> Item | None:
        """The live item; ``bump`` counts it as a use (LRU, the store's hits/misses)."""
        raw: bytes | bytearray | None
        if bump:
            raw = self.store.get(MEMCACHED + key)
        else:
            found = self.store.peek(MEMCACHED + key)
            raw = found[0] if found is not None else None  # type: ignore[assignment]
        if raw is None:
            return None
        flags, cas, bits = HEADER.unpack_from(raw)
        return Item(flags, cas, bits, memoryview(raw)[HEADER.size:])

    def ttl_seconds(self, key: bytes) -> int:
        """Seconds left, rounded up; -1 without expiry (mg t)."""
        left = self.store.pttl(MEMCACHED + key)
        return -1 if left < 0 else (left + 999) // 1000

    def idle_seconds(self, key: bytes) -> int:
        return self.store.object_idletime(MEMCACHED + key) or 0

    def keys(self) -> Iterator[bytes]:
        """Stored keys of the namespace, prefix included (expired ones too)."""
        return (k for k in self.store.stored_keys() if k[:1] == MEMCACHED)

    # -- writes --------------------------------------------------------------------------

    def put(self, key: bytes, item: Item, expire_at: int | None) -> None:
        """Store ``item``; ``expire_at`` Unix ms, None (never) or KEEP. An expiry at or
        before now removes the key instead. OOM (EngineError) when it cannot fit."""
        value = HEADER.pack(item.flags, item.cas, item.bits) + item.data
        if expire_at == KEEP:
            self.store.set(MEMCACHED + key, value, keepttl=True)
        elif expire_at is not None and expire_at <= self.now_ms():
            self.store.delete([MEMCACHED + key])
        else:
            self.store.set(MEMCACHED + key, value, pxat=expire_at)

    def set_bits(self, key: bytes, item: Item, bits: int) -> None:
        """Record new state bits (keeping data, flags, CAS and expiry) if they changed."""
        if bits != item.bits:
            item.bits = bits
            self.put(key, item, KEEP)

    def expire(self, key: bytes, expire_at: int | None) -> bool:
        """A new expiry for a live key (touch, gat, T flags); whether it was there."""
        stored = MEMCACHED + key
        if self.store.peek(stored) is None:
            return False
        if expire_at is None:
            self.store.persist(stored)
        elif expire_at <= self.now_ms():
            self.store.delete([stored])
        else:
            self.store.expire(stored, pxat=expire_at)
        return True

    def delete(self, key: bytes) -> bool:
        return self.store.delete([MEMCACHED + key]) > 0

    # -- flush_all -----------------------------------------------------------------------

    def flush(self, delay: int) -> None:
        """flush_all: now (delay <= 0) or once ``delay`` seconds have passed."""
        if delay > 0:
            self._flush_at = self.now_ms() + delay * 1000
            return
        self._flush_at = None
        self._drop_all()

    def upkeep(self) -> None:
        """Run a delayed flush_all that is due; called before every command, so every
        item stored before the flush time is gone before anyone can read it."""
        if self._flush_at is not None and self.now_ms() >= self._flush_at:
            self._flush_at = None
            self._drop_all()

    def _drop_all(self) -> None:
        """Only this namespace: the store's flushall would empty RESP keys and the object
        read cache too. O(keys in the store)."""
        keys = list(self.keys())
        if keys:
            self.store.delete(keys)
