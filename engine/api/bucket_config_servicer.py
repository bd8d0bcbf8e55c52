"""Bucket configuration RPCs of ObjectStore (versioning, lifecycle, notifications): decode,
call, encode.

The lifecycle and notification messages are shared by the API and the bucket record
(lifecycle.proto, records.proto), so they pass through unchanged; the service validates
them.
"""

from __future__ import annotations

import grpc

from engine.api.rpc import unary
from engine.objects.service import ObjectService
from engine.v1 import objects_pb2 as pb

Ctx = grpc.aio.ServicerContext


class BucketConfigRpcs:
    """Mixed into ObjectStoreServicer, which sets ``s``."""

    s: ObjectService

    @unary
    async def PutBucketVersioning(self, request: pb.PutBucketVersioningRequest, context: Ctx
                                  ) -> pb.PutBucketVersioningResponse:
        await self.s.put_bucket_versioning(request.bucket, request.status, request.mfa_delete)
        return pb.PutBucketVersioningResponse()

    @unary
    async def GetBucketVersioning(self, request: pb.GetBucketVersioningRequest, context: Ctx
                                  ) -> pb.GetBucketVersioningResponse:
        status = await self.s.get_bucket_versioning(request.bucket)
        return pb.GetBucketVersioningResponse(status=status)

    @unary
    async def PutBucketLifecycleConfiguration(
        self, request: pb.PutBucketLifecycleConfigurationRequest, context: Ctx
    ) -> pb.PutBucketLifecycleConfigurationResponse:
        await self.s.put_bucket_lifecycle(request.bucket, request.configuration)
        return pb.PutBucketLifecycleConfigurationResponse()

    @unary
    async def GetBucketLifecycleConfiguration(
        self, request: pb.GetBucketLifecycleConfigurationRequest, context: Ctx
    ) -> pb.GetBucketLifecycleConfigurationResponse:
        config = await self.s.get_bucket_lifecycle(request.bucket)
        return pb.GetBucketLifecycleConfigurationResponse(configuration=config)

    @unary
    async def DeleteBucketLifecycle(self, request: pb.DeleteBucketLifecycleRequest,
                                    context: Ctx) -> pb.DeleteBucketLifecycleResponse:
        await self.s.delete_bucket_lifecycle(request.bucket)
        return pb.DeleteBucketLifecycleResponse()

    @unary
    async def PutBucketNotificationConfiguration(
        self, request: pb.PutBucketNotificationConfigurationRequest, context: Ctx
    ) -> pb.PutBucketNotificationConfigurationResponse:
        await self.s.put_bucket_notification(
            request.bucket, request.configuration,
            skip_destination_validation=request.skip_destination_validation)
        return pb.PutBucketNotificationConfigurationResponse()

    @unary
    async def GetBucketNotificationConfiguration(
        self, request: pb.GetBucketNotificationConfigurationRequest, context: Ctx
    ) -> pb.GetBucketNotificationConfigurationResponse:
        config = await self.s.get_bucket_notification(request.bucket)
        return pb.GetBucketNotificationConfigurationResponse(configuration=config)
