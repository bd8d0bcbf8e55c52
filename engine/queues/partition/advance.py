"""The start and the end of every command on a partition.

``advance`` brings the partition towards the command's time: deduplication windows,
retention, visibility expiry and FIFO group timers, all within one budget shared by the
command (``limits.WORK_BUDGET``); reads and the command's own checks treat the rest as
done. ``finish`` re-evaluates the FIFO groups the command touched and writes the headers.
"""

from __future__ import annotations

from engine.cluster.consensus.machine import Keyspace
from engine.queues.partition import dedup, fifo
from engine.queues.partition.messages import Part
from engine.queues.partition.queues import Queue


def advance(keys: Keyspace, queue: Queue, part: Part, now: int) -> None:
    if part.fifo:  # only FIFO partitions remember deduplication ids
        part.budget -= dedup.expire(keys, queue.qid, now, part.budget)
    part.expire()
    if part.fifo:
        fifo.refresh_touched(part, now)  # groups whose head or blocker just expired
        fifo.wake(part, now)  # first: in FIFO, revealing only settles the counts
    part.reveal(now)


def finish(keys: Keyspace, queue: Queue, part: Part, now: int) -> None:
    if part.fifo:
        fifo.refresh_touched(part, now)
    part.save()
    queue.save(keys)
