"""Redis's sorted-set commands on single members: ZADD, ZINCRBY, ZREM, ZSCORE, ZRANK,
ZPOPMIN/ZPOPMAX, ZSCAN. Ranges are in zranges.py, the algebra in zalgebra.py.

Scores are doubles (Python floats) and come back as floats; the endpoint writes them
with :func:`engine.cache.types.numbers.format_double`, as Redis 7.0 does. A score
argument may be a float or Redis's text (``b"1.5"``, ``b"-inf"``). Member/score pairs
come back as ``(member, score)`` tuples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.cache.glob import glob_match
from engine.cache.keyspace import Keyspace, fail
from engine.cache.types.numbers import parse_double
from engine.cache.types.scan import check_count, page
from engine.cache.types.values import LISTPACK_ENTRIES, LISTPACK_VALUE, ZSET_MEMBER_COST, ZSetValue
from engine.cache.types.zalgebra import ZAlgebraCommands
from engine.cache.types.zranges import ZRangeCommands

Score = bytes | float
Scored = tuple[bytes, float]


def _nan() -> Exception:
    return fail("InvalidArgument", "resulting score is not a number (NaN)")


class ZSetCommands(ZRangeCommands, ZAlgebraCommands, Keyspace):
    """ZADD, ZINCRBY, ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZPOPMIN, ZPOPMAX,
    ZSCAN (plus the range and algebra commands it inherits)."""

    def zadd(self, key: bytes, pairs: Sequence[tuple[Score, bytes]], *, nx: bool = False,
             xx: bool = False, gt: bool = False, lt: bool = False, ch: bool = False,
             incr: bool = False) -> int | float | None:
        """ZADD with Redis's options: the number added (or changed, with ``ch``); with
        ``incr`` the member's new score, or None when NX/XX/GT/LT stopped it."""
        if nx and xx:
            raise fail("SyntaxError", "XX and NX options at the same time are not compatible")
        if (gt and nx) or (lt and nx) or (gt and lt):
            raise fail("SyntaxError",
                       "GT, LT, and/or NX options at the same time are not compatible")
        if not pairs:
            raise fail("SyntaxError", "wrong number of arguments for 'zadd' command")
        if incr and len(pairs) > 1:
            raise fail("SyntaxError", "INCR option supports a single increment-element pair")
        scored = [(parse_double(score), member) for score, member in pairs]
        for _, member in scored:
            self._check_value(len(member))
        existing = self._lookup(key, ZSetValue)
        if existing is None and xx:
            return None if incr else 0
        extra = sum(ZSET_MEMBER_COST + len(member) for _, member in scored)
        found = self._grow(key, ZSetValue, extra)
        assert found is not None
        if existing is None and (len(scored) > LISTPACK_ENTRIES or max(
                len(member) for _, member in scored) > LISTPACK_VALUE):
            found.big = True  # Redis sizes a new sorted set by the ZADD's arguments
        before = found.nbytes
        added = changed = 0
        result: float | None = None
        try:
            for score, member in scored:
                current = found.scores.get(member)
                if current is None:
                    if xx:
                        continue
                    if incr and math.isnan(score):
                        raise _nan()
                    found.put(member, score)
                    added += 1
                    result = score
                    continue
                if nx:
                    continue
                new = current + score if incr else score
                if math.isnan(new):
                    raise _nan()
                if (gt and new <= current) or (lt and new >= current):
                    continue
                result = new
                if new != current:
                    found.put(member, new)
                    changed += 1
        finally:
            self._settle_if(key, found, before, added + changed > 0)
        if incr:
            return result
        return added + changed if ch else added

    def zincrby(self, key: bytes, increment: Score, member: bytes) -> float:
        """ZINCRBY: add to the member's score (missing: 0); the new score."""
        result = self.zadd(key, [(increment, member)], incr=True)
        assert isinstance(result, float)
        return result

    def zrem(self, key: bytes, members: Sequence[bytes]) -> int:
        found = self._lookup(key, ZSetValue)
        if found is None:
            return 0
        before = found.nbytes
        removed = sum(found.drop(member) for member in members)
        self._settle_if(key, found, before, removed > 0)
        return removed

    def zcard(self, key: bytes) -> int:
        found = self._lookup(key, ZSetValue)
        return 0 if found is None else len(found)

    def zscore(self, key: bytes, member: bytes) -> float | None:
        found = self._lookup(key, ZSetValue)
        return None if found is None else found.scores.get(member)

    def zmscore(self, key: bytes, members: Sequence[bytes]) -> list[float | None]:
        found = self._lookup(key, ZSetValue)
        return [None if found is None else found.scores.get(m) for m in members]

    def zrank(self, key: bytes, member: bytes, *, withscore: bool = False
              ) -> int | tuple[int, float] | None:
        """ZRANK: the member's 0-based rank by ascending score (with its score when
        ``withscore``), None when absent."""
        return self._rank(key, member, withscore, reverse=False)

    def zrevrank(self, key: bytes, member: bytes, *, withscore: bool = False
                 ) -> int | tuple[int, float] | None:
        return self._rank(key, member, withscore, reverse=True)

    def _rank(self, key: bytes, member: bytes, withscore: bool, *, reverse: bool
              ) -> int | tuple[int, float] | None:
        found = self._lookup(key, ZSetValue)
        rank = None if found is None else found.rank(member)
        if rank is None or found is None:
            return None
        if reverse:
            rank = len(found) - 1 - rank
        return (rank, found.scores[member]) if withscore else rank

    def zpopmin(self, key: bytes, count: int | None = None) -> list[Scored]:
        """ZPOPMIN: up to ``count`` (default 1) lowest members with their scores."""
        return self._zpop(key, count, lowest=True)

    def zpopmax(self, key: bytes, count: int | None = None) -> list[Scored]:
        return self._zpop(key, count, lowest=False)

    def _zpop(self, key: bytes, count: int | None, *, lowest: bool) -> list[Scored]:
        if count is not None and count < 0:
            raise fail("InvalidArgument", "value is out of range, must be positive")
        found = self._lookup(key, ZSetValue)
        if found is None or count == 0:
            return []
        before = found.nbytes
        out = []
        for _ in range(min(1 if count is None else count, len(found))):
            score, member = found.order[0 if lowest else -1]
            found.drop(member)
            out.append((member, score))
        self._settle(key, found, before)
        return out

    def zscan(self, key: bytes, cursor: int, *, match: bytes | None = None, count: int = 10
              ) -> tuple[int, list[Scored]]:
        """ZSCAN: (next cursor, (member, score) pairs); a small (listpack) sorted set
        comes whole, in score order, as Redis sends it."""
        check_count(count)
        found = self._lookup(key, ZSetValue)
        if found is None:
            return 0, []
        if found.big:
            cursor, pairs = page(found.scores.items(), cursor, count)
        else:
            cursor, pairs = 0, [(member, score) for score, member in found.order]
        if match is not None:
            pairs = [(m, s) for m, s in pairs if glob_match(match, m)]
        return cursor, pairs
