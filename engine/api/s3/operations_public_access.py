"""Block Public Access and Object Ownership of a bucket over HTTP:
Get/Put/DeletePublicAccessBlock and Get/Put/DeleteBucketOwnershipControls, authorized as
the gRPC twins and calling the same service (engine/api/permissions_servicer.py)."""

from __future__ import annotations

from aiohttp import web

from engine.api.s3.config_documents import read_config
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.xml.base import SMALL_BODY
from engine.api.s3.xml.bucket_config import (
    ownership_controls_result,
    parse_ownership_controls,
    parse_public_access_block,
    public_access_block_result,
)
from engine.objects.access_settings import block_from_message, block_message
from engine.v1 import objects_pb2 as pb


async def put_public_access_block(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("PutPublicAccessBlock",
                            pb.PutPublicAccessBlockRequest(bucket=ctx.bucket))
    config = parse_public_access_block(await read_config(ctx, SMALL_BODY))
    await ctx.objects.put_public_access_block(ctx.bucket, block_from_message(config))
    return web.Response()


async def get_public_access_block(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("GetPublicAccessBlock",
                            pb.GetPublicAccessBlockRequest(bucket=ctx.bucket))
    config = await ctx.objects.get_public_access_block(ctx.bucket)
    return web.Response(body=public_access_block_result(block_message(config)),
                        content_type=XML)


async def delete_public_access_block(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("DeletePublicAccessBlock",
                            pb.DeletePublicAccessBlockRequest(bucket=ctx.bucket))
    await ctx.objects.delete_public_access_block(ctx.bucket)
    return web.Response(status=204)


async def put_ownership_controls(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("PutBucketOwnershipControls",
                            pb.PutBucketOwnershipControlsRequest(bucket=ctx.bucket))
    controls = parse_ownership_controls(await read_config(ctx, SMALL_BODY))
    await ctx.objects.put_bucket_ownership_controls(
        ctx.bucket, [rule.object_ownership for rule in controls.rules])
    return web.Response()


async def get_ownership_controls(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("GetBucketOwnershipControls",
                            pb.GetBucketOwnershipControlsRequest(bucket=ctx.bucket))
    ownership = await ctx.objects.get_bucket_ownership_controls(ctx.bucket)
    controls = pb.OwnershipControls(rules=[pb.OwnershipControlsRule(object_ownership=ownership)])
    return web.Response(body=ownership_controls_result(controls), content_type=XML)


async def delete_ownership_controls(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("DeleteBucketOwnershipControls",
                            pb.DeleteBucketOwnershipControlsRequest(bucket=ctx.bucket))
    await ctx.objects.delete_bucket_ownership_controls(ctx.bucket)
    return web.Response(status=204)


OPERATIONS: dict[str, Operation] = {
    "PutPublicAccessBlock": put_public_access_block,
    "GetPublicAccessBlock": get_public_access_block,
    "DeletePublicAccessBlock": delete_public_access_block,
    "PutBucketOwnershipControls": put_ownership_controls,
    "GetBucketOwnershipControls": get_ownership_controls,
    "DeleteBucketOwnershipControls": delete_ownership_controls,
}
