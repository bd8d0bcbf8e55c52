"""The queue catalog: queue name -> QueueRecord, cluster-wide, replicated with Raft.

Queue names are global and few, like bucket names, so every node keeps the whole
catalog. In a cluster it shares the Raft group of the bucket table (every node is a
member); a single node hosts it in its one queue group. Uniqueness decisions (does the
name exist, was it deleted less than 60 s ago, is a purge still running) are taken in
the replicated apply functions from the time stamped into the command, so every
replica decides the same and two racing creations have one winner.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pysyncobj import SyncObjConsumer, replicated

from engine.clock import Clock
from engine.cluster.raft_group import new_op_id, remember
from engine.v1.queue_records_pb2 import QueueRecord

DELETED_RECENTLY_NS = 60 * 1_000_000_000  # QueueDeletedRecently window
PURGE_NS = 60 * 1_000_000_000  # PurgeQueueInProgress window

CREATED = "created"
EXISTS = "exists"
DELETED_RECENTLY = "deleted_recently"
MISSING = "missing"
IN_PROGRESS = "in_progress"
DONE = "done"


class CatalogLog(SyncObjConsumer):
    """The replicated state machine (see raft_buckets._BucketLog for the rules: methods
    marked ``@replicated`` run in log order in the tick thread, are deterministic,
    never raise, and remember outcomes by operation id)."""

    def __init__(self) -> None:
        # Attributes set before SyncObjConsumer.__init__ are left out of snapshots.
        self._lock = threading.Lock()
        super().__init__()
        self._queues: dict[str, bytes] = {}
        self._deleted: dict[str, int] = {}  # name -> when, for QueueDeletedRecently
        self._memo: dict[str, Any] = {}

    def _remember(self, op_id: str, result: Any) -> Any:
        return remember(self._memo, op_id, result)

    def _forget_old_deletions(self, now_ns: int) -> None:
        for name in [n for n, t in self._deleted.items() if now_ns - t >= DELETED_RECENTLY_NS]:
            del self._deleted[name]

    @replicated
    def create(self, name: str, data: bytes, now_ns: int, op_id: str) -> tuple[str, bytes]:
        """(CREATED, record) or (EXISTS, the existing record) or (DELETED_RECENTLY, b"")."""
        with self._lock:
            if op_id in self._memo:
                return self._memo[op_id]  # type: ignore[no-any-return]
            self._forget_old_deletions(now_ns)
            if name in self._queues:
                return self._remember(op_id, (EXISTS, self._queues[name]))
            if name in self._deleted:
                return self._remember(op_id, (DELETED_RECENTLY, b""))
            self._queues[name] = data
            return self._remember(op_id, (CREATED, data))

    @replicated
    def update(self, name: str, incarnation: str, data: bytes, op_id: str) -> bool:
        """Replace the record if that incarnation of the queue still exists."""
        with self._lock:
            if op_id in self._memo:
                return bool(self._memo[op_id])
            current = self._record(name)
            if current is None or current.incarnation != incarnation:
                return bool(self._remember(op_id, False))
            # The purge time belongs to purge(): a record read before a purge and written
            # back after it must not reopen the 60-second window.
            record = QueueRecord.FromString(data)
            record.purged_ns = max(record.purged_ns, current.purged_ns)
            self._queues[name] = record.SerializeToString()
            return bool(self._remember(op_id, True))

    @replicated
    def delete(self, name: str, incarnation: str, now_ns: int, op_id: str) -> bool:
        with self._lock:
            if op_id in self._memo:
                return bool(self._memo[op_id])
            current = self._record(name)
            if current is None or (incarnation and current.incarnation != incarnation):
                return bool(self._remember(op_id, False))
            del self._queues[name]
            self._deleted[name] = now_ns
            return bool(self._remember(op_id, True))

    @replicated
    def purge(self, name: str, incarnation: str, now_ns: int, op_id: str) -> str:
        """DONE (purge time recorded), IN_PROGRESS (within 60 s of the last) or MISSING."""
        with self._lock:
            if op_id in self._memo:
                return str(self._memo[op_id])
            current = self._record(name)
            if current is None or current.incarnation != incarnation:
                return str(self._remember(op_id, MISSING))
            if current.purged_ns and now_ns - current.purged_ns < PURGE_NS:
                return str(self._remember(op_id, IN_PROGRESS))
            current.purged_ns = now_ns
            self._queues[name] = current.SerializeToString()
            return str(self._remember(op_id, DONE))

    @replicated
    def barrier(self) -> None:
        """A no-op entry: when it is applied here, so is everything committed before it."""

    def _record(self, name: str) -> QueueRecord | None:
        data = self._queues.get(name)
        return None if data is None else QueueRecord.FromString(data)

    def lookup(self, name: str) -> QueueRecord | None:
        with self._lock:
            return self._record(name)

    def snapshot(self) -> list[QueueRecord]:
        with self._lock:
            return [QueueRecord.FromString(self._queues[k]) for k in sorted(self._queues)]


class QueueCatalog:
    """The catalog with an asyncio API over a Raft group hosting a CatalogLog.

    ``call`` is the group's ``RaftGroup.call``. Lookups of a name this node knows are
    answered locally (a queue leaves only through the log); misses pass a read barrier
    first, so a queue created on any node is found everywhere once creation returned.
    """

    def __init__(self, log: CatalogLog, call: Callable[..., Any], clock: Clock) -> None:
        self._log = log
        self._call = call
        self._clock = clock

    async def create(self, record: QueueRecord) -> tuple[str, QueueRecord | None]:
        stamped = QueueRecord()
        stamped.CopyFrom(record)
        now = self._clock.now_ns()
        stamped.incarnation = stamped.incarnation or new_op_id()
        stamped.created_ns = stamped.created_ns or now
        stamped.modified_ns = stamped.modified_ns or now
        outcome, data = await self._call(self._log.create, stamped.name,
                                         stamped.SerializeToString(), now, new_op_id())
        return outcome, (QueueRecord.FromString(data) if data else None)

    async def update(self, record: QueueRecord) -> bool:
        return bool(await self._call(self._log.update, record.name, record.incarnation,
                                     record.SerializeToString(), new_op_id()))

    async def delete(self, name: str, incarnation: str = "") -> bool:
        return bool(await self._call(self._log.delete, name, incarnation,
                                     self._clock.now_ns(), new_op_id()))

    async def purge(self, name: str, incarnation: str) -> str:
        return str(await self._call(self._log.purge, name, incarnation,
                                    self._clock.now_ns(), new_op_id()))

    async def get(self, name: str) -> QueueRecord | None:
        record = self._log.lookup(name)
        if record is not None:
            return record
        await self.sync()
        return self._log.lookup(name)

    async def list(self) -> list[QueueRecord]:
        await self.sync()
        return self._log.snapshot()

    def known(self) -> list[QueueRecord]:
        """This node's copy of every record, without a barrier (for metrics)."""
        return self._log.snapshot()

    def cached(self, name: str) -> QueueRecord | None:
        """This node's copy, without a barrier (may lag by the Raft apply delay)."""
        return self._log.lookup(name)

    async def sync(self) -> None:
        await self._call(self._log.barrier)
