"""Object and bucket tagging over HTTP: Get/Put/DeleteObjectTagging (the gRPC twins'
authorization and service calls) and Get/Put/DeleteBucketTagging (REST only: bucket tags
live in the bucket record, engine/objects/bucket_settings.py)."""

from __future__ import annotations

from aiohttp import web

from engine.api import convert
from engine.api.access_rules_s3 import on_bucket
from engine.api.s3.config_documents import read_config
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.headers import version_id
from engine.api.s3.xml.base import SMALL_BODY
from engine.api.s3.xml.tagging import parse_tagging, tagging_result
from engine.v1 import objects_pb2 as pb

VERSION = "x-amz-version-id"


def _version_headers(vid: str) -> dict[str, str]:
    """x-amz-version-id of the version acted on; none for the null version."""
    shown = convert.version_header(vid)
    return {VERSION: shown} if shown else {}


async def put_object_tagging(ctx: S3Request) -> web.StreamResponse:
    """The tags go in the authorization (s3:RequestObjectTag/...), so the document is
    read first, as the gRPC request carries it."""
    vid = version_id(ctx.query)
    tags = parse_tagging(await read_config(ctx, SMALL_BODY))
    await ctx.authorize_rpc("PutObjectTagging", pb.PutObjectTaggingRequest(
        bucket=ctx.bucket, key=ctx.key, version_id=vid, tags=tags))
    done = await ctx.objects.put_object_tagging(ctx.bucket, ctx.key,
                                                {t.key: t.value for t in tags}, version_id=vid)
    return web.Response(headers=_version_headers(done))


async def get_object_tagging(ctx: S3Request) -> web.StreamResponse:
    vid = version_id(ctx.query)
    await ctx.authorize_rpc("GetObjectTagging", pb.GetObjectTaggingRequest(
        bucket=ctx.bucket, key=ctx.key, version_id=vid))
    found, tags = await ctx.objects.get_object_tagging(ctx.bucket, ctx.key, version_id=vid)
    body = tagging_result(pb.Tag(key=k, value=v) for k, v in tags.items())
    return web.Response(body=body, content_type=XML, headers=_version_headers(found))


async def delete_object_tagging(ctx: S3Request) -> web.StreamResponse:
    vid = version_id(ctx.query)
    await ctx.authorize_rpc("DeleteObjectTagging", pb.DeleteObjectTaggingRequest(
        bucket=ctx.bucket, key=ctx.key, version_id=vid))
    done = await ctx.objects.delete_object_tagging(ctx.bucket, ctx.key, version_id=vid)
    return web.Response(status=204, headers=_version_headers(done))


async def put_bucket_tagging(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize([on_bucket("s3:PutBucketTagging", ctx.bucket)])
    tags = parse_tagging(await read_config(ctx, SMALL_BODY), bucket=True)
    await ctx.objects.put_bucket_tagging(ctx.bucket, [(t.key, t.value) for t in tags])
    return web.Response(status=204)


async def get_bucket_tagging(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize([on_bucket("s3:GetBucketTagging", ctx.bucket)])
    tags = await ctx.objects.get_bucket_tagging(ctx.bucket)
    return web.Response(body=tagging_result(pb.Tag(key=k, value=v) for k, v in tags),
                        content_type=XML)


async def delete_bucket_tagging(ctx: S3Request) -> web.StreamResponse:
    """S3 authorizes DeleteBucketTagging as s3:PutBucketTagging."""
    await ctx.authorize([on_bucket("s3:PutBucketTagging", ctx.bucket)])
    await ctx.objects.delete_bucket_tagging(ctx.bucket)
    return web.Response(status=204)


OPERATIONS: dict[str, Operation] = {
    "PutObjectTagging": put_object_tagging,
    "GetObjectTagging": get_object_tagging,
    "DeleteObjectTagging": delete_object_tagging,
    "PutBucketTagging": put_bucket_tagging,
    "GetBucketTagging": get_bucket_tagging,
    "DeleteBucketTagging": delete_bucket_tagging,
}
