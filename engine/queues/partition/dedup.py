"""FIFO deduplication: a deduplication id is remembered for 5 minutes from its first send.

The window is per queue incarnation (all its partitions) and survives the deletion and
the purge of the message. Lookups check the window themselves, so an id whose window
ended is treated as new even before the bounded expiry in ``expire`` removed it.
"""

from __future__ import annotations

from engine.cluster.consensus.machine import Keyspace
from engine.queues.partition import keys as K
from engine.queues.partition import limits
from engine.queues.partition.messages import scan


def find(keys: Keyspace, qid: int, dedup_id: bytes, now: int) -> tuple[bytes, int] | None:
    """(message id, sequence) of the first send with this id inside the window."""
    value = keys.get(K.data(qid) + K.DEDUP + dedup_id)
    if value is None:
        return None
    first, sequence = K.DEDUP_VALUE.unpack_from(value)
    if first + limits.DEDUP_WINDOW_NS <= now:
        return None
    return value[K.DEDUP_VALUE.size :], sequence


def remember(keys: Keyspace, qid: int, dedup_id: bytes, now: int, mid: bytes, seq: int) -> None:
    base = K.data(qid)
    key = base + K.DEDUP + dedup_id
    old = keys.get(key)
    if old is not None:  # an ended window not yet expired
        first = K.DEDUP_VALUE.unpack_from(old)[0]
        keys.delete(base + K.DEDUP_AGE + K.t64(first) + dedup_id)
    keys.put(key, K.DEDUP_VALUE.pack(now, seq) + mid)
    keys.put(base + K.DEDUP_AGE + K.t64(now) + dedup_id, b"")


def expire(keys: Keyspace, qid: int, now: int, budget: int) -> int:
    """Forget ids whose window ended, oldest first, at most ``budget``; how many."""
    base = K.data(qid)
    start = base + K.DEDUP_AGE
    stop = K.upto(start, now - limits.DEDUP_WINDOW_NS)
    entries = scan(keys, start, stop, budget)
    skip = len(start) + 8
    for key, _ in entries:
        keys.delete(key)
        keys.delete(base + K.DEDUP + key[skip:])
    return len(entries)
