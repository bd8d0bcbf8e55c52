"""gRPC ObjectStore: decode, call the object service, encode. No rules live here."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from engine.api import convert
from engine.api.rpc import streaming, unary
from engine.errors import EngineError
from engine.objects.service import ObjectService, WriteOptions, crc32c_b64
from engine.v1 import objects_pb2 as pb
from engine.v1 import objects_pb2_grpc

Ctx = grpc.aio.ServicerContext

OWNER_ID = "engine"


class ObjectStoreServicer(objects_pb2_grpc.ObjectStoreServicer):
    def __init__(self, service: ObjectService) -> None:
        self.s = service

    @unary
    async def CreateBucket(self, request: pb.CreateBucketRequest, context: Ctx
                           ) -> pb.CreateBucketResponse:
        await self.s.buckets.create(request.bucket, request.location_constraint)
        return pb.CreateBucketResponse(location=f"/{request.bucket}")

    @unary
    async def DeleteBucket(self, request: pb.DeleteBucketRequest, context: Ctx
                           ) -> pb.DeleteBucketResponse:
        await self.s.buckets.delete(request.bucket)
        return pb.DeleteBucketResponse()

    @unary
    async def HeadBucket(self, request: pb.HeadBucketRequest, context: Ctx
                         ) -> pb.HeadBucketResponse:
        record = await self.s.buckets.get(request.bucket)
        return pb.HeadBucketResponse(bucket_region=record.region)

    @unary
    async def ListBuckets(self, request: pb.ListBucketsRequest, context: Ctx
                          ) -> pb.ListBucketsResponse:
        records = await self.s.buckets.list()
        return pb.ListBucketsResponse(
            buckets=[pb.Bucket(name=r.name, creation_date=convert.timestamp(r.created_ns))
                     for r in records],
            owner_id=OWNER_ID, owner_display_name=OWNER_ID,
        )

    @unary
    async def PutObject(self, request_iterator: AsyncIterator[pb.PutObjectRequest], context: Ctx
                        ) -> pb.PutObjectResponse:
        stream = request_iterator.__aiter__()
        try:
            first = await stream.__anext__()
        except StopAsyncIteration:
            first = pb.PutObjectRequest()
        if first.WhichOneof("part") != "header":
            raise EngineError("InvalidRequest", "The first PutObject message must be the header")
        h = first.header

        async def body() -> AsyncIterator[bytes]:
            async for message in stream:
                if message.WhichOneof("part") != "chunk":
                    raise EngineError("InvalidRequest", "Only the first message is a header")
                yield message.chunk

        options = WriteOptions(
            content=convert.content_record(h.headers), metadata=dict(h.metadata),
            storage_class=h.storage_class,
            content_length=h.content_length if h.HasField("content_length") else None,
            content_md5=h.content_md5, checksum_crc32c=h.checksum_crc32c,
            if_match=h.if_match if h.HasField("if_match") else None,
            if_none_match=h.if_none_match if h.HasField("if_none_match") else None,
        )
        version = await self.s.put_object(h.bucket, h.key, body(), options)
        return pb.PutObjectResponse(
            etag=f'"{version.etag}"', checksum_crc32c=crc32c_b64(version.crc32c),
            size=version.size,
            version_id="" if version.version_id == "null" else version.version_id,
        )

    @streaming
    async def GetObject(self, request: pb.GetObjectRequest, context: Ctx
                        ) -> AsyncIterator[pb.GetObjectResponse]:
        read = await self.s.get_object(
            request.bucket, request.key, version_id=request.version_id,
            range_header=request.range if request.HasField("range") else None,
            conditions=convert.conditions(request.conditions),
        )
        header = pb.GetObjectHeader(
            info=convert.object_info(request.bucket, request.key, read.version),
            content_length=read.content_length,
            content_range=read.range.content_range(read.version.size) if read.range else "",
        )
        assert read.body is not None
        try:
            yield pb.GetObjectResponse(header=header)
            async for chunk in read.body:
                yield pb.GetObjectResponse(chunk=bytes(chunk))
        finally:
            await read.body.aclose()  # type: ignore[attr-defined]

    @unary
    async def HeadObject(self, request: pb.HeadObjectRequest, context: Ctx
                         ) -> pb.HeadObjectResponse:
        read = await self.s.head_object(
            request.bucket, request.key, version_id=request.version_id,
            range_header=request.range if request.HasField("range") else None,
            conditions=convert.conditions(request.conditions),
        )
        return pb.HeadObjectResponse(
            info=convert.object_info(request.bucket, request.key, read.version),
            content_length=read.content_length,
            content_range=read.range.content_range(read.version.size) if read.range else "",
        )

    @unary
    async def DeleteObject(self, request: pb.DeleteObjectRequest, context: Ctx
                           ) -> pb.DeleteObjectResponse:
        await self.s.delete_object(request.bucket, request.key, request.version_id)
        return pb.DeleteObjectResponse(version_id=request.version_id)

    @unary
    async def DeleteObjects(self, request: pb.DeleteObjectsRequest, context: Ctx
                            ) -> pb.DeleteObjectsResponse:
        outcomes = await self.s.delete_objects(
            request.bucket, [(o.key, o.version_id) for o in request.objects]
        )
        response = pb.DeleteObjectsResponse()
        for key, version_id, error in outcomes:
            if error is not None:
                response.errors.append(pb.DeleteError(
                    key=key, version_id=version_id, code=error.code, message=error.message))
            elif not request.quiet:
                response.deleted.append(pb.DeletedObject(key=key, version_id=version_id))
        return response

    @unary
    async def CopyObject(self, request: pb.CopyObjectRequest, context: Ctx
                         ) -> pb.CopyObjectResponse:
        options = WriteOptions(
            content=convert.content_record(request.headers), metadata=dict(request.metadata),
            storage_class=request.storage_class,
        )
        source, version = await self.s.copy_object(
            request.source_bucket, request.source_key, request.bucket, request.key,
            source_version_id=request.source_version_id,
            directive=request.metadata_directive,
            source_conditions=convert.conditions(request.source_conditions), options=options,
        )
        return pb.CopyObjectResponse(
            etag=f'"{version.etag}"', last_modified=convert.timestamp(version.mtime_ns),
            version_id="" if version.version_id == "null" else version.version_id,
            copy_source_version_id="" if source.version_id == "null" else source.version_id,
        )

    @unary
    async def ListObjectsV2(self, request: pb.ListObjectsV2Request, context: Ctx
                            ) -> pb.ListObjectsV2Response:
        page, max_keys = await self.s.list_objects_v2(
            request.bucket, prefix=request.prefix, delimiter=request.delimiter,
            max_keys=request.max_keys if request.HasField("max_keys") else None,
            continuation_token=request.continuation_token, start_after=request.start_after,
        )
        owner = OWNER_ID if request.fetch_owner else ""
        return pb.ListObjectsV2Response(
            name=request.bucket, prefix=request.prefix, delimiter=request.delimiter,
            max_keys=max_keys, key_count=len(page.contents) + len(page.common_prefixes),
            is_truncated=page.is_truncated, continuation_token=request.continuation_token,
            next_continuation_token=page.next_token, start_after=request.start_after,
            contents=[
                pb.ObjectSummary(key=key, last_modified=convert.timestamp(v.mtime_ns),
                                 etag=f'"{v.etag}"', size=v.size,
                                 storage_class=v.storage_class or "STANDARD",
                                 owner_id=owner, owner_display_name=owner)
                for key, v in page.contents
            ],
            common_prefixes=page.common_prefixes,
        )
