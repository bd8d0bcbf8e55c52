"""FIFO message groups: delivered in sequence order, blocked while a message is in flight.

A group is available at ``at = max(head's visible_ns, visible_ns of its in-flight
messages)``. That time does not depend on the clock (an in-flight message whose timeout
passed is below any later now), so it changes only when a message of the group changes,
and the command that changes one re-evaluates the group (``refresh``). Each group is
registered once: in AVAIL by head order if ``at`` had passed at registration, else in
TIMER by ``at``; ``wake`` moves due timers over, a bounded number per command, and reads
treat a due timer as available.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from engine.cluster.consensus.machine import ReadKeyspace
from engine.queues.partition import keys as K
from engine.queues.partition.messages import Msg, Part, first, last, scan, visible_of

_BATCH = 10  # members read at a time while picking (a receive takes at most 10)


def group_time(
    keys: ReadKeyspace, base: bytes, group: bytes, cutoff: int | None, limit: int
) -> tuple[int, int] | None:
    """(when the group is available, head order), or None if it holds no message.

    With a cutoff, messages sent at or before it count as gone (reads looking past
    retention work no command has done yet); at most ``limit`` of them are skipped."""
    gp = K.group_prefix(group)
    members = base + K.MEMBER + gp
    flying = base + K.FLYING + gp
    if cutoff is None:  # every command's path: two seeks
        head = first(keys, members, K.end(members))
        blocker = last(keys, flying, K.end(flying))
    else:
        head = _first_alive(keys.range(members, K.end(members)), cutoff, limit)
        blocker = _first_alive(keys.range(flying, K.end(flying), reverse=True), cutoff, limit)
    value = None if head is None else keys.get(base + K.MSG + head[1][8:])
    if head is None or value is None:
        return None
    at = visible_of(value)
    if blocker is not None:
        at = max(at, K.time_of(blocker[0], len(flying)))
    return at, K.U64.unpack_from(head[0], len(head[0]) - 8)[0]


def _first_alive(
    pairs: Iterator[tuple[bytes, bytes]], cutoff: int, limit: int
) -> tuple[bytes, bytes] | None:
    """The first pair whose sent_ns (the value's first 8 bytes) is after the cutoff, or
    the one reached after skipping ``limit`` (an approximate answer beats a long walk)."""
    for pair in pairs:
        if K.I64.unpack_from(pair[1])[0] > cutoff or limit <= 0:
            return pair
        limit -= 1
    return None


def _index_key(base: bytes, status: bytes) -> bytes:
    at, head, timer = K.GROUP_HEAD.unpack(status)
    return base + K.TIMER + K.time_order(at, head) if timer else base + K.AVAIL + K.u64(head)


def refresh(part: Part, group: bytes, now: int) -> None:
    """Register the group where its current status says (or forget an empty group)."""
    keys, base = part.keys, part.base
    status_key = base + K.STATUS + group
    old = keys.get(status_key)
    found = group_time(keys, base, group, None, 0)
    new = None if found is None else K.GROUP_HEAD.pack(found[0], found[1], found[0] > now)
    if new == old:
        return
    if old is not None:
        keys.delete(_index_key(base, old))
    if new is None:
        keys.delete(status_key)
        return
    keys.put(_index_key(base, new), group)
    keys.put(status_key, new)


def refresh_touched(part: Part, now: int) -> None:
    touched, part.touched = part.touched, {}
    for group in touched:
        refresh(part, group, now)


def wake(part: Part, now: int) -> None:
    """Move groups whose time came from TIMER to AVAIL, within the budget."""
    keys, base = part.keys, part.base
    start = base + K.TIMER
    entries = scan(keys, start, K.upto(start, now), part.budget)
    part.budget -= len(entries)
    skip = len(start)
    for key, group in entries:
        at, head = K.TIME_ORDER.unpack_from(key, skip)
        keys.delete(key)
        keys.put(base + K.AVAIL + K.u64(head), group)
        keys.put(base + K.STATUS + group, K.GROUP_HEAD.pack(at - K.BIAS, head, False))


def pick(part: Part, now: int, take: Callable[[Msg], None], full: Callable[[], bool]) -> None:
    """Available groups by oldest head; from each, its consecutive deliverable messages.

    Picked groups are re-evaluated when the command ends (``refresh_touched``)."""
    keys, base = part.keys, part.base
    start, stop = base + K.AVAIL, K.end(base + K.AVAIL)
    while not full() and part.skips > 0:
        entry = first(keys, start, stop)
        if entry is None:
            return
        start = entry[0] + b"\x00"
        group = entry[1]
        part.touched[group] = None
        members = base + K.MEMBER + K.group_prefix(group)
        member_start, member_stop = members, K.end(members)
        while not full():
            batch = scan(keys, member_start, member_stop, _BATCH)
            if not batch:
                break
            member_start = batch[-1][0] + b"\x00"
            if not _take_run(part, batch, now, take, full):
                break


def _take_run(
    part: Part,
    batch: list[tuple[bytes, bytes]],
    now: int,
    take: Callable[[Msg], None],
    full: Callable[[], bool],
) -> bool:
    """Take members in order until one is not deliverable; False once the run ended."""
    for _, sent_mid in batch:
        msg = part.get(sent_mid[8:])
        if msg is None:
            continue
        if part.gone(msg):  # past retention, its removal left for later
            if not part.drop_expired(msg):
                return False
            continue
        if msg.visible > now or full():
            return False
        take(msg)
    return True
