"""Deterministic state of the queue partitions held by one Raft replica group.

Every replica applies the same :class:`rec.PartitionCommand` sequence, so :meth:`apply` must
give every replica the same state and the same result: nothing here reads a clock, draws a
random number or iterates a set. Time is the command's ``now_ns``, never going backwards;
every container that is iterated is an insertion-ordered dict, a list, a deque or a heap of
fully ordered tuples. A snapshot is :meth:`PartitionState.capture`: the state as plain
tuples and lists, which :meth:`PartitionState.restore` turns back into an equal state.

Layout of a partition (all costs amortized O(log n) per message touched):

* ``slots``: message id -> :class:`_Slot` (the message's fixed content serialized, its
  changing fields, its arrival order, the generation of its last state change).
* ``ready`` (standard only): heap of deliverable messages by arrival order.
* ``hidden``: heap of messages invisible until ``visible_ns`` (delayed or in flight).
* ``lane`` + ``late``: retention order. Messages sent "now" arrive in sent order and go to
  the ordered ``lane``; ones carrying an older ``sent_ns`` (dead-letter moves) go to the
  ``late`` heap.
* FIFO only: per message group a deque of ids in sequence order, plus heaps of groups that
  are available now (``avail``, by head arrival) or at a known time (``timers``).

Heaps are lazy: an entry remembers the generation of its message or group and is skipped once
that changed. Stale tops are popped after every command (so read-only checks look at a valid
top) and a heap is rebuilt once its garbage outweighs the live data.
"""

from __future__ import annotations

import heapq
import operator
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator

from engine.v1 import queue_records_pb2 as rec

NS = 1_000_000_000
DEDUP_WINDOW_NS = 300 * NS
MAX_VISIBILITY_NS = 12 * 3600 * NS
MAX_MESSAGES = 10
MAX_DEAD_LETTERS = 10  # per receive: bounds the work one command can do
FIRST_SEQUENCE = 10**16
MEMO_ENTRIES = 4096
MEMO_BYTES = 64 << 20
GARBAGE_SLACK = 1024  # stale heap entries tolerated beyond twice the live ones
GROUP_SLACK = 64  # dead ids tolerated in a FIFO group's deque beyond twice the live ones

INVALID_HANDLE = "ReceiptHandleIsInvalid"
NOT_INFLIGHT = "AWS.SimpleQueueService.MessageNotInflight"
INVALID_PARAMETER = "InvalidParameterValue"

_I64 = (1 << 63) - 1
_U32 = (1 << 32) - 1
_NEVER = -(1 << 64)  # below every int64 time

_CAPTURE_VERSION = 1

Entry = tuple  # heap entries: (key..., generation or order, id)
_Valid = Callable[[Entry], bool]


def _i64(value: int) -> int:
    """Clamp a computed time so assigning it to an int64 field can never raise."""
    return min(max(value, -_I64 - 1), _I64)


# -- heap helpers ------------------------------------------------------------------------------


def _pop_stale(heap: list[Entry], valid: _Valid) -> None:
    """Drop invalid entries from the top, so a read-only look at heap[0] is meaningful."""
    while heap and not valid(heap[0]):
        heapq.heappop(heap)


def _compacted(heap: list[Entry], live: int, valid: _Valid) -> list[Entry]:
    """Rebuild a heap whose garbage outweighs the live data (amortized O(1) per entry)."""
    if len(heap) <= 2 * live + GARBAGE_SLACK:
        return heap
    kept = [entry for entry in heap if valid(entry)]
    heapq.heapify(kept)
    return kept


def _walk_upto(heap: list[Entry], limit: int | None, valid: _Valid) -> Iterator[Entry]:
    """Valid entries whose key is <= limit, without popping: prunes subtrees above limit."""
    stack = [0] if heap else []
    size = len(heap)
    while stack:
        i = stack.pop()
        entry = heap[i]
        if limit is not None and entry[0] > limit:
            continue
        if valid(entry):
            yield entry
        child = 2 * i + 1
        if child < size:
            stack.append(child)
            if child + 1 < size:
                stack.append(child + 1)


def _any(entries: Iterator[object]) -> bool:
    return next(entries, None) is not None


def _min_after(heap: list[Entry], now: int, valid: _Valid) -> int:
    """The smallest key > now among valid entries, 0 if none, without popping."""
    best = 0
    stack = [0] if heap else []
    size = len(heap)
    while stack:
        i = stack.pop()
        entry = heap[i]
        if best and entry[0] >= best:
            continue
        if entry[0] > now and valid(entry):
            best = entry[0]
            continue
        child = 2 * i + 1
        if child < size:
            stack.append(child)
            if child + 1 < size:
                stack.append(child + 1)
    return best


# -- one partition -----------------------------------------------------------------------------


_SLOT_FIELDS = (
    "count",
    "first",
    "gen",
    "group",
    "hidden",
    "in_flight",
    "mid",
    "order",
    "payload",
    "receipt",
    "received",
    "sent",
    "seq",
    "visible",
)


class _Slot:
    """One stored message: its content kept serialized, its changing fields as attributes.

    A protobuf object per message costs about 1 KiB of overhead and pickles slowly; bytes
    plus a slotted object take a third of the memory, which matters at a million messages.
    The StoredMessage is rebuilt only when a receive hands it out."""

    __slots__ = _SLOT_FIELDS

    def __init__(self, msg: rec.StoredMessage) -> None:
        self.payload = msg.SerializeToString(deterministic=True)
        self.mid = msg.message_id
        self.group = msg.group_id
        self.sent = msg.sent_ns
        self.seq = msg.sequence
        self.visible = msg.visible_ns
        self.count = msg.receive_count
        self.first = msg.first_receive_ns
        self.receipt = msg.receipt_seq
        self.in_flight = msg.in_flight
        self.received = msg.received_ns
        self.order = 0  # arrival order, unique in the partition
        self.gen = 0  # changes on every move between ready and hidden
        self.hidden = False  # in the hidden heap (and counted in inflight/delayed)

    def fill(self, msg: rec.StoredMessage) -> None:
        """Write the message as it stands now into an empty StoredMessage."""
        msg.MergeFromString(self.payload)
        msg.sent_ns = self.sent
        msg.visible_ns = self.visible
        msg.receive_count = self.count
        msg.first_receive_ns = self.first
        msg.sequence = self.seq
        msg.receipt_seq = self.receipt
        msg.in_flight = self.in_flight
        msg.received_ns = self.received

    @classmethod
    def from_columns(cls, columns: list[list]) -> list[_Slot]:
        """Rebuild slots from per-field lists in _SLOT_FIELDS order (see `_slot_columns`)."""
        slots = []
        for fields in zip(*columns, strict=True):
            slot = cls.__new__(cls)
            (
                slot.count, slot.first, slot.gen, slot.group, slot.hidden, slot.in_flight,
                slot.mid, slot.order, slot.payload, slot.receipt, slot.received, slot.sent,
                slot.seq, slot.visible,
            ) = fields  # fmt: skip
            slots.append(slot)
        return slots


_FIELD_GETTERS = tuple(operator.attrgetter(name) for name in _SLOT_FIELDS)


def _slot_columns(slots: Iterable[_Slot]) -> list[list]:
    """Every slot field as one list per field, read in C. Lists of ints, strings and bytes
    are not objects the garbage collector tracks, whereas a tuple per message would add a
    million tracked objects whose next collections stall every thread for seconds."""
    values = list(slots)
    return [list(map(getter, values)) for getter in _FIELD_GETTERS]


class _Group:
    """A FIFO message group: ids in sequence order and the ids that may block it."""

    __slots__ = ("flying", "gen", "ids", "live", "status")

    def __init__(self) -> None:
        self.ids: deque[tuple[int, str]] = deque()  # (order, id); dead ones removed lazily
        self.live = 0
        self.flying: dict[str, None] = {}  # received, possibly still in flight
        self.gen = 0
        self.status: tuple[int, int] | None = None  # (available at, head order) registered


class _Partition:
    """The messages of one partition and the indexes that keep every command cheap."""

    __slots__ = (
        "avail",
        "delayed",
        "fifo",
        "groups",
        "hidden",
        "inflight",
        "lane",
        "lane_tail",
        "late",
        "ready",
        "slots",
        "tick",
        "timers",
        "touched",
    )

    def __init__(self, fifo: bool) -> None:
        self.fifo = fifo
        self.tick = 0  # source of arrival orders and generations, never reused
        self._reset()

    def _reset(self) -> None:
        self.slots: dict[str, _Slot] = {}
        self.ready: list[Entry] = []  # (order, gen, id)
        self.hidden: list[Entry] = []  # (visible_ns, order, gen, id)
        self.inflight = 0  # hidden messages by kind, as of the last command
        self.delayed = 0
        self.lane: OrderedDict[str, None] = OrderedDict()
        self.lane_tail = _NEVER
        self.late: list[Entry] = []  # (sent_ns, order, id)
        self.groups: dict[str, _Group] = {}
        self.avail: list[Entry] = []  # (head order, gen, group)
        self.timers: list[Entry] = []  # (available at, head order, gen, group)
        self.touched: dict[str, None] = {}  # groups to re-evaluate

    def capture(self) -> tuple:
        """A copy of the partition made of tuples and lists only, which later commands
        cannot change: a snapshot takes it in the apply thread and pickles it elsewhere.
        Shallow copies suffice because heap entries and slot fields are immutable."""
        groups = {
            name: (tuple(g.ids), g.live, tuple(g.flying), g.gen, g.status)
            for name, g in self.groups.items()
        }
        return (
            self.fifo, self.tick, self.inflight, self.delayed, self.lane_tail,
            _slot_columns(self.slots.values()), list(self.ready), list(self.hidden),
            list(self.lane), list(self.late), groups, list(self.avail), list(self.timers),
            list(self.touched),
        )  # fmt: skip

    @classmethod
    def restore(cls, captured: tuple) -> _Partition:
        (
            fifo, tick, inflight, delayed, lane_tail, slots, ready, hidden, lane, late,
            groups, avail, timers, touched,
        ) = captured  # fmt: skip
        part = cls(fifo)
        part.tick, part.inflight, part.delayed, part.lane_tail = tick, inflight, delayed, lane_tail
        part.slots = {slot.mid: slot for slot in _Slot.from_columns(slots)}
        part.ready, part.hidden, part.late = ready, hidden, late
        part.avail, part.timers = avail, timers
        part.lane = OrderedDict.fromkeys(lane)
        part.touched = dict.fromkeys(touched)
        for name, (ids, live, flying, gen, status) in groups.items():
            group = part.groups[name] = _Group()
            group.ids.extend(ids)
            group.live, group.gen, group.status = live, gen, status
            group.flying = dict.fromkeys(flying)
        return part

    def _next(self) -> int:
        self.tick += 1
        return self.tick

    # validity of lazy heap entries
    def _live_msg(self, entry: Entry) -> bool:
        slot = self.slots.get(entry[-1])
        return slot is not None and slot.gen == entry[-2]

    def _live_order(self, entry: Entry) -> bool:
        slot = self.slots.get(entry[-1])
        return slot is not None and slot.order == entry[-2]

    def _live_group(self, entry: Entry) -> bool:
        group = self.groups.get(entry[-1])
        return group is not None and group.gen == entry[-2]

    # -- storing and removing ------------------------------------------------------------------

    def add(self, slot: _Slot, now: int) -> None:
        mid = slot.mid
        slot.order = self._next()
        self.slots[mid] = slot
        if not self.lane or slot.sent >= self.lane_tail:
            self.lane[mid] = None
            self.lane_tail = slot.sent
        else:
            heapq.heappush(self.late, (slot.sent, slot.order, mid))
        if self.fifo:
            group = self.groups.get(slot.group)
            if group is None:
                group = self.groups[slot.group] = _Group()
            group.ids.append((slot.order, mid))
            group.live += 1
            if slot.in_flight:
                group.flying[mid] = None
            self.touched[slot.group] = None
        self._place(slot, now)

    def remove(self, slot: _Slot) -> None:
        mid = slot.mid
        self._unplace(slot)
        del self.slots[mid]
        self.lane.pop(mid, None)
        if self.fifo:
            group = self.groups.get(slot.group)
            if group is not None:
                group.live -= 1
                group.flying.pop(mid, None)
            self.touched[slot.group] = None

    def _place(self, slot: _Slot, now: int) -> None:
        """Index a message by its current visible_ns: hidden heap or ready heap."""
        slot.gen = self._next()
        if slot.visible > now:
            slot.hidden = True
            if slot.in_flight:
                self.inflight += 1
            else:
                self.delayed += 1
            heapq.heappush(self.hidden, (slot.visible, slot.order, slot.gen, slot.mid))
        elif not self.fifo:
            heapq.heappush(self.ready, (slot.order, slot.gen, slot.mid))

    def _unplace(self, slot: _Slot) -> None:
        """Invalidate the message's heap entry; call before changing visibility fields."""
        if slot.hidden:
            slot.hidden = False
            if slot.in_flight:
                self.inflight -= 1
            else:
                self.delayed -= 1
        slot.gen = self._next()

    # -- time ----------------------------------------------------------------------------------

    def advance(self, now: int, retention_ns: int) -> None:
        """Bring the partition to `now`: retention, visibility expiry, FIFO group timers."""
        if retention_ns > 0:
            self.expire(now - retention_ns)
        hidden = self.hidden
        while hidden and hidden[0][0] <= now:
            entry = heapq.heappop(hidden)
            if self._live_msg(entry):
                slot = self.slots[entry[-1]]
                self._unplace(slot)
                self._place(slot, now)
        if self.fifo:
            self._refresh_touched(now)
            timers = self.timers
            while timers and timers[0][0] <= now:
                entry = heapq.heappop(timers)
                if self._live_group(entry):
                    self.groups[entry[-1]].status = None
                    self._refresh(entry[-1], now)

    def expire(self, cutoff: int) -> None:
        """Remove messages sent at or before `cutoff` (retention)."""
        lane = self.lane
        while lane:
            slot = self.slots[next(iter(lane))]
            if slot.sent > cutoff:
                break
            self.remove(slot)
        late = self.late
        while late and late[0][0] <= cutoff:
            entry = heapq.heappop(late)
            if self._live_order(entry):
                self.remove(self.slots[entry[-1]])

    def _expired(self, cutoff: int) -> Iterator[_Slot]:
        """Read-only: the messages `expire(cutoff)` would remove."""
        for mid in self.lane:
            slot = self.slots[mid]
            if slot.sent > cutoff:
                break
            yield slot
        for entry in _walk_upto(self.late, cutoff, self._live_order):
            yield self.slots[entry[-1]]

    def finish(self, now: int) -> None:
        """End of a command: settle FIFO groups, pop stale tops, rebuild garbage-heavy heaps."""
        if self.fifo:
            self._refresh_touched(now)
        live = len(self.slots)
        self.ready = _compacted(self.ready, live, self._live_msg)
        self.hidden = _compacted(self.hidden, live, self._live_msg)
        self.late = _compacted(self.late, live, self._live_order)
        self.avail = _compacted(self.avail, len(self.groups), self._live_group)
        self.timers = _compacted(self.timers, len(self.groups), self._live_group)
        _pop_stale(self.ready, self._live_msg)
        _pop_stale(self.hidden, self._live_msg)
        _pop_stale(self.late, self._live_order)
        _pop_stale(self.avail, self._live_group)
        _pop_stale(self.timers, self._live_group)

    # -- FIFO groups ---------------------------------------------------------------------------

    def _head(self, group: _Group, cutoff: int | None) -> _Slot | None:
        for order, mid in group.ids:
            slot = self.slots.get(mid)
            alive = slot is not None and (cutoff is None or slot.sent > cutoff)
            if alive and slot.order == order:
                return slot
        return None

    def _tidy_group(self, group: _Group, now: int) -> None:
        """Drop dead ids from the head (and everywhere once they dominate) and landed flyers."""
        ids = group.ids
        while ids and not self._live_order(ids[0]):
            ids.popleft()
        if len(ids) > 2 * group.live + GROUP_SLACK:
            group.ids = deque(e for e in ids if self._live_order(e))
        for mid in list(group.flying):
            slot = self.slots.get(mid)
            if slot is None or not (slot.in_flight and slot.visible > now):
                del group.flying[mid]

    def _group_status(
        self, group: _Group, now: int, cutoff: int | None = None
    ) -> tuple[int, int] | None:
        """(time the group becomes available, head order), or None for an empty group.

        Available = no message of the group in flight and the head deliverable. With a
        cutoff, messages sent at or before it count as gone (retention, read-only paths)."""
        head = self._head(group, cutoff)
        if head is None:
            return None
        at = head.visible
        for mid in group.flying:
            slot = self.slots.get(mid)
            if slot is None or (cutoff is not None and slot.sent <= cutoff):
                continue
            if slot.in_flight and slot.visible > now:
                at = max(at, slot.visible)
        return at, head.order

    def _refresh(self, key: str, now: int) -> None:
        """Re-register a group in `avail` or `timers` if its status changed."""
        group = self.groups.get(key)
        if group is None:
            return
        self._tidy_group(group, now)
        status = self._group_status(group, now)
        if status is None:
            del self.groups[key]
            return
        if status == group.status:
            return
        group.status = status
        group.gen = self._next()
        at, head = status
        if at <= now:
            heapq.heappush(self.avail, (head, group.gen, key))
        else:
            heapq.heappush(self.timers, (at, head, group.gen, key))

    def _refresh_touched(self, now: int) -> None:
        touched = self.touched
        self.touched = {}
        for key in touched:
            self._refresh(key, now)

    # -- commands ------------------------------------------------------------------------------

    def receive(
        self, now: int, max_messages: int, visibility_ns: int, max_receive_count: int
    ) -> rec.ReceiveOutcome:
        """Deliver up to `max_messages`; dead letters do not count but at most 10 are made."""
        out = rec.ReceiveOutcome()
        taken: list[_Slot] = []

        def full() -> bool:
            return len(out.messages) >= max_messages or len(out.dead_letters) >= MAX_DEAD_LETTERS

        def take(slot: _Slot) -> None:
            self._deliver(slot, now, visibility_ns, max_receive_count, out)
            taken.append(slot)

        if self.fifo:
            self._pick_fifo(now, take, full)
        else:
            self._pick_standard(take, full)
        for slot in taken:  # indexed only now, so visibility 0 cannot deliver twice
            self._place(slot, now)
        return out

    def _pick_standard(self, take: Callable[[_Slot], None], full: Callable[[], bool]) -> None:
        """Oldest arrival first (a redelivered message keeps its place)."""
        ready = self.ready
        while ready and not full():
            entry = heapq.heappop(ready)
            if self._live_msg(entry):
                take(self.slots[entry[-1]])

    def _pick_fifo(self, now: int, take: Callable[[_Slot], None], full: Callable[[], bool]) -> None:
        """Available groups by oldest head; consecutive deliverable messages of a group."""
        picked: dict[str, None] = {}
        while self.avail and not full():
            entry = heapq.heappop(self.avail)
            if not self._live_group(entry):
                continue
            key = entry[-1]
            group = self.groups[key]
            group.status = None  # its heap entry is gone; re-registered by finish()
            picked[key] = None
            for order, mid in group.ids:
                slot = self.slots.get(mid)
                if slot is None or slot.order != order:
                    continue
                if slot.visible > now or full():
                    break
                take(slot)
        self.touched.update(picked)

    def _deliver(
        self,
        slot: _Slot,
        now: int,
        visibility_ns: int,
        max_receive_count: int,
        out: rec.ReceiveOutcome,
    ) -> None:
        """One receive of one message: a new handle, hidden for the visibility timeout.

        The caller indexes the slot again (_place) once the whole receive is picked."""
        self._unplace(slot)
        slot.count = min(slot.count + 1, _U32)
        slot.receipt = min(slot.receipt + 1, _U32)
        slot.in_flight = True
        slot.received = now
        slot.visible = _i64(now + visibility_ns)
        if max_receive_count and slot.count > max_receive_count:
            slot.fill(out.dead_letters.add())
        else:
            slot.first = slot.first or now
            slot.fill(out.messages.add())
        if self.fifo:
            self.groups[slot.group].flying[slot.mid] = None

    def delete(self, handle: rec.HandleRef) -> str:
        slot = self.slots.get(handle.message_id)
        if slot is None:
            return ""  # already gone: deleting twice succeeds, as in SQS
        if not 0 < handle.receipt_seq <= slot.receipt:
            return INVALID_HANDLE
        self.remove(slot)  # any issued handle deletes, so an acknowledged delete sticks
        return ""

    def change_visibility(self, handle: rec.HandleRef, now: int) -> str:
        slot = self.slots.get(handle.message_id)
        if slot is None or not 0 < handle.receipt_seq <= slot.receipt:
            return INVALID_HANDLE
        if handle.receipt_seq != slot.receipt or not slot.in_flight or slot.visible <= now:
            return NOT_INFLIGHT
        visibility = handle.visibility_ns
        if visibility < 0 or now + visibility > slot.received + MAX_VISIBILITY_NS:
            return INVALID_PARAMETER
        self._unplace(slot)
        slot.visible = _i64(now + visibility)
        if visibility == 0:
            slot.in_flight = False
        self._place(slot, now)
        if self.fifo:
            self.touched[slot.group] = None
        return ""

    def purge(self, now: int) -> None:
        """Delete every message sent at or before `now`; rebuild the indexes (O(n), rare)."""
        kept = [slot for slot in self.slots.values() if slot.sent > now]
        self._reset()
        for slot in kept:
            self.add(slot, now)

    # -- read-only -----------------------------------------------------------------------------

    def _cutoff(self, now: int, retention_ns: int) -> int | None:
        """Read-only: the retention cutoff if some message expired since the last command
        (None otherwise, and then the indexes are exact as they are)."""
        if retention_ns <= 0:
            return None
        cutoff = now - retention_ns
        return cutoff if _any(self._expired(cutoff)) else None

    def _shown(self, cutoff: int | None) -> _Valid:
        """Validity of message heap entries, also leaving out messages past retention."""
        if cutoff is None:
            return self._live_msg

        def valid(entry: Entry) -> bool:
            return self._live_msg(entry) and self.slots[entry[-1]].sent > cutoff

        return valid

    def stats(self, now: int, retention_ns: int, index: int) -> rec.PartitionStats:
        inflight, delayed, total = self.inflight, self.delayed, len(self.slots)
        for entry in _walk_upto(self.hidden, now, self._live_msg):
            if self.slots[entry[-1]].in_flight:
                inflight -= 1
            else:
                delayed -= 1
        cutoff = self._cutoff(now, retention_ns)
        for slot in self._expired(cutoff) if cutoff is not None else ():
            total -= 1
            if slot.visible > now:
                if slot.in_flight:
                    inflight -= 1
                else:
                    delayed -= 1
        return rec.PartitionStats(
            partition=index,
            visible=max(total - inflight - delayed, 0),
            in_flight=max(inflight, 0),
            delayed=max(delayed, 0),
            next_visible_ns=_min_after(self.hidden, now, self._shown(cutoff)),
        )

    def is_ready(self, now: int, retention_ns: int) -> bool:
        """Would a receive at `now` return a message?"""
        cutoff = self._cutoff(now, retention_ns)
        if self.fifo:
            if cutoff is not None:  # rare: groups may have lost heads or blockers
                return any(at <= now for at in self._group_times(now, cutoff))
            return _any(_walk_upto(self.avail, None, self._live_group)) or _any(
                _walk_upto(self.timers, now, self._live_group)
            )
        valid = self._shown(cutoff)
        return _any(_walk_upto(self.ready, None, valid)) or _any(
            _walk_upto(self.hidden, now, valid)
        )

    def next_visible(self, now: int, retention_ns: int) -> int:
        """Earliest time > now at which something becomes deliverable; 0 if none."""
        cutoff = self._cutoff(now, retention_ns)
        if not self.fifo:
            return _min_after(self.hidden, now, self._shown(cutoff))
        if cutoff is None:
            return _min_after(self.timers, now, self._live_group)
        return min((at for at in self._group_times(now, cutoff) if at > now), default=0)

    def _group_times(self, now: int, cutoff: int) -> Iterator[int]:
        """Read-only, O(groups): when each group becomes available, ignoring expired messages."""
        for group in self.groups.values():
            status = self._group_status(group, now, cutoff)
            if status is not None:
                yield status[0]


# -- a queue (all its partitions held here) ----------------------------------------------------


class _Queue:
    __slots__ = ("dedup", "next_sequence", "parts", "policy")

    def __init__(self) -> None:
        self.policy = rec.PartitionPolicy()
        self.parts: dict[int, _Partition] = {}
        # dedup id -> (first send, message id, sequence), in first-send order
        self.dedup: OrderedDict[str, tuple[int, str, int]] = OrderedDict()
        self.next_sequence = FIRST_SEQUENCE

    def capture(self) -> tuple:
        parts = {index: part.capture() for index, part in self.parts.items()}
        return (self.policy.SerializeToString(), parts, list(self.dedup), list(self.dedup.values()),
                self.next_sequence)

    @classmethod
    def restore(cls, captured: tuple) -> _Queue:
        policy, parts, dedup_ids, dedup, next_sequence = captured
        queue = cls()
        queue.policy = rec.PartitionPolicy.FromString(policy)
        queue.parts = {index: _Partition.restore(part) for index, part in parts.items()}
        queue.dedup = OrderedDict(zip(dedup_ids, dedup, strict=True))
        queue.next_sequence = next_sequence
        return queue

    def expire_dedup(self, now: int) -> None:
        dedup = self.dedup
        while dedup and next(iter(dedup.values()))[0] + DEDUP_WINDOW_NS <= now:
            dedup.popitem(last=False)

    def advance(self, part: _Partition, now: int) -> None:
        self.expire_dedup(now)
        part.advance(now, self.policy.retention_ns)


def _key(queue: rec.QueueRef) -> tuple[str, str]:
    return queue.name, queue.incarnation


# -- the replicated state ----------------------------------------------------------------------


class PartitionState:
    """All queue partitions of one replica group; `apply` is the Raft state transition.

    Not thread-safe: the caller serializes `apply` and the read-only queries."""

    def __init__(self) -> None:
        self._now = 0
        self._queues: dict[tuple[str, str], _Queue] = {}
        self._memo: OrderedDict[str, bytes] = OrderedDict()
        self._memo_bytes = 0

    # -- snapshots ---------------------------------------------------------------------------

    def capture(self) -> tuple:
        """The whole state as plain tuples and lists, detached from later commands.

        O(messages) but done in C for the bulk (about 0.1 s per 100,000 messages), so the
        Raft thread is held only for the copy; pickling, compressing and writing happen
        off it (engine/cluster/raft_snapshot.py)."""
        queues = {key: queue.capture() for key, queue in self._queues.items()}
        return (_CAPTURE_VERSION, self._now, queues, list(self._memo), list(self._memo.values()))

    @classmethod
    def restore(cls, captured: tuple) -> PartitionState:
        version, now, queues, memo_ids, memo = captured
        if version != _CAPTURE_VERSION:
            raise ValueError(f"unknown partition snapshot version {version}")
        state = cls()
        state._now = now
        state._queues = {key: _Queue.restore(queue) for key, queue in queues.items()}
        state._memo = OrderedDict(zip(memo_ids, memo, strict=True))
        state._memo_bytes = sum(len(data) for data in state._memo.values())
        return state

    def __getstate__(self) -> tuple:
        return self.capture()

    def __setstate__(self, captured: tuple) -> None:
        self.__dict__.update(PartitionState.restore(captured).__dict__)

    @property
    def now_ns(self) -> int:
        """The latest command time applied (time here never goes backwards)."""
        return self._now

    def apply(self, cmd: rec.PartitionCommand) -> rec.PartitionResult:
        """Apply one command deterministically; never raises (bad input: empty result)."""
        try:
            return self._apply(cmd)
        except Exception:
            return rec.PartitionResult()

    def _apply(self, cmd: rec.PartitionCommand) -> rec.PartitionResult:
        self._now = now = max(cmd.now_ns, self._now)
        op_id = cmd.op_id
        if op_id:
            remembered = self._memo.get(op_id)
            if remembered is not None:
                return rec.PartitionResult.FromString(remembered)
        result = self._dispatch(cmd, now)
        if op_id:
            self._remember(op_id, result)
        return result

    def _remember(self, op_id: str, result: rec.PartitionResult) -> None:
        data = result.SerializeToString(deterministic=True)
        self._memo[op_id] = data
        self._memo_bytes += len(data)
        while self._memo and (len(self._memo) > MEMO_ENTRIES or self._memo_bytes > MEMO_BYTES):
            _, old = self._memo.popitem(last=False)
            self._memo_bytes -= len(old)

    def _dispatch(self, cmd: rec.PartitionCommand, now: int) -> rec.PartitionResult:
        op = cmd.WhichOneof("op")
        if op == "send":
            return rec.PartitionResult(send=self._send(cmd.send, now))
        if op == "receive":
            return rec.PartitionResult(receive=self._receive(cmd.receive, now))
        if op == "delete":
            return rec.PartitionResult(handles=self._handles(cmd.delete, now, delete=True))
        if op == "change_visibility":
            handles = self._handles(cmd.change_visibility, now, delete=False)
            return rec.PartitionResult(handles=handles)
        if op == "purge":
            self._purge(cmd.purge, now)
        elif op == "drop":
            self._queues.pop(_key(cmd.drop), None)
        elif op == "sweep":
            self._sweep(now)
        else:
            return rec.PartitionResult()
        return rec.PartitionResult(done=True)

    # -- commands ------------------------------------------------------------------------------

    def _send(self, cmd: rec.SendCommand, now: int) -> rec.SendOutcomes:
        out = rec.SendOutcomes()
        if not cmd.queue.name:
            out.outcomes.extend(rec.SendOutcome(entry_id=m.entry_id) for m in cmd.messages)
            return out
        queue = self._queues.get(_key(cmd.queue))
        if queue is None:
            queue = self._queues[_key(cmd.queue)] = _Queue()
        if cmd.HasField("policy"):
            queue.policy.CopyFrom(cmd.policy)
        part = queue.parts.get(cmd.partition)
        if part is None:
            part = queue.parts[cmd.partition] = _Partition(queue.policy.fifo)
        queue.advance(part, now)
        for new in cmd.messages:
            out.outcomes.append(self._send_one(queue, part, new, now))
        if queue.policy.retention_ns > 0:  # a dead-letter move may already be too old
            part.expire(now - queue.policy.retention_ns)
        part.finish(now)
        return out

    @staticmethod
    def _send_one(
        queue: _Queue, part: _Partition, new: rec.NewMessage, now: int
    ) -> rec.SendOutcome:
        src = new.message
        outcome = rec.SendOutcome(entry_id=new.entry_id)
        if not src.message_id:
            return outcome  # malformed: nothing stored
        if part.fifo and src.dedup_id:
            first = queue.dedup.get(src.dedup_id)
            if first is not None:
                outcome.message_id, outcome.sequence = first[1], first[2]
                return outcome
        existing = part.slots.get(src.message_id)
        outcome.message_id = src.message_id
        if existing is not None:  # a retried dead-letter move: keep one copy
            outcome.sequence = existing.seq
            return outcome
        slot = _Slot(src)
        slot.sent = src.sent_ns or now
        slot.visible = _i64(now + max(new.delay_ns, 0))
        slot.seq = 0
        if part.fifo:
            slot.seq = queue.next_sequence
            queue.next_sequence += 1
            if src.dedup_id:
                queue.dedup[src.dedup_id] = (now, slot.mid, slot.seq)
        outcome.sequence = slot.seq
        part.add(slot, now)
        return outcome

    def _receive(self, cmd: rec.ReceiveCommand, now: int) -> rec.ReceiveOutcome:
        queue = self._queues.get(_key(cmd.queue))
        if queue is None:
            return rec.ReceiveOutcome()
        if cmd.HasField("policy"):
            queue.policy.CopyFrom(cmd.policy)
        part = queue.parts.get(cmd.partition)
        if part is None:
            return rec.ReceiveOutcome()
        queue.advance(part, now)
        out = part.receive(
            now,
            min(max(cmd.max_messages, 1), MAX_MESSAGES),
            max(cmd.visibility_ns, 0),
            queue.policy.max_receive_count,
        )
        part.finish(now)
        return out

    def _handles(self, cmd: rec.HandleCommand, now: int, *, delete: bool) -> rec.HandleOutcomes:
        out = rec.HandleOutcomes()
        queue = self._queues.get(_key(cmd.queue))
        part = queue.parts.get(cmd.partition) if queue is not None else None
        if queue is not None and part is not None:
            queue.advance(part, now)
        for handle in cmd.handles:
            if part is None:
                code = "" if delete else INVALID_HANDLE
            elif delete:
                code = part.delete(handle)
            else:
                code = part.change_visibility(handle, now)
            out.outcomes.add(entry_id=handle.entry_id, error_code=code)
        if part is not None:
            part.finish(now)
        return out

    def _purge(self, ref: rec.QueueRef, now: int) -> None:
        queue = self._queues.get(_key(ref))
        if queue is None:
            return
        for part in queue.parts.values():
            queue.advance(part, now)
            part.purge(now)
            part.finish(now)

    def _sweep(self, now: int) -> None:
        for queue in self._queues.values():
            for part in queue.parts.values():
                queue.advance(part, now)
                part.finish(now)
            queue.expire_dedup(now)

    # -- read-only queries ---------------------------------------------------------------------

    def _parts(
        self, queue: rec.QueueRef, partitions: Iterable[int]
    ) -> Iterator[tuple[int, _Partition, int]]:
        state = self._queues.get(_key(queue))
        if state is None:
            return
        seen: dict[int, None] = {}
        for index in partitions:
            part = state.parts.get(index)
            if part is not None and index not in seen:
                seen[index] = None
                yield index, part, state.policy.retention_ns

    def stats(self, queue: rec.QueueRef, now_ns: int) -> list[rec.PartitionStats]:
        """Counts for every partition of `queue` held here, as of max(now_ns, last command)."""
        state = self._queues.get(_key(queue))
        if state is None:
            return []
        now = max(now_ns, self._now)
        retention = state.policy.retention_ns
        return [state.parts[i].stats(now, retention, i) for i in sorted(state.parts)]

    def ready(self, queue: rec.QueueRef, partitions: Iterable[int], now_ns: int) -> list[int]:
        """The given partitions where a receive now would return at least one message."""
        now = max(now_ns, self._now)
        return [
            index
            for index, part, retention in self._parts(queue, partitions)
            if part.is_ready(now, retention)
        ]

    def next_visible_ns(self, queue: rec.QueueRef, partitions: Iterable[int], now_ns: int) -> int:
        """Earliest time after now when one of the partitions gets something to deliver
        (0 if none): long polling sleeps until then unless a send wakes it earlier."""
        now = max(now_ns, self._now)
        times = [part.next_visible(now, ret) for _, part, ret in self._parts(queue, partitions)]
        return min((t for t in times if t), default=0)
