"""One partition epoch during one command: storing, indexing and removing its messages.

A message's record ``M`` is a 60-byte struct of what receives and visibility changes
rewrite, its group, and what never changes (StoredMessage fields 1-9, serialized once at
send: the *content*). A content over ``INLINE_CONTENT`` bytes goes to its own record ``B``
instead, so a receive does not copy it, keyed by arrival order so such records fill their
pages (keyed by message id, random inserts leave pages a third empty); a small one stays
inline, which saves a random insert per send (the dearest key operation here). A
delivered message is the content followed by the changing fields encoded as fields 10-17:
protobuf writes fields in number order, so that concatenation is exactly the
deterministic serialization, and the content is never parsed.

Every message is in exactly one of READY (standard, deliverable), HIDDEN (visible_ns after
the time it was placed) or neither (FIFO, deliverable); the header counts HIDDEN entries
by kind. Time passing does not move anything by itself: ``reveal`` and ``expire`` do it
later in bounded steps, and reads discount what they have not done yet.
"""

from __future__ import annotations

import struct

from engine.cluster.consensus.machine import Keyspace, ReadKeyspace
from engine.queues.partition import keys as K
from engine.queues.partition import limits
from engine.v1 import queue_records_pb2 as rec

_HEAD = struct.Struct(">QqqqqQIIBH")  # order, sent, visible, first, received, seq, count,
#                                       receipt, in_flight, len(group); group and content follow
_HEAD_SIZE = _HEAD.size
INLINE_CONTENT = 1024
_VISIBLE_AT = 16  # offset of visible_ns in the packed head
_HOT_FIELDS = (
    "sent_ns",
    "visible_ns",
    "receive_count",
    "first_receive_ns",
    "sequence",
    "receipt_seq",
    "in_flight",
    "received_ns",
)


class Msg:
    """The changing fields of one message, decoded for the length of one command."""

    __slots__ = (
        "content",
        "count",
        "first",
        "group",
        "in_flight",
        "mid",
        "order",
        "receipt",
        "received",
        "sent",
        "seq",
        "visible",
    )

    def __init__(self, mid: bytes, src: rec.StoredMessage, group: bytes) -> None:
        self.mid = mid
        self.group = group
        self.content = b""  # inline content (b"": in its own record)
        self.order = 0
        self.sent = src.sent_ns
        self.visible = src.visible_ns
        self.first = src.first_receive_ns
        self.received = src.received_ns
        self.seq = src.sequence
        self.count = src.receive_count
        self.receipt = src.receipt_seq
        self.in_flight = src.in_flight

    @classmethod
    def decode(cls, mid: bytes, value: bytes) -> Msg:
        msg = cls.__new__(cls)
        msg.mid = mid
        (
            msg.order, msg.sent, msg.visible, msg.first, msg.received, msg.seq, msg.count,
            msg.receipt, flying, size,
        ) = _HEAD.unpack_from(value)  # fmt: skip
        msg.in_flight = bool(flying)
        msg.group = value[_HEAD_SIZE : _HEAD_SIZE + size]
        msg.content = value[_HEAD_SIZE + size :]
        return msg

    def encode(self) -> bytes:
        return _HEAD.pack(
            self.order, self.sent, self.visible, self.first, self.received, self.seq,
            self.count, self.receipt, self.in_flight, len(self.group),
        ) + self.group + self.content  # fmt: skip

    def changing_fields(self) -> bytes:
        """Fields 10-17 as protobuf, to append to the stored content."""
        return rec.StoredMessage(
            sent_ns=self.sent,
            visible_ns=self.visible,
            receive_count=self.count,
            first_receive_ns=self.first,
            sequence=self.seq,
            receipt_seq=self.receipt,
            in_flight=self.in_flight,
            received_ns=self.received,
        ).SerializeToString()


def split_message(src: rec.StoredMessage) -> bytes:
    """The fixed content of a message to store (the caller read the changing fields)."""
    for name in _HOT_FIELDS:
        src.ClearField(name)
    return src.SerializeToString(deterministic=True)


def visible_of(value: bytes) -> int:
    """visible_ns of a packed message head, without decoding the rest."""
    return K.I64.unpack_from(value, _VISIBLE_AT)[0]


class Part:
    """A partition's header and the writes of one command to its current epoch.

    ``budget`` bounds the time-driven work of the command; ``fresh`` is the first arrival
    order of this command, so a message stored by it is never taken for an expired one
    still waiting for removal (a send stores first and expires at its end, as before)."""

    __slots__ = (
        "base",
        "bodies",
        "budget",
        "cutoff",
        "delayed",
        "fifo",
        "fresh",
        "head_key",
        "hidden",
        "inflight",
        "keys",
        "loaded",
        "msgs",
        "pid",
        "ready",
        "retain",
        "revealed",
        "skips",
        "tick",
        "total",
        "touched",
    )

    def __init__(self, keys: Keyspace, head_key: bytes, pid: int, fifo: bool) -> None:
        self.keys = keys
        self.head_key = head_key
        self.pid = pid
        self.base = base = K.data(pid)
        self.msgs, self.bodies = base + K.MSG, base + K.BODY  # table prefixes, built once
        self.ready, self.hidden, self.retain = base + K.READY, base + K.HIDDEN, base + K.RETAIN
        self.fifo = fifo
        self.tick = 1
        self.total = self.inflight = self.delayed = 0
        self.fresh = 1
        self.loaded = b""
        self.cutoff: int | None = None
        self.budget = limits.WORK_BUDGET
        self.skips = limits.READ_SCAN  # expired messages a receive may step over unremoved
        self.revealed: int | None = None  # HIDDEN holds nothing visible at or before this
        self.touched: dict[bytes, None] = {}  # FIFO groups to re-evaluate, in touch order

    @classmethod
    def load(cls, keys: Keyspace, head_key: bytes) -> Part | None:
        value = keys.get(head_key)
        if value is None:
            return None
        pid, fifo, tick, total, inflight, delayed = K.PART_HEAD.unpack(value)
        part = cls(keys, head_key, pid, bool(fifo))
        part.tick = part.fresh = tick
        part.total, part.inflight, part.delayed = total, inflight, delayed
        part.loaded = value
        return part

    def save(self) -> None:
        value = K.PART_HEAD.pack(
            self.pid, self.fifo, self.tick, self.total, self.inflight, self.delayed
        )
        if value != self.loaded:
            self.keys.put(self.head_key, value)
            self.loaded = value

    # -- one message ---------------------------------------------------------------------

    def get(self, mid: bytes) -> Msg | None:
        value = self.keys.get(self.msgs + mid)
        return None if value is None else Msg.decode(mid, value)

    def content(self, msg: Msg) -> bytes:
        return msg.content or self.keys.get(self.bodies + K.U64.pack(msg.order)) or b""

    def write(self, msg: Msg) -> None:
        self.keys.put(self.msgs + msg.mid, msg.encode())

    def gone(self, msg: Msg) -> bool:
        """Past retention, removed or not yet (a backlog beyond one command's budget)."""
        cutoff = self.cutoff
        return cutoff is not None and msg.sent <= cutoff and msg.order < self.fresh

    def add(self, msg: Msg, content: bytes, now: int) -> None:
        """Store a message (its fields already set) as the newest arrival."""
        msg.order = order = self.tick
        self.tick += 1
        put, mid = self.keys.put, msg.mid
        if len(content) <= INLINE_CONTENT:
            msg.content = content
        else:
            msg.content = b""
            put(self.bodies + K.U64.pack(order), content)
        put(self.msgs + mid, msg.encode())
        put(self.retain + K.TIME_ORDER.pack(msg.sent + K.BIAS, order), mid)
        if self.fifo:
            group = K.group_prefix(msg.group)
            sent_mid = K.I64.pack(msg.sent) + mid
            put(self.base + K.MEMBER + group + K.u64(order), sent_mid)
            if msg.in_flight:
                put(self.base + K.FLYING + group + K.time_order(msg.visible, order), sent_mid)
                self.touched[msg.group] = None
            elif msg.group not in self.touched and not self.keys.get(
                self.base + K.STATUS + msg.group
            ):
                self.touched[msg.group] = None  # a new tail changes nothing in a live group
        self.total += 1
        self.place(msg, now)

    def remove(self, msg: Msg) -> None:
        delete, mid = self.keys.delete, msg.mid
        self.unplace(msg)
        delete(self.msgs + mid)
        if not msg.content:
            delete(self.bodies + K.U64.pack(msg.order))
        delete(self.retain + K.TIME_ORDER.pack(msg.sent + K.BIAS, msg.order))
        if self.fifo:
            group = K.group_prefix(msg.group)
            delete(self.base + K.MEMBER + group + K.u64(msg.order))
            if msg.in_flight:
                delete(self.base + K.FLYING + group + K.time_order(msg.visible, msg.order))
            self.touched[msg.group] = None
        self.total -= 1

    def place(self, msg: Msg, now: int) -> None:
        """Index a message by its visible_ns: HIDDEN if later than now, else deliverable."""
        if msg.visible > now:
            self.keys.put(
                self.hidden + K.TIME_ORDER.pack(msg.visible + K.BIAS, msg.order),
                (b"\x01" if msg.in_flight else b"\x00") + K.I64.pack(msg.sent) + msg.mid,
            )
            if msg.in_flight:
                self.inflight += 1
            else:
                self.delayed += 1
        elif not self.fifo:
            self.keys.put(self.ready + K.U64.pack(msg.order), K.I64.pack(msg.sent) + msg.mid)

    def unplace(self, msg: Msg) -> None:
        """Take a message out of READY or HIDDEN: before changing visible_ns or in_flight."""
        revealed = self.revealed
        if (revealed is None or msg.visible > revealed) and self.keys.delete(
            self.hidden + K.TIME_ORDER.pack(msg.visible + K.BIAS, msg.order)
        ):
            if msg.in_flight:
                self.inflight -= 1
            else:
                self.delayed -= 1
        elif not self.fifo:
            self.keys.delete(self.ready + K.U64.pack(msg.order))

    def set_flying(self, msg: Msg, flying: bool) -> None:
        """FIFO: keep FLYING in step before msg.visible or msg.in_flight changes (old
        entry out) and after (new entry in); the group is re-evaluated at the end."""
        if not self.fifo or not msg.in_flight:
            return
        key = self.base + K.FLYING + K.group_prefix(msg.group)
        key += K.time_order(msg.visible, msg.order)
        if flying:
            self.keys.put(key, K.I64.pack(msg.sent) + msg.mid)
        else:
            self.keys.delete(key)
        self.touched[msg.group] = None

    # -- time-driven work, bounded ---------------------------------------------------------

    def expire(self) -> None:
        """Remove messages sent at or before the cutoff, oldest first, within the budget."""
        if self.cutoff is None or self.budget <= 0:
            return
        for key, mid in scan(self.keys, self.retain, K.upto(self.retain, self.cutoff),
                             self.budget):  # fmt: skip
            self.budget -= 1
            msg = self.get(mid)
            if msg is None:  # cannot happen while the indexes are exact
                self.keys.delete(key)
            else:
                self.remove(msg)

    def drop_expired(self, msg: Msg) -> bool:
        """A receive met a message past retention: remove it if the budget allows, else
        step over it; False once it may neither (the receive then ends early)."""
        if self.budget > 0:
            self.budget -= 1
            self.remove(msg)
            return True
        self.skips -= 1
        return self.skips > 0

    def reveal(self, now: int) -> None:
        """Move messages whose visible_ns passed out of HIDDEN, within the budget."""
        limit = self.budget
        entries = scan(self.keys, self.hidden, K.upto(self.hidden, now), limit)
        self.budget -= len(entries)
        if len(entries) < limit:
            self.revealed = now
        for key, value in entries:
            self.keys.delete(key)
            if value[0]:
                self.inflight -= 1
            else:
                self.delayed -= 1
            if not self.fifo:
                self.keys.put(self.ready + key[-8:], value[1:])


def scan(keys: ReadKeyspace, start: bytes, stop: bytes, limit: int) -> list[tuple[bytes, bytes]]:
    """Up to ``limit`` pairs with start <= key < stop, in key order. A list, so writes may
    follow while it is used; a plain cursor, as this is on every command's path."""
    out: list[tuple[bytes, bytes]] = []
    if limit <= 0:
        return out
    cursor = keys.cursor()
    if not cursor.set_range(start):
        return out
    for key, value in cursor:
        if key >= stop:
            break
        out.append((key, value))
        if len(out) >= limit:
            break
    return out


def last(keys: ReadKeyspace, start: bytes, stop: bytes) -> tuple[bytes, bytes] | None:
    """The largest pair with start <= key < stop."""
    cursor = keys.cursor()
    found = cursor.prev() if cursor.set_range(stop) else cursor.last()
    if found:
        key = cursor.key()
        if key >= start:
            return key, cursor.value()
    return None


def first(keys: ReadKeyspace, start: bytes, stop: bytes) -> tuple[bytes, bytes] | None:
    """The smallest pair with start <= key < stop (``keys.first`` without a generator)."""
    cursor = keys.cursor()
    if cursor.set_range(start):
        key = cursor.key()
        if key < stop:
            return key, cursor.value()
    return None
