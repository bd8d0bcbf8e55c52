"""Conversions between boto3's parameter/response shapes and the protobuf messages.

Kept apart from the client so each rule (how a date is read, which header is omitted
when empty) lives in one place and is unit-testable without a server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from engine.client.errors import ParamValidationError, response_metadata
from engine.v1 import objects_pb2 as pb

DateLike = datetime | date | str | int | float

# botocore's rule for a string CopySource: a trailing "?versionId=..." names the version.
_VERSION_SUFFIX = re.compile(r"\?versionId=([^\s]+)$")

# boto3 parameter name -> ContentHeaders field.
CONTENT_HEADERS = {
    "ContentType": "content_type",
    "CacheControl": "cache_control",
    "ContentDisposition": "content_disposition",
    "ContentEncoding": "content_encoding",
    "ContentLanguage": "content_language",
}


def http_date(ts: Timestamp) -> datetime:
    """A GET/HEAD date as botocore parses it from an HTTP header: whole seconds, UTC."""
    return datetime.fromtimestamp(ts.seconds, UTC)


def xml_date(ts: Timestamp) -> datetime:
    """A listing date as S3's XML carries it: millisecond resolution, UTC."""
    micros = (ts.nanos // 1_000_000) * 1000
    return datetime.fromtimestamp(ts.seconds, UTC) + timedelta(microseconds=micros)


def to_datetime(value: DateLike) -> datetime:
    """Read a date the way botocore accepts one: datetime (naive means UTC), date,
    epoch seconds, ISO 8601 or RFC 1123 text."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, bool):
        raise ParamValidationError(f"Invalid timestamp: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        text = value.strip()
        try:
            return to_datetime(datetime.fromisoformat(text))
        except ValueError:
            pass
        try:
            return to_datetime(parsedate_to_datetime(text))
        except (TypeError, ValueError, IndexError):
            pass
        try:
            return to_datetime(float(text))
        except ValueError:
            pass
    raise ParamValidationError(f"Invalid timestamp: {value!r}")


def to_timestamp(value: DateLike) -> Timestamp:
    """A date for a conditional header; whole seconds, as an HTTP date has."""
    ts = Timestamp()
    ts.FromSeconds(int(to_datetime(value).timestamp()))
    return ts


def content_headers(
    content_type: str | None,
    cache_control: str | None,
    content_disposition: str | None,
    content_encoding: str | None,
    content_language: str | None,
) -> pb.ContentHeaders:
    """ContentType=, CacheControl=, ... -> ContentHeaders (absent means empty)."""
    return pb.ContentHeaders(
        content_type=content_type or "",
        cache_control=cache_control or "",
        content_disposition=content_disposition or "",
        content_encoding=content_encoding or "",
        content_language=content_language or "",
    )


def conditions(
    if_match: str | None,
    if_none_match: str | None,
    if_modified_since: DateLike | None,
    if_unmodified_since: DateLike | None,
) -> pb.Conditions:
    """The four RFC 7232 preconditions; an absent one stays unset on the wire."""
    msg = pb.Conditions()
    if if_match is not None:
        msg.if_match = if_match
    if if_none_match is not None:
        msg.if_none_match = if_none_match
    if if_modified_since is not None:
        msg.if_modified_since.CopyFrom(to_timestamp(if_modified_since))
    if if_unmodified_since is not None:
        msg.if_unmodified_since.CopyFrom(to_timestamp(if_unmodified_since))
    return msg


def parse_copy_source(source: str | Mapping[str, str]) -> tuple[str, str, str]:
    """CopySource as boto3 takes it -> (bucket, key, version_id or "").

    A string is "bucket/key" (a leading "/" is tolerated, "?versionId=" ends it); a dict
    has Bucket, Key and optionally VersionId. Keys are taken literally, not URL-decoded:
    botocore quotes the string itself before sending it.
    """
    if isinstance(source, Mapping):
        missing = [k for k in ("Bucket", "Key") if not source.get(k)]
        if missing:
            raise ParamValidationError(f"CopySource is missing {', '.join(missing)}")
        return str(source["Bucket"]), str(source["Key"]), str(source.get("VersionId") or "")
    if not isinstance(source, str):
        raise ParamValidationError(f"CopySource must be a str or dict, not {type(source)}")
    version = ""
    match = _VERSION_SUFFIX.search(source)
    if match:
        version = match.group(1)
        source = source[: match.start()]
    bucket, sep, key = source.removeprefix("/").partition("/")
    if not bucket or not sep or not key:
        raise ParamValidationError(
            f"Invalid CopySource {source!r}: expected 'bucket/key' or a dict with Bucket and Key"
        )
    return bucket, key, version


def copy_source(
    source: str | Mapping[str, str],
    if_match: str | None,
    if_none_match: str | None,
    if_modified_since: DateLike | None,
    if_unmodified_since: DateLike | None,
) -> dict[str, Any]:
    """CopySource and the four CopySourceIf* parameters -> the source_* fields that
    CopyObjectRequest and UploadPartCopyRequest share."""
    bucket, key, version = parse_copy_source(source)
    return {
        "source_bucket": bucket,
        "source_key": key,
        "source_version_id": version,
        "source_conditions": conditions(
            if_match, if_none_match, if_modified_since, if_unmodified_since
        ),
    }


def object_fields(info: pb.ObjectInfo, *, checksum: bool, tag_count: bool = False
                  ) -> dict[str, Any]:
    """The members GET and HEAD share, named and omitted as boto3 does.

    StorageClass is absent for STANDARD (S3 sends no x-amz-storage-class header then);
    content headers and VersionId only when set; ChecksumCRC32C only with ChecksumMode;
    Restore once a restore was asked for, PartsCount for a PartNumber read, TagCount
    (GET only: HEAD's model has no such member) when the object has tags.
    """
    out: dict[str, Any] = {
        "AcceptRanges": "bytes",
        "LastModified": http_date(info.last_modified),
        "ETag": info.etag,
    }
    for name, field in CONTENT_HEADERS.items():
        value = getattr(info.headers, field)
        if value:
            out[name] = value
    if info.version_id:
        out["VersionId"] = info.version_id
    if checksum and info.checksum_crc32c:
        out["ChecksumCRC32C"] = info.checksum_crc32c
    out["Metadata"] = dict(info.metadata)
    if info.storage_class and info.storage_class != "STANDARD":
        out["StorageClass"] = info.storage_class
    if info.restore:
        out["Restore"] = info.restore
    if info.parts_count:
        out["PartsCount"] = info.parts_count
    if tag_count and info.tag_count:
        out["TagCount"] = info.tag_count
    return out


def upload_result(resp: pb.PutObjectResponse | pb.UploadPartResponse) -> dict[str, Any]:
    """What PutObject and UploadPart answer alike: the ETag, and ChecksumCRC32C when the
    service computed one."""
    out: dict[str, Any] = {"ResponseMetadata": response_metadata(200), "ETag": resp.etag}
    if resp.checksum_crc32c:
        out["ChecksumCRC32C"] = resp.checksum_crc32c
    return out


def version_summary(v: pb.ObjectVersionSummary) -> dict[str, Any]:
    """A ListObjectVersions entry as boto3 has it in Versions or DeleteMarkers."""
    if v.delete_marker:
        return {"Key": v.key, "VersionId": v.version_id, "IsLatest": v.is_latest,
                "LastModified": xml_date(v.last_modified)}
    return {"ETag": v.etag, "Size": v.size, "StorageClass": v.storage_class or "STANDARD",
            "Key": v.key, "VersionId": v.version_id, "IsLatest": v.is_latest,
            "LastModified": xml_date(v.last_modified)}


def tag_set(tags: Iterable[pb.Tag]) -> list[dict[str, str]]:
    """Tags on the wire -> boto3's TagSet."""
    return [{"Key": t.key, "Value": t.value} for t in tags]


def tags(tag_set: Iterable[Mapping[str, str]]) -> list[pb.Tag]:
    """boto3's TagSet (already validated) -> tags on the wire, in order, duplicates kept
    (the service rejects them, as S3 does)."""
    return [pb.Tag(key=t["Key"], value=t["Value"]) for t in tag_set]


def version_id(value: str) -> dict[str, str]:
    """``{"VersionId": value}`` when the service named a version, else nothing."""
    return {"VersionId": value} if value else {}
