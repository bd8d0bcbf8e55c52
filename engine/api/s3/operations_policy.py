"""Bucket policies over HTTP: Get/Put/DeleteBucketPolicy and GetBucketPolicyStatus,
authorized as the gRPC twins and calling the same service (engine/objects/permissions.py
validates a policy as S3 does: MalformedPolicy, PolicyTooLarge, and refuses a public
one while BlockPublicPolicy is on)."""

from __future__ import annotations

from aiohttp import web

from engine.api import access_convert as ac
from engine.api.access_rules_s3 import bucket_arn
from engine.api.s3.config_documents import read_config
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.xml.bucket_config import policy_status_result
from engine.errors import EngineError
from engine.v1 import objects_pb2 as pb

# S3 allows 20 KB of policy; the service refuses more with PolicyTooLarge. A body far
# past that is refused while it is read.
MAX_POLICY_BODY = 256 * 1024
JSON = "application/json"


async def put_bucket_policy(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("PutBucketPolicy", pb.PutBucketPolicyRequest(bucket=ctx.bucket))
    body = await read_config(ctx, MAX_POLICY_BODY)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise EngineError("MalformedPolicy", "Policies must be valid JSON and the first byte "
                          "must be '{'") from None
    await ctx.objects.put_bucket_policy(
        ctx.bucket, text, who=ac.denial("s3:PutBucketPolicy", bucket_arn(ctx.bucket)))
    return web.Response(status=204)


async def get_bucket_policy(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("GetBucketPolicy", pb.GetBucketPolicyRequest(bucket=ctx.bucket))
    text = await ctx.objects.get_bucket_policy(ctx.bucket)
    return web.Response(body=text.encode("utf-8"), content_type=JSON)


async def delete_bucket_policy(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("DeleteBucketPolicy",
                            pb.DeleteBucketPolicyRequest(bucket=ctx.bucket))
    await ctx.objects.delete_bucket_policy(ctx.bucket)
    return web.Response(status=204)


async def get_bucket_policy_status(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("GetBucketPolicyStatus",
                            pb.GetBucketPolicyStatusRequest(bucket=ctx.bucket))
    public = await ctx.objects.get_bucket_policy_status(ctx.bucket)
    body = policy_status_result(pb.GetBucketPolicyStatusResponse(is_public=public))
    return web.Response(body=body, content_type=XML)


OPERATIONS: dict[str, Operation] = {
    "PutBucketPolicy": put_bucket_policy,
    "GetBucketPolicy": get_bucket_policy,
    "DeleteBucketPolicy": delete_bucket_policy,
    "GetBucketPolicyStatus": get_bucket_policy_status,
}
