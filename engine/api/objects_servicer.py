"""gRPC ObjectStore: decode, call the object service, encode. No rules live here.

Buckets, objects and listings are served here; multipart uploads, bucket configuration
(versioning, lifecycle), object subresources (tagging, restore) and access control
(policies, ACLs, Block Public Access, Object Ownership) are mixins beside it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from engine.api import access_convert as ac
from engine.api import convert
from engine.api.access_rules_s3 import on_bucket
from engine.api.auth_interceptor import Decide, current_principal, denied_items
from engine.api.bucket_config_servicer import BucketConfigRpcs
from engine.api.multipart_servicer import MultipartRpcs
from engine.api.permissions_servicer import PermissionRpcs
from engine.api.rpc import streaming, unary
from engine.api.subresources_servicer import SubresourceRpcs
from engine.api.upload_stream import StreamLimits, open_upload
from engine.errors import EngineError
from engine.objects.core import crc32c_b64
from engine.objects.service import ObjectService
from engine.v1 import objects_pb2 as pb
from engine.v1 import objects_pb2_grpc

Ctx = grpc.aio.ServicerContext

OWNER_ID = "engine"


class ObjectStoreServicer(MultipartRpcs, BucketConfigRpcs, SubresourceRpcs, PermissionRpcs,
                          objects_pb2_grpc.ObjectStoreServicer):
    def __init__(self, service: ObjectService, stream_limits: StreamLimits | None = None,
                 decide: Decide | None = None) -> None:
        self.s = service
        self.stream_limits = stream_limits or StreamLimits()
        self.decide = decide  # None: authorization is off

    async def _absent(self, err: EngineError, bucket: str) -> EngineError:
        """S3 tells a caller a key does not exist only if it may list the bucket (else
        GetObject would enumerate keys): without s3:ListBucket, AccessDenied."""
        principal = current_principal()
        if err.code != "NoSuchKey" or self.decide is None or principal is None:
            return err
        if (await self.decide(principal, on_bucket("s3:ListBucket", bucket))).allowed:
            return err
        return EngineError("AccessDenied")

    @unary
    async def CreateBucket(self, request: pb.CreateBucketRequest, context: Ctx
                           ) -> pb.CreateBucketResponse:
        await self.s.create_bucket(
            request.bucket, request.location_constraint,
            acl=ac.acl_request(request.acl, ac.known_id(self.s.account)),
            ownership=request.object_ownership,
            who=ac.denial("s3:CreateBucket", f"arn:aws:s3:::{request.bucket}"))
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
        h, body = await open_upload(request_iterator, "PutObject", self.stream_limits)
        options = ac.with_acl(
            convert.write_options(h.headers, h.metadata, h.storage_class, h.tagging),
            h.acl, self.s.account, h.bucket, h.key)
        options.content_length = h.content_length if h.HasField("content_length") else None
        options.content_md5, options.checksum_crc32c = h.content_md5, h.checksum_crc32c
        options.if_match = h.if_match if h.HasField("if_match") else None
        options.if_none_match = h.if_none_match if h.HasField("if_none_match") else None
        version = await self.s.put_object(h.bucket, h.key, body, options)
        return pb.PutObjectResponse(
            etag=convert.quoted(version.etag), checksum_crc32c=crc32c_b64(version.crc32c),
            size=version.size, version_id=convert.version_header(version.version_id),
        )

    @streaming
    async def GetObject(self, request: pb.GetObjectRequest, context: Ctx
                        ) -> AsyncIterator[pb.GetObjectResponse]:
        try:
            read = await self.s.get_object(
                request.bucket, request.key, version_id=request.version_id,
                range_header=request.range if request.HasField("range") else None,
                part_number=request.part_number,
                conditions=convert.conditions(request.conditions),
            )
        except EngineError as err:
            raise await self._absent(err, request.bucket) from None
        header = pb.GetObjectHeader(
            info=convert.object_info(request.bucket, request.key, read.version,
                                     restore=read.restore, parts_count=read.parts_count),
            content_length=read.content_length,
            content_range=convert.content_range(read.range, read.version.size),
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
        try:
            read = await self.s.head_object(
                request.bucket, request.key, version_id=request.version_id,
                range_header=request.range if request.HasField("range") else None,
                part_number=request.part_number,
                conditions=convert.conditions(request.conditions),
            )
        except EngineError as err:
            raise await self._absent(err, request.bucket) from None
        return pb.HeadObjectResponse(
            info=convert.object_info(request.bucket, request.key, read.version,
                                     restore=read.restore, parts_count=read.parts_count),
            content_length=read.content_length,
            content_range=convert.content_range(read.range, read.version.size),
        )

    @unary
    async def DeleteObject(self, request: pb.DeleteObjectRequest, context: Ctx
                           ) -> pb.DeleteObjectResponse:
        result = await self.s.delete_object(request.bucket, request.key, request.version_id)
        return pb.DeleteObjectResponse(delete_marker=result.delete_marker,
                                       version_id=result.version_id)

    @unary
    async def DeleteObjects(self, request: pb.DeleteObjectsRequest, context: Ctx
                            ) -> pb.DeleteObjectsResponse:
        denied = denied_items()
        allowed = [(o.key, o.version_id) for i, o in enumerate(request.objects)
                   if i not in denied]
        if allowed or not request.objects:  # none named: the service's MalformedXML
            outcomes = await self.s.delete_objects(request.bucket, allowed)
        else:  # every key refused: nothing to delete, but the bucket must still exist
            await self.s.buckets.get(request.bucket, stale_ok=True)
            outcomes = []
        response = pb.DeleteObjectsResponse()
        for i in sorted(denied):  # authorized per key, as S3 does
            o = request.objects[i]
            response.errors.append(pb.DeleteError(key=o.key, version_id=o.version_id,
                                                  code="AccessDenied", message="Access Denied"))
        for key, version_id, result, error in outcomes:
            if error is not None:
                response.errors.append(pb.DeleteError(
                    key=key, version_id=version_id, code=error.code, message=error.message))
            elif not request.quiet:
                deleted = pb.DeletedObject(key=key, version_id=version_id)
                if result is not None and result.delete_marker:
                    deleted.delete_marker = True
                    deleted.delete_marker_version_id = result.version_id
                response.deleted.append(deleted)
        return response

    @unary
    async def CopyObject(self, request: pb.CopyObjectRequest, context: Ctx
                         ) -> pb.CopyObjectResponse:
        options = ac.with_acl(
            convert.write_options(request.headers, request.metadata, request.storage_class,
                                  request.tagging),
            request.acl, self.s.account, request.bucket, request.key)
        source, version = await self.s.copy_object(
            request.source_bucket, request.source_key, request.bucket, request.key,
            source_version_id=request.source_version_id,
            directive=request.metadata_directive, tagging_directive=request.tagging_directive,
            source_conditions=convert.conditions(request.source_conditions), options=options,
        )
        return pb.CopyObjectResponse(
            etag=convert.quoted(version.etag), last_modified=convert.timestamp(version.mtime_ns),
            version_id=convert.version_header(version.version_id),
            copy_source_version_id=convert.version_header(source.version_id),
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
                                 etag=convert.quoted(v.etag), size=v.size,
                                 storage_class=v.storage_class or "STANDARD",
                                 owner_id=owner, owner_display_name=owner)
                for key, v in page.contents
            ],
            common_prefixes=page.common_prefixes,
        )

    @unary
    async def ListObjectVersions(self, request: pb.ListObjectVersionsRequest, context: Ctx
                                 ) -> pb.ListObjectVersionsResponse:
        page = await self.s.list_object_versions(
            request.bucket, prefix=request.prefix, delimiter=request.delimiter,
            key_marker=request.key_marker, version_id_marker=request.version_id_marker,
            max_keys=request.max_keys if request.HasField("max_keys") else None,
        )
        return pb.ListObjectVersionsResponse(
            name=request.bucket, prefix=request.prefix, delimiter=request.delimiter,
            max_keys=page.max_keys, is_truncated=page.is_truncated,
            key_marker=request.key_marker, version_id_marker=request.version_id_marker,
            next_key_marker=page.next_key_marker,
            next_version_id_marker=page.next_version_id_marker,
            versions=[convert.version_summary(key, v, is_latest)
                      for key, v, is_latest in page.versions],
            common_prefixes=page.common_prefixes,
        )
