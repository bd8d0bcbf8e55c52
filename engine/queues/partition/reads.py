"""Read-only queries on a read transaction: counts, readiness, the next wake-up time.

Commands leave time-driven work undone beyond their budget, and no command runs between
the last one and the time a query asks about, so every query discounts that work itself:
hidden messages whose time came count as visible, messages past retention as gone. Each
discount walks at most ``READ_SCAN`` keys; past that the answer is approximate (SQS's
counts are approximate too) and errs towards waking a long poll early.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from engine.cluster.consensus.machine import ReadKeyspace
from engine.queues.partition import keys as K
from engine.queues.partition import limits
from engine.queues.partition.fifo import group_time
from engine.queues.partition.messages import Msg
from engine.queues.partition.queues import Queue, now_of
from engine.v1 import queue_records_pb2 as rec


def stats(keys: ReadKeyspace, ref: rec.QueueRef, now_ns: int) -> list[rec.PartitionStats]:
    queue = Queue.find(keys, ref)
    if queue is None:
        return []
    now = max(now_ns, now_of(keys))
    cutoff = queue.cutoff(now)
    out = []
    for index, _, head in queue.part_heads(keys):
        pid, _, _, total, inflight, delayed = K.PART_HEAD.unpack(head)
        base = K.data(pid)
        hidden = base + K.HIDDEN
        for _, value in _walk(keys, hidden, K.upto(hidden, now)):  # visible again
            if value[0]:
                inflight -= 1
            else:
                delayed -= 1
        if cutoff is not None:
            for msg in _expired(keys, base, cutoff):
                total -= 1
                if msg.visible > now:  # still in HIDDEN and counted there
                    if msg.in_flight:
                        inflight -= 1
                    else:
                        delayed -= 1
        out.append(
            rec.PartitionStats(
                partition=index,
                visible=max(total - inflight - delayed, 0),
                in_flight=max(inflight, 0),
                delayed=max(delayed, 0),
                next_visible_ns=_next_hidden(keys, base, now, cutoff),
            )
        )
    return out


def ready(
    keys: ReadKeyspace, ref: rec.QueueRef, partitions: Iterable[int], now_ns: int
) -> list[int]:
    """The given partitions where a receive now would return at least one message."""
    now = max(now_ns, now_of(keys))
    return [index for index, base, fifo, cutoff in _parts(keys, ref, partitions, now)
            if (_fifo_ready if fifo else _standard_ready)(keys, base, now, cutoff)]  # fmt: skip


def next_visible_ns(
    keys: ReadKeyspace, ref: rec.QueueRef, partitions: Iterable[int], now_ns: int
) -> int:
    """Earliest time after now when one of the partitions gets something to deliver
    (0 if none): long polling sleeps until then unless a command wakes it earlier."""
    now = max(now_ns, now_of(keys))
    times = [
        _fifo_next(keys, base, now, cutoff) if fifo else _next_hidden(keys, base, now, cutoff)
        for _, base, fifo, cutoff in _parts(keys, ref, partitions, now)
    ]
    return min((t for t in times if t), default=0)


def _parts(
    keys: ReadKeyspace, ref: rec.QueueRef, partitions: Iterable[int], now: int
) -> list[tuple[int, bytes, bool, int | None]]:
    """(partition, data prefix, fifo, retention cutoff) of each distinct partition held."""
    queue = Queue.find(keys, ref)
    if queue is None:
        return []
    cutoff = queue.cutoff(now)
    out: dict[int, tuple[int, bytes, bool, int | None]] = {}
    for index in partitions:
        if index in out or not 0 <= index <= limits.U32:
            continue
        head = keys.get(queue.part_key(index))
        if head is not None:
            pid, fifo = K.PART_HEAD.unpack(head)[:2]
            out[index] = (index, K.data(pid), bool(fifo), cutoff)
    return list(out.values())


def _walk(keys: ReadKeyspace, start: bytes, stop: bytes) -> Iterable[tuple[bytes, bytes]]:
    return islice(keys.range(start, stop), limits.READ_SCAN)


def _alive(sent: bytes, cutoff: int | None) -> bool:
    return cutoff is None or K.I64.unpack(sent)[0] > cutoff


def _expired(keys: ReadKeyspace, base: bytes, cutoff: int) -> Iterable[Msg]:
    """Messages past retention that no command has removed yet."""
    start = base + K.RETAIN
    for _, mid in _walk(keys, start, K.upto(start, cutoff)):
        value = keys.get(base + K.MSG + mid)
        if value is not None:
            yield Msg.decode(mid, value)


def _next_hidden(keys: ReadKeyspace, base: bytes, now: int, cutoff: int | None) -> int:
    """The earliest visible_ns after now of a hidden message (0 if none). If the walk
    ends on messages past retention, the first: waking early is harmless, sleeping
    through not."""
    hidden = base + K.HIDDEN
    first = walked = 0
    for key, value in _walk(keys, K.upto(hidden, now), K.end(hidden)):
        at = K.time_of(key, len(hidden))
        if _alive(value[1:9], cutoff):
            return at
        first = first or at
        walked += 1
    return first if walked >= limits.READ_SCAN else 0


def _standard_ready(keys: ReadKeyspace, base: bytes, now: int, cutoff: int | None) -> bool:
    ready = base + K.READY
    if any(_alive(value[:8], cutoff) for _, value in _walk(keys, ready, K.end(ready))):
        return True
    hidden = base + K.HIDDEN
    return any(_alive(value[1:9], cutoff) for _, value in _walk(keys, hidden, K.upto(hidden, now)))


def _touched_groups(keys: ReadKeyspace, base: bytes, cutoff: int | None) -> dict[bytes, None]:
    """FIFO groups holding a message past retention: their registration may be stale."""
    if cutoff is None:
        return {}
    return {msg.group: None for msg in _expired(keys, base, cutoff)}


def _fifo_ready(keys: ReadKeyspace, base: bytes, now: int, cutoff: int | None) -> bool:
    stale = _touched_groups(keys, base, cutoff)
    avail, timer = base + K.AVAIL, base + K.TIMER
    for _, group in keys.range(avail, K.end(avail)):  # at most len(stale) + 1 steps
        if group not in stale:
            return True
    for _, group in keys.range(timer, K.upto(timer, now)):
        if group not in stale:
            return True
    for group in stale:
        found = group_time(keys, base, group, cutoff, limits.READ_SCAN)
        if found is not None and found[0] <= now:
            return True
    return False


def _fifo_next(keys: ReadKeyspace, base: bytes, now: int, cutoff: int | None) -> int:
    stale = _touched_groups(keys, base, cutoff)
    timer = base + K.TIMER
    best = 0
    for key, group in keys.range(K.upto(timer, now), K.end(timer)):
        if group not in stale:
            best = K.time_of(key, len(timer))
            break
    for group in stale:
        found = group_time(keys, base, group, cutoff, limits.READ_SCAN)
        if found is not None and found[0] > now and (not best or found[0] < best):
            best = found[0]
    return best
