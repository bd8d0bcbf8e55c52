"""The cluster-wide bucket table: bucket name -> BucketRecord, a replicated state machine.

Bucket names are global and few, so every node holds the whole table in the meta
group, whose members are all nodes. Decisions that must be unique ("is the name free?")
are taken inside ``apply``, in log order, so of two concurrent creations of a name on
different nodes exactly one wins.

Reads are linearizable unless the caller passes ``stale_ok=True``. The object data path
does (a PUT or GET only needs to know the bucket exists): a hit is answered from this
node's copy, which lags the leader by at most the replication delay, as S3 documents for
bucket configuration; a miss is never trusted and is read again linearizably, so a
bucket whose creation returned anywhere is found everywhere.
"""

from __future__ import annotations

from engine.cluster.consensus.group import ConsensusGroup
from engine.cluster.consensus.machine import Keyspace, ReadKeyspace, ReplicatedStateMachine
from engine.v1.records_pb2 import BucketCommand, BucketRecord

_PREFIX = b"b/"
YES, NO = b"\x01", b""


def _key(name: str) -> bytes:
    return _PREFIX + name.encode()


class BucketMachine(ReplicatedStateMachine):
    name = "buckets"

    def apply(self, keys: Keyspace, command: bytes, index: int) -> bytes:
        cmd = BucketCommand.FromString(command)
        op = cmd.WhichOneof("op")
        if op == "create":
            if keys.get(_key(cmd.create.name)) is not None:
                return NO
            keys.put(_key(cmd.create.name), cmd.create.SerializeToString(deterministic=True))
            return YES
        if op == "update":
            if keys.get(_key(cmd.update.name)) is None:
                return NO
            keys.put(_key(cmd.update.name), cmd.update.SerializeToString(deterministic=True))
            return YES
        if op == "delete":
            return YES if keys.delete(_key(cmd.delete)) else NO
        return NO

    @staticmethod
    def get(keys: ReadKeyspace, name: str) -> BucketRecord | None:
        data = keys.get(_key(name))
        return None if data is None else BucketRecord.FromString(data)

    @staticmethod
    def all(keys: ReadKeyspace) -> list[BucketRecord]:
        return [BucketRecord.FromString(v) for _, v in keys.prefix(_PREFIX)]


class BucketTable:
    """This node's replica of the bucket table, with an asyncio API.

    Mutations return once committed by a majority and applied here; without a quorum
    they raise ``ServiceUnavailable`` after ``timeout`` and their outcome is unknown
    (retrying is safe: a create then returns False).
    """

    def __init__(self, group: ConsensusGroup) -> None:
        self.group = group

    async def create(self, record: BucketRecord, *, timeout: float | None = None) -> bool:
        """True if created, False if the name exists."""
        if not record.name:
            raise ValueError("a bucket record needs a name")
        return await self._call(BucketCommand(create=record), timeout)

    async def update(self, record: BucketRecord, *, timeout: float | None = None) -> bool:
        """Replace an existing bucket's record; False if it is missing."""
        if not record.name:
            raise ValueError("a bucket record needs a name")
        return await self._call(BucketCommand(update=record), timeout)

    async def delete(self, name: str, *, timeout: float | None = None) -> bool:
        """True if the bucket existed. Emptiness is the caller's rule, checked before."""
        return await self._call(BucketCommand(delete=name), timeout)

    async def get(self, name: str, *, stale_ok: bool = False,
                  timeout: float | None = None) -> BucketRecord | None:
        if stale_ok:
            record = self.group.read_local(BucketMachine.name,
                                           lambda k: BucketMachine.get(k, name))
            if record is not None:
                return record
        return await self.group.read(BucketMachine.name, lambda k: BucketMachine.get(k, name),
                                     timeout=timeout)

    async def list(self, *, stale_ok: bool = False,
                   timeout: float | None = None) -> list[BucketRecord]:
        """Every bucket, sorted by name."""
        return await self.group.read(BucketMachine.name, BucketMachine.all,
                                     stale_ok=stale_ok, timeout=timeout)

    async def _call(self, command: BucketCommand, timeout: float | None) -> bool:
        result = await self.group.call(BucketMachine.name,
                                       command.SerializeToString(deterministic=True),
                                       timeout=timeout)
        return result == YES
