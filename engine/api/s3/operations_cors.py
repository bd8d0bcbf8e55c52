"""Bucket CORS over HTTP: Get/Put/DeleteBucketCors (REST only: the rules live in the
bucket record, engine/objects/bucket_settings.py) and the preflight ``OPTIONS`` request
answered from them (engine/api/s3/cors.py), which needs no credentials."""

from __future__ import annotations

from aiohttp import web

from engine.api.access_rules_s3 import on_bucket
from engine.api.s3 import cors
from engine.api.s3.config_documents import read_config
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.settings_records import cors_config, cors_record
from engine.api.s3.xml.base import SMALL_BODY
from engine.api.s3.xml.cors import cors_result, parse_cors


async def put_bucket_cors(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize([on_bucket("s3:PutBucketCORS", ctx.bucket)])
    config = parse_cors(await read_config(ctx, SMALL_BODY))
    await ctx.objects.put_bucket_cors(ctx.bucket, cors_record(config))
    return web.Response()


async def get_bucket_cors(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize([on_bucket("s3:GetBucketCORS", ctx.bucket)])
    record = await ctx.objects.get_bucket_cors(ctx.bucket)
    return web.Response(body=cors_result(cors_config(record)), content_type=XML)


async def delete_bucket_cors(ctx: S3Request) -> web.StreamResponse:
    """S3 authorizes DeleteBucketCors as s3:PutBucketCORS."""
    await ctx.authorize([on_bucket("s3:PutBucketCORS", ctx.bucket)])
    await ctx.objects.delete_bucket_cors(ctx.bucket)
    return web.Response(status=204)


async def preflight(ctx: S3Request) -> web.StreamResponse:
    headers = await cors.preflight(ctx.objects, ctx.route, ctx.headers)
    return web.Response(headers=headers)


OPERATIONS: dict[str, Operation] = {
    "PutBucketCors": put_bucket_cors,
    "GetBucketCors": get_bucket_cors,
    "DeleteBucketCors": delete_bucket_cors,
    "PreflightRequest": preflight,
}
