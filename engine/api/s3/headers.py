"""S3's HTTP headers for objects: what a request sets (content headers, x-amz-meta-*,
ACL and conditional headers) and what a GET or HEAD answers with.

Values are translated into the same messages and records the gRPC API uses
(engine/api/convert.py), so both protocols describe an object alike.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from email.utils import formatdate, parsedate_tz
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from engine.api.convert import NULL_VERSION, quoted
from engine.errors import EngineError
from engine.objects.conditions import Conditions
from engine.objects.core import crc32c_b64
from engine.objects.service import ObjectRead
from engine.v1 import objects_pb2 as pb
from engine.v1.records_pb2 import ContentRecord, ObjectVersion

META = "x-amz-meta-"
WEBSITE_REDIRECT = "x-amz-website-redirect-location"
AWS_CHUNKED = "aws-chunked"
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
_ACL_HEADERS = (("x-amz-acl", "canned"), ("x-amz-grant-full-control", "grant_full_control"),
                ("x-amz-grant-read", "grant_read"), ("x-amz-grant-read-acp", "grant_read_acp"),
                ("x-amz-grant-write", "grant_write"),
                ("x-amz-grant-write-acp", "grant_write_acp"))

Headers = CIMultiDictProxy[str] | CIMultiDict[str]


def joined(headers: Headers, name: str) -> str | None:
    """A header's values joined by commas, as HTTP allows a repeated header to be read."""
    values = headers.getall(name, [])
    return ",".join(values) if values else None


def http_date(ns: int) -> str:
    """RFC 7231's IMF-fixdate: Wed, 12 Oct 2009 17:50:00 GMT."""
    return formatdate(ns // 1_000_000_000, usegmt=True)


def parse_http_date(value: str | None) -> int | None:
    """Nanoseconds of an HTTP date; None when absent or unreadable (S3, like RFC 7232,
    ignores a conditional header whose date it cannot read)."""
    if not value:
        return None
    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    offset = parsed[9] or 0
    return (calendar.timegm(parsed[:9]) - offset) * 1_000_000_000  # type: ignore[arg-type]


def content_headers(headers: Headers) -> pb.ContentHeaders:
    """What a PUT stores to answer GETs with. aws-chunked is how the body travelled,
    not how it is encoded: it is dropped from Content-Encoding, as S3 drops it."""
    encoding = ",".join(part.strip() for part in headers.get("content-encoding", "").split(",")
                        if part.strip() and part.strip().lower() != AWS_CHUNKED)
    return pb.ContentHeaders(
        content_type=headers.get("content-type", ""),
        cache_control=headers.get("cache-control", ""),
        content_disposition=headers.get("content-disposition", ""),
        content_encoding=encoding,
        content_language=headers.get("content-language", ""),
    )


def stored_headers(content: ContentRecord, headers: Headers) -> None:
    """Expires and x-amz-website-redirect-location, which the gRPC API's ContentHeaders
    do not carry, into the record a new object (PUT, upload, copy) is created with. A
    redirect must be a path or an http(s) URL (InvalidRedirectLocation otherwise)."""
    content.expires = headers.get("expires", "")
    redirect = headers.get(WEBSITE_REDIRECT, "")
    if redirect and not redirect.startswith(("/", "http://", "https://")):
        raise EngineError("InvalidRedirectLocation", "The website redirect location must "
                          "have a prefix of 'http://' or 'https://' or '/'.",
                          http_status=400)
    content.website_redirect_location = redirect


def user_metadata(headers: Headers) -> dict[str, str]:
    """x-amz-meta-* headers by their name after the prefix (the service lower-cases and
    bounds them); a repeated one is joined by commas, as S3 does."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower().startswith(META):
            key = name[len(META):].lower()
            out[key] = f"{out[key]},{value}" if key in out else value
    return out


def acl_spec(headers: Headers) -> pb.AclSpec:
    """x-amz-acl and x-amz-grant-* as the gRPC API carries them."""
    spec = pb.AclSpec()
    for header, field in _ACL_HEADERS:
        value = joined(headers, header)
        if value is not None:
            setattr(spec, field, value)
    return spec


def conditions(headers: Headers) -> Conditions:
    return Conditions(
        if_match=headers.get("if-match"),
        if_none_match=headers.get("if-none-match"),
        if_modified_since_ns=parse_http_date(headers.get("if-modified-since")),
        if_unmodified_since_ns=parse_http_date(headers.get("if-unmodified-since")),
    )


def part_number(query: Mapping[str, str]) -> int:
    text = query.get("partNumber")
    if text is None:
        return 0
    if not text.isdigit() or not 1 <= int(text) <= 10000:
        raise EngineError("InvalidArgument", "Part number must be an integer between 1 and "
                          "10000, inclusive", ArgumentName="partNumber", ArgumentValue=text)
    return int(text)


def version_id(query: Mapping[str, str]) -> str:
    """The versionId asked for; "null" names the null version, which records keep as
    "null" too."""
    value = query.get("versionId")
    if value == "":
        raise EngineError("InvalidArgument", "Version id cannot be the empty string",
                          ArgumentName="versionId", ArgumentValue="")
    return value or ""


def object_headers(read: ObjectRead, *, checksum_mode: bool) -> dict[str, Any]:
    """The headers of a GET or HEAD answer: entity headers, user metadata and the
    x-amz-* S3 adds (version, storage class, tag count, restore, parts count). The
    object's checksum (the client's algorithm, else its CRC32C) only with
    x-amz-checksum-mode: ENABLED and the whole object, as S3 gives checksums only for
    what they cover."""
    v = read.version
    out: dict[str, Any] = {
        "ETag": quoted(v.etag),
        "Last-Modified": http_date(v.mtime_ns),
        "Accept-Ranges": "bytes",
        "Content-Type": v.content.content_type or "binary/octet-stream",
    }
    for name, value in (("Cache-Control", v.content.cache_control),
                        ("Content-Disposition", v.content.content_disposition),
                        ("Content-Encoding", v.content.content_encoding),
                        ("Content-Language", v.content.content_language),
                        ("Expires", v.content.expires),
                        (WEBSITE_REDIRECT, v.content.website_redirect_location)):
        if value:
            out[name] = value
    for key, value in v.metadata.items():
        out[META + key] = value
    if v.version_id and v.version_id != NULL_VERSION:
        out["x-amz-version-id"] = v.version_id
    if v.storage_class and v.storage_class != "STANDARD":
        out["x-amz-storage-class"] = v.storage_class
    if v.tags:
        out["x-amz-tagging-count"] = str(len(v.tags))
    if read.restore:
        out["x-amz-restore"] = read.restore
    if read.parts_count:
        out["x-amz-mp-parts-count"] = str(read.parts_count)
    if read.range is not None:
        out["Content-Range"] = read.range.content_range(v.size)
    if checksum_mode and read.part_number:
        out.update(_part_checksum(v, read.part_number))
    if checksum_mode and read.range is None and not read.parts_count:
        if v.checksum:  # the algorithm the client chose (a multipart one: "...-N")
            out["x-amz-checksum-" + v.checksum_algorithm.lower()] = v.checksum
            out["x-amz-checksum-type"] = v.checksum_type or "FULL_OBJECT"
        else:
            out["x-amz-checksum-crc32c"] = crc32c_b64(v.crc32c)
            out["x-amz-checksum-type"] = "FULL_OBJECT"
    return out


def _part_checksum(v: ObjectVersion, number: int) -> dict[str, str]:
    """A part's own checksum (a multipart object with one in the upload's algorithm),
    as S3 answers a partNumber GET or HEAD with checksum mode on."""
    parts = v.parts.parts
    if not v.checksum_algorithm or number > len(parts) or not parts[number - 1].checksum:
        return {}
    return {"x-amz-checksum-" + v.checksum_algorithm.lower(): parts[number - 1].checksum,
            "x-amz-checksum-type": v.checksum_type or "COMPOSITE"}


def overrides(query: Mapping[str, str], *, anonymous: bool) -> dict[str, str]:
    """response-* parameters: the answer's headers as the link's creator wants them;
    S3 refuses them on anonymous requests."""
    found = {header: query[name] for name, header in RESPONSE_OVERRIDES.items()
             if name in query}
    if found and anonymous:
        raise EngineError("InvalidRequest", "Request specific response headers cannot be used "
                          "for anonymous GET requests.")
    return found


_KMS = ("aws:kms", "aws:kms:dsse")
_LOCK = ("x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date",
         "x-amz-object-lock-legal-hold")


def refuse_unserved_features(headers: Headers) -> None:
    """Write headers asking for what this server does not do are refused, never ignored:
    storing in the clear what a client asked to have encrypted with its own key (SSE-C)
    or a KMS key, or without the retention it asked for, would be worse than an error."""
    if any(name.lower().startswith("x-amz-server-side-encryption-customer-")
           for name in headers):
        raise EngineError("NotImplemented", "Server-side encryption with customer-provided "
                          "keys (SSE-C) is not supported by this server.")
    if headers.get("x-amz-server-side-encryption", "").lower() in _KMS:
        raise EngineError("NotImplemented", "Server-side encryption with KMS keys is not "
                          "supported by this server.")
    if any(name in headers for name in _LOCK):
        raise EngineError("InvalidRequest", "Bucket is missing Object Lock Configuration")
