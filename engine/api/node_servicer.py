"""gRPC Node: this node's drives, served to its peers (see node.proto).

Only calls carrying the cluster secret are served. Storage outcomes that are answers
(a missing volume, a failed precondition, bitrot, ...) are sent as statuses named after
the exception, so the peer's RemoteDrive raises the very exception a local drive would.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc_status import rpc_status

from engine._hotpath import crc32c
from engine.cluster import wire
from engine.cluster.wire import SECRET_HEADER
from engine.errors import EngineError
from engine.storage.drive import LocalDrive
from engine.storage.errors import BitrotError, StorageError
from engine.v1 import node_pb2 as pb
from engine.v1 import node_pb2_grpc
from engine.v1.admin_pb2 import DriveStatus

Ctx = grpc.aio.ServicerContext
R = TypeVar("R")


class Guard:
    """Checks the secret and renders failures; shared by every Node method."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    async def check(self, context: Ctx) -> None:
        sent = dict(context.invocation_metadata() or ()).get(SECRET_HEADER, "")
        if not hmac.compare_digest(str(sent).encode(), self._secret):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "cluster secret required")

    @staticmethod
    async def fail(context: Ctx, exc: Exception) -> None:
        if isinstance(exc, StorageError):
            exc = wire.encode(exc)
        if not isinstance(exc, EngineError):
            exc = EngineError("InternalError", f"{type(exc).__name__}: {exc}")
        await context.abort_with_status(rpc_status.to_status(exc.to_rpc_status()))


def peer_unary(fn: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: Ctx) -> R:
        await self.guard.check(context)
        try:
            return await fn(self, request, context)
        except Exception as exc:
            await self.guard.fail(context, exc)
            raise AssertionError("unreachable") from exc

    return wrapper


class NodeServicer(node_pb2_grpc.NodeServicer):
    def __init__(self, node_id: str, zone: str, drives: list[LocalDrive], secret: str) -> None:
        self.node_id = node_id
        self.zone = zone
        self.drives = drives
        self.guard = Guard(secret)

    def drive(self, index: int) -> LocalDrive:
        if not 0 <= index < len(self.drives):
            raise EngineError("InvalidArgument", f"no drive {index} on {self.node_id}")
        return self.drives[index]

    @peer_unary
    async def Ping(self, request: pb.PingRequest, context: Ctx) -> pb.PingResponse:
        return pb.PingResponse(node_id=self.node_id, zone=self.zone, drives=len(self.drives))

    @peer_unary
    async def MakeVolume(self, request: pb.VolumeRequest, context: Ctx) -> pb.NodeEmpty:
        await self.drive(request.drive).make_volume(request.record)
        return pb.NodeEmpty()

    @peer_unary
    async def PutVolume(self, request: pb.VolumeRequest, context: Ctx) -> pb.NodeEmpty:
        await self.drive(request.drive).put_volume(request.record)
        return pb.NodeEmpty()

    @peer_unary
    async def GetVolume(self, request: pb.VolumeNameRequest, context: Ctx) -> pb.VolumeResponse:
        record = await self.drive(request.drive).get_volume(request.name)
        return pb.VolumeResponse(found=True, record=record) if record else pb.VolumeResponse()

    @peer_unary
    async def ListVolumes(self, request: pb.DriveRef, context: Ctx) -> pb.ListVolumesResponse:
        return pb.ListVolumesResponse(records=await self.drive(request.drive).list_volumes())

    @peer_unary
    async def DeleteVolume(self, request: pb.VolumeNameRequest, context: Ctx) -> pb.NodeEmpty:
        await self.drive(request.drive).delete_volume(request.name)
        return pb.NodeEmpty()

    @peer_unary
    async def ReadEntry(self, request: pb.EntryRequest, context: Ctx) -> pb.EntryResponse:
        entry = await self.drive(request.drive).read_entry(request.bucket, request.key)
        return pb.EntryResponse(found=True, entry=entry) if entry else pb.EntryResponse()

    @peer_unary
    async def WriteVersion(self, request: pb.WriteVersionRequest, context: Ctx) -> pb.NodeEmpty:
        await self.drive(request.drive).write_version(
            request.bucket, request.key, request.version, versioning=request.versioning,
            if_match=request.if_match if request.HasField("if_match") else None,
            if_none_match=request.if_none_match if request.HasField("if_none_match") else None,
            events=request.events,
        )
        return pb.NodeEmpty()

    @peer_unary
    async def DeleteEntry(self, request: pb.EntryRequest, context: Ctx
                          ) -> pb.DeleteEntryResponse:
        existed = await self.drive(request.drive).delete_entry(request.bucket, request.key,
                                                               request.events)
        return pb.DeleteEntryResponse(existed=existed)

    @peer_unary
    async def ListEntries(self, request: pb.ListEntriesRequest, context: Ctx
                          ) -> pb.ListEntriesResponse:
        items = await self.drive(request.drive).list_entries(
            request.bucket, request.prefix, request.after, request.delimiter, request.limit
        )
        return pb.ListEntriesResponse(items=[
            pb.ListedItem(name=name, common_prefix=True) if entry is None
            else pb.ListedItem(name=name, entry=entry)
            for name, entry in items
        ])

    @peer_unary
    async def PatchVersion(self, request: pb.PatchVersionRequest, context: Ctx
                           ) -> pb.PatchVersionResponse:
        outcome = await self.drive(request.drive).patch_version(
            request.bucket, request.key, request.patch, request.events)
        return pb.PatchVersionResponse(outcome=outcome)

    @peer_unary
    async def CreateUpload(self, request: pb.CreateUploadRequest, context: Ctx
                           ) -> pb.NodeEmpty:
        await self.drive(request.drive).create_upload(request.bucket, request.record)
        return pb.NodeEmpty()

    @peer_unary
    async def ReadUpload(self, request: pb.UploadRef, context: Ctx) -> pb.ReadUploadResponse:
        record = await self.drive(request.drive).read_upload(request.bucket, request.upload_id)
        return pb.ReadUploadResponse(found=True, record=record) if record \
            else pb.ReadUploadResponse()

    @peer_unary
    async def PutPart(self, request: pb.PutPartRequest, context: Ctx) -> pb.NodeEmpty:
        await self.drive(request.drive).put_part(request.bucket, request.upload_id,
                                                 request.part)
        return pb.NodeEmpty()

    @peer_unary
    async def CompleteUpload(self, request: pb.CompleteUploadRequest, context: Ctx
                             ) -> pb.NodeEmpty:
        await self.drive(request.drive).complete_upload(
            request.bucket, request.key, request.upload_id, request.version,
            request.versioning, request.events)
        return pb.NodeEmpty()

    @peer_unary
    async def AbortUpload(self, request: pb.UploadRef, context: Ctx
                          ) -> pb.AbortUploadResponse:
        existed = await self.drive(request.drive).abort_upload(request.bucket,
                                                               request.upload_id)
        return pb.AbortUploadResponse(existed=existed)

    @peer_unary
    async def ListUploads(self, request: pb.ListUploadsRequest, context: Ctx
                          ) -> pb.ListUploadsResponse:
        uploads = await self.drive(request.drive).list_uploads(request.bucket, request.prefix)
        return pb.ListUploadsResponse(uploads=uploads)

    @peer_unary
    async def WriteShard(self, request_iterator: AsyncIterator[pb.WriteShardRequest],
                         context: Ctx) -> pb.WriteShardResponse:
        stream = request_iterator.__aiter__()
        first = await stream.__anext__()
        if first.WhichOneof("part") != "header":
            raise EngineError("InvalidRequest", "WriteShard starts with its header")
        h = first.header
        writer = await self.drive(h.drive).create_shard(h.data_id, h.index, h.bucket, h.key)
        # If the caller vanishes, grpc may drop this handler without resuming it, so the
        # except below is not enough: abort when the RPC ends (a no-op after commit).
        context.add_done_callback(lambda _: writer.abort_now())
        written = 0
        try:
            async for message in stream:
                part = message.WhichOneof("part")
                if part == "block":
                    block = message.block
                    if crc32c(block.payload) != block.crc32c:
                        raise BitrotError("block damaged in transit")
                    await writer.write_block(block.payload, block.crc32c)
                    written += len(block.payload)
                elif part == "commit":
                    await writer.commit()
                    return pb.WriteShardResponse(bytes_written=written)
            raise EngineError("IncompleteBody", "shard stream ended without commit")
        except BaseException:
            await writer.abort()
            raise

    async def ReadShard(self, request: pb.ReadShardRequest, context: Ctx
                        ) -> AsyncIterator[pb.ShardBlock]:
        await self.guard.check(context)
        try:
            reader = await self.drive(request.drive).open_shard(request.data_id, request.index)
        except Exception as exc:
            await self.guard.fail(context, exc)
            return
        try:
            last = min(request.last, reader.block_count(request.block_size) - 1)
            for i in range(request.first, last + 1):
                try:
                    payload = await reader.read_block(i, request.block_size)
                except Exception as exc:
                    await self.guard.fail(context, exc)
                    return
                yield pb.ShardBlock(payload=payload, crc32c=crc32c(payload))
        finally:
            await reader.close()

    @peer_unary
    async def WriteEntry(self, request: pb.WriteEntryRequest, context: Ctx) -> pb.NodeEmpty:
        entry = request.entry if request.HasField("entry") else None
        await self.drive(request.drive).write_entry(request.bucket, request.key, entry,
                                                    request.commit_intent or None)
        return pb.NodeEmpty()

    @peer_unary
    async def VerifyShard(self, request: pb.VerifyShardRequest, context: Ctx
                          ) -> pb.VerifyShardResponse:
        state = await self.drive(request.drive).verify_shard(
            request.data_id, request.index, request.block_size, request.blocks)
        return pb.VerifyShardResponse(state=state)

    @peer_unary
    async def PendingWrites(self, request: pb.PendingWritesRequest, context: Ctx
                            ) -> pb.PendingWritesResponse:
        writes = await self.drive(request.drive).pending_writes(request.started_before_ns)
        return pb.PendingWritesResponse(writes=[
            pb.PendingWrite(data_id=d, bucket=b, key=k) for d, b, k in writes])

    @peer_unary
    async def Discard(self, request: pb.DiscardRequest, context: Ctx) -> pb.NodeEmpty:
        await self.drive(request.drive).discard(request.data_id)
        return pb.NodeEmpty()

    @peer_unary
    async def GetDriveStatus(self, request: pb.DriveRef, context: Ctx) -> DriveStatus:
        return await self.drive(request.drive).status()

    @peer_unary
    async def DueEvents(self, request: pb.DueEventsRequest, context: Ctx
                        ) -> pb.DueEventsResponse:
        events = await self.drive(request.drive).due_events(request.now_ns, request.limit)
        return pb.DueEventsResponse(events=events)

    @peer_unary
    async def DropEvents(self, request: pb.DropEventsRequest, context: Ctx
                         ) -> pb.DropEventsResponse:
        dropped = await self.drive(request.drive).drop_events(
            [(k.due_ns, k.id) for k in request.keys])
        return pb.DropEventsResponse(dropped=dropped)
