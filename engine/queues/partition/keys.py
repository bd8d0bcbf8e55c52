"""Key layout of the partitions keyspace: one-byte tables, big-endian fixed-width integers.

Integers in keys are big-endian and fixed width, so LMDB's byte order is numeric order;
signed times are biased by 2**63 (``t64``). Top-level tables::

    m                               -> Meta: latest command time, next id
    c                               -> where the sweep round resumes: a byte (some
                                       partition ran out of budget) + a ``p`` key
    q + u16 len(name) + name + inc  -> u64 qid (a queue incarnation's id)
    u + qid                         -> QueueHead: next FIFO sequence, policy
    p + qid + u32 partition         -> PartHead: pid (the partition's epoch), counts
    x + id                          -> b"" (data of a purged epoch or dropped queue: garbage)
    s + id + table + ...            -> the data of one partition epoch (id = pid) or of one
                                       queue (id = qid, deduplication only)

Ids come from one counter, so purging a partition (a fresh pid) or dropping a queue is
O(1): the old ``s + id`` range becomes garbage, deleted by sweeps in bounded chunks.

Tables under ``s + pid`` (``order`` is the u64 arrival order, unique in the epoch)::

    M + mid                              -> MsgHead (the changing fields) + group
                                            + content if at most 1 KiB
    B + order                            -> content: StoredMessage fields 1-9,
                                            deterministic (when over 1 KiB)
    R + order                            -> sent + mid   standard: deliverable now
    H + t64 visible + order              -> flag + sent + mid   hidden (delayed or in flight)
    T + t64 sent + order                 -> mid          retention order
    G + u16 len(group) + group + order   -> sent + mid   FIFO: a group in sequence order
    I + u16 len(group) + group + t64 visible + order -> sent + mid   FIFO: in flight
    S + group                            -> GroupHead: when available, head order, timer?
    A + head order                       -> group        FIFO: groups available now
    W + t64 at + head order              -> group        FIFO: groups available at ``at``

Tables under ``s + qid``::

    D + dedup id                         -> first send (q), sequence (Q) + mid
    E + t64 first send + dedup id        -> b""          window order
"""

from __future__ import annotations

import struct

from engine.cluster.consensus.machine import prefix_end

META = b"m"
SWEEP = b"c"
NAMES = b"q"
QUEUES = b"u"
PARTS = b"p"
GARBAGE = b"x"
DATA = b"s"

MSG = b"M"
BODY = b"B"
READY = b"R"
HIDDEN = b"H"
RETAIN = b"T"
MEMBER = b"G"
FLYING = b"I"
STATUS = b"S"
AVAIL = b"A"
TIMER = b"W"
DEDUP = b"D"
DEDUP_AGE = b"E"

BIAS = 1 << 63
U16 = struct.Struct(">H")
U32 = struct.Struct(">I")
U64 = struct.Struct(">Q")
I64 = struct.Struct(">q")
META_VALUE = struct.Struct(">qQ")  # now, next id
QUEUE_HEAD = struct.Struct(">QBqI")  # next sequence, fifo, retention_ns, max_receive_count
PART_HEAD = struct.Struct(">QBQQQQ")  # pid, fifo, next order, total, in flight, delayed
GROUP_HEAD = struct.Struct(">qQB")  # available at, head order, registered as a timer
DEDUP_VALUE = struct.Struct(">qQ")  # first send, sequence
TIME_ORDER = struct.Struct(">QQ")  # t64 time + order, the tail of H, T, I and W keys


def u64(value: int) -> bytes:
    return U64.pack(value)


def t64(value: int) -> bytes:
    """A signed time as 8 bytes whose byte order is numeric order."""
    return U64.pack(value + BIAS)


def time_order(time: int, order: int) -> bytes:
    return TIME_ORDER.pack(time + BIAS, order)


def time_of(key: bytes, at: int) -> int:
    """The t64 time stored in ``key`` at offset ``at``."""
    return U64.unpack_from(key, at)[0] - BIAS


def upto(prefix: bytes, time: int) -> bytes:
    """Exclusive bound of the keys ``prefix + t64(t) + ...`` with t <= time."""
    if time >= BIAS - 1:
        return prefix_end(prefix) or prefix + b"\xff" * 17
    return prefix + t64(time + 1)


def data(ident: int) -> bytes:
    """The prefix of everything a partition epoch or a queue keeps under ``s``."""
    return DATA + u64(ident)


def group_prefix(group: bytes) -> bytes:
    return U16.pack(len(group)) + group


def end(prefix: bytes) -> bytes:
    """The exclusive end of ``prefix`` (never None: no prefix here is all 0xff)."""
    stop = prefix_end(prefix)
    assert stop is not None
    return stop
