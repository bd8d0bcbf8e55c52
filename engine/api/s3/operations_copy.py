"""Copies over HTTP: CopyObject (``PUT /bucket/key`` with ``x-amz-copy-source``) and
UploadPartCopy (the same on ``?partNumber=N&uploadId=...``).

The request's headers become the gRPC twin's message (copy_source.py reads the source
and its conditions), which is authorized as the twin is: ``s3:GetObject`` on the source
and ``s3:PutObject`` on the target, with the copy's condition keys. The body streams
from source to target inside the object service, which checks the directives, the
conditions (every failure 412) and the range, as for gRPC callers.
"""

from __future__ import annotations

from aiohttp import web

from engine.api import access_convert as ac
from engine.api import convert
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.copy_source import name_condition, parse_copy_source
from engine.api.s3.errors import XML
from engine.api.s3.headers import (
    acl_spec,
    content_headers,
    part_number,
    refuse_unserved_features,
    stored_headers,
    user_metadata,
)
from engine.api.s3.xml.multipart import copy_object_result, copy_part_result
from engine.errors import EngineError
from engine.objects.core import crc32c_b64
from engine.v1 import objects_pb2 as pb


def _version_headers(version_id: str, source_version_id: str) -> dict[str, str]:
    headers = {}
    if convert.version_header(version_id):
        headers["x-amz-version-id"] = version_id
    if convert.version_header(source_version_id):
        headers["x-amz-copy-source-version-id"] = source_version_id
    return headers


async def copy_object(ctx: S3Request) -> web.StreamResponse:
    h = ctx.headers
    refuse_unserved_features(h)
    source = parse_copy_source(h)
    request = pb.CopyObjectRequest(
        source_bucket=source.bucket, source_key=source.key,
        source_version_id=source.version_id, bucket=ctx.bucket, key=ctx.key,
        metadata_directive=h.get("x-amz-metadata-directive", ""),
        headers=content_headers(h), metadata=user_metadata(h),
        source_conditions=source.conditions, storage_class=h.get("x-amz-storage-class", ""),
        tagging_directive=h.get("x-amz-tagging-directive", ""),
        tagging=h.get("x-amz-tagging", ""), acl=acl_spec(h))
    await ctx.authorize_rpc("CopyObject", request)
    options = ac.with_acl(
        convert.write_options(request.headers, dict(request.metadata), request.storage_class,
                              request.tagging),
        request.acl, ctx.objects.account, ctx.bucket, ctx.key)
    stored_headers(options.content, h)
    try:
        read, version = await ctx.objects.copy_object(
            request.source_bucket, request.source_key, request.bucket, request.key,
            source_version_id=request.source_version_id,
            directive=request.metadata_directive, tagging_directive=request.tagging_directive,
            source_conditions=convert.conditions(request.source_conditions), options=options)
    except EngineError as err:
        name_condition(err)
        raise
    result = pb.CopyObjectResponse(etag=convert.quoted(version.etag),
                                   last_modified=convert.timestamp(version.mtime_ns))
    # The engine keeps every object's CRC32C: S3 reports it when the copy asks for it.
    wants_crc = h.get("x-amz-checksum-algorithm", "").upper() == "CRC32C"
    body = copy_object_result(result,
                              checksum_crc32c=crc32c_b64(version.crc32c) if wants_crc else "")
    return web.Response(body=body, content_type=XML,
                        headers=_version_headers(version.version_id, read.version_id))


async def upload_part_copy(ctx: S3Request) -> web.StreamResponse:
    source = parse_copy_source(ctx.headers)
    request = pb.UploadPartCopyRequest(
        bucket=ctx.bucket, key=ctx.key, upload_id=ctx.query.get("uploadId", ""),
        part_number=part_number(ctx.query), source_bucket=source.bucket,
        source_key=source.key, source_version_id=source.version_id,
        source_range=ctx.headers.get("x-amz-copy-source-range", ""),
        source_conditions=source.conditions)
    await ctx.authorize_rpc("UploadPartCopy", request)
    try:
        read, part = await ctx.objects.upload_part_copy(
            request.bucket, request.key, request.upload_id, request.part_number,
            request.source_bucket, request.source_key,
            source_version_id=request.source_version_id, source_range=request.source_range,
            source_conditions=convert.conditions(request.source_conditions))
    except EngineError as err:
        name_condition(err)
        raise
    result = pb.UploadPartCopyResponse(etag=convert.quoted(part.etag),
                                       last_modified=convert.timestamp(part.mtime_ns))
    return web.Response(body=copy_part_result(result), content_type=XML,
                        headers=_version_headers("", read.version_id))


OPERATIONS: dict[str, Operation] = {
    "CopyObject": copy_object,
    "UploadPartCopy": upload_part_copy,
}
