"""SendMessage(Batch) and dead-letter moves into one partition."""

from __future__ import annotations

from engine.cluster.consensus.machine import Keyspace
from engine.queues.partition import dedup, limits
from engine.queues.partition.advance import advance, finish
from engine.queues.partition.messages import Msg, Part, split_message
from engine.queues.partition.queues import Queue
from engine.v1 import queue_records_pb2 as rec


def send(keys: Keyspace, cmd: rec.SendCommand, now: int) -> rec.SendOutcomes:
    out = rec.SendOutcomes()
    queue = Queue.find(keys, cmd.queue) or Queue.create(keys, cmd.queue)
    if queue is None:  # nameless queue: malformed, nothing stored
        out.outcomes.extend(rec.SendOutcome(entry_id=m.entry_id) for m in cmd.messages)
        return out
    if cmd.HasField("policy"):
        queue.set_policy(cmd.policy)
    part = queue.part(keys, cmd.partition, now) or queue.new_part(keys, cmd.partition, now)
    advance(keys, queue, part, now)
    add = out.outcomes.add
    for new in cmd.messages:
        mid, sequence = _send_one(keys, queue, part, new, now)
        add(entry_id=new.entry_id, message_id=mid, sequence=sequence)
    part.expire()  # a dead-letter move may already be past retention
    finish(keys, queue, part, now)
    return out


def _send_one(
    keys: Keyspace, queue: Queue, part: Part, new: rec.NewMessage, now: int
) -> tuple[str, int]:
    """(message id, sequence) to answer; ("", 0) for a malformed message (not stored)."""
    src = new.message
    message_id = src.message_id
    mid, group, dedup_id = message_id.encode(), src.group_id.encode(), src.dedup_id.encode()
    if not mid or max(len(mid), len(group), len(dedup_id)) > limits.MAX_ID_BYTES:
        return "", 0
    if part.fifo and dedup_id:
        first = dedup.find(keys, queue.qid, dedup_id, now)
        if first is not None:
            return first[0].decode(), first[1]
    existing = part.get(mid)
    if existing is not None and part.gone(existing):
        part.remove(existing)
        existing = None
    if existing is not None:  # a retried dead-letter move: keep one copy
        return message_id, existing.seq
    msg = Msg(mid, src, group)
    msg.sent = msg.sent or now
    msg.visible = limits.clamp_i64(now + max(new.delay_ns, 0))
    msg.seq = 0
    if part.fifo:
        msg.seq = queue.next_sequence
        queue.next_sequence += 1
        queue.changed = True
        if dedup_id:
            dedup.remember(keys, queue.qid, dedup_id, now, mid, msg.seq)
    part.add(msg, split_message(src), now)
    return message_id, msg.seq
