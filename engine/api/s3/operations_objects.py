"""Object operations over HTTP: PutObject, GetObject, HeadObject and DeleteObject.

Bodies stream both ways: a PUT's payload goes from the socket through the decoder
(body.py) into the object service's writer, a GET's from the erasure set's reader to the
socket, each piece as it comes, so memory stays at a few buffers whatever the size.
Each operation authorizes as its gRPC twin does and calls the same service method.
"""

from __future__ import annotations

import logging

from aiohttp import web

from engine.api import access_convert as ac
from engine.api import convert
from engine.api.access_rules_s3 import on_bucket
from engine.api.s3.checksum_headers import echoed, filled, sent_checksum
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.headers import (
    acl_spec,
    conditions,
    content_headers,
    object_headers,
    overrides,
    part_number,
    refuse_unserved_features,
    stored_headers,
    user_metadata,
    version_id,
)
from engine.errors import EngineError
from engine.objects.service import ObjectRead
from engine.v1 import objects_pb2 as pb

log = logging.getLogger("engine.s3")
async def put_object(ctx: S3Request) -> web.StreamResponse:
    h = ctx.headers
    if not ctx.body.length_declared:
        raise EngineError("MissingContentLength")
    refuse_unserved_features(h)
    if h.get("content-md5") == "":  # sent but empty is not "not sent"
        raise EngineError("InvalidDigest")
    checksum = sent_checksum(h)
    storage_class, tagging = h.get("x-amz-storage-class", ""), h.get("x-amz-tagging", "")
    acl = acl_spec(h)
    # The gRPC twin's header as far as PutObject's access rule reads it: content headers
    # and metadata are not, and copying them into messages cost a small PUT measurably.
    await ctx.authorize_rpc("PutObject", pb.PutObjectRequest(header=pb.PutObjectHeader(
        bucket=ctx.bucket, key=ctx.key, storage_class=storage_class, tagging=tagging,
        acl=acl)))
    options = ac.with_acl(
        convert.write_options(content_headers(h), user_metadata(h), storage_class, tagging),
        acl, ctx.objects.account, ctx.bucket, ctx.key)
    options.content_length = ctx.body.length
    options.content_md5 = h.get("content-md5", "")
    options.checksum_crc32c = h.get("x-amz-checksum-crc32c", "")
    options.checksum = checksum
    stored_headers(options.content, h)
    options.if_match, options.if_none_match = h.get("if-match"), h.get("if-none-match")
    body = filled(ctx.body.stream(check_md5=False), ctx.body, checksum)
    version = await ctx.objects.put_object(ctx.bucket, ctx.key, body, options)
    headers = {"ETag": convert.quoted(version.etag), **echoed(checksum)}
    if checksum is not None:
        headers["x-amz-checksum-type"] = "FULL_OBJECT"
    if convert.version_header(version.version_id):
        headers["x-amz-version-id"] = version.version_id
    return web.Response(headers=headers)


async def _read(ctx: S3Request, method: str) -> tuple[ObjectRead, dict[str, str]]:
    """The object (or range, or part) a GET or HEAD asks for, and the headers to answer
    with, conditions applied."""
    vid = version_id(ctx.query)
    request_type = pb.GetObjectRequest if method == "GetObject" else pb.HeadObjectRequest
    await ctx.authorize_rpc(method, request_type(bucket=ctx.bucket, key=ctx.key,
                                                 version_id=vid))
    replaced = overrides(ctx.query, anonymous=ctx.caller.anonymous)
    call = ctx.objects.get_object if method == "GetObject" else ctx.objects.head_object
    try:
        read = await call(ctx.bucket, ctx.key, version_id=vid,
                          range_header=ctx.headers.get("range"),
                          part_number=part_number(ctx.query), conditions=conditions(ctx.headers))
    except EngineError as err:
        if err.code == "NoSuchKey":
            await _may_list(ctx)
        raise
    checksum_mode = ctx.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"
    return read, {**object_headers(read, checksum_mode=checksum_mode), **replaced}


async def _may_list(ctx: S3Request) -> None:
    """S3 tells a caller that a key does not exist only if it may list the bucket (else
    the answer would reveal which keys exist): without s3:ListBucket, AccessDenied."""
    try:
        await ctx.authorize([on_bucket("s3:ListBucket", ctx.bucket)])
    except EngineError as err:
        if err.code == "AccessDenied":
            raise EngineError("AccessDenied") from None
        raise


def _status(read: ObjectRead) -> int:
    return 206 if read.range is not None or read.parts_count else 200


async def get_object(ctx: S3Request) -> web.StreamResponse:
    read, headers = await _read(ctx, "GetObject")
    body = read.body
    assert body is not None
    response = web.StreamResponse(status=_status(read), headers=headers)
    response.content_length = read.content_length
    try:
        await response.prepare(ctx.http)
        async for chunk in body:
            await response.write(chunk)
        await response.write_eof()
    except (ConnectionError, OSError) as exc:  # the client went away: nothing to answer
        log.debug("GET %s/%s cut short: %s", ctx.bucket, ctx.key, exc)
    except Exception:
        # The status and length are sent: the only way left to say "failed" is to cut
        # the connection short, which every client notices.
        log.exception("GET %s/%s failed after its headers were sent", ctx.bucket, ctx.key)
        response.force_close()
        if ctx.http.transport is not None:
            ctx.http.transport.close()
    finally:
        await body.aclose()  # type: ignore[attr-defined]
    return response


async def head_object(ctx: S3Request) -> web.StreamResponse:
    read, headers = await _read(ctx, "HeadObject")
    response = web.StreamResponse(status=_status(read), headers=headers)
    response.content_length = read.content_length
    return response


async def delete_object(ctx: S3Request) -> web.StreamResponse:
    vid = version_id(ctx.query)
    await ctx.authorize_rpc("DeleteObject", pb.DeleteObjectRequest(
        bucket=ctx.bucket, key=ctx.key, version_id=vid))
    result = await ctx.objects.delete_object(ctx.bucket, ctx.key, vid)
    headers = {}
    if result.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    if result.version_id:
        headers["x-amz-version-id"] = result.version_id
    return web.Response(status=204, headers=headers)


OPERATIONS: dict[str, Operation] = {
    "PutObject": put_object,
    "GetObject": get_object,
    "HeadObject": head_object,
    "DeleteObject": delete_object,
}
