"""A drive on another node, used exactly like a LocalDrive (see node.proto).

Every call has a deadline, so a dead or hung peer costs a bounded time and shows up as
:class:`DriveUnavailable`, which quorum logic counts as a failed drive. Storage answers
from the peer (VolumeNotFound, PreconditionMismatch, BitrotError, ...) are raised as
the same exceptions a local drive raises. Shard reads stream a window of blocks ahead,
so a sequential GET costs one round trip per window, not per block.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc

from engine._hotpath import crc32c
from engine.cluster import wire
from engine.cluster.peers import Peer
from engine.errors import EngineError
from engine.storage.errors import BitrotError, ShardMissing
from engine.storage.metastore import Listing
from engine.v1 import node_pb2 as pb
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

T = TypeVar("T")
READ_WINDOW = 8  # blocks per ReadShard stream


class DriveUnavailable(ConnectionError):
    """The peer did not answer in time, or not at all."""


def _storage_error(err: EngineError, where: str) -> BaseException:
    """The exception a local drive would raise: a storage answer as itself, anything else
    (no answer, the peer failing) as an unavailable drive."""
    storage = wire.decode(err)
    if storage is not None:
        return storage
    return DriveUnavailable(f"{where}: {err.code}: {err.message}")


def _translate(exc: BaseException, where: str) -> BaseException:
    if isinstance(exc, asyncio.TimeoutError):
        return DriveUnavailable(f"{where}: no answer in time")
    if isinstance(exc, grpc.aio.AioRpcError):
        return _storage_error(EngineError.from_rpc_error(exc), where)
    return exc


class RemoteDrive:
    def __init__(self, peer: Peer, drive_index: int) -> None:
        self.peer = peer
        self.drive_index = drive_index
        self.name = f"{peer.node_id}/d{drive_index}"
        self.zone = peer.zone

    async def _call(self, method: Callable[..., Awaitable[T]], request: Any) -> T:
        try:
            return await self.peer.call(method, request)
        except EngineError as err:
            raise _storage_error(err, self.name) from None

    # -- volumes ---------------------------------------------------------------------

    async def make_volume(self, record: BucketRecord) -> None:
        await self._call(self.peer.stub.MakeVolume,
                         pb.VolumeRequest(drive=self.drive_index, record=record))

    async def put_volume(self, record: BucketRecord) -> None:
        await self._call(self.peer.stub.PutVolume,
                         pb.VolumeRequest(drive=self.drive_index, record=record))

    async def get_volume(self, name: str) -> BucketRecord | None:
        r = await self._call(self.peer.stub.GetVolume,
                             pb.VolumeNameRequest(drive=self.drive_index, name=name))
        return r.record if r.found else None

    async def list_volumes(self) -> list[BucketRecord]:
        r = await self._call(self.peer.stub.ListVolumes, pb.DriveRef(drive=self.drive_index))
        return list(r.records)

    async def delete_volume(self, name: str) -> None:
        await self._call(self.peer.stub.DeleteVolume,
                         pb.VolumeNameRequest(drive=self.drive_index, name=name))

    # -- objects ---------------------------------------------------------------------

    async def read_entry(self, bucket: str, key: str) -> ObjectEntry | None:
        r = await self._call(self.peer.stub.ReadEntry,
                             pb.EntryRequest(drive=self.drive_index, bucket=bucket, key=key))
        return r.entry if r.found else None

    async def write_version(
        self, bucket: str, key: str, version: ObjectVersion, *, versioning: str,
        if_match: str | None = None, if_none_match: str | None = None,
        events: Sequence[EventRecord] = (),
    ) -> None:
        request = pb.WriteVersionRequest(drive=self.drive_index, bucket=bucket, key=key,
                                         version=version, versioning=versioning,
                                         events=events)
        if if_match is not None:
            request.if_match = if_match
        if if_none_match is not None:
            request.if_none_match = if_none_match
        await self._call(self.peer.stub.WriteVersion, request)

    async def delete_entry(self, bucket: str, key: str,
                           events: Sequence[EventRecord] = ()) -> bool:
        r = await self._call(self.peer.stub.DeleteEntry, pb.EntryRequest(
            drive=self.drive_index, bucket=bucket, key=key, events=events))
        return r.existed

    async def list_entries(
        self, bucket: str, prefix: str, after: str, delimiter: str, limit: int
    ) -> Listing:
        r = await self._call(self.peer.stub.ListEntries, pb.ListEntriesRequest(
            drive=self.drive_index, bucket=bucket, prefix=prefix, after=after,
            delimiter=delimiter, limit=limit))
        return [(i.name, None if i.common_prefix else i.entry) for i in r.items]

    async def patch_version(self, bucket: str, key: str, patch: VersionPatch,
                            events: Sequence[EventRecord] = ()) -> str:
        r = await self._call(self.peer.stub.PatchVersion, pb.PatchVersionRequest(
            drive=self.drive_index, bucket=bucket, key=key, patch=patch, events=events))
        return r.outcome

    # -- multipart uploads -----------------------------------------------------------

    async def create_upload(self, bucket: str, record: UploadRecord) -> None:
        await self._call(self.peer.stub.CreateUpload, pb.CreateUploadRequest(
            drive=self.drive_index, bucket=bucket, record=record))

    async def read_upload(self, bucket: str, upload_id: str) -> UploadRecord | None:
        r = await self._call(self.peer.stub.ReadUpload, self._upload_ref(bucket, upload_id))
        return r.record if r.found else None

    async def put_part(self, bucket: str, upload_id: str, part: PartBody) -> None:
        await self._call(self.peer.stub.PutPart, pb.PutPartRequest(
            drive=self.drive_index, bucket=bucket, upload_id=upload_id, part=part))

    async def complete_upload(self, bucket: str, key: str, upload_id: str,
                              version: ObjectVersion, versioning: str,
                              events: Sequence[EventRecord] = ()) -> None:
        await self._call(self.peer.stub.CompleteUpload, pb.CompleteUploadRequest(
            drive=self.drive_index, bucket=bucket, key=key, upload_id=upload_id,
            version=version, versioning=versioning, events=events))

    async def abort_upload(self, bucket: str, upload_id: str) -> bool:
        r = await self._call(self.peer.stub.AbortUpload, self._upload_ref(bucket, upload_id))
        return r.existed

    async def list_uploads(self, bucket: str, prefix: str) -> list[UploadRecord]:
        r = await self._call(self.peer.stub.ListUploads, pb.ListUploadsRequest(
            drive=self.drive_index, bucket=bucket, prefix=prefix))
        return list(r.uploads)

    def _upload_ref(self, bucket: str, upload_id: str) -> pb.UploadRef:
        return pb.UploadRef(drive=self.drive_index, bucket=bucket, upload_id=upload_id)

    # -- shards ----------------------------------------------------------------------

    async def write_entry(self, bucket: str, key: str, entry: ObjectEntry | None,
                          commit_intent: str | None = None) -> None:
        request = pb.WriteEntryRequest(drive=self.drive_index, bucket=bucket, key=key,
                                       commit_intent=commit_intent or "")
        if entry is not None:
            request.entry.CopyFrom(entry)
        await self._call(self.peer.stub.WriteEntry, request)

    async def create_shard(self, data_id: str, index: int, bucket: str = "",
                           key: str = "") -> RemoteShardWriter:
        await self.peer.delay()
        call = self.peer.stub.WriteShard(metadata=self.peer.metadata)
        writer = RemoteShardWriter(call, self)
        await writer.send(pb.WriteShardRequest(header=pb.WriteShardHeader(
            drive=self.drive_index, data_id=data_id, index=index, bucket=bucket, key=key)))
        return writer

    async def verify_shard(self, data_id: str, index: int, block_size: int,
                           blocks: int) -> str:
        r = await self._call(self.peer.stub.VerifyShard, pb.VerifyShardRequest(
            drive=self.drive_index, data_id=data_id, index=index, block_size=block_size,
            blocks=blocks))
        return r.state

    async def pending_writes(self, started_before_ns: int) -> list[tuple[str, str, str]]:
        r = await self._call(self.peer.stub.PendingWrites, pb.PendingWritesRequest(
            drive=self.drive_index, started_before_ns=started_before_ns))
        return [(w.data_id, w.bucket, w.key) for w in r.writes]

    async def open_shard(self, data_id: str, index: int) -> RemoteShardReader:
        return RemoteShardReader(self, data_id, index)

    async def discard(self, data_id: str) -> None:
        await self._call(self.peer.stub.Discard,
                         pb.DiscardRequest(drive=self.drive_index, data_id=data_id))

    async def status(self) -> DriveStatus:
        return await self._call(self.peer.stub.GetDriveStatus,
                                pb.DriveRef(drive=self.drive_index))

    async def due_events(self, now_ns: int, limit: int) -> list[EventRecord]:
        r = await self._call(self.peer.stub.DueEvents, pb.DueEventsRequest(
            drive=self.drive_index, now_ns=now_ns, limit=limit))
        return list(r.events)

    async def drop_events(self, keys: Sequence[tuple[int, str]]) -> int:
        r = await self._call(self.peer.stub.DropEvents, pb.DropEventsRequest(
            drive=self.drive_index,
            keys=[pb.EventKey(due_ns=due, id=event_id) for due, event_id in keys]))
        return r.dropped


class RemoteShardWriter:
    """A WriteShard stream; each step waits at most the peer timeout."""

    def __init__(self, call: grpc.aio.StreamUnaryCall, drive: RemoteDrive) -> None:
        self._call = call
        self._drive = drive

    async def send(self, message: pb.WriteShardRequest) -> None:
        try:
            await asyncio.wait_for(self._call.write(message), self._drive.peer.timeout)
        except BaseException as exc:
            self._call.cancel()
            raise _translate(exc, self._drive.name) from exc

    async def write_block(self, payload: bytes | memoryview, crc: int) -> None:
        await self.send(pb.WriteShardRequest(block=pb.ShardBlock(payload=bytes(payload),
                                                                 crc32c=crc)))

    async def commit(self) -> None:
        await self.send(pb.WriteShardRequest(commit=True))
        try:
            await asyncio.wait_for(self._call.done_writing(), self._drive.peer.timeout)
            await asyncio.wait_for(self._call, self._drive.peer.timeout)
        except BaseException as exc:
            self._call.cancel()
            raise _translate(exc, self._drive.name) from exc

    async def abort(self) -> None:
        self._call.cancel()


class RemoteShardReader:
    """Reads blocks through ReadShard streams of READ_WINDOW blocks, reopening when the
    caller jumps. Each block's CRC32C is checked again here, end to end."""

    def __init__(self, drive: RemoteDrive, data_id: str, index: int) -> None:
        self._drive = drive
        self._data_id = data_id
        self._index = index
        self._stream: AsyncIterator[pb.ShardBlock] | None = None
        self._call: grpc.aio.UnaryStreamCall | None = None
        self._next = -1
        self._end = -1

    async def read_block(self, index: int, block_size: int) -> bytes:
        if self._call is None or index != self._next or index > self._end:
            await self.close()
            await self._drive.peer.delay()
            self._end = index + READ_WINDOW - 1
            self._call = self._drive.peer.stub.ReadShard(
                pb.ReadShardRequest(drive=self._drive.drive_index, data_id=self._data_id,
                                    index=self._index, block_size=block_size, first=index,
                                    last=self._end),
                metadata=self._drive.peer.metadata)
            self._next = index
        try:
            block = await asyncio.wait_for(self._call.read(), self._drive.peer.timeout)
        except BaseException as exc:
            await self.close()
            raise _translate(exc, self._drive.name) from exc
        if block is grpc.aio.EOF:
            await self.close()
            raise ShardMissing(f"{self._drive.name}: block {index} of {self._data_id}")
        if crc32c(block.payload) != block.crc32c:
            await self.close()
            raise BitrotError(f"{self._drive.name}: block {index} damaged in transit")
        self._next += 1
        return block.payload

    async def close(self) -> None:
        if self._call is not None:
            self._call.cancel()
            self._call = None
