"""Delivery of outbox events to their queues: at once after the commit, and by sweeps
that catch whatever the coordinator did not deliver.

Every event sits in the outbox of each drive its change committed on. The coordinator
hands the events it just committed to :meth:`Notifier.committed`; a worker delivers each
and then drops it from every drive of the set. Should the coordinator die first (or the
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
SWEEP_BATCH = 100
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
        while True:
            eset, event = await self._waiting.get()
            try:
                await self.deliver(eset, event)
            except Exception as exc:  # left in the outboxes for a sweep
                log.info("event %s to %s not delivered yet: %s", event.id, event.queue_arn,
                         exc)
            finally:
                self._waiting.task_done()

    async def idle(self) -> None:
        """Wait until every event handed over so far was delivered or left to sweeps."""
        await self._waiting.join()

    async def deliver(self, eset: ErasureSet, event: EventRecord) -> None:
        """Send one event (unless it became void) and drop it from every drive of its
        set. Raises when the queue may take it later; the event then stays."""
        if event.restore_expiry_ns and not await self._restore_still_expires(eset, event):
            log.info("event %s void: the restore's expiry moved", event.id)
        else:
            try:
                await self.sink.deliver(event.queue_arn, event.body)
                self.delivered += 1
            except DestinationGone as exc:
                self.dropped += 1
                log.warning("event %s for %s/%s dropped: %s", event.id, event.bucket,
                            event.key, exc)
        await _drop(eset.drives, [(event.due_ns, event.id)])

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
        how many were delivered (or dropped)."""
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
            for event in due:
                try:
                    await self.deliver(eset, event)
                    done += 1
                except Exception as exc:
                    log.info("event %s to %s not delivered yet: %s", event.id,
                             event.queue_arn, exc)
                    break  # the queue side is unwell: try again next sweep
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
