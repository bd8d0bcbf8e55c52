"""Numbers as Redis 7.0 reads and writes them: score replies (%.17g), score arguments
(strtod's grammar, no NaN, no overflow), range bounds, and INCRBYFLOAT's long double.

The expected texts are what redis-server 7.0.15 replied (ZADD/ZSCORE, INCRBYFLOAT)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from engine.cache.types.numbers import (
    add_long_double,
    format_double,
    format_long_double,
    parse_double,
    parse_long_double,
    parse_range_double,
)
from engine.errors import EngineError


@pytest.mark.parametrize(("value", "text"), [
    (1.5, b"1.5"),
    (0.1, b"0.10000000000000001"),
    (3.0, b"3"),
    (-0.0, b"-0"),
    (0.0, b"0"),
    (1e20, b"1e+20"),
    (9007199254740992.0, b"9007199254740992"),
    (123456789012345678.0, b"1.2345678901234568e+17"),
    (1 / 3, b"0.33333333333333331"),
    (-1e-7, b"-9.9999999999999995e-08"),
    (5e-324, b"4.9406564584124654e-324"),
    (math.inf, b"inf"),
    (-math.inf, b"-inf"),
])
def test_doubles_are_replied_as_redis_70_replies_them(value: float, text: bytes) -> None:
    assert format_double(value) == text


@pytest.mark.parametrize(("raw", "value"), [
    (b"1", 1.0), (b"-2.5", -2.5), (b"+inf", math.inf), (b"-inf", -math.inf),
    (b"inf", math.inf), (b"Infinity", math.inf), (b"3e2", 300.0), (b".5", 0.5),
    (b"5.", 5.0), (b"0x10", 16.0), (b"5e-324", 5e-324), (1.25, 1.25), (7, 7.0),
])
def test_score_arguments_strtod_accepts(raw: bytes | float, value: float) -> None:
    assert parse_double(raw) == value


@pytest.mark.parametrize("raw", [b"", b" 1", b"1 ", b"nan", b"abc", b"1e400", b"-1e400",
                                 b"1e-400", b"1_0", math.nan])
def test_score_arguments_redis_refuses(raw: bytes | float) -> None:
    with pytest.raises(EngineError) as info:
        parse_double(raw)
    assert info.value.message == "value is not a valid float"


def test_range_bounds_are_read_as_zslparserange_reads_them() -> None:
    assert parse_range_double(b"") == 0.0  # "(" alone: exclusive 0
    assert parse_range_double(b"1e400") == math.inf
    assert parse_range_double(b" 2") == 2.0
    assert parse_range_double(b"nan") is None
    assert parse_range_double(b"x") is None


@pytest.mark.parametrize(("start", "increment", "text"), [
    (b"10.50", b"0.1", b"10.6"),
    (b"10.6", b"-5", b"5.6"),
    (b"5.0e3", b"2.0e2", b"5200"),
    (b"1000", b"3.0e-2", b"1000.03000000000000003"),
    (b"0.1", b"-0.1", b"0"),
    (b"1", b"1e30", b"1000000000000000000024696061952"),  # 1e30 in 64 mantissa bits
    (b"-1", b"0.5", b"-0.5"),
])
def test_long_double_sums_match_redis(start: bytes, increment: bytes, text: bytes) -> None:
    a, b = parse_long_double(start), parse_long_double(increment)
    assert isinstance(a, Fraction) and isinstance(b, Fraction)
    total = add_long_double(a, b)
    assert total is not None and format_long_double(total) == text


def test_long_double_refusals() -> None:
    for bad in (b"", b" 1", b"nan", b"1e5000", b"abc", b"1" * 5200):
        assert parse_long_double(bad) is None
    assert parse_long_double(b"inf") == math.inf
    assert add_long_double(math.inf, Fraction(1)) is None
