"""ReceiveMessage on one partition: pick, give each message a new handle, hide it.

The result is built as bytes: a delivered message is its stored content plus its changing
fields (see ``messages.py``), wrapped as ``ReceiveOutcome`` fields without parsing it.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.cluster.consensus.machine import Keyspace
from engine.queues.partition import fifo, limits
from engine.queues.partition import keys as K
from engine.queues.partition.advance import advance, finish
from engine.queues.partition.messages import Msg, Part, scan
from engine.queues.partition.queues import Queue
from engine.v1 import queue_records_pb2 as rec

_MESSAGES = b"\x0a"  # ReceiveOutcome.messages: field 1, length-delimited
_DEAD_LETTERS = b"\x12"  # ReceiveOutcome.dead_letters: field 2


def receive(keys: Keyspace, cmd: rec.ReceiveCommand, now: int) -> bytes:
    """The serialized ReceiveOutcome."""
    queue = Queue.find(keys, cmd.queue)
    if queue is None:
        return b""
    if cmd.HasField("policy"):
        queue.set_policy(cmd.policy)
    part = queue.part(keys, cmd.partition, now)
    if part is None:
        queue.save(keys)
        return b""
    advance(keys, queue, part, now)
    limit = min(max(cmd.max_messages, 1), limits.MAX_MESSAGES)
    visibility = max(cmd.visibility_ns, 0)
    mrc = queue.max_receive_count
    messages: list[bytes] = []
    dead: list[bytes] = []
    taken: list[Msg] = []

    def full() -> bool:
        return len(messages) >= limit or len(dead) >= limits.MAX_DEAD_LETTERS

    def take(msg: Msg) -> None:
        part.unplace(msg)
        part.set_flying(msg, False)
        msg.count = min(msg.count + 1, limits.U32)
        msg.receipt = min(msg.receipt + 1, limits.U32)
        msg.in_flight = True
        msg.received = now
        msg.visible = limits.clamp_i64(now + visibility)
        part.set_flying(msg, True)
        if mrc and msg.count > mrc:
            data = part.content(msg) + msg.changing_fields()
            dead.append(_DEAD_LETTERS + varint(len(data)) + data)
        else:
            msg.first = msg.first or now
            data = part.content(msg) + msg.changing_fields()
            messages.append(_MESSAGES + varint(len(data)) + data)
        taken.append(msg)

    if part.fifo:
        fifo.pick(part, now, take, full)
    else:
        _pick_standard(part, take, full, lambda: limit - len(messages))
    for msg in taken:  # indexed only now, so visibility 0 cannot deliver twice
        part.place(msg, now)
        part.write(msg)
    finish(keys, queue, part, now)
    return b"".join(messages) + b"".join(dead)


def _pick_standard(
    part: Part, take: Callable[[Msg], None], full: Callable[[], bool], wanted: Callable[[], int]
) -> None:
    """Oldest arrival first (a redelivered message keeps its place)."""
    start = part.ready
    stop = K.end(start)
    while not full():
        batch = scan(part.keys, start, stop, max(wanted(), 1))
        if not batch:
            return
        start = batch[-1][0] + b"\x00"
        for _, sent_mid in batch:
            if full():
                return
            msg = part.get(sent_mid[8:])
            if msg is None:
                continue
            if part.gone(msg):  # past retention, its removal left for later
                if not part.drop_expired(msg):
                    return
                continue
            take(msg)


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
