"""Redis's string commands on the keyspace: GET/SET and the read-modify-write family.

A string is ``bytes``; APPEND and SETRANGE leave a ``bytearray`` (grown in place, and
"raw" to OBJECT ENCODING as in Redis), which every read hands back as ``bytes``.
Every command but MGET (nil) and SET (overwrites) answers WRONGTYPE on another type.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.cache.keyspace import (
    ENTRY_OVERHEAD,
    INT64_MAX,
    INT64_MIN,
    Keyspace,
    fail,
    syntax,
    wrong_type,
)
from engine.cache.types.numbers import (
    add_long_double,
    format_long_double,
    not_a_float,
    parse_long_double,
    parse_redis_int,
)
from engine.cache.types.values import FloatText, Value


def _string(value: Value | None) -> bytes | bytearray | None:
    if value is None or isinstance(value, bytes | bytearray):
        return value
    raise wrong_type()


class StringCommands(Keyspace):
    """GET, SET, MGET, MSET(NX), INCRBY(FLOAT), APPEND, GETRANGE, SETRANGE, GETDEL, GETEX."""

    # -- reads ---------------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        """GET: the value, or None when missing or expired; WRONGTYPE on a collection."""
        now = self._now_ms()
        value = self._live(key, now)
        if value is None:
            self._misses += 1
            return None
        if type(value) is not bytes:  # the hot path is a plain string: one check
            value = bytes(_string(value))  # type: ignore[arg-type]
        self._hits += 1
        self._touch(key, now)
        return value

    def mget(self, keys: Sequence[bytes]) -> list[bytes | None]:
        """MGET: one value (or None) per key, in order; each counts as a GET. A key of
        another type reads as None, as in Redis."""
        out: list[bytes | None] = []
        now = self._now_ms()
        for key in keys:
            value = self._live(key, now)
            if value is None:
                self._misses += 1
                out.append(None)
                continue
            self._hits += 1
            self._touch(key, now)
            out.append(bytes(value) if isinstance(value, bytes | bytearray) else None)
        return out

    def strlen(self, key: bytes) -> int:
        """STRLEN: the value's length, 0 when missing."""
        value = _string(self._live(key, self._now_ms()))
        return 0 if value is None else len(value)

    def getrange(self, key: bytes, start: int, end: int) -> bytes:
        """GETRANGE: bytes ``start..end`` inclusive, negative counting from the end."""
        value = _string(self._live(key, self._now_ms()))
        if start < 0 and end < 0 and start > end:
            return b""
        if value is None:
            return b""
        self._touch(key)
        size = len(value)
        start = max(size + start if start < 0 else start, 0)
        end = max(size + end if end < 0 else end, 0)
        end = min(end, size - 1)
        if start > end or size == 0:
            return b""
        return bytes(value[start:end + 1])

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
        the key deleted, as Redis does. SET replaces a key of any type; with ``get`` a key
        that is not a string is WRONGTYPE and nothing is written.
        """
        size = self._entry_size(key, value)
        if nx and xx:
            raise syntax()
        if px is not None and pxat is not None:
            raise syntax()
        if keepttl and (px is not None or pxat is not None):
            raise syntax()
        now = self._now_ms()
        expire_at: int | None = None
        if px is not None or pxat is not None:
            expire_at = self._set_expiry(px, pxat, now)
        self._check_fits(size, key)
        old = self._live(key, now)
        if get:
            old = _string(old)
        if old is not None:
            self._touch(key, now)  # a lookup for write is a use, as in Redis
        result = bytes(old) if get and old is not None else None  # type: ignore[arg-type]
        if (nx and old is not None) or (xx and old is None):
            return False, result
        if expire_at is not None and expire_at <= now:
            if old is not None:
                self._remove(key)
            return True, result
        if keepttl:
            expire_at = self._expires.get(key)
        self._write(key, value, size, expire_at, now)
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
        # Writing only each key's last pair, in order of last occurrence, gives the same
        # values and LRU order as writing every pair, without evicting for doomed values.
        self._write_many([(key, pairs[index][1], sizes[index]) for key, index in last.items()])

    def msetnx(self, pairs: Sequence[tuple[bytes, bytes]]) -> bool:
        """MSETNX: MSET only if none of the keys exists (of any type); whether it did."""
        for key, value in pairs:
            self._entry_size(key, value)
        now = self._now_ms()
        if any(self._live(key, now) is not None for key, _ in pairs):
            return False
        self.mset(pairs)
        return True

    def incrby(self, key: bytes, amount: int) -> int:
        """INCRBY: add ``amount`` to the key's integer value (missing: 0); keeps the TTL."""
        if not INT64_MIN <= amount <= INT64_MAX:
            raise fail("NotAnInteger")
        self._check_key(key)
        now = self._now_ms()
        old = _string(self._live(key, now))
        current = 0 if old is None else parse_redis_int(old)
        result = current + amount
        if not INT64_MIN <= result <= INT64_MAX:
            raise fail("Overflow")
        value = str(result).encode()
        size = len(key) + len(value) + ENTRY_OVERHEAD
        self._check_fits(size, key)
        self._write(key, value, size, self._expires.get(key))
        return result

    def incrbyfloat(self, key: bytes, increment: bytes | float) -> bytes:
        """INCRBYFLOAT: add in long double, store and return Redis's text of the sum."""
        self._check_key(key)
        raw = repr(float(increment)).encode() if isinstance(increment, float | int) else increment
        now = self._now_ms()
        old = _string(self._live(key, now))  # type, value, increment: Redis's order
        current = parse_long_double(bytes(old)) if old is not None else 0
        amount = parse_long_double(raw)
        if current is None or amount is None:
            raise not_a_float()
        total = add_long_double(current, amount)  # type: ignore[arg-type]
        if total is None:
            raise fail("InvalidArgument", "increment would produce NaN or Infinity")
        value = FloatText(format_long_double(total))  # type: ignore[arg-type]
        size = self._entry_size(key, value)
        self._check_fits(size, key)
        self._write(key, value, size, self._expires.get(key))
        return bytes(value)

    def append(self, key: bytes, value: bytes) -> int:
        """APPEND: the length after appending; creates the key when missing."""
        self._check_key(key)
        now = self._now_ms()
        old = _string(self._live(key, now))
        if old is None:
            size = self._entry_size(key, value)
            self._check_fits(size, key)
            self._write(key, value, size, None)
            return len(value)
        self._check_value(len(old) + len(value))
        self._check_fits(len(key) + len(old) + len(value) + ENTRY_OVERHEAD, key)
        grown = old if isinstance(old, bytearray) else bytearray(old)
        self._used -= len(old)
        grown += value
        self._used += len(grown)
        self._data[key] = grown
        self._touch(key)
        self._evict(key)
        return len(grown)

    def setrange(self, key: bytes, offset: int, value: bytes) -> int:
        """SETRANGE: overwrite from ``offset`` (zero-padding a gap); the new length."""
        if offset < 0:
            raise fail("InvalidArgument", "offset is out of range")
        self._check_key(key)
        now = self._now_ms()
        old = _string(self._live(key, now))
        if not value:
            if old is not None:
                self._touch(key)
            return 0 if old is None else len(old)
        length = max(len(old) if old is not None else 0, offset + len(value))
        if offset + len(value) > self.max_value_bytes:
            raise fail("ValueTooLarge", "string exceeds maximum allowed size (proto-max-bulk-len)")
        self._check_fits(len(key) + length + ENTRY_OVERHEAD, key)
        grown = bytearray(old) if old is not None else bytearray()
        if len(grown) < offset:
            grown += bytes(offset - len(grown))
        grown[offset:offset + len(value)] = value
        at = self._expires.get(key) if old is not None else None
        self._write(key, grown, len(key) + len(grown) + ENTRY_OVERHEAD, at)
        return len(grown)

    def getdel(self, key: bytes) -> bytes | None:
        """GETDEL: the value, then the key is gone."""
        value = _string(self._live(key, self._now_ms()))
        if value is None:
            return None
        self._remove(key)
        return bytes(value)

    def getex(self, key: bytes, *, px: int | None = None, pxat: int | None = None,
              persist: bool = False) -> bytes | None:
        """GETEX: the value, setting (``px``/``pxat``) or clearing (``persist``) its TTL."""
        if sum((px is not None, pxat is not None, persist)) > 1:
            raise syntax()
        now = self._now_ms()
        at = None
        if px is not None or pxat is not None:
            at = self._set_expiry(px, pxat, now, "getex")
        value = _string(self._live(key, now))
        if value is None:
            return None
        self._touch(key)
        if at is not None:
            if at <= now:
                self._remove(key)
            else:
                self._set_ttl(key, at)
        elif persist:
            self._clear_ttl(key)
        return bytes(value)
