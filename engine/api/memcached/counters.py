"""memcached's incr/decr arithmetic: unsigned 64-bit, incr wraps, decr stops at 0."""

from __future__ import annotations

import re

from engine.api.memcached.syntax import U64

# strtoull as memcached's safe_strtoull takes it: leading spaces, digits, then the end or
# a space ("12 " and "1 2" are numbers, "12a" is not).
_NUMBER = re.compile(rb"[ \t\n\v\f\r]*\+?([0-9]+)(?:[ \t\n\v\f\r].*)?", re.DOTALL)


def counter_value(data: bytes | memoryview) -> int | None:
    match = _NUMBER.fullmatch(bytes(data))
    if match is None:
        return None
    value = int(match.group(1))
    return value if value < U64 else None


def apply_delta(value: int, delta: int, incr: bool) -> int:
    return (value + delta) % U64 if incr else max(value - delta, 0)
