"""Bucket versioning and lifecycle configuration over HTTP: Get/PutBucketVersioning and
Get/Put/DeleteBucketLifecycle(Configuration), each authorized as its gRPC twin and
calling the same service method (engine/api/bucket_config_servicer.py)."""

from __future__ import annotations

from aiohttp import web

from engine.api.s3.config_documents import read_config
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.xml.base import CONFIG_BODY, SMALL_BODY
from engine.api.s3.xml.bucket_config import parse_versioning, versioning_result
from engine.api.s3.xml.lifecycle import lifecycle_result, parse_lifecycle
from engine.v1 import objects_pb2 as pb


async def put_bucket_versioning(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("PutBucketVersioning",
                            pb.PutBucketVersioningRequest(bucket=ctx.bucket))
    request = parse_versioning(await read_config(ctx, SMALL_BODY), ctx.bucket)
    await ctx.objects.put_bucket_versioning(ctx.bucket, request.status, request.mfa_delete)
    return web.Response()


async def get_bucket_versioning(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("GetBucketVersioning",
                            pb.GetBucketVersioningRequest(bucket=ctx.bucket))
    status = await ctx.objects.get_bucket_versioning(ctx.bucket)
    return web.Response(body=versioning_result(pb.GetBucketVersioningResponse(status=status)),
                        content_type=XML)


async def put_bucket_lifecycle(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("PutBucketLifecycleConfiguration",
                            pb.PutBucketLifecycleConfigurationRequest(bucket=ctx.bucket))
    config = parse_lifecycle(await read_config(ctx, CONFIG_BODY))
    await ctx.objects.put_bucket_lifecycle(ctx.bucket, config)
    return web.Response()


async def get_bucket_lifecycle(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("GetBucketLifecycleConfiguration",
                            pb.GetBucketLifecycleConfigurationRequest(bucket=ctx.bucket))
    config = await ctx.objects.get_bucket_lifecycle(ctx.bucket)
    return web.Response(body=lifecycle_result(config), content_type=XML)


async def delete_bucket_lifecycle(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("DeleteBucketLifecycle",
                            pb.DeleteBucketLifecycleRequest(bucket=ctx.bucket))
    await ctx.objects.delete_bucket_lifecycle(ctx.bucket)
    return web.Response(status=204)


OPERATIONS: dict[str, Operation] = {
    "PutBucketVersioning": put_bucket_versioning,
    "GetBucketVersioning": get_bucket_versioning,
    "PutBucketLifecycleConfiguration": put_bucket_lifecycle,
    "GetBucketLifecycleConfiguration": get_bucket_lifecycle,
    "DeleteBucketLifecycle": delete_bucket_lifecycle,
}
