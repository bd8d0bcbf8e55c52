"""Translations between the public messages (objects.proto) and stored records."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from engine.objects.conditions import Conditions
from engine.objects.core import WriteOptions, crc32c_b64
from engine.objects.ranges import ByteRange
from engine.v1 import objects_pb2 as pb
from engine.v1.records_pb2 import ContentRecord, ObjectVersion, PartBody, UploadRecord

NULL_VERSION = "null"


def timestamp(ns: int) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(ns)
    return ts


def quoted(etag: str) -> str:
    """ETags travel quoted, as S3 sends them; records keep them bare."""
    return f'"{etag}"'


def version_header(version_id: str) -> str:
    """The x-amz-version-id S3 answers a write or read with: none for the null version."""
    return "" if version_id == NULL_VERSION else version_id


def content_record(headers: pb.ContentHeaders) -> ContentRecord:
    return ContentRecord(
        content_type=headers.content_type, cache_control=headers.cache_control,
        content_disposition=headers.content_disposition,
        content_encoding=headers.content_encoding, content_language=headers.content_language,
    )


def write_options(headers: pb.ContentHeaders, metadata: dict[str, str], storage_class: str,
                  tagging: str) -> WriteOptions:
    """What a new object (PUT, copy with REPLACE, multipart upload) is created with."""
    return WriteOptions(content=content_record(headers), metadata=dict(metadata),
                        storage_class=storage_class, tagging=tagging)


def content_headers(record: ContentRecord) -> pb.ContentHeaders:
    return pb.ContentHeaders(
        content_type=record.content_type or "binary/octet-stream",
        cache_control=record.cache_control, content_disposition=record.content_disposition,
        content_encoding=record.content_encoding, content_language=record.content_language,
    )


def object_info(bucket: str, key: str, v: ObjectVersion, *, restore: str = "",
                parts_count: int = 0) -> pb.ObjectInfo:
    return pb.ObjectInfo(
        bucket=bucket, key=key, size=v.size, etag=quoted(v.etag),
        last_modified=timestamp(v.mtime_ns), headers=content_headers(v.content),
        metadata=dict(v.metadata), storage_class=v.storage_class or "STANDARD",
        version_id=version_header(v.version_id), checksum_crc32c=crc32c_b64(v.crc32c),
        restore=restore, tag_count=len(v.tags), parts_count=parts_count,
    )


def content_range(byte_range: ByteRange | None, size: int) -> str:
    return byte_range.content_range(size) if byte_range else ""


def conditions(msg: pb.Conditions) -> Conditions:
    return Conditions(
        if_match=msg.if_match if msg.HasField("if_match") else None,
        if_none_match=msg.if_none_match if msg.HasField("if_none_match") else None,
        if_modified_since_ns=msg.if_modified_since.ToNanoseconds()
        if msg.HasField("if_modified_since") else None,
        if_unmodified_since_ns=msg.if_unmodified_since.ToNanoseconds()
        if msg.HasField("if_unmodified_since") else None,
    )


def version_summary(key: str, v: ObjectVersion, is_latest: bool) -> pb.ObjectVersionSummary:
    """A ListObjectVersions entry; the null version is listed by name, as S3 does."""
    summary = pb.ObjectVersionSummary(
        key=key, version_id=v.version_id or NULL_VERSION, is_latest=is_latest,
        last_modified=timestamp(v.mtime_ns), delete_marker=v.delete_marker,
    )
    if not v.delete_marker:
        summary.etag = quoted(v.etag)
        summary.size = v.size
        summary.storage_class = v.storage_class or "STANDARD"
        summary.checksum_algorithm = v.checksum_algorithm
    return summary


def part_summary(part: PartBody) -> pb.PartSummary:
    return pb.PartSummary(part_number=part.number, last_modified=timestamp(part.mtime_ns),
                          etag=quoted(part.etag), size=part.size)


def upload_summary(upload: UploadRecord) -> pb.UploadSummary:
    return pb.UploadSummary(upload_id=upload.upload_id, key=upload.key,
                            initiated=timestamp(upload.initiated_ns),
                            storage_class=upload.storage_class or "STANDARD")
