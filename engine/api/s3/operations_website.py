"""Bucket website configuration over HTTP: Get/Put/DeleteBucketWebsite (REST only: the
configuration lives in the bucket record, engine/objects/bucket_settings.py). The site
itself is served on the website endpoint (engine/api/s3/website/)."""

from __future__ import annotations

from aiohttp import web

from engine.api.access_rules_s3 import on_bucket
from engine.api.s3.config_documents import read_config
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.settings_records import website_config, website_record
from engine.api.s3.xml.base import CONFIG_BODY
from engine.api.s3.xml.website import parse_website, website_result


async def put_bucket_website(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize([on_bucket("s3:PutBucketWebsite", ctx.bucket)])
    config = parse_website(await read_config(ctx, CONFIG_BODY))
    await ctx.objects.put_bucket_website(ctx.bucket, website_record(config))
    return web.Response()


async def get_bucket_website(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize([on_bucket("s3:GetBucketWebsite", ctx.bucket)])
    record = await ctx.objects.get_bucket_website(ctx.bucket)
    return web.Response(body=website_result(website_config(record)), content_type=XML)


async def delete_bucket_website(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize([on_bucket("s3:DeleteBucketWebsite", ctx.bucket)])
    await ctx.objects.delete_bucket_website(ctx.bucket)
    return web.Response(status=204)


OPERATIONS: dict[str, Operation] = {
    "PutBucketWebsite": put_bucket_website,
    "GetBucketWebsite": get_bucket_website,
    "DeleteBucketWebsite": delete_bucket_website,
}
