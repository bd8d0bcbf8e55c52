"""Score and lexicographic ranges over a sorted set, as Redis parses and applies them.

A score range is ``min max`` with "(" for exclusive and "-inf"/"+inf"; a lex range is
"[x" (inclusive), "(x" (exclusive), "-" and "+" (the ends). Both map to a half-open
slice ``[lo, hi)`` of positions in the (score, member) order, found by bisection:
O(log n). Lex ranges assume, as Redis documents, that all members share one score; on
mixed scores the search is still a bisection over the order, as Redis's skiplist walk is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.cache.types.numbers import parse_range_double
from engine.cache.types.values import ZSetValue
from engine.errors import EngineError


@dataclass(frozen=True, slots=True)
class ScoreRange:
    low: float
    low_open: bool
    high: float
    high_open: bool


@dataclass(frozen=True, slots=True)
class LexRange:
    low: bytes | None  # None: "-" (below everything) or "+" (above), per low_end
    low_open: bool
    high: bytes | None
    high_open: bool
    low_end: int = 0  # -1: "-", 1: "+", 0: a member
    high_end: int = 0


def _score_bound(raw: bytes | float) -> tuple[float, bool]:
    if isinstance(raw, float | int):
        return float(raw), False
    open_ = raw[:1] == b"("
    value = parse_range_double(raw[1:] if open_ else raw)
    if value is None:
        raise EngineError("NotAFloat", "min or max is not a float")
    return value, open_


def score_range(low: bytes | float, high: bytes | float) -> ScoreRange:
    """``min max`` as zslParseRange reads them; NotAFloat for anything else."""
    lo, lo_open = _score_bound(low)
    hi, hi_open = _score_bound(high)
    return ScoreRange(lo, lo_open, hi, hi_open)


def _lex_bound(raw: bytes) -> tuple[bytes | None, bool, int]:
    if raw == b"+":
        return None, False, 1
    if raw == b"-":
        return None, False, -1
    if raw[:1] in (b"(", b"["):
        return raw[1:], raw[:1] == b"(", 0
    raise EngineError("InvalidArgument", "min or max not valid string range item")


def lex_range(low: bytes, high: bytes) -> LexRange:
    lo, lo_open, lo_end = _lex_bound(low)
    hi, hi_open, hi_end = _lex_bound(high)
    return LexRange(lo, lo_open, hi, hi_open, lo_end, hi_end)


def score_slice(zset: ZSetValue, r: ScoreRange) -> tuple[int, int]:
    """Positions [lo, hi) of the members whose score is in ``r``."""
    order, size = zset.order, len(zset.order)
    if r.low_open:
        lo = size if r.low == math.inf else order.bisect_left(
            (math.nextafter(r.low, math.inf), b""))
    else:
        lo = order.bisect_left((r.low, b""))
    if r.high_open:
        hi = order.bisect_left((r.high, b""))
    else:
        hi = size if r.high == math.inf else order.bisect_left(
            (math.nextafter(r.high, math.inf), b""))
    return lo, max(lo, hi)


def _above_low(member: bytes, r: LexRange) -> bool:
    if r.low_end:
        return r.low_end < 0
    assert r.low is not None
    return member > r.low if r.low_open else member >= r.low


def _below_high(member: bytes, r: LexRange) -> bool:
    if r.high_end:
        return r.high_end > 0
    assert r.high is not None
    return member < r.high if r.high_open else member <= r.high


def lex_slice(zset: ZSetValue, r: LexRange) -> tuple[int, int]:
    """Positions [lo, hi) of the members in the lex range ``r``."""
    order = zset.order
    lo, hi = 0, len(order)
    while lo < hi:  # first position at or above the low bound
        mid = (lo + hi) // 2
        if _above_low(order[mid][1], r):
            hi = mid
        else:
            lo = mid + 1
    start = lo
    hi = len(order)
    while lo < hi:  # first position past the high bound
        mid = (lo + hi) // 2
        if _below_high(order[mid][1], r):
            lo = mid + 1
        else:
            hi = mid
    return start, max(start, lo)


def rank_slice(size: int, start: int, stop: int) -> tuple[int, int]:
    """Positions [lo, hi) for ranks ``start..stop`` inclusive (negative from the end)."""
    start = max(size + start if start < 0 else start, 0)
    stop = size + stop if stop < 0 else stop
    if start > stop or start >= size:
        return 0, 0
    return start, min(stop, size - 1) + 1
