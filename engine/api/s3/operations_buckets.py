"""Bucket operations over HTTP: ListBuckets, CreateBucket, DeleteBucket, HeadBucket and
GetBucketLocation. Each authorizes as its gRPC twin does and calls the same service."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from engine.api import access_convert as ac
from engine.api.access_rules_s3 import bucket_arn, on_bucket
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.documents_core import (
    MAX_CONFIGURATION_BYTES,
    BucketEntry,
    list_buckets_document,
    location_document,
    parse_create_bucket,
)
from engine.api.s3.errors import XML
from engine.api.s3.headers import acl_spec
from engine.errors import EngineError
from engine.objects.access_settings import bucket_owner
from engine.v1 import objects_pb2 as pb

US_EAST_1 = "us-east-1"
MAX_BUCKETS = 10000


def _page_limit(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_BUCKETS:
        raise EngineError("InvalidArgument", f"max-buckets must be between 1 and {MAX_BUCKETS}",
                          ArgumentName="max-buckets", ArgumentValue=text)
    return int(text)


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _after(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, ValueError):
        raise EngineError("InvalidArgument", "The continuation token provided is incorrect",
                          ArgumentName="continuation-token") from None


async def list_buckets(ctx: S3Request) -> web.StreamResponse:
    """All buckets of the account, or a page of them (prefix, bucket-region, max-buckets,
    continuation-token)."""
    await ctx.authorize_rpc("ListBuckets", pb.ListBucketsRequest())
    prefix = ctx.query.get("prefix", "")
    region = ctx.query.get("bucket-region")
    limit = _page_limit(ctx.query.get("max-buckets"))
    after = _after(ctx.query["continuation-token"]) if "continuation-token" in ctx.query else ""
    records = [r for r in await ctx.objects.buckets.list()
               if r.name.startswith(prefix) and r.name > after
               and (region is None or r.region == region)]
    token = ""
    if limit is not None and len(records) > limit:
        records = records[:limit]
        token = _token(records[-1].name)
    body = list_buckets_document(
        [BucketEntry(r.name, r.created_ns, r.region) for r in records],
        bucket_owner(ctx.objects.account).id, prefix=prefix, continuation_token=token)
    return web.Response(body=body, content_type=XML)


def check_location(constraint: str, region: str) -> None:
    """S3's rule: a bucket is created in the region of the endpoint it is sent to, which
    the body must name, except in us-east-1, which must not be named."""
    if constraint == region == US_EAST_1:
        raise EngineError("InvalidLocationConstraint", LocationConstraint=constraint)
    if not constraint and region == US_EAST_1:
        return
    if constraint != region:
        named = constraint or "unspecified"
        raise EngineError(
            "IllegalLocationConstraintException",
            f"The {named} location constraint is incompatible for the region specific "
            "endpoint this request was sent to.")


async def create_bucket(ctx: S3Request) -> web.StreamResponse:
    if ctx.headers.get("x-amz-bucket-object-lock-enabled", "").lower() == "true":
        # refused, not ignored: a bucket without the retention its creator asked for
        raise EngineError("NotImplemented", "Object Lock is not supported by this server.")
    constraint = parse_create_bucket(await ctx.body.read_all(MAX_CONFIGURATION_BYTES))
    spec = acl_spec(ctx.headers)
    ownership = ctx.headers.get("x-amz-object-ownership", "")
    await ctx.authorize_rpc("CreateBucket", pb.CreateBucketRequest(
        bucket=ctx.bucket, location_constraint=constraint, acl=spec,
        object_ownership=ownership))
    region = ctx.services.region
    check_location(constraint, region)
    try:
        await ctx.objects.create_bucket(
            ctx.bucket, constraint or region,
            acl=ac.acl_request(spec, ac.known_id(ctx.objects.account)), ownership=ownership,
            who=ac.denial("s3:CreateBucket", bucket_arn(ctx.bucket)))
    except EngineError as err:
        # S3's legacy rule: re-creating your own bucket in us-east-1 is a 200 no-op.
        if err.code != "BucketAlreadyOwnedByYou" or region != US_EAST_1:
            raise
    return web.Response(headers={"Location": f"/{ctx.bucket}"})


async def delete_bucket(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("DeleteBucket", pb.DeleteBucketRequest(bucket=ctx.bucket))
    await ctx.objects.buckets.delete(ctx.bucket)
    return web.Response(status=204)


async def head_bucket(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("HeadBucket", pb.HeadBucketRequest(bucket=ctx.bucket))
    record = await ctx.objects.buckets.get(ctx.bucket)
    return web.Response(headers={"x-amz-bucket-region": record.region,
                                 "x-amz-access-point-alias": "false"})


async def get_bucket_location(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize([on_bucket("s3:GetBucketLocation", ctx.bucket)])
    record = await ctx.objects.buckets.get(ctx.bucket)
    return web.Response(body=location_document(record.region), content_type=XML)


OPERATIONS: dict[str, Operation] = {
    "ListBuckets": list_buckets,
    "CreateBucket": create_bucket,
    "DeleteBucket": delete_bucket,
    "HeadBucket": head_bucket,
    "GetBucketLocation": get_bucket_location,
}
