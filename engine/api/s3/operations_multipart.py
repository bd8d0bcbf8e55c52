"""Multipart uploads over HTTP: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
AbortMultipartUpload, ListParts and ListMultipartUploads (UploadPartCopy is a copy:
operations_copy.py).

A part's body streams like a PUT's, in every payload mode body.py decodes, with its
Content-MD5 and CRC32C checked by the object service and the other x-amz-checksum-*
by body.py, and echoed as S3 echoes them. Each operation authorizes as its gRPC twin
and calls the same service method. The engine keeps every part's CRC32C and the
checksum in the upload's x-amz-checksum-algorithm; the completed object gets that
algorithm's COMPOSITE or FULL_OBJECT checksum (engine/objects/checksums.py), or the
combined CRC32C when the upload named none.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from engine.api import access_convert as ac
from engine.api import convert
from engine.api.s3.checksum_headers import (
    ALGORITHM,
    CHECKSUM_TYPE,
    echoed,
    filled,
    sent_checksum,
)
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.headers import (
    acl_spec,
    content_headers,
    part_number,
    refuse_unserved_features,
    stored_headers,
    user_metadata,
)
from engine.api.s3.operations_listing import owner_of
from engine.api.s3.request_documents import read_document
from engine.api.s3.xml import multipart as documents
from engine.api.s3.xml.base import COMPLETE_BODY
from engine.errors import EngineError
from engine.objects import checksums
from engine.objects.checksums import Checksum
from engine.objects.core import crc32c_b64
from engine.sigv4.chunk_signing import CHECKSUM_PREFIX
from engine.v1 import objects_pb2 as pb

SDK_ALGORITHM = "x-amz-sdk-checksum-algorithm"


def _upload_checksum(ctx: S3Request) -> tuple[Checksum | None, str]:
    """x-amz-checksum-algorithm and x-amz-checksum-type of a new upload (None, "" when
    none); the parts are then sent with that checksum."""
    name = ctx.headers.get(ALGORITHM, "")
    kind = ctx.headers.get(CHECKSUM_TYPE, "")
    algorithm = checksums.check_algorithm(name) if name else ""
    if not algorithm and not kind:
        return None, ""
    return Checksum(algorithm), checksums.check_type(algorithm, kind)


async def create_multipart_upload(ctx: S3Request) -> web.StreamResponse:
    h = ctx.headers
    refuse_unserved_features(h)
    checksum, checksum_type = _upload_checksum(ctx)
    request = pb.CreateMultipartUploadRequest(
        bucket=ctx.bucket, key=ctx.key, headers=content_headers(h), metadata=user_metadata(h),
        storage_class=h.get("x-amz-storage-class", ""), tagging=h.get("x-amz-tagging", ""),
        acl=acl_spec(h))
    await ctx.authorize_rpc("CreateMultipartUpload", request)
    options = ac.with_acl(
        convert.write_options(request.headers, dict(request.metadata), request.storage_class,
                              request.tagging),
        request.acl, ctx.objects.account, ctx.bucket, ctx.key)
    options.checksum, options.checksum_type = checksum, checksum_type
    stored_headers(options.content, h)
    upload = await ctx.objects.create_multipart_upload(ctx.bucket, ctx.key, options)
    body = documents.initiate_result(pb.CreateMultipartUploadResponse(
        bucket=ctx.bucket, key=ctx.key, upload_id=upload.upload_id))
    headers = {ALGORITHM: checksum.algorithm, CHECKSUM_TYPE: checksum_type} \
        if checksum is not None else {}
    return web.Response(body=body, content_type=XML, headers=headers)


def _part_checksums(ctx: S3Request, crc32c: int, checksum: Checksum | None
                    ) -> dict[str, str]:
    """The checksums S3 answers an UploadPart with: the one the client sent (verified
    by now), CRC32C as the engine computed it."""
    out = echoed(checksum)
    crc_name = CHECKSUM_PREFIX + "crc32c"
    if crc_name in out or ctx.headers.get(SDK_ALGORITHM, "").upper() == "CRC32C":
        out[crc_name] = crc32c_b64(crc32c)
    return out


async def upload_part(ctx: S3Request) -> web.StreamResponse:
    h = ctx.headers
    if not ctx.body.length_declared:
        raise EngineError("MissingContentLength")
    checksum = sent_checksum(h)
    header = pb.UploadPartHeader(
        bucket=ctx.bucket, key=ctx.key, upload_id=ctx.query.get("uploadId", ""),
        part_number=part_number(ctx.query), content_md5=h.get("content-md5", ""),
        checksum_crc32c=h.get(CHECKSUM_PREFIX + "crc32c", ""))
    if ctx.body.length is not None:
        header.content_length = ctx.body.length
    await ctx.authorize_rpc("UploadPart", pb.UploadPartRequest(header=header))
    part = await ctx.objects.upload_part(
        header.bucket, header.key, header.upload_id, header.part_number,
        filled(ctx.body.stream(check_md5=False), ctx.body, checksum),
        content_length=ctx.body.length, content_md5=header.content_md5,
        checksum_crc32c=header.checksum_crc32c, checksum=checksum)
    return web.Response(headers={"ETag": convert.quoted(part.etag),
                                 **_part_checksums(ctx, part.crc32c, checksum)})


def _location(ctx: S3Request) -> str:
    """The new object's URL, as the client addressed this node."""
    key = quote(ctx.key, safe="/")
    path = f"/{key}" if ctx.route.virtual_host else f"/{ctx.bucket}/{key}"
    return f"{ctx.http.scheme}://{ctx.headers.get('host', '')}{path}"


async def complete_multipart_upload(ctx: S3Request) -> web.StreamResponse:
    h = ctx.headers
    if "if-match" in h or "if-none-match" in h:
        raise EngineError("NotImplemented", "Conditional writes (If-Match, If-None-Match) "
                          "on CompleteMultipartUpload are not supported by this server.",
                          Header="If-None-Match" if "if-none-match" in h else "If-Match")
    upload_id = ctx.query.get("uploadId", "")
    # Authorized before its body is read: the parts list does not change the decision
    # (s3:PutObject on the key), and a refused caller sends nothing more.
    await ctx.authorize_rpc("CompleteMultipartUpload", pb.CompleteMultipartUploadRequest(
        bucket=ctx.bucket, key=ctx.key, upload_id=upload_id))
    parsed = documents.parse_complete(await read_document(ctx, COMPLETE_BODY), ctx.bucket,
                                      ctx.key, upload_id)
    claimed = {number: value for number, sums in parsed.checksums.items()
               for value in sums.values()}
    version = await ctx.objects.complete_multipart_upload(
        ctx.bucket, ctx.key, upload_id, [(p.part_number, p.etag) for p in parsed.request.parts],
        part_checksums=claimed, object_checksum=sent_checksum(h))
    result = pb.CompleteMultipartUploadResponse(
        bucket=ctx.bucket, key=ctx.key, etag=convert.quoted(version.etag),
        version_id=convert.version_header(version.version_id),
        checksum_crc32c=crc32c_b64(version.crc32c))
    headers = {"x-amz-version-id": result.version_id} if result.version_id else {}
    own = (version.checksum_algorithm, version.checksum) if version.checksum else None
    body = documents.complete_result(result, location=_location(ctx), checksum=own,
                                     checksum_type=version.checksum_type or "FULL_OBJECT")
    return web.Response(body=body, content_type=XML, headers=headers)


async def abort_multipart_upload(ctx: S3Request) -> web.StreamResponse:
    request = pb.AbortMultipartUploadRequest(bucket=ctx.bucket, key=ctx.key,
                                             upload_id=ctx.query.get("uploadId", ""))
    await ctx.authorize_rpc("AbortMultipartUpload", request)
    await ctx.objects.abort_multipart_upload(request.bucket, request.key, request.upload_id)
    return web.Response(status=204)


async def list_parts(ctx: S3Request) -> web.StreamResponse:
    request = documents.list_parts_request(ctx.bucket, ctx.key, ctx.query)
    await ctx.authorize_rpc("ListParts", request)
    page = await ctx.objects.list_parts(
        request.bucket, request.key, request.upload_id,
        part_number_marker=request.part_number_marker,
        max_parts=request.max_parts if request.HasField("max_parts") else None)
    response = pb.ListPartsResponse(
        bucket=request.bucket, key=request.key, upload_id=request.upload_id,
        part_number_marker=request.part_number_marker,
        next_part_number_marker=page.next_part_number_marker, max_parts=page.max_parts,
        is_truncated=page.is_truncated, parts=[convert.part_summary(p) for p in page.parts],
        storage_class=page.upload.storage_class or "STANDARD",
        initiated=convert.timestamp(page.upload.initiated_ns))
    upload = page.upload
    body = documents.list_parts_result(
        response, owner=owner_of(ctx), algorithm=upload.checksum_algorithm,
        checksum_type=upload.checksum_type,
        part_checksums={p.number: p.checksum for p in page.parts})
    return web.Response(body=body, content_type=XML)


async def list_multipart_uploads(ctx: S3Request) -> web.StreamResponse:
    request, encoding = documents.list_uploads_request(ctx.bucket, ctx.query)
    await ctx.authorize_rpc("ListMultipartUploads", request)
    page = await ctx.objects.list_multipart_uploads(
        request.bucket, prefix=request.prefix, delimiter=request.delimiter,
        key_marker=request.key_marker, upload_id_marker=request.upload_id_marker,
        max_uploads=request.max_uploads if request.HasField("max_uploads") else None)
    response = pb.ListMultipartUploadsResponse(
        bucket=request.bucket, prefix=request.prefix, delimiter=request.delimiter,
        key_marker=request.key_marker, upload_id_marker=request.upload_id_marker,
        next_key_marker=page.next_key_marker,
        next_upload_id_marker=page.next_upload_id_marker, max_uploads=page.max_uploads,
        is_truncated=page.is_truncated,
        uploads=[convert.upload_summary(u) for u in page.uploads],
        common_prefixes=page.common_prefixes)
    body = documents.list_uploads_result(response, encoding=encoding, owner=owner_of(ctx))
    return web.Response(body=body, content_type=XML)


OPERATIONS: dict[str, Operation] = {
    "CreateMultipartUpload": create_multipart_upload,
    "UploadPart": upload_part,
    "CompleteMultipartUpload": complete_multipart_upload,
    "AbortMultipartUpload": abort_multipart_upload,
    "ListParts": list_parts,
    "ListMultipartUploads": list_multipart_uploads,
}
