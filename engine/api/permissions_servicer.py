"""Access-control RPCs of ObjectStore (bucket policies, ACLs, Block Public Access, Object
Ownership, and S3 Control's account-level Block Public Access): decode, call, encode."""

from __future__ import annotations

import grpc

from engine.api import access_convert as ac
from engine.api.rpc import unary
from engine.objects.access_settings import block_from_message, block_message
from engine.objects.service import ObjectService
from engine.v1 import objects_pb2 as pb

Ctx = grpc.aio.ServicerContext


def _bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


class PermissionRpcs:
    """Mixed into ObjectStoreServicer, which sets ``s``."""

    s: ObjectService

    def _known_id(self, canonical_id: str) -> bool:
        return ac.known_id(self.s.account)(canonical_id)

    # -- bucket policy -------------------------------------------------------------------

    @unary
    async def PutBucketPolicy(self, request: pb.PutBucketPolicyRequest, context: Ctx
                              ) -> pb.PutBucketPolicyResponse:
        await self.s.put_bucket_policy(
            request.bucket, request.policy,
            who=ac.denial("s3:PutBucketPolicy", _bucket_arn(request.bucket)))
        return pb.PutBucketPolicyResponse()

    @unary
    async def GetBucketPolicy(self, request: pb.GetBucketPolicyRequest, context: Ctx
                              ) -> pb.GetBucketPolicyResponse:
        return pb.GetBucketPolicyResponse(policy=await self.s.get_bucket_policy(request.bucket))

    @unary
    async def DeleteBucketPolicy(self, request: pb.DeleteBucketPolicyRequest, context: Ctx
                                 ) -> pb.DeleteBucketPolicyResponse:
        await self.s.delete_bucket_policy(request.bucket)
        return pb.DeleteBucketPolicyResponse()

    @unary
    async def GetBucketPolicyStatus(self, request: pb.GetBucketPolicyStatusRequest,
                                    context: Ctx) -> pb.GetBucketPolicyStatusResponse:
        public = await self.s.get_bucket_policy_status(request.bucket)
        return pb.GetBucketPolicyStatusResponse(is_public=public)

    # -- ACLs ----------------------------------------------------------------------------

    @unary
    async def PutBucketAcl(self, request: pb.PutBucketAclRequest, context: Ctx
                           ) -> pb.PutBucketAclResponse:
        await self.s.put_bucket_acl(
            request.bucket, ac.acl_request(request.acl, self._known_id),
            who=ac.denial("s3:PutBucketAcl", _bucket_arn(request.bucket)))
        return pb.PutBucketAclResponse()

    @unary
    async def GetBucketAcl(self, request: pb.GetBucketAclRequest, context: Ctx
                           ) -> pb.GetBucketAclResponse:
        return pb.GetBucketAclResponse(
            acl=ac.acl_message(await self.s.get_bucket_acl(request.bucket)))

    @unary
    async def PutObjectAcl(self, request: pb.PutObjectAclRequest, context: Ctx
                           ) -> pb.PutObjectAclResponse:
        await self.s.put_object_acl(
            request.bucket, request.key, ac.acl_request(request.acl, self._known_id),
            version_id=request.version_id,
            who=ac.denial("s3:PutObjectAcl", f"{_bucket_arn(request.bucket)}/{request.key}"))
        return pb.PutObjectAclResponse()

    @unary
    async def GetObjectAcl(self, request: pb.GetObjectAclRequest, context: Ctx
                           ) -> pb.GetObjectAclResponse:
        _, acl = await self.s.get_object_acl(request.bucket, request.key,
                                             version_id=request.version_id)
        return pb.GetObjectAclResponse(acl=ac.acl_message(acl))

    # -- Block Public Access -------------------------------------------------------------

    @unary
    async def PutPublicAccessBlock(self, request: pb.PutPublicAccessBlockRequest,
                                   context: Ctx) -> pb.PutPublicAccessBlockResponse:
        await self.s.put_public_access_block(request.bucket,
                                             block_from_message(request.configuration))
        return pb.PutPublicAccessBlockResponse()

    @unary
    async def GetPublicAccessBlock(self, request: pb.GetPublicAccessBlockRequest,
                                   context: Ctx) -> pb.GetPublicAccessBlockResponse:
        config = await self.s.get_public_access_block(request.bucket)
        return pb.GetPublicAccessBlockResponse(configuration=block_message(config))

    @unary
    async def DeletePublicAccessBlock(self, request: pb.DeletePublicAccessBlockRequest,
                                      context: Ctx) -> pb.DeletePublicAccessBlockResponse:
        await self.s.delete_public_access_block(request.bucket)
        return pb.DeletePublicAccessBlockResponse()

    @unary
    async def PutAccountPublicAccessBlock(
        self, request: pb.PutAccountPublicAccessBlockRequest, context: Ctx
    ) -> pb.PutAccountPublicAccessBlockResponse:
        await self.s.put_account_public_access_block(
            request.account_id, block_from_message(request.configuration))
        return pb.PutAccountPublicAccessBlockResponse()

    @unary
    async def GetAccountPublicAccessBlock(
        self, request: pb.GetAccountPublicAccessBlockRequest, context: Ctx
    ) -> pb.GetAccountPublicAccessBlockResponse:
        config = await self.s.get_account_public_access_block(request.account_id)
        return pb.GetAccountPublicAccessBlockResponse(configuration=block_message(config))

    @unary
    async def DeleteAccountPublicAccessBlock(
        self, request: pb.DeleteAccountPublicAccessBlockRequest, context: Ctx
    ) -> pb.DeleteAccountPublicAccessBlockResponse:
        await self.s.delete_account_public_access_block(request.account_id)
        return pb.DeleteAccountPublicAccessBlockResponse()

    # -- Object Ownership ----------------------------------------------------------------

    @unary
    async def PutBucketOwnershipControls(self, request: pb.PutBucketOwnershipControlsRequest,
                                         context: Ctx) -> pb.PutBucketOwnershipControlsResponse:
        await self.s.put_bucket_ownership_controls(
            request.bucket, [r.object_ownership for r in request.ownership_controls.rules])
        return pb.PutBucketOwnershipControlsResponse()

    @unary
    async def GetBucketOwnershipControls(self, request: pb.GetBucketOwnershipControlsRequest,
                                         context: Ctx) -> pb.GetBucketOwnershipControlsResponse:
        ownership = await self.s.get_bucket_ownership_controls(request.bucket)
        return pb.GetBucketOwnershipControlsResponse(ownership_controls=pb.OwnershipControls(
            rules=[pb.OwnershipControlsRule(object_ownership=ownership)]))

    @unary
    async def DeleteBucketOwnershipControls(
        self, request: pb.DeleteBucketOwnershipControlsRequest, context: Ctx
    ) -> pb.DeleteBucketOwnershipControlsResponse:
        await self.s.delete_bucket_ownership_controls(request.bucket)
        return pb.DeleteBucketOwnershipControlsResponse()
