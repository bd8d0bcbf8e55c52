"""PurgeQueue, queue deletion and the periodic sweep, each bounded whatever the queue holds.

* **purge** gives every partition of the queue a fresh, empty epoch (a new pid) and marks
  the old one as garbage: O(1) apart from carrying over messages sent after the purge
  time (dead-letter moves stamped ahead by another node's clock: the earliest sent
  ``PURGE_KEEP`` of them; any beyond go with the purge). The FIFO sequence counter and
  deduplication ids belong to the queue and survive.
* **drop** forgets the queue incarnation's directory entries and marks its partitions'
  epochs and its deduplication ids as garbage: O(partitions).
* **sweep** deletes garbage (at most ``GARBAGE_BUDGET`` keys) and then walks the
  partitions from where the previous sweep stopped, doing each one's time-driven work,
  within ``SWEEP_BUDGET`` items; ``more`` says a further sweep has work left.
"""

from __future__ import annotations

from engine.cluster.consensus.machine import Keyspace
from engine.queues.partition import fifo, limits
from engine.queues.partition import keys as K
from engine.queues.partition.advance import advance, finish
from engine.queues.partition.messages import Part, scan
from engine.queues.partition.queues import Queue, name_key, new_id, part_pid
from engine.v1 import queue_records_pb2 as rec


def purge(keys: Keyspace, ref: rec.QueueRef, now: int) -> None:
    """Delete every message sent at or before ``now`` from every partition of the queue."""
    queue = Queue.find(keys, ref)
    if queue is None:
        return
    for _, head_key, _ in list(queue.part_heads(keys)):
        old = Part.load(keys, head_key)
        assert old is not None
        new = Part(keys, head_key, new_id(keys), old.fifo)
        new.tick = new.fresh = old.tick
        new.cutoff = queue.cutoff(now)
        start = old.base + K.RETAIN
        kept = [old.get(mid) for _, mid in scan(keys, K.upto(start, now), K.end(start),
                                                  limits.PURGE_KEEP)]  # fmt: skip
        for msg in sorted((m for m in kept if m is not None), key=lambda m: m.order):
            new.add(msg, old.content(msg), now)
        keys.put(K.GARBAGE + K.u64(old.pid), b"")
        if new.fifo:
            fifo.refresh_touched(new, now)
        new.save()


def drop(keys: Keyspace, ref: rec.QueueRef) -> None:
    """The queue incarnation was deleted: forget it now, delete its data in sweeps."""
    key = name_key(ref)
    value = keys.get(key) if key is not None else None
    if key is None or value is None:
        return
    qid = K.U64.unpack(value)[0]
    prefix = K.PARTS + K.u64(qid)
    for head_key, head in list(keys.prefix(prefix)):
        keys.put(K.GARBAGE + K.u64(part_pid(head)), b"")
        keys.delete(head_key)
    keys.put(K.GARBAGE + K.u64(qid), b"")
    keys.delete(K.QUEUES + K.u64(qid))
    keys.delete(key)


def sweep(keys: Keyspace, now: int) -> bool:
    """Garbage, then retention, visibility and deduplication windows of every partition,
    bounded; True while work is left. A round over the partitions may take several
    sweeps (the resume point is stored); it ends with False only if no partition ran out
    of budget during the round."""
    more = collect(keys, limits.GARBAGE_BUDGET)
    budget = limits.SWEEP_BUDGET
    state = keys.get(K.SWEEP)
    dirty = bool(state and state[0])
    start = state[1:] if state else K.PARTS
    stop = K.end(K.PARTS)
    queues: dict[int, Queue] = {}  # read once per sweep: partitions share the record
    while True:
        entry = keys.first(start, stop)
        if entry is None:
            keys.delete(K.SWEEP)  # the round is complete
            return more or dirty
        if budget <= 0:
            keys.put(K.SWEEP, bytes([dirty]) + entry[0])
            return True
        start = entry[0] + b"\x00"
        qid = K.U64.unpack_from(entry[0], 1)[0]
        if qid not in queues:
            found = Queue.by_id(keys, qid)
            assert found is not None  # drop deletes the headers with the queue record
            queues[qid] = found
        queue = queues[qid]
        part = queue.part_at(keys, entry[0], now)
        part.budget = granted = min(limits.WORK_BUDGET, budget)
        advance(keys, queue, part, now)
        finish(keys, queue, part, now)
        budget -= 1 + granted - part.budget
        dirty = dirty or part.budget <= 0


def collect(keys: Keyspace, budget: int) -> bool:
    """Delete up to ``budget`` keys of garbage epochs and queues; True if some is left."""
    stop = K.end(K.GARBAGE)
    while budget > 0:
        entry = keys.first(K.GARBAGE, stop)
        if entry is None:
            return False
        data = K.DATA + entry[0][1:]
        done = keys.delete_range(data, K.end(data), budget)
        if done < budget:
            keys.delete(entry[0])
        budget -= max(done, 1)
    return keys.first(K.GARBAGE, stop) is not None
