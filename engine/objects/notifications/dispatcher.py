"""Delivery of outbox events to their queues: at once after the commit, and by sweeps
that catch whatever the coordinator did not deliver.

Every event sits in the outbox of each drive its change committed on. The coordinator
hands the events it just committed to :meth:`Notifier.committed`; workers deliver them
(what has piled up, in one batch) and then drop those delivered from every drive of the
set, one outbox commit per drive per batch. Should the coordinator die first (or the
queue refuse), the event stays on those drives: each node sweeps the outboxes of its own
drives and delivers what has waited past a grace period, the drive at position p of its
set waiting ``(p + 1) * grace`` so that one sweeper normally delivers and the others find
it gone. An event is delivered at least once; a duplicate is possible (a sweeper racing a
slow coordinator, a drop that missed a drive), a loss is not: an event leaves a drive
only after its queue acknowledged it, or when the queue no longer exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence

from engine.clock import Clock
from engine.cluster.placement import ErasureSet
from engine.objects.notifications.sink import DestinationGone, EventSink
from engine.storage.drive import Drive
from engine.v1.records_pb2 import EventRecord, ObjectEntry

log = logging.getLogger("engine.objects.notifications")
GRACE_SECONDS = 2.0  # before a sweeper takes over from the coordinator (per position)
SWEEP_SECONDS = 0.5
SWEEP_BATCH = 500  # due events read per drive per sweep
BATCH = 64  # events a worker takes at once
MAX_WAITING = 10_000  # undelivered events held in memory; beyond, the sweeps deliver them
WORKERS = 4
# Test hook: kill -9 this process right after an event's commit, before its delivery
# (tests/cluster/test_notifications_cluster.py proves the event survives).
_CRASH_POINT = os.environ.get("ENGINE_CRASH_POINT", "")


class Notifier:
    def __init__(self, sink: EventSink, clock: Clock,
                 local: Sequence[tuple[ErasureSet, int]] = (),
                 grace: float = GRACE_SECONDS) -> None:
        self.sink = sink
        self.clock = clock
        self.local = list(local)  # (set, position) of each drive of this node
        self.grace_ns = int(grace * 1e9)
        self.delivered = 0
        self.dropped = 0
        self._waiting: asyncio.Queue[tuple[ErasureSet, EventRecord]] = asyncio.Queue(
            MAX_WAITING)
        self._workers: list[asyncio.Task[None]] = []

    def committed(self, eset: ErasureSet, events: Sequence[EventRecord]) -> None:
        """Events just committed with their change: deliver those due now."""
        if _CRASH_POINT == "event-committed" and events:
            os.kill(os.getpid(), signal.SIGKILL)
        if not self._workers:
            self._workers = [asyncio.ensure_future(self._work()) for _ in range(WORKERS)]
        for event in events:
            if event.due_ns > event.created_ns:
                continue  # a restore's completion or expiry: the sweeps deliver it when due
            try:
                self._waiting.put_nowait((eset, event))
            except asyncio.QueueFull:
                return  # still in the outboxes: a sweep delivers it

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []

    async def _work(self) -> None:
        """Take what is waiting (up to a batch), deliver it, drop it in one commit per
        drive: under load the drops ride one group commit instead of one each."""
        while True:
            batch = [await self._waiting.get()]
            while len(batch) < BATCH and not self._waiting.empty():
                batch.append(self._waiting.get_nowait())
            try:
                await self.deliver_all(batch)
            finally:
                for _ in batch:
                    self._waiting.task_done()

    async def idle(self) -> None:
        """Wait until every event handed over so far was delivered or left to sweeps."""
        await self._waiting.join()

    async def deliver_all(self, batch: Sequence[tuple[ErasureSet, EventRecord]]) -> int:
        """Send each event (unless void) and drop those sent from every drive of their
        set; how many left the outboxes. An event its queue could not take yet stays
        (logged), for the next sweep."""
        outcomes = await asyncio.gather(*(self._send(eset, e) for eset, e in batch),
                                        return_exceptions=True)
        done: dict[int, tuple[ErasureSet, list[tuple[int, str]]]] = {}
        for (eset, event), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.info("event %s to %s not delivered yet: %s", event.id, event.queue_arn,
                         outcome)
                continue
            done.setdefault(eset.index, (eset, []))[1].append((event.due_ns, event.id))
        await asyncio.gather(*(_drop(eset.drives, keys) for eset, keys in done.values()))
        return sum(len(keys) for _, keys in done.values())

    async def _send(self, eset: ErasureSet, event: EventRecord) -> None:
        if event.restore_expiry_ns and not await self._restore_still_expires(eset, event):
            log.info("event %s void: the restore's expiry moved", event.id)
            return
        try:
            await self.sink.deliver(event.queue_arn, event.body)
            self.delivered += 1
        except DestinationGone as exc:
            self.dropped += 1
            log.warning("event %s for %s/%s dropped: %s", event.id, event.bucket,
                        event.key, exc)

    async def _restore_still_expires(self, eset: ErasureSet, event: EventRecord) -> bool:
        entries = await asyncio.gather(*(d.read_entry(event.bucket, event.key)
                                         for d in eset.drives), return_exceptions=True)
        for entry in entries:
            if isinstance(entry, ObjectEntry):
                for v in entry.versions:
                    if v.version_id == event.version_id:
                        return v.restore.expiry_ns == event.restore_expiry_ns
        return False

    # -- sweeps --------------------------------------------------------------------

    async def sweep_forever(self, interval: float = SWEEP_SECONDS) -> None:
        try:
            while True:
                await asyncio.sleep(interval)
                await self.sweep()
        finally:
            await self.close()

    async def sweep(self) -> int:
        """Deliver the events of this node's drives that waited past their grace;
        how many left the outboxes."""
        done = 0
        now = self.clock.now_ns()
        for eset, position in self.local:
            drive = eset.drives[position]
            try:
                due = await drive.due_events(now - (position + 1) * self.grace_ns,
                                             SWEEP_BATCH)
            except Exception as exc:
                log.warning("outbox of %s unreadable: %s", drive.name, exc)
                continue
            if due:
                done += await self.deliver_all([(eset, e) for e in due])
        return done


async def _drop(drives: Sequence[Drive], keys: list[tuple[int, str]]) -> None:
    """Drop delivered events wherever they are; a drive that misses it delivers the
    event again later (a duplicate, never a loss)."""
    results = await asyncio.gather(*(d.drop_events(keys) for d in drives),
                                   return_exceptions=True)
    for drive, result in zip(drives, results, strict=True):
        if isinstance(result, BaseException):
            log.info("outbox of %s not cleared (its sweep will resend): %s", drive.name,
                     result)
