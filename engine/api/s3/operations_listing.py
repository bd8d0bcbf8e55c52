"""Bucket listings over HTTP: ListObjects (v1), ListObjectsV2 and ListObjectVersions.

The query is read and validated by the XML codecs (engine/api/s3/xml/listing.py) into
the gRPC request, which is what is authorized; the page comes from the same service
method the gRPC servicer calls, and goes back through the codec. v1 is v2 resuming
after its marker (the codec's mapping), so both are authorized as ListObjectsV2 is:
``s3:ListBucket``. Owners are the bucket owner's canonical id: one account owns a node.
"""

from __future__ import annotations

from aiohttp import web

from engine.api import convert
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.xml import listing
from engine.objects.access_settings import bucket_owner
from engine.v1 import objects_pb2 as pb


def owner_of(ctx: S3Request) -> pb.Owner:
    """The Owner S3 names in listings (of keys, versions, uploads and parts): the bucket
    owner's canonical id."""
    return pb.Owner(id=bucket_owner(ctx.objects.account).id)


async def _page(ctx: S3Request, request: pb.ListObjectsV2Request) -> pb.ListObjectsV2Response:
    """One page of keys, as the gRPC ListObjectsV2 answers it."""
    await ctx.authorize_rpc("ListObjectsV2", request)
    page, max_keys = await ctx.objects.list_objects_v2(
        request.bucket, prefix=request.prefix, delimiter=request.delimiter,
        max_keys=request.max_keys if request.HasField("max_keys") else None,
        continuation_token=request.continuation_token, start_after=request.start_after)
    owner = owner_of(ctx).id if request.fetch_owner else ""
    return pb.ListObjectsV2Response(
        name=request.bucket, prefix=request.prefix, delimiter=request.delimiter,
        max_keys=max_keys, key_count=len(page.contents) + len(page.common_prefixes),
        is_truncated=page.is_truncated, continuation_token=request.continuation_token,
        next_continuation_token=page.next_token, start_after=request.start_after,
        contents=[pb.ObjectSummary(key=key, last_modified=convert.timestamp(v.mtime_ns),
                                   etag=convert.quoted(v.etag), size=v.size,
                                   storage_class=v.storage_class or "STANDARD",
                                   owner_id=owner, checksum_algorithm=v.checksum_algorithm)
                  for key, v in page.contents],
        common_prefixes=page.common_prefixes)


async def list_objects_v2(ctx: S3Request) -> web.StreamResponse:
    request, encoding = listing.list_objects_v2_request(ctx.bucket, ctx.query)
    page = await _page(ctx, request)
    return web.Response(body=listing.list_objects_v2_result(page, encoding=encoding),
                        content_type=XML)


async def list_objects(ctx: S3Request) -> web.StreamResponse:
    request, encoding = listing.list_objects_v1_request(ctx.bucket, ctx.query)
    page = await _page(ctx, request)
    return web.Response(body=listing.list_objects_v1_result(page, encoding=encoding),
                        content_type=XML)


async def list_object_versions(ctx: S3Request) -> web.StreamResponse:
    request, encoding = listing.list_object_versions_request(ctx.bucket, ctx.query)
    await ctx.authorize_rpc("ListObjectVersions", request)
    page = await ctx.objects.list_object_versions(
        request.bucket, prefix=request.prefix, delimiter=request.delimiter,
        key_marker=request.key_marker, version_id_marker=request.version_id_marker,
        max_keys=request.max_keys if request.HasField("max_keys") else None)
    response = pb.ListObjectVersionsResponse(
        name=request.bucket, prefix=request.prefix, delimiter=request.delimiter,
        max_keys=page.max_keys, is_truncated=page.is_truncated,
        key_marker=request.key_marker, version_id_marker=request.version_id_marker,
        next_key_marker=page.next_key_marker,
        next_version_id_marker=page.next_version_id_marker,
        versions=[convert.version_summary(key, v, is_latest)
                  for key, v, is_latest in page.versions],
        common_prefixes=page.common_prefixes)
    body = listing.list_versions_result(response, encoding=encoding, owner=owner_of(ctx))
    return web.Response(body=body, content_type=XML)


OPERATIONS: dict[str, Operation] = {
    "ListObjects": list_objects,
    "ListObjectsV2": list_objects_v2,
    "ListObjectVersions": list_object_versions,
}
