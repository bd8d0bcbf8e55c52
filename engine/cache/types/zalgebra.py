"""ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE with WEIGHTS and AGGREGATE.

Sources may be sorted sets or plain sets (every member scoring 1), as in Redis; a
missing source is empty. A weighted score that is NaN (0 x inf) counts as 0, and so does
a sum of +inf and -inf, as Redis does. The result replaces the destination, whose TTL
goes with it; an empty result deletes it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.cache.keyspace import Keyspace, fail, wrong_type
from engine.cache.types.numbers import parse_double
from engine.cache.types.values import SetValue, ZSetValue
from engine.errors import EngineError

Weight = bytes | float | int


def _aggregate(mode: str, a: float, b: float) -> float:
    if mode == "SUM":
        total = a + b
        return 0.0 if math.isnan(total) else total
    return min(a, b) if mode == "MIN" else max(a, b)


class ZAlgebraCommands(Keyspace):
    """ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE."""

    def _sources(self, keys: Sequence[bytes], command: str) -> list[dict[bytes, float] | None]:
        if not keys:
            raise fail("InvalidArgument", f"at least 1 input key is needed for '{command}' "
                                          "command")
        out: list[dict[bytes, float] | None] = []
        for key in keys:
            value = self._live(key, self._now_ms())
            if value is None:
                out.append(None)
            elif isinstance(value, ZSetValue):
                self._touch(key)
                out.append(value.scores)
            elif isinstance(value, SetValue):
                self._touch(key)
                out.append(dict.fromkeys(value.members, 1.0))
            else:
                raise wrong_type()
        return out

    def _weights(self, keys: Sequence[bytes], weights: Sequence[Weight] | None) -> list[float]:
        if weights is None:
            return [1.0] * len(keys)
        if len(weights) != len(keys):
            raise fail("SyntaxError", "syntax error")
        try:
            return [parse_double(w) for w in weights]
        except EngineError:
            raise fail("NotAFloat", "weight value is not a float") from None

    def zunionstore(self, dest: bytes, keys: Sequence[bytes], *,
                    weights: Sequence[Weight] | None = None, aggregate: str = "SUM") -> int:
        """ZUNIONSTORE: every member of any source, scores combined; the result's size."""
        sources = self._sources(keys, "zunionstore")  # types first, then options: Redis's order
        factors = self._weights(keys, weights)
        mode = self._mode(aggregate)
        result: dict[bytes, float] = {}
        for source, weight in zip(sources, factors, strict=True):
            for member, score in (source or {}).items():
                value = _weighted(score, weight)
                result[member] = value if member not in result else _aggregate(
                    mode, result[member], value)
        return self._zstore(dest, result)

    def zinterstore(self, dest: bytes, keys: Sequence[bytes], *,
                    weights: Sequence[Weight] | None = None, aggregate: str = "SUM") -> int:
        """ZINTERSTORE: members in every source, scores combined; the result's size."""
        sources = self._sources(keys, "zinterstore")
        factors = self._weights(keys, weights)
        mode = self._mode(aggregate)
        result: dict[bytes, float] = {}
        if all(s is not None for s in sources):
            first, *rest = [(s or {}, w) for s, w in zip(sources, factors, strict=True)]
            for member, score in first[0].items():
                if all(member in other for other, _ in rest):
                    value = _weighted(score, first[1])
                    for other, weight in rest:
                        value = _aggregate(mode, value, _weighted(other[member], weight))
                    result[member] = value
        return self._zstore(dest, result)

    def zdiffstore(self, dest: bytes, keys: Sequence[bytes]) -> int:
        """ZDIFFSTORE: members of the first source in none of the others."""
        sources = self._sources(keys, "zdiffstore")
        first = sources[0] or {}
        result = {m: s for m, s in first.items()
                  if not any(m in (other or {}) for other in sources[1:])}
        return self._zstore(dest, result)

    @staticmethod
    def _mode(aggregate: str) -> str:
        mode = aggregate.upper()
        if mode not in ("SUM", "MIN", "MAX"):
            raise fail("SyntaxError", "syntax error")
        return mode

    def _zstore(self, dest: bytes, members: dict[bytes, float]) -> int:
        self._check_key(dest)
        if not members:
            if self._data.get(dest) is not None:
                self._remove(dest)
            return 0
        result = ZSetValue()
        for member, score in members.items():
            result.put(member, score)
        self._put(dest, result, None)
        return len(result)


def _weighted(score: float, weight: float) -> float:
    value = score * weight
    return 0.0 if math.isnan(value) else value
