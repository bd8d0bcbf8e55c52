"""Redis's hash commands: HSET, HGET, HINCRBY(FLOAT), HRANDFIELD, HSCAN and the rest.

Field/value pairs come back as ``(field, value)`` tuples (RESP2 flattens them, RESP3
makes a map). A hash whose last field is deleted is deleted.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from engine.cache.glob import glob_match
from engine.cache.keyspace import INT64_MAX, INT64_MIN, fail
from engine.cache.types.numbers import (
    add_long_double,
    format_long_double,
    not_a_float,
    parse_long_double,
    parse_redis_int,
)
from engine.cache.types.scan import check_count, page
from engine.cache.types.settle import SettleIfChanged
from engine.cache.types.values import HASH_FIELD_COST, HashValue
from engine.errors import EngineError

Pair = tuple[bytes, bytes]


def arity(command: str) -> Exception:
    return fail("SyntaxError", f"wrong number of arguments for '{command}' command")


class HashCommands(SettleIfChanged):
    """HSET, HSETNX, HGET, HMGET, HDEL, HLEN, HEXISTS, HKEYS, HVALS, HGETALL, HINCRBY,
    HINCRBYFLOAT, HSTRLEN, HRANDFIELD, HSCAN."""

    def _hash_write(self, key: bytes, pairs: Sequence[Pair]) -> tuple[HashValue, int]:
        for field, value in pairs:
            self._check_value(len(field))
            self._check_value(len(value))
        extra = sum(HASH_FIELD_COST + len(f) + len(v) for f, v in pairs)
        found = self._grow(key, HashValue, extra)
        assert found is not None
        return found, found.nbytes

    def hset(self, key: bytes, pairs: Sequence[Pair]) -> int:
        """HSET: set the fields; how many were new."""
        if not pairs:
            raise arity("hset")
        found, before = self._hash_write(key, pairs)
        added = sum(found.put(field, value) for field, value in pairs)
        self._settle(key, found, before)
        return added

    def hsetnx(self, key: bytes, field: bytes, value: bytes) -> bool:
        """HSETNX: set the field only when it does not exist; whether it did."""
        found = self._lookup(key, HashValue)
        if found is not None and field in found.fields:
            return False
        found, before = self._hash_write(key, [(field, value)])
        found.put(field, value)
        self._settle(key, found, before)
        return True

    def hget(self, key: bytes, field: bytes) -> bytes | None:
        found = self._lookup(key, HashValue)
        return None if found is None else found.fields.get(field)

    def hmget(self, key: bytes, fields: Sequence[bytes]) -> list[bytes | None]:
        found = self._lookup(key, HashValue)
        if found is None:
            return [None] * len(fields)
        return [found.fields.get(field) for field in fields]

    def hdel(self, key: bytes, fields: Sequence[bytes]) -> int:
        """HDEL: how many of the fields existed (and are gone)."""
        found = self._lookup(key, HashValue)
        if found is None:
            return 0
        before = found.nbytes
        removed = sum(found.drop(field) for field in fields)
        self._settle_if(key, found, before, removed > 0)
        return removed

    def hlen(self, key: bytes) -> int:
        found = self._lookup(key, HashValue)
        return 0 if found is None else len(found)

    def hexists(self, key: bytes, field: bytes) -> bool:
        found = self._lookup(key, HashValue)
        return found is not None and field in found.fields

    def hkeys(self, key: bytes) -> list[bytes]:
        found = self._lookup(key, HashValue)
        return [] if found is None else list(found.fields)

    def hvals(self, key: bytes) -> list[bytes]:
        found = self._lookup(key, HashValue)
        return [] if found is None else list(found.fields.values())

    def hgetall(self, key: bytes) -> list[Pair]:
        found = self._lookup(key, HashValue)
        return [] if found is None else list(found.fields.items())

    def hstrlen(self, key: bytes, field: bytes) -> int:
        found = self._lookup(key, HashValue)
        return len(found.fields.get(field, b"")) if found is not None else 0

    def hincrby(self, key: bytes, field: bytes, amount: int) -> int:
        """HINCRBY: add to the field's integer (missing: 0); the result."""
        if not INT64_MIN <= amount <= INT64_MAX:
            raise fail("NotAnInteger")
        found = self._lookup(key, HashValue)
        current = 0
        if found is not None and field in found.fields:
            try:
                current = parse_redis_int(found.fields[field])
            except EngineError:
                raise fail("NotAnInteger", "hash value is not an integer") from None
        result = current + amount
        if not INT64_MIN <= result <= INT64_MAX:
            raise fail("Overflow")
        text = str(result).encode()
        found, before = self._hash_write(key, [(field, text)])
        found.put(field, text)
        self._settle(key, found, before)
        return result

    def hincrbyfloat(self, key: bytes, field: bytes, increment: bytes | float) -> bytes:
        """HINCRBYFLOAT: add in long double as INCRBYFLOAT does; the stored text."""
        raw = repr(float(increment)).encode() if isinstance(increment, float | int) else increment
        amount = parse_long_double(raw)
        if amount is None:
            raise not_a_float()
        if isinstance(amount, float):
            raise fail("InvalidArgument", "value is NaN or Infinity")
        found = self._lookup(key, HashValue)
        current = 0 if found is None or field not in found.fields else parse_long_double(
            found.fields[field])
        if current is None:
            raise not_a_float("hash value is not a float")
        total = add_long_double(current, amount)
        if total is None:
            raise fail("InvalidArgument", "increment would produce NaN or Infinity")
        text = format_long_double(total)  # type: ignore[arg-type]
        found, before = self._hash_write(key, [(field, text)])
        found.put(field, text)
        self._settle(key, found, before)
        return text

    def hrandfield(self, key: bytes, count: int | None = None, *, withvalues: bool = False
                   ) -> bytes | list[bytes] | list[Pair] | None:
        """HRANDFIELD: one random field (None when missing); with ``count`` a list of
        distinct fields (count >= 0) or of ``-count`` fields drawn with repetition."""
        found = self._lookup(key, HashValue)
        if count is None:
            return None if found is None else random.choice(list(found.fields))
        if found is None or count == 0:
            return []
        names = list(found.fields)
        if count < 0:
            picked = [random.choice(names) for _ in range(-count)]
        else:
            picked = random.sample(names, min(count, len(names)))
        if withvalues:
            return [(name, found.fields[name]) for name in picked]
        return picked

    def hscan(self, key: bytes, cursor: int, *, match: bytes | None = None, count: int = 10
              ) -> tuple[int, list[Pair]]:
        """HSCAN: (next cursor, (field, value) pairs); a small (listpack) hash comes whole,
        as Redis sends it."""
        check_count(count)
        found = self._lookup(key, HashValue)
        if found is None:
            return 0, []
        if found.big:
            cursor, pairs = page(found.fields.items(), cursor, count)
        else:
            cursor, pairs = 0, list(found.fields.items())
        if match is not None:
            pairs = [(f, v) for f, v in pairs if glob_match(match, f)]
        return cursor, pairs
