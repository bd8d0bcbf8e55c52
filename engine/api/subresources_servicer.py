"""Object subresource RPCs of ObjectStore (tagging, restore): decode, call, encode."""

from __future__ import annotations

import grpc

from engine.api import convert
from engine.api.rpc import unary
from engine.objects.service import ObjectService
from engine.objects.tagging import check_tags
from engine.v1 import objects_pb2 as pb

Ctx = grpc.aio.ServicerContext


class SubresourceRpcs:
    """Mixed into ObjectStoreServicer, which sets ``s``."""

    s: ObjectService

    @unary
    async def PutObjectTagging(self, request: pb.PutObjectTaggingRequest, context: Ctx
                               ) -> pb.PutObjectTaggingResponse:
        # Decoding the repeated Tag into a dict would silently drop a duplicate key, which
        # S3 rejects: the tag set is read (and checked) by the tagging rules here.
        tags = check_tags((t.key, t.value) for t in request.tags)
        version_id = await self.s.put_object_tagging(request.bucket, request.key, tags,
                                                     version_id=request.version_id)
        return pb.PutObjectTaggingResponse(version_id=convert.version_header(version_id))

    @unary
    async def GetObjectTagging(self, request: pb.GetObjectTaggingRequest, context: Ctx
                               ) -> pb.GetObjectTaggingResponse:
        version_id, tags = await self.s.get_object_tagging(request.bucket, request.key,
                                                           version_id=request.version_id)
        return pb.GetObjectTaggingResponse(
            version_id=convert.version_header(version_id),
            tags=[pb.Tag(key=k, value=v) for k, v in tags.items()],
        )

    @unary
    async def DeleteObjectTagging(self, request: pb.DeleteObjectTaggingRequest, context: Ctx
                                  ) -> pb.DeleteObjectTaggingResponse:
        version_id = await self.s.delete_object_tagging(request.bucket, request.key,
                                                        version_id=request.version_id)
        return pb.DeleteObjectTaggingResponse(version_id=convert.version_header(version_id))

    @unary
    async def RestoreObject(self, request: pb.RestoreObjectRequest, context: Ctx
                            ) -> pb.RestoreObjectResponse:
        already = await self.s.restore_object(
            request.bucket, request.key, version_id=request.version_id,
            days=request.days if request.HasField("days") else None, tier=request.tier,
        )
        return pb.RestoreObjectResponse(already_restored=already)
