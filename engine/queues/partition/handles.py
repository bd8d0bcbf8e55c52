"""DeleteMessage and ChangeMessageVisibility by receipt handle.

A delete succeeds with any handle the message was given (an acknowledged delete is never
followed by a redelivery); a visibility change needs the latest handle of a message in
flight and may not take it past 12 hours after its last receive.
"""

from __future__ import annotations

from engine.cluster.consensus.machine import Keyspace
from engine.queues.partition import limits
from engine.queues.partition.advance import advance, finish
from engine.queues.partition.messages import Msg, Part
from engine.queues.partition.queues import Queue
from engine.v1 import queue_records_pb2 as rec


def handles(
    keys: Keyspace, cmd: rec.HandleCommand, now: int, *, delete: bool
) -> rec.HandleOutcomes:
    out = rec.HandleOutcomes()
    queue = Queue.find(keys, cmd.queue)
    part = queue.part(keys, cmd.partition, now) if queue is not None else None
    if queue is not None and part is not None:
        advance(keys, queue, part, now)
    for handle in cmd.handles:
        if part is None:
            code = "" if delete else limits.INVALID_HANDLE
        elif delete:
            code = _delete(part, handle)
        else:
            code = _change_visibility(part, handle, now)
        out.outcomes.add(entry_id=handle.entry_id, error_code=code)
    if queue is not None and part is not None:
        finish(keys, queue, part, now)
    return out


def _find(part: Part, message_id: str) -> Msg | None:
    mid = message_id.encode()
    if not mid or len(mid) > limits.MAX_ID_BYTES:
        return None
    msg = part.get(mid)
    if msg is not None and part.gone(msg):
        part.remove(msg)
        return None
    return msg


def _delete(part: Part, handle: rec.HandleRef) -> str:
    msg = _find(part, handle.message_id)
    if msg is None:
        return ""  # already gone: deleting twice succeeds, as in SQS
    if not 0 < handle.receipt_seq <= msg.receipt:
        return limits.INVALID_HANDLE
    part.remove(msg)
    return ""


def _change_visibility(part: Part, handle: rec.HandleRef, now: int) -> str:
    msg = _find(part, handle.message_id)
    if msg is None or not 0 < handle.receipt_seq <= msg.receipt:
        return limits.INVALID_HANDLE
    if handle.receipt_seq != msg.receipt or not msg.in_flight or msg.visible <= now:
        return limits.NOT_INFLIGHT
    visibility = handle.visibility_ns
    if visibility < 0 or now + visibility > msg.received + limits.MAX_VISIBILITY_NS:
        return limits.INVALID_PARAMETER
    part.unplace(msg)
    part.set_flying(msg, False)
    msg.visible = limits.clamp_i64(now + visibility)
    if visibility == 0:
        msg.in_flight = False
    part.set_flying(msg, True)
    part.place(msg, now)
    part.write(msg)
    return ""
