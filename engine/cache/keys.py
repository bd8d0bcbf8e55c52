"""Redis's key commands, whatever a key holds: DEL, EXISTS, EXPIRE family, TTL, TYPE,
RENAME, COPY, KEYS, SCAN, RANDOMKEY, DBSIZE, OBJECT, MEMORY USAGE.

EXISTS, PTTL, TYPE, OBJECT and MEMORY USAGE do not count as uses (Redis looks them up
with ``LOOKUP_NOTOUCH``); KEYS, SCAN and RANDOMKEY skip (and drop) expired keys.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import islice

from engine.cache.glob import glob_match
from engine.cache.keyspace import Keyspace, charge, fail, syntax
from engine.cache.types.scan import page
from engine.cache.types.values import encoding_name, type_name

_RANDOM_TRIES = 100  # as Redis, give up after this many expired picks in a row


class KeyCommands(Keyspace):
    """Commands on keys as a whole."""

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

    def delete(self, keys: Sequence[bytes]) -> int:
        """DEL: how many keys were removed (an expired key does not count)."""
        now = self._now_ms()
        removed = 0
        for key in keys:
            if self._live(key, now) is not None:
                self._remove(key)
                removed += 1
        return removed

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
            raise syntax()
        if nx and (xx or gt or lt):
            raise syntax("NX and XX, GT or LT options at the same time are not compatible")
        if gt and lt:
            raise syntax("GT and LT options at the same time are not compatible")
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
        self._touch(key)
        self._set_ttl(key, when)
        return True

    def persist(self, key: bytes) -> bool:
        """PERSIST: True when the key had an expiry and now has none."""
        if self._live(key, self._now_ms()) is None or key not in self._expires:
            return False
        self._touch(key)
        self._clear_ttl(key)
        return True

    def flushall(self) -> None:
        """FLUSHALL: drop every key; counters keep counting."""
        self.watches.touched_all()
        self._data.clear()
        self._expires.clear()
        self._heap.clear()
        self._last_use.clear()
        self._used = 0
        self._forget_all()

    def type(self, key: bytes) -> str:
        """TYPE: "string", "hash", "list", "set", "zset", or "none"."""
        value = self._live(key, self._now_ms())
        return "none" if value is None else type_name(value)

    def dbsize(self) -> int:
        """DBSIZE: the number of keys, expired ones not yet dropped included (as Redis)."""
        return len(self._data)

    def rename(self, source: bytes, dest: bytes) -> None:
        """RENAME: move the value and its TTL; the destination is replaced."""
        self._rename(source, dest, only_new=False)

    def renamenx(self, source: bytes, dest: bytes) -> bool:
        """RENAMENX: RENAME only when ``dest`` does not exist; whether it moved."""
        return self._rename(source, dest, only_new=True)

    def _rename(self, source: bytes, dest: bytes, *, only_new: bool) -> bool:
        now = self._now_ms()
        value = self._live(source, now)
        if value is None:
            raise fail("NoSuchKey", "no such key")
        if source == dest:
            return not only_new
        if only_new and self._live(dest, now) is not None:
            return False
        self._check_key(dest)
        self._check_fits(charge(dest, value))
        at = self._expires.get(source)
        self._remove(source)
        self._write(dest, value, charge(dest, value), at)
        return True

    def copy(self, source: bytes, dest: bytes, *, replace: bool = False) -> bool:
        """COPY: a copy of the value and TTL at ``dest``; False when there is nothing to
        copy or ``dest`` exists without ``replace``."""
        if source == dest:
            raise fail("InvalidArgument", "source and destination objects are the same")
        now = self._now_ms()
        value = self._live(source, now)
        if value is None:
            return False
        if not replace and self._live(dest, now) is not None:
            return False
        duplicate = value if isinstance(value, bytes) else (
            bytearray(value) if isinstance(value, bytearray) else value.copy())
        self._put(dest, duplicate, self._expires.get(source))
        return True

    def keys(self, pattern: bytes) -> list[bytes]:
        """KEYS: every live key matching the glob ``pattern``."""
        now = self._now_ms()
        everything = pattern == b"*"
        return [key for key in list(self._data)
                if (everything or glob_match(pattern, key)) and self._live(key, now) is not None]

    def scan(self, cursor: int, *, match: bytes | None = None, count: int = 10,
             type: str | None = None) -> tuple[int, list[bytes]]:
        """SCAN: (next cursor, keys); see engine/cache/types/scan.py for the guarantee."""
        following, found = page(self._data.items(), cursor, count)
        now = self._now_ms()
        out = []
        for key, value in found:
            if match is not None and not glob_match(match, key):
                continue
            if type is not None and type_name(value) != type.lower():
                continue
            if self._live(key, now) is not None:
                out.append(key)
        return following, out

    def randomkey(self) -> bytes | None:
        """RANDOMKEY: a live key picked at random, None when there is none."""
        now = self._now_ms()
        for _ in range(_RANDOM_TRIES):
            if not self._data:
                return None
            key = next(islice(self._data, random.randrange(len(self._data)), None))
            if self._live(key, now) is not None:
                return key
        return None

    def object_encoding(self, key: bytes) -> str | None:
        """OBJECT ENCODING: Redis 7.0's name for how it would hold the value."""
        value = self._live(key, self._now_ms())
        return None if value is None else encoding_name(value)

    def object_idletime(self, key: bytes) -> int | None:
        """OBJECT IDLETIME: whole seconds since the key was last used."""
        if self._live(key, self._now_ms()) is None:
            return None
        second = self._clock.now_ns() // 1_000_000_000
        return max(0, second - self._last_use.get(key, second))

    def memory_usage(self, key: bytes) -> int | None:
        """MEMORY USAGE: the bytes the key is charged against the budget."""
        value = self._live(key, self._now_ms())
        return None if value is None else charge(key, value)
