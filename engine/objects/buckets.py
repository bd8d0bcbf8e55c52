"""Buckets on a node whose drives are all local: a bucket is a volume on every drive.

Creating or deleting a bucket creates or drops the volume on every drive by quorum;
a drive refuses to drop a non-empty volume and to commit into a missing one, inside its
metadata transaction. The cluster replaces this registry with a Raft-replicated one.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

from engine.clock import Clock
from engine.cluster.placement import Placement
from engine.errors import EngineError
from engine.objects.names import check_bucket_name
from engine.objects.quorum import fan_out
from engine.storage.drive import Drive
from engine.storage.errors import VolumeExists, VolumeNotEmpty, VolumeNotFound
from engine.v1.records_pb2 import BucketRecord

REGION = "us-east-1"


class Buckets(Protocol):
    """What the object service needs of a bucket registry (local or replicated)."""

    async def create(self, name: str, region: str = "",
                     settings: BucketRecord | None = None) -> BucketRecord:
        """A new bucket; ``settings`` carries its initial configuration (ACL, Object
        Ownership, Block Public Access)."""
        ...
    async def get(self, name: str, *, stale_ok: bool = False) -> BucketRecord:
        """The bucket's record or NoSuchBucket. ``stale_ok``: the object data path only
        needs to know the bucket exists; a replicated registry may answer a hit from a
        copy that lags by the replication delay (S3 documents bucket configuration as
        eventually consistent too), and never trusts a miss."""
        ...

    async def list(self, *, stale_ok: bool = False) -> list[BucketRecord]: ...
    async def delete(self, name: str) -> None: ...
    async def update(self, record: BucketRecord) -> None:
        """Replace an existing bucket's configuration (versioning, lifecycle)."""
        ...


def new_record(name: str, created_ns: int, region: str,
               settings: BucketRecord | None) -> BucketRecord:
    record = BucketRecord()
    if settings is not None:
        record.CopyFrom(settings)
    record.name, record.created_ns, record.region = name, created_ns, region or REGION
    return record


_held: ContextVar[BucketRecord | None] = ContextVar("engine_request_bucket", default=None)


class RequestMemo:
    """A registry that reads a bucket's record once per request.

    Authorization reads the record (policy, ACL, Block Public Access) before the
    operation reads it again for versioning or lifecycle; each read is an LMDB
    transaction (a Raft table read in a cluster) that releases the GIL, a measurable
    part of a small GET. A ``stale_ok`` read is remembered in the request's context (a
    gRPC call is one asyncio task with its own context) and served again to the same
    request; reads that must be current, and every change, go to the registry.
    """

    def __init__(self, inner: Buckets) -> None:
        self.inner = inner

    async def create(self, name: str, region: str = "", settings: BucketRecord | None = None
                     ) -> BucketRecord:
        _held.set(None)
        return await self.inner.create(name, region, settings)

    async def get(self, name: str, *, stale_ok: bool = False) -> BucketRecord:
        if stale_ok:
            held = _held.get()
            if held is not None and held.name == name:
                return held
        record = await self.inner.get(name, stale_ok=stale_ok)
        _held.set(record)
        return record

    async def list(self, *, stale_ok: bool = False) -> list[BucketRecord]:
        return await self.inner.list(stale_ok=stale_ok)

    async def delete(self, name: str) -> None:
        _held.set(None)
        await self.inner.delete(name)

    async def update(self, record: BucketRecord) -> None:
        _held.set(None)
        await self.inner.update(record)


class BucketRegistry:
    def __init__(self, placement: Placement, clock: Clock) -> None:
        self._drives: list[Drive] = [d for s in placement.sets() for d in s.drives]
        self._quorum = len(self._drives) // 2 + 1
        self._clock = clock

    async def create(self, name: str, region: str = "",
                     settings: BucketRecord | None = None) -> BucketRecord:
        check_bucket_name(name)
        record = new_record(name, self._clock.now_ns(), region, settings)
        try:
            await fan_out(self._drives, lambda d: d.make_volume(record), self._quorum)
        except VolumeExists as exc:
            raise EngineError("BucketAlreadyOwnedByYou", BucketName=name) from exc
        return record

    async def get(self, name: str, *, stale_ok: bool = False) -> BucketRecord:
        """The bucket's record, or NoSuchBucket; drives that do not answer are skipped
        (always current: the volumes are the registry)."""
        answered = False
        for drive in self._drives:
            try:
                record = await drive.get_volume(name)
            except (ConnectionError, OSError):
                continue
            answered = True
            if record is not None:
                return record
        if not answered:
            raise EngineError("ServiceUnavailable", "no drive holding buckets answered")
        raise EngineError("NoSuchBucket", BucketName=name)

    async def list(self, *, stale_ok: bool = False) -> list[BucketRecord]:
        for drive in self._drives:
            try:
                return sorted(await drive.list_volumes(), key=lambda r: r.name)
            except (ConnectionError, OSError):
                continue
        raise EngineError("ServiceUnavailable", "no drive holding buckets answered")

    async def update(self, record: BucketRecord) -> None:
        try:
            await fan_out(self._drives, lambda d: d.put_volume(record), self._quorum)
        except VolumeNotFound as exc:
            raise EngineError("NoSuchBucket", BucketName=record.name) from exc

    async def delete(self, name: str) -> None:
        await self.get(name)
        try:
            await fan_out(self._drives, lambda d: d.delete_volume(name), self._quorum)
        except VolumeNotEmpty as exc:
            raise EngineError("BucketNotEmpty", BucketName=name) from exc
        except VolumeNotFound as exc:
            raise EngineError("NoSuchBucket", BucketName=name) from exc
