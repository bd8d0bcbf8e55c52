"""SCAN-family cursors: stateless pages over a changing keyspace or collection.

Redis's cursor walks hash-table buckets in reverse-binary order. Ours walks names in the
order of their CRC-32 (deterministic, so a cursor means the same on a primary and on the
replica that took over): cursor ``c`` asks for the names whose CRC-32 is at least ``c``,
and a page ends after a whole CRC value, so the cursor it returns is the next CRC value
to read (0 when nothing is left). Redis's guarantee holds: a name present from the first
call to the last is returned at least once (exactly once here), and one added or removed
meanwhile may or may not be. A page costs O(n log count) in the collection's size n,
where Redis's costs O(count): fine for the sizes a cache holds, and documented.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from typing import TypeVar
from zlib import crc32

from engine.errors import EngineError

T = TypeVar("T")
_CURSOR_LIMIT = 2**64 - 1


def parse_cursor(raw: bytes | int) -> int:
    """A cursor argument as Redis reads it (strtoull over the whole text)."""
    if isinstance(raw, int):
        if 0 <= raw <= _CURSOR_LIMIT:
            return raw
    elif raw.isdigit() and int(raw) <= _CURSOR_LIMIT:
        return int(raw)
    raise EngineError("InvalidArgument", "invalid cursor")


def check_count(count: int) -> None:
    if count < 1:
        raise EngineError("SyntaxError", "syntax error")


def page(entries: Collection[tuple[bytes, T]], cursor: int, count: int
         ) -> tuple[int, list[tuple[bytes, T]]]:
    """About ``count`` (name, payload) pairs from ``cursor`` on, and the next cursor."""
    check_count(count)
    ahead = ((h, name, payload) for name, payload in entries
             if (h := crc32(name)) >= cursor)
    chosen = heapq.nsmallest(count + 1, ahead, key=lambda item: (item[0], item[1]))
    if len(chosen) <= count:
        return 0, [(name, payload) for _, name, payload in chosen]
    last = chosen[count - 1][0]
    if chosen[count][0] == last:  # a CRC shared past the page: take all of its names
        rest = [(h, n, p) for n, p in entries if (h := crc32(n)) == last]
        chosen = [c for c in chosen if c[0] < last] + sorted(rest, key=lambda c: c[1])
    else:
        chosen = chosen[:count]
    return last + 1, [(name, payload) for _, name, payload in chosen]
