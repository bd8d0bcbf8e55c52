"""The queue catalog: queue name -> QueueRecord, cluster-wide, a replicated state machine.

Queue names are global and few, like bucket names, so the catalog lives in the meta
group (every node a member) beside the bucket table: every node can look a queue up
locally, and a creation is decided once for the whole cluster. Uniqueness decisions (does
the name exist, was it deleted less than 60 s ago, is a purge still running) are taken in
``apply`` from the time stamped into the command, so every replica decides the same and
two racing creations have one winner.

Reads are linearizable unless ``stale_ok``: sending, receiving and deleting messages
look their queue up with ``stale_ok=True`` (a hit may lag by the replication delay, as
SQS documents up to 60 s for attribute changes; a miss is read again linearizably).
"""

from __future__ import annotations

import struct
from itertools import islice

from engine.clock import Clock
from engine.cluster.consensus.group import ConsensusGroup
from engine.cluster.consensus.ids import new_op_id
from engine.cluster.consensus.machine import Keyspace, ReadKeyspace, ReplicatedStateMachine
from engine.v1.queue_records_pb2 import CatalogCommand, CatalogResult, QueueRecord, QueueRef

DELETED_RECENTLY_NS = 60 * 1_000_000_000  # QueueDeletedRecently window
PURGE_NS = 60 * 1_000_000_000  # PurgeQueueInProgress window
FORGET_PER_COMMAND = 16  # old deletions forgotten per command (bounded work)
MAX_PARSED = 10_000  # parsed records kept for stale_ok lookups

CREATED = "created"
EXISTS = "exists"
DELETED_RECENTLY = "deleted_recently"
MISSING = "missing"
IN_PROGRESS = "in_progress"
DONE = "done"
UPDATED = "updated"

_QUEUE = b"q/"  # q/name -> QueueRecord
_DELETED = b"d/"  # d/name -> when it was deleted (8 bytes)
_BY_TIME = b"t/"  # t/time/name -> b"": deletions in time order, to forget old ones
_TIME = struct.Struct(">q")


class CatalogMachine(ReplicatedStateMachine):
    name = "queue-catalog"

    def apply(self, keys: Keyspace, command: bytes, index: int) -> bytes:
        cmd = CatalogCommand.FromString(command)
        now = cmd.now_ns
        self._forget_deletions(keys, now)
        op = cmd.WhichOneof("op")
        result = CatalogResult()
        if op == "create":
            result = self._create(keys, cmd.create, now)
        elif op == "update":
            result.outcome = self._update(keys, cmd.update)
        elif op == "delete":
            result.outcome = self._delete(keys, cmd.delete, now)
        elif op == "purge":
            result.outcome = self._purge(keys, cmd.purge, now)
        return result.SerializeToString(deterministic=True)

    @staticmethod
    def get(keys: ReadKeyspace, name: str) -> QueueRecord | None:
        data = keys.get(_QUEUE + name.encode())
        return None if data is None else QueueRecord.FromString(data)

    @staticmethod
    def all(keys: ReadKeyspace) -> list[QueueRecord]:
        return [QueueRecord.FromString(v) for _, v in keys.prefix(_QUEUE)]

    # -- commands ------------------------------------------------------------------------

    def _create(self, keys: Keyspace, record: QueueRecord, now: int) -> CatalogResult:
        existing = self.get(keys, record.name)
        if existing is not None:
            return CatalogResult(outcome=EXISTS, record=existing)
        deleted = keys.get(_DELETED + record.name.encode())
        if deleted is not None and now - _TIME.unpack(deleted)[0] < DELETED_RECENTLY_NS:
            return CatalogResult(outcome=DELETED_RECENTLY)
        self._put(keys, record)
        return CatalogResult(outcome=CREATED, record=record)

    def _update(self, keys: Keyspace, record: QueueRecord) -> str:
        current = self.get(keys, record.name)
        if current is None or current.incarnation != record.incarnation:
            return MISSING
        # The purge time belongs to purge(): a record read before a purge and written back
        # after it must not reopen the 60-second window.
        stored = QueueRecord()
        stored.CopyFrom(record)
        stored.purged_ns = max(record.purged_ns, current.purged_ns)
        self._put(keys, stored)
        return UPDATED

    def _delete(self, keys: Keyspace, ref: QueueRef, now: int) -> str:
        current = self.get(keys, ref.name)
        if current is None or (ref.incarnation and current.incarnation != ref.incarnation):
            return MISSING
        name = ref.name.encode()
        keys.delete(_QUEUE + name)
        old = keys.get(_DELETED + name)
        if old is not None:
            keys.delete(_BY_TIME + old + name)
        keys.put(_DELETED + name, _TIME.pack(now))
        keys.put(_BY_TIME + _TIME.pack(now) + name, b"")
        return DONE

    def _purge(self, keys: Keyspace, ref: QueueRef, now: int) -> str:
        current = self.get(keys, ref.name)
        if current is None or current.incarnation != ref.incarnation:
            return MISSING
        if current.purged_ns and now - current.purged_ns < PURGE_NS:
            return IN_PROGRESS
        current.purged_ns = now
        self._put(keys, current)
        return DONE

    @staticmethod
    def _put(keys: Keyspace, record: QueueRecord) -> None:
        keys.put(_QUEUE + record.name.encode(), record.SerializeToString(deterministic=True))

    @staticmethod
    def _forget_deletions(keys: Keyspace, now: int) -> None:
        """Deletions older than the window no longer matter: drop a few per command."""
        horizon = _BY_TIME + _TIME.pack(now - DELETED_RECENTLY_NS)
        for key, _ in list(islice(keys.range(_BY_TIME, horizon), FORGET_PER_COMMAND)):
            keys.delete(key)
            keys.delete(_DELETED + key[len(_BY_TIME) + _TIME.size:])


class QueueCatalog:
    """The catalog with an asyncio API over the meta group."""

    def __init__(self, group: ConsensusGroup, clock: Clock) -> None:
        self.group = group
        self._clock = clock
        # Parsed records for stale_ok lookups (every message operation makes one), dropped
        # whenever this node applies a catalog command or installs a snapshot: the same
        # staleness as reading the store, without a read transaction and a parse.
        self._parsed: dict[str, QueueRecord] = {}
        group.on_applied(self._applied)
        group.on_restored(self._parsed.clear)

    def _applied(self, machine: str, payload: bytes) -> None:
        if machine == CatalogMachine.name:
            self._parsed.clear()

    async def create(self, record: QueueRecord) -> tuple[str, QueueRecord | None]:
        """(CREATED, record) or (EXISTS, the existing one) or (DELETED_RECENTLY, None)."""
        stamped = QueueRecord()
        stamped.CopyFrom(record)
        now = self._clock.now_ns()
        stamped.incarnation = stamped.incarnation or new_op_id()
        stamped.created_ns = stamped.created_ns or now
        stamped.modified_ns = stamped.modified_ns or now
        result = await self._call(CatalogCommand(now_ns=now, create=stamped))
        return result.outcome, (result.record if result.HasField("record") else None)

    async def update(self, record: QueueRecord) -> bool:
        """Replace the record if that incarnation of the queue still exists."""
        result = await self._call(CatalogCommand(now_ns=self._clock.now_ns(), update=record))
        return result.outcome == UPDATED

    async def delete(self, name: str, incarnation: str = "") -> bool:
        ref = QueueRef(name=name, incarnation=incarnation)
        result = await self._call(CatalogCommand(now_ns=self._clock.now_ns(), delete=ref))
        return result.outcome == DONE

    async def purge(self, name: str, incarnation: str) -> str:
        """DONE (purge time recorded), IN_PROGRESS (within 60 s of the last) or MISSING."""
        ref = QueueRef(name=name, incarnation=incarnation)
        result = await self._call(CatalogCommand(now_ns=self._clock.now_ns(), purge=ref))
        return result.outcome

    async def get(self, name: str, *, stale_ok: bool = False) -> QueueRecord | None:
        if stale_ok:
            record = self.cached(name)
            if record is not None:
                return record
        return await self.group.read(CatalogMachine.name,
                                     lambda k: CatalogMachine.get(k, name))

    async def list(self) -> list[QueueRecord]:
        """Every queue, sorted by name (linearizable)."""
        return await self.group.read(CatalogMachine.name, CatalogMachine.all)

    def known(self) -> list[QueueRecord]:
        """This node's copy of every record, without a read round (metrics)."""
        return self.group.read_local(CatalogMachine.name, CatalogMachine.all)

    def cached(self, name: str) -> QueueRecord | None:
        """This node's copy, without a read round (may lag by the replication delay).
        Shared with other callers: read it, never change it."""
        record = self._parsed.get(name)
        if record is None:
            record = self.group.read_local(CatalogMachine.name,
                                           lambda k: CatalogMachine.get(k, name))
            if record is not None:
                if len(self._parsed) >= MAX_PARSED:
                    self._parsed.clear()
                self._parsed[name] = record
        return record

    async def _call(self, command: CatalogCommand) -> CatalogResult:
        data = await self.group.call(CatalogMachine.name,
                                     command.SerializeToString(deterministic=True))
        return CatalogResult.FromString(data)
