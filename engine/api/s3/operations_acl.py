"""Bucket and object ACLs over HTTP: Get/PutBucketAcl and Get/PutObjectAcl.

A PUT sets the ACL by canned ``x-amz-acl``, by ``x-amz-grant-*`` headers or by an
AccessControlPolicy document, one form only, exactly as the gRPC twin's AclSpec carries
them (engine/api/access_convert.py judges them for both protocols). The headers go in
the authorization (s3:x-amz-acl, s3:x-amz-grant-*), the document is read after it.
"""

from __future__ import annotations

from aiohttp import web

from engine.api import access_convert as ac
from engine.api.access_rules_s3 import bucket_arn, object_arn
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.headers import acl_spec, version_id
from engine.api.s3.request_documents import read_document
from engine.api.s3.xml.acl import acl_result, parse_acl
from engine.api.s3.xml.base import SMALL_BODY
from engine.v1 import objects_pb2 as pb


async def _with_document(ctx: S3Request, spec: pb.AclSpec) -> pb.AclSpec:
    """The ACL headers, and the AccessControlPolicy when the body has one."""
    body = await read_document(ctx, SMALL_BODY)
    if body.strip():
        spec.access_control_policy.CopyFrom(parse_acl(body))
    return spec


async def put_bucket_acl(ctx: S3Request) -> web.StreamResponse:
    spec = acl_spec(ctx.headers)
    await ctx.authorize_rpc("PutBucketAcl", pb.PutBucketAclRequest(bucket=ctx.bucket, acl=spec))
    spec = await _with_document(ctx, spec)
    await ctx.objects.put_bucket_acl(
        ctx.bucket, ac.acl_request(spec, ac.known_id(ctx.objects.account)),
        who=ac.denial("s3:PutBucketAcl", bucket_arn(ctx.bucket)))
    return web.Response()


async def get_bucket_acl(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize_rpc("GetBucketAcl", pb.GetBucketAclRequest(bucket=ctx.bucket))
    acl = await ctx.objects.get_bucket_acl(ctx.bucket)
    return web.Response(body=acl_result(ac.acl_message(acl)), content_type=XML)


async def put_object_acl(ctx: S3Request) -> web.StreamResponse:
    vid = version_id(ctx.query)
    spec = acl_spec(ctx.headers)
    await ctx.authorize_rpc("PutObjectAcl", pb.PutObjectAclRequest(
        bucket=ctx.bucket, key=ctx.key, version_id=vid, acl=spec))
    spec = await _with_document(ctx, spec)
    await ctx.objects.put_object_acl(
        ctx.bucket, ctx.key, ac.acl_request(spec, ac.known_id(ctx.objects.account)),
        version_id=vid, who=ac.denial("s3:PutObjectAcl", object_arn(ctx.bucket, ctx.key)))
    return web.Response()


async def get_object_acl(ctx: S3Request) -> web.StreamResponse:
    vid = version_id(ctx.query)
    await ctx.authorize_rpc("GetObjectAcl", pb.GetObjectAclRequest(
        bucket=ctx.bucket, key=ctx.key, version_id=vid))
    _, acl = await ctx.objects.get_object_acl(ctx.bucket, ctx.key, version_id=vid)
    return web.Response(body=acl_result(ac.acl_message(acl)), content_type=XML)


OPERATIONS: dict[str, Operation] = {
    "PutBucketAcl": put_bucket_acl,
    "GetBucketAcl": get_bucket_acl,
    "PutObjectAcl": put_object_acl,
    "GetObjectAcl": get_object_acl,
}
