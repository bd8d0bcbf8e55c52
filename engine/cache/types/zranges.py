"""Sorted-set ranges: ZRANGE (by rank, BYSCORE, BYLEX, REV, LIMIT, WITHSCORES) and its
older forms, ZRANGESTORE, ZCOUNT, ZLEXCOUNT and ZREMRANGEBY{RANK,SCORE,LEX}.

Every range becomes a slice of positions in the (score, member) order (zbounds.py), so
each costs O(log n) to find plus the members it returns.
"""

from __future__ import annotations

from itertools import islice

from engine.cache.keyspace import fail
from engine.cache.types.numbers import parse_redis_int
from engine.cache.types.settle import SettleIfChanged
from engine.cache.types.values import ZSetValue
from engine.cache.types.zbounds import lex_range, lex_slice, rank_slice, score_range, score_slice

Bound = bytes | float | int
Scored = tuple[bytes, float]


def _int(raw: Bound) -> int:
    if isinstance(raw, int):
        return raw
    if isinstance(raw, bytes):
        return parse_redis_int(raw)
    raise fail("NotAnInteger")


class ZRangeCommands(SettleIfChanged):
    """ZRANGE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX,
    ZRANGESTORE, ZCOUNT, ZLEXCOUNT, ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX."""

    def zrange(self, key: bytes, start: Bound, stop: Bound, *, by: str | None = None,
               rev: bool = False, limit: tuple[int, int] | None = None,
               withscores: bool = False) -> list[bytes] | list[Scored]:
        """ZRANGE as Redis 6.2+ takes it: ``by`` None (ranks), "score" or "lex"; with
        ``rev`` the bounds are given high first, as Redis takes them."""
        picked = self._range(key, start, stop, by, rev, limit, withscores)
        if withscores:
            return picked
        return [member for member, _ in picked]

    def _range(self, key: bytes, start: Bound, stop: Bound, by: str | None, rev: bool,
               limit: tuple[int, int] | None, withscores: bool) -> list[Scored]:
        kind = by.lower() if by else None
        if kind not in (None, "score", "lex"):
            raise fail("SyntaxError", "syntax error")
        if limit is not None and kind is None:
            if limit[1] == -1:  # Redis reads a count of -1 as "no LIMIT" and lets it pass
                limit = None
            else:
                raise fail("SyntaxError", "syntax error, LIMIT is only supported in "
                                          "combination with either BYSCORE or BYLEX")
        if withscores and kind == "lex":
            raise fail("SyntaxError",
                       "syntax error, WITHSCORES not supported in combination with BYLEX")
        low, high = (stop, start) if rev and kind else (start, stop)
        if kind is None:
            first, last = _int(start), _int(stop)
            bounds = None
        elif kind == "score":
            bounds = score_range(low, high)  # type: ignore[arg-type]
        else:
            if not isinstance(low, bytes) or not isinstance(high, bytes):
                raise fail("InvalidArgument", "min or max not valid string range item")
            bounds = lex_range(low, high)
        found = self._lookup(key, ZSetValue)
        if found is None:
            return []
        if kind is None:
            lo, hi = rank_slice(len(found), first, last)
            if rev:
                lo, hi = len(found) - hi, len(found) - lo
        elif kind == "score":
            lo, hi = score_slice(found, bounds)  # type: ignore[arg-type]
        else:
            lo, hi = lex_slice(found, bounds)  # type: ignore[arg-type]
        positions = range(hi - 1, lo - 1, -1) if rev else range(lo, hi)
        if limit is not None:
            offset, count = limit
            if offset < 0:
                return []
            positions = positions[offset:] if count < 0 else positions[offset:offset + count]
        if not positions:
            return []
        if not rev:
            items = islice(found.order, positions.start, positions.stop)
        else:
            items = (found.order[i] for i in positions)
        return [(member, score) for score, member in items]

    def zrevrange(self, key: bytes, start: int, stop: int, *, withscores: bool = False
                  ) -> list[bytes] | list[Scored]:
        return self.zrange(key, start, stop, rev=True, withscores=withscores)

    def zrangebyscore(self, key: bytes, low: Bound, high: Bound, *, withscores: bool = False,
                      limit: tuple[int, int] | None = None) -> list[bytes] | list[Scored]:
        return self.zrange(key, low, high, by="score", limit=limit, withscores=withscores)

    def zrevrangebyscore(self, key: bytes, high: Bound, low: Bound, *,
                         withscores: bool = False, limit: tuple[int, int] | None = None
                         ) -> list[bytes] | list[Scored]:
        return self.zrange(key, high, low, by="score", rev=True, limit=limit,
                           withscores=withscores)

    def zrangebylex(self, key: bytes, low: bytes, high: bytes, *,
                    limit: tuple[int, int] | None = None) -> list[bytes]:
        return self.zrange(key, low, high, by="lex", limit=limit)  # type: ignore[return-value]

    def zrevrangebylex(self, key: bytes, high: bytes, low: bytes, *,
                       limit: tuple[int, int] | None = None) -> list[bytes]:
        return self.zrange(key, high, low, by="lex", rev=True,  # type: ignore[return-value]
                           limit=limit)

    def zrangestore(self, dest: bytes, source: bytes, start: Bound, stop: Bound, *,
                    by: str | None = None, rev: bool = False,
                    limit: tuple[int, int] | None = None) -> int:
        """ZRANGESTORE: store the range at ``dest`` (replacing it); its size."""
        picked = self._range(source, start, stop, by, rev, limit, False)
        self._check_key(dest)
        if not picked:
            if self._data.get(dest) is not None:
                self._remove(dest)
            return 0
        result = ZSetValue()
        for member, score in picked:
            result.put(member, score)
        self._put(dest, result, None)
        return len(result)

    def zcount(self, key: bytes, low: Bound, high: Bound) -> int:
        """ZCOUNT: members with a score in ``low..high``."""
        bounds = score_range(low, high)  # type: ignore[arg-type]
        found = self._lookup(key, ZSetValue)
        if found is None:
            return 0
        lo, hi = score_slice(found, bounds)
        return hi - lo

    def zlexcount(self, key: bytes, low: bytes, high: bytes) -> int:
        bounds = lex_range(low, high)
        found = self._lookup(key, ZSetValue)
        if found is None:
            return 0
        lo, hi = lex_slice(found, bounds)
        return hi - lo

    def _remove_slice(self, key: bytes, found: ZSetValue, lo: int, hi: int) -> int:
        doomed = [member for _, member in islice(found.order, lo, hi)]
        before = found.nbytes
        for member in doomed:
            found.drop(member)
        self._settle_if(key, found, before, bool(doomed))
        return len(doomed)

    def zremrangebyrank(self, key: bytes, start: int, stop: int) -> int:
        found = self._lookup(key, ZSetValue)
        if found is None:
            return 0
        return self._remove_slice(key, found, *rank_slice(len(found), start, stop))

    def zremrangebyscore(self, key: bytes, low: Bound, high: Bound) -> int:
        bounds = score_range(low, high)  # type: ignore[arg-type]
        found = self._lookup(key, ZSetValue)
        if found is None:
            return 0
        return self._remove_slice(key, found, *score_slice(found, bounds))

    def zremrangebylex(self, key: bytes, low: bytes, high: bytes) -> int:
        bounds = lex_range(low, high)
        found = self._lookup(key, ZSetValue)
        if found is None:
            return 0
        return self._remove_slice(key, found, *lex_slice(found, bounds))
