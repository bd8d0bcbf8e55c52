"""GetObjectAttributes over HTTP: what HeadObject knows of a version, as one document.

There is no gRPC twin; S3 authorizes it as both reads: s3:GetObject and
s3:GetObjectAttributes (their Version forms with a version id). The parts of a
multipart object are paged by the x-amz-max-parts and x-amz-part-number-marker headers.
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from engine.api import convert
from engine.api.access_rules_s3 import on_object
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.headers import http_date, joined, version_id
from engine.api.s3.xml.attributes import (
    HEADER,
    ObjectParts,
    Part,
    attributes_result,
    object_attributes,
    parse_attribute_names,
)
from engine.api.s3.xml.base import query_int
from engine.objects.core import crc32c_b64
from engine.v1.records_pb2 import ObjectVersion

DEFAULT_MAX_PARTS = 1000


def _parts(version: ObjectVersion, max_parts: int, marker: int) -> ObjectParts | None:
    """The page of parts after ``marker``; None for an object not uploaded in parts."""
    sizes = list(version.part_sizes)
    if not sizes:
        return None
    own = version.checksum_algorithm if version.checksum else ""
    checksums = {p.number: p.checksum if own else crc32c_b64(p.crc32c)
                 for p in version.parts.parts} if version.HasField("parts") else {}
    numbers = range(marker + 1, len(sizes) + 1)
    page = list(numbers)[:max_parts]
    truncated = len(numbers) > len(page)
    return ObjectParts(
        total_parts_count=len(sizes), part_number_marker=marker,
        next_part_number_marker=page[-1] if page else marker, max_parts=max_parts,
        is_truncated=truncated,
        parts=tuple(Part(n, sizes[n - 1], checksums.get(n, ""), own or "CRC32C")
                    for n in page))


async def get_object_attributes(ctx: S3Request) -> web.StreamResponse:
    vid = version_id(ctx.query)
    await ctx.authorize([on_object("s3:GetObject", ctx.bucket, ctx.key, vid),
                         on_object("s3:GetObjectAttributes", ctx.bucket, ctx.key, vid)])
    wanted = parse_attribute_names(joined(ctx.headers, HEADER) or "")
    max_parts = query_int(ctx.headers, "x-amz-max-parts")
    marker = query_int(ctx.headers, "x-amz-part-number-marker") or 0
    read = await ctx.objects.head_object(ctx.bucket, ctx.key, version_id=vid)
    version = read.version
    info = convert.object_info(ctx.bucket, ctx.key, version, restore=read.restore)
    parts = _parts(version, DEFAULT_MAX_PARTS if max_parts is None else max_parts, marker)
    headers = {"Last-Modified": http_date(version.mtime_ns)}
    if info.version_id:
        headers["x-amz-version-id"] = info.version_id
    attrs = object_attributes(info, wanted, parts)
    if version.checksum and attrs.checksum_crc32c:  # the client's algorithm, not CRC32C
        attrs = replace(attrs, checksum_crc32c=version.checksum,
                        checksum_algorithm=version.checksum_algorithm,
                        checksum_type=version.checksum_type or "FULL_OBJECT")
    body = attributes_result(attrs)
    return web.Response(body=body, content_type=XML, headers=headers)


OPERATIONS: dict[str, Operation] = {"GetObjectAttributes": get_object_attributes}
