"""Identifiers that sort by creation time: operation ids and message ids.

Random ids (UUID4) scatter inserts over every leaf page of an LMDB B-tree, so each
command dirties (and the batch fsyncs) a page per id; ids that begin with the time land
next to each other, on a page or two per batch. The rest is random, so ids from
different nodes and processes never collide in practice.
"""

from __future__ import annotations

import secrets
import time
import uuid


def new_op_id() -> str:
    """32 hex digits: nanoseconds since the epoch, then 64 random bits."""
    return f"{time.time_ns():016x}{secrets.randbits(64):016x}"


def time_uuid() -> str:
    """A UUID version 7 (RFC 9562): 48 bits of milliseconds, then random bits, in the
    usual 8-4-4-4-12 form; it sorts by creation time as text and as bytes."""
    ms = time.time_ns() // 1_000_000
    value = (ms & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC variant
    return str(uuid.UUID(int=value))
