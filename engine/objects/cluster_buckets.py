"""Buckets in a cluster: the Raft-replicated table decides, drives follow.

Whether a bucket exists is decided by the replicated table (so a name is unique and a
create is seen by every node). Each drive also keeps a volume per bucket, because a
drive refuses to commit objects into a missing volume; volumes are created with the
bucket, and a node reconciles its own drives with the table at start-up and
periodically, so a drive that was down when a bucket was created catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from engine.clock import Clock
from engine.cluster.placement import Placement
from engine.errors import EngineError
from engine.objects.buckets import new_record
from engine.objects.listing import list_page, whole_entry
from engine.objects.names import check_bucket_name
from engine.storage.drive import Drive, LocalDrive
from engine.storage.errors import StorageError, VolumeExists
from engine.v1.records_pb2 import BucketRecord

log = logging.getLogger(__name__)


class BucketTable(Protocol):
    """The replicated table (engine/cluster/bucket_table.py)."""

    async def create(self, record: BucketRecord) -> bool: ...
    async def delete(self, name: str) -> bool: ...
    async def update(self, record: BucketRecord) -> bool: ...
    async def get(self, name: str, *, stale_ok: bool = False) -> BucketRecord | None: ...
    async def list(self, *, stale_ok: bool = False) -> list[BucketRecord]: ...


class ClusterBucketRegistry:
    def __init__(self, table: BucketTable, placement: Placement, local: list[LocalDrive],
                 clock: Clock) -> None:
        self._table = table
        self._placement = placement
        self._drives: list[Drive] = [d for s in placement.sets() for d in s.drives]
        self._local = local
        self._clock = clock

    async def create(self, name: str, region: str = "",
                     settings: BucketRecord | None = None) -> BucketRecord:
        check_bucket_name(name)
        record = new_record(name, self._clock.now_ns(), region, settings)
        if not await self._table.create(record):
            raise EngineError("BucketAlreadyOwnedByYou", BucketName=name)
        await asyncio.gather(*(self._make(d, record) for d in self._drives))
        return record

    async def get(self, name: str, *, stale_ok: bool = False) -> BucketRecord:
        record = await self._table.get(name, stale_ok=stale_ok)
        if record is None:
            raise EngineError("NoSuchBucket", BucketName=name)
        return record

    async def list(self, *, stale_ok: bool = False) -> list[BucketRecord]:
        return await self._table.list(stale_ok=stale_ok)

    async def update(self, record: BucketRecord) -> None:
        """The table decides; drives' copies of the record follow (best effort), since
        every read of a bucket's configuration goes to the table."""
        if not await self._table.update(record):
            raise EngineError("NoSuchBucket", BucketName=record.name)
        await asyncio.gather(*(self._put(d, record) for d in self._drives))

    async def delete(self, name: str) -> None:
        await self.get(name)
        # Any version counts, delete markers included: S3 refuses to delete a versioned
        # bucket until every version is gone.
        if (await list_page(self._placement.sets(), name, "", "", "", 1,
                            keep=whole_entry)).contents:
            raise EngineError("BucketNotEmpty", BucketName=name)
        if not await self._table.delete(name):
            raise EngineError("NoSuchBucket", BucketName=name)
        await asyncio.gather(*(self._drop(d, name) for d in self._drives))

    async def reconcile(self) -> None:
        """Give this node's drives a volume for every bucket in the table."""
        records = await self._table.list(stale_ok=True)
        for drive in self._local:
            have = {r.name for r in await drive.list_volumes()}
            for record in records:
                if record.name not in have:
                    await self._make(drive, record)

    async def reconcile_forever(self, interval: float) -> None:
        while True:
            try:
                await self.reconcile()
            except (EngineError, StorageError, OSError) as exc:
                log.warning("bucket reconciliation failed: %s", exc)
            await asyncio.sleep(interval)

    @staticmethod
    async def _make(drive: Drive, record: BucketRecord) -> None:
        try:
            await drive.make_volume(record)
        except VolumeExists:
            pass
        except (StorageError, ConnectionError, OSError) as exc:
            log.info("volume %s not created on %s yet: %s", record.name, drive.name, exc)

    @staticmethod
    async def _put(drive: Drive, record: BucketRecord) -> None:
        with contextlib.suppress(StorageError, ConnectionError, OSError):
            await drive.put_volume(record)

    @staticmethod
    async def _drop(drive: Drive, name: str) -> None:
        with contextlib.suppress(StorageError, ConnectionError, OSError):
            await drive.delete_volume(name)
