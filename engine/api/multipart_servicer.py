"""The multipart-upload RPCs of ObjectStore: decode, call the object service, encode."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from engine.api import access_convert as ac
from engine.api import convert
from engine.api.rpc import unary
from engine.api.upload_stream import StreamLimits, open_upload
from engine.objects.core import crc32c_b64
from engine.objects.service import ObjectService
from engine.v1 import objects_pb2 as pb

Ctx = grpc.aio.ServicerContext


class MultipartRpcs:
    """Mixed into ObjectStoreServicer, which sets ``s`` and ``stream_limits``."""

    s: ObjectService
    stream_limits: StreamLimits

    @unary
    async def CreateMultipartUpload(self, request: pb.CreateMultipartUploadRequest, context: Ctx
                                    ) -> pb.CreateMultipartUploadResponse:
        options = ac.with_acl(
            convert.write_options(request.headers, request.metadata, request.storage_class,
                                  request.tagging),
            request.acl, self.s.account, request.bucket, request.key)
        upload = await self.s.create_multipart_upload(request.bucket, request.key, options)
        return pb.CreateMultipartUploadResponse(bucket=request.bucket, key=request.key,
                                                upload_id=upload.upload_id)

    @unary
    async def UploadPart(self, request_iterator: AsyncIterator[pb.UploadPartRequest],
                         context: Ctx) -> pb.UploadPartResponse:
        h, body = await open_upload(request_iterator, "UploadPart", self.stream_limits)
        part = await self.s.upload_part(
            h.bucket, h.key, h.upload_id, h.part_number, body,
            content_length=h.content_length if h.HasField("content_length") else None,
            content_md5=h.content_md5, checksum_crc32c=h.checksum_crc32c,
        )
        return pb.UploadPartResponse(etag=convert.quoted(part.etag),
                                     checksum_crc32c=crc32c_b64(part.crc32c))

    @unary
    async def UploadPartCopy(self, request: pb.UploadPartCopyRequest, context: Ctx
                             ) -> pb.UploadPartCopyResponse:
        source, part = await self.s.upload_part_copy(
            request.bucket, request.key, request.upload_id, request.part_number,
            request.source_bucket, request.source_key,
            source_version_id=request.source_version_id, source_range=request.source_range,
            source_conditions=convert.conditions(request.source_conditions),
        )
        return pb.UploadPartCopyResponse(
            etag=convert.quoted(part.etag), last_modified=convert.timestamp(part.mtime_ns),
            copy_source_version_id=convert.version_header(source.version_id),
        )

    @unary
    async def CompleteMultipartUpload(self, request: pb.CompleteMultipartUploadRequest,
                                      context: Ctx) -> pb.CompleteMultipartUploadResponse:
        version = await self.s.complete_multipart_upload(
            request.bucket, request.key, request.upload_id,
            [(p.part_number, p.etag) for p in request.parts],
        )
        return pb.CompleteMultipartUploadResponse(
            location=f"/{request.bucket}/{request.key}", bucket=request.bucket,
            key=request.key, etag=convert.quoted(version.etag),
            version_id=convert.version_header(version.version_id),
            checksum_crc32c=crc32c_b64(version.crc32c),
        )

    @unary
    async def AbortMultipartUpload(self, request: pb.AbortMultipartUploadRequest, context: Ctx
                                   ) -> pb.AbortMultipartUploadResponse:
        await self.s.abort_multipart_upload(request.bucket, request.key, request.upload_id)
        return pb.AbortMultipartUploadResponse()

    @unary
    async def ListParts(self, request: pb.ListPartsRequest, context: Ctx
                        ) -> pb.ListPartsResponse:
        page = await self.s.list_parts(
            request.bucket, request.key, request.upload_id,
            part_number_marker=request.part_number_marker,
            max_parts=request.max_parts if request.HasField("max_parts") else None,
        )
        return pb.ListPartsResponse(
            bucket=request.bucket, key=request.key, upload_id=request.upload_id,
            part_number_marker=request.part_number_marker,
            next_part_number_marker=page.next_part_number_marker, max_parts=page.max_parts,
            is_truncated=page.is_truncated,
            parts=[convert.part_summary(p) for p in page.parts],
            storage_class=page.upload.storage_class or "STANDARD",
            initiated=convert.timestamp(page.upload.initiated_ns),
        )

    @unary
    async def ListMultipartUploads(self, request: pb.ListMultipartUploadsRequest, context: Ctx
                                   ) -> pb.ListMultipartUploadsResponse:
        page = await self.s.list_multipart_uploads(
            request.bucket, prefix=request.prefix, delimiter=request.delimiter,
            key_marker=request.key_marker, upload_id_marker=request.upload_id_marker,
            max_uploads=request.max_uploads if request.HasField("max_uploads") else None,
        )
        return pb.ListMultipartUploadsResponse(
            bucket=request.bucket, prefix=request.prefix, delimiter=request.delimiter,
            key_marker=request.key_marker, upload_id_marker=request.upload_id_marker,
            next_key_marker=page.next_key_marker,
            next_upload_id_marker=page.next_upload_id_marker, max_uploads=page.max_uploads,
            is_truncated=page.is_truncated,
            uploads=[convert.upload_summary(u) for u in page.uploads],
            common_prefixes=page.common_prefixes,
        )
