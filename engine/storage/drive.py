"""A drive: one directory with its metadata store and shard files, behind an async API.

The object service talks to drives only through :class:`Drive`. :class:`LocalDrive`
runs the blocking LMDB and file work in worker threads; the cluster adds a remote
drive that speaks the same API over node.proto. Every method is idempotent or
reports a definite outcome, which is what a quorum protocol needs.

Methods that change an object take ``events``: event notifications put in the drive's
outbox in the same transaction as the change, and only if the change happens (a
delete of a key the drive does not hold, a patch that does not apply, record none).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import lmdb

from engine.clock import Clock, SystemClock
from engine.storage.durable_dirs import make_durable_dirs
from engine.storage.entries import APPLIED, add_version, check_expectation
from engine.storage.errors import BitrotError, ShardMissing
from engine.storage.group_commit import GroupCommitter
from engine.storage.metastore import GARBAGE, Listing, MetaStore
from engine.storage.shardstore import ShardReader, ShardStore, ShardWriter
from engine.v1.admin_pb2 import DriveStatus
from engine.v1.records_pb2 import (
    BucketRecord,
    EventRecord,
    ObjectEntry,
    ObjectVersion,
    PartBody,
    UploadRecord,
    VersionPatch,
)

log = logging.getLogger(__name__)


class AsyncShardWriter(Protocol):
    async def write_block(self, payload: bytes | memoryview, crc: int) -> None: ...
    async def commit(self) -> None: ...
    async def abort(self) -> None: ...


class AsyncShardReader(Protocol):
    async def read_block(self, index: int, block_size: int) -> bytes: ...
    async def close(self) -> None: ...


class Drive(Protocol):
    name: str

    async def make_volume(self, record: BucketRecord) -> None: ...
    async def put_volume(self, record: BucketRecord) -> None: ...
    async def get_volume(self, name: str) -> BucketRecord | None: ...
    async def list_volumes(self) -> list[BucketRecord]: ...
    async def delete_volume(self, name: str) -> None:
        """Drop a volume without objects, and its uploads (their parts' data is deleted)."""
        ...
    async def read_entry(self, bucket: str, key: str) -> ObjectEntry | None: ...
    async def write_version(
        self, bucket: str, key: str, version: ObjectVersion, *, versioning: str,
        if_match: str | None = None, if_none_match: str | None = None,
        events: Sequence[EventRecord] = (),
    ) -> None: ...
    async def delete_entry(self, bucket: str, key: str,
                           events: Sequence[EventRecord] = ()) -> bool: ...
    async def list_entries(
        self, bucket: str, prefix: str, after: str, delimiter: str, limit: int
    ) -> Listing: ...
    async def write_entry(self, bucket: str, key: str, entry: ObjectEntry | None,
                          commit_intent: str | None = None) -> None:
        """Replace the key's whole entry (healing): None removes it."""
        ...
    async def patch_version(self, bucket: str, key: str, patch: VersionPatch,
                            events: Sequence[EventRecord] = ()) -> str:
        """Change one version in place: "applied", "missing" or "changed"."""
        ...
    async def create_upload(self, bucket: str, record: UploadRecord) -> None: ...
    async def read_upload(self, bucket: str, upload_id: str) -> UploadRecord | None:
        """The upload with its parts sorted by number, or None."""
        ...
    async def put_part(self, bucket: str, upload_id: str, part: PartBody) -> None:
        """Store or replace a part; UploadNotFound when the upload does not exist."""
        ...
    async def complete_upload(self, bucket: str, key: str, upload_id: str,
                              version: ObjectVersion, versioning: str,
                              events: Sequence[EventRecord] = ()) -> None:
        """Replace the upload by `version` of `key` in one commit; UploadNotFound."""
        ...
    async def abort_upload(self, bucket: str, upload_id: str) -> bool:
        """Drop the upload and its parts' data; whether it existed."""
        ...
    async def list_uploads(self, bucket: str, prefix: str) -> list[UploadRecord]:
        """Uploads whose key starts with prefix, by (key, initiated_ns, upload_id)."""
        ...
    # -- shards ----------------------------------------------------------------------

    async def create_shard(self, data_id: str, index: int, bucket: str = "",
                           key: str = "") -> AsyncShardWriter: ...
    async def open_shard(self, data_id: str, index: int) -> AsyncShardReader: ...
    async def verify_shard(self, data_id: str, index: int, block_size: int,
                           blocks: int) -> str:
        """"ok", "missing" or "corrupt", after reading every block."""
        ...
    async def pending_writes(self, started_before_ns: int) -> list[tuple[str, str, str]]: ...
    async def discard(self, data_id: str) -> None:
        """Forget a write: its shard files and its intent record."""
        ...
    async def status(self) -> DriveStatus: ...
    # -- event outbox ----------------------------------------------------------------

    async def due_events(self, now_ns: int, limit: int) -> list[EventRecord]:
        """Outbox events due at ``now_ns``, the earliest first."""
        ...
    async def drop_events(self, keys: Sequence[tuple[int, str]]) -> int:
        """Forget delivered events by (due_ns, id); how many this drive held."""
        ...


class LocalShardWriter:
    def __init__(self, writer: ShardWriter) -> None:
        self._writer = writer

    async def write_block(self, payload: bytes | memoryview, crc: int) -> None:
        await asyncio.to_thread(self._writer.write_block, payload, crc)

    async def commit(self) -> None:
        await asyncio.to_thread(self._writer.commit)

    async def abort(self) -> None:
        await asyncio.to_thread(self._writer.abort)

    def abort_now(self) -> None:
        """Abort from a callback that cannot await (a close and an unlink)."""
        self._writer.abort()


class LocalShardReader:
    def __init__(self, reader: ShardReader) -> None:
        self._reader = reader

    async def read_block(self, index: int, block_size: int) -> bytes:
        return await asyncio.to_thread(self._reader.read_block, index, block_size)

    async def close(self) -> None:
        self._reader.close()

    def block_count(self, block_size: int) -> int:
        return self._reader.block_count(block_size)


class LocalDrive:
    def __init__(self, path: Path, map_size: int, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.path = path
        self.name = str(path)
        self._undoing: set[asyncio.Future[None]] = set()  # creates cut off by a cancel
        make_durable_dirs(path)
        self.meta = MetaStore(path / "meta", map_size)
        self.shards = ShardStore(path)
        self.recover()
        self._committer = GroupCommitter(self.meta.env, path.name)

    def close(self) -> None:
        self._committer.stop()
        self.meta.close()

    def recover(self) -> None:
        """Finish what a crash interrupted: unfinished temp files, shard files of writes
        that never committed, and shard files of versions that were replaced."""
        tmp = self.shards.clean_tmp()
        intents = self.meta.intents()
        self.collect(list(intents))
        if tmp or intents:
            pending = sum(1 for v in intents.values() if v != GARBAGE)
            log.info("drive %s: recovered %d temp files, %d unfinished writes, %d garbage",
                     self.name, tmp, pending, len(intents) - pending)

    def collect(self, garbage: list[str]) -> None:
        """Delete the shard files of these data ids, then forget their intents."""
        for data_id in garbage:
            self.shards.delete(data_id)
        if garbage:
            self.meta.clear_intents(garbage)

    async def _commit(self, work: Callable[[lmdb.Transaction], list[str]]) -> None:
        """Run a metadata change in the next group commit, then delete the shard files
        it made garbage (their intents are durable, so a crash in between is safe)."""
        garbage = await self._committer.submit(work)
        if garbage:
            await asyncio.to_thread(self.collect, garbage)

    # -- volumes ---------------------------------------------------------------------

    async def make_volume(self, record: BucketRecord) -> None:
        await asyncio.to_thread(self.meta.make_volume, record)

    async def put_volume(self, record: BucketRecord) -> None:
        await asyncio.to_thread(self.meta.put_volume, record)

    async def get_volume(self, name: str) -> BucketRecord | None:
        return self.meta.get_volume(name)  # one LMDB read: cheaper than a thread hop

    async def list_volumes(self) -> list[BucketRecord]:
        return self.meta.list_volumes()

    async def delete_volume(self, name: str) -> None:
        await self._commit(lambda txn: self.meta.delete_volume_in(txn, name))

    # -- objects ---------------------------------------------------------------------

    async def read_entry(self, bucket: str, key: str) -> ObjectEntry | None:
        return self.meta.get_entry(bucket, key)

    async def write_version(
        self, bucket: str, key: str, version: ObjectVersion, *, versioning: str,
        if_match: str | None = None, if_none_match: str | None = None,
        events: Sequence[EventRecord] = (),
    ) -> None:
        def update(entry: ObjectEntry | None) -> ObjectEntry:
            check_expectation(entry, if_match, if_none_match)
            return add_version(entry, version, versioning)

        intent = version.layout.data_id if version.WhichOneof("body") == "layout" else None

        def work(txn: lmdb.Transaction) -> list[str]:
            garbage = self.meta.update_in(txn, bucket, key, update, intent)
            self.meta.outbox.put_in(txn, events)
            return garbage

        await self._commit(work)

    async def delete_entry(self, bucket: str, key: str,
                           events: Sequence[EventRecord] = ()) -> bool:
        existed = False

        def update(entry: ObjectEntry | None) -> None:
            nonlocal existed
            existed = entry is not None

        def work(txn: lmdb.Transaction) -> list[str]:
            garbage = self.meta.update_in(txn, bucket, key, update)
            if existed:
                self.meta.outbox.put_in(txn, events)
            return garbage

        await self._commit(work)
        return existed

    async def list_entries(
        self, bucket: str, prefix: str, after: str, delimiter: str, limit: int
    ) -> Listing:
        return await asyncio.to_thread(
            self.meta.list_entries, bucket, prefix, after, delimiter, limit
        )

    async def patch_version(self, bucket: str, key: str, patch: VersionPatch,
                            events: Sequence[EventRecord] = ()) -> str:
        outcome = ""

        def work(txn: lmdb.Transaction) -> list[str]:
            nonlocal outcome
            outcome, garbage = self.meta.patch_in(txn, bucket, key, patch)
            if outcome == APPLIED:
                self.meta.outbox.put_in(txn, events)
            return garbage

        await self._commit(work)
        return outcome

    async def write_entry(self, bucket: str, key: str, entry: ObjectEntry | None,
                          commit_intent: str | None = None) -> None:
        await self._commit(
            lambda txn: self.meta.update_in(txn, bucket, key, lambda _old: entry, commit_intent)
        )

    # -- multipart uploads -----------------------------------------------------------

    async def create_upload(self, bucket: str, record: UploadRecord) -> None:
        await self._committer.submit(lambda txn: self.meta.create_upload_in(txn, bucket, record))

    async def read_upload(self, bucket: str, upload_id: str) -> UploadRecord | None:
        return await asyncio.to_thread(self.meta.get_upload, bucket, upload_id)

    async def put_part(self, bucket: str, upload_id: str, part: PartBody) -> None:
        await self._commit(lambda txn: self.meta.put_part_in(txn, bucket, upload_id, part))

    async def complete_upload(self, bucket: str, key: str, upload_id: str,
                              version: ObjectVersion, versioning: str,
                              events: Sequence[EventRecord] = ()) -> None:
        def work(txn: lmdb.Transaction) -> list[str]:
            garbage = self.meta.complete_upload_in(txn, bucket, key, upload_id, version,
                                                   versioning)
            self.meta.outbox.put_in(txn, events)
            return garbage

        await self._commit(work)

    async def abort_upload(self, bucket: str, upload_id: str) -> bool:
        existed = False

        def work(txn: lmdb.Transaction) -> list[str]:
            nonlocal existed
            existed, garbage = self.meta.abort_upload_in(txn, bucket, upload_id)
            return garbage

        await self._commit(work)
        return existed

    async def list_uploads(self, bucket: str, prefix: str) -> list[UploadRecord]:
        return await asyncio.to_thread(self.meta.list_uploads, bucket, prefix)

    # -- shards ----------------------------------------------------------------------

    async def create_shard(self, data_id: str, index: int, bucket: str = "",
                           key: str = "") -> LocalShardWriter:
        def run() -> ShardWriter:
            self.meta.add_intent(data_id, bucket, key, self.clock.now_ns())
            return self.shards.create(data_id, index)

        made = asyncio.ensure_future(asyncio.to_thread(run))
        try:
            return LocalShardWriter(await asyncio.shield(made))
        except asyncio.CancelledError:
            # The thread goes on and creates the file and intent after the caller's own
            # cleanup ran: undo them once it is done (a stopping node waits for this).
            undo = asyncio.ensure_future(self._undo_create(made, data_id))
            self._undoing.add(undo)
            undo.add_done_callback(self._undoing.discard)
            raise

    async def _undo_create(self, made: asyncio.Future[ShardWriter], data_id: str) -> None:
        try:
            writer = await made
        except Exception:
            return
        writer.abort()
        await asyncio.to_thread(self.collect, [data_id])

    async def open_shard(self, data_id: str, index: int) -> LocalShardReader:
        return LocalShardReader(self.shards.open(data_id, index))

    async def discard(self, data_id: str) -> None:
        await asyncio.to_thread(self.collect, [data_id])

    async def verify_shard(self, data_id: str, index: int, block_size: int,
                           blocks: int) -> str:
        def run() -> str:
            try:
                reader = self.shards.open(data_id, index)
            except ShardMissing:
                return "missing"
            try:
                if reader.block_count(block_size) != blocks:
                    return "corrupt"
                for i in range(blocks):
                    reader.read_block(i, block_size)
            except BitrotError:
                return "corrupt"
            finally:
                reader.close()
            return "ok"

        return await asyncio.to_thread(run)

    async def pending_writes(self, started_before_ns: int) -> list[tuple[str, str, str]]:
        return await asyncio.to_thread(self.meta.pending_writes, started_before_ns)

    async def due_events(self, now_ns: int, limit: int) -> list[EventRecord]:
        return await asyncio.to_thread(self.meta.outbox.due, now_ns, limit)

    async def drop_events(self, keys: Sequence[tuple[int, str]]) -> int:
        dropped: int = await self._committer.submit(
            lambda txn: self.meta.outbox.drop_in(txn, keys))
        return dropped

    async def status(self) -> DriveStatus:
        def run() -> DriveStatus:
            usage = shutil.disk_usage(self.path)
            return DriveStatus(
                path=str(self.path.resolve()), total_bytes=usage.total,
                free_bytes=usage.free, used_bytes=self.shards.used_bytes(),
            )

        return await asyncio.to_thread(run)
