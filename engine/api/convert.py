"""Translations between the public messages (objects.proto) and stored records."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from engine.objects.conditions import Conditions
from engine.objects.service import crc32c_b64
from engine.v1 import objects_pb2 as pb
from engine.v1.records_pb2 import ContentRecord, ObjectVersion


def timestamp(ns: int) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(ns)
    return ts


def content_record(headers: pb.ContentHeaders) -> ContentRecord:
    return ContentRecord(
        content_type=headers.content_type, cache_control=headers.cache_control,
        content_disposition=headers.content_disposition,
        content_encoding=headers.content_encoding, content_language=headers.content_language,
    )


def content_headers(record: ContentRecord) -> pb.ContentHeaders:
    return pb.ContentHeaders(
        content_type=record.content_type or "binary/octet-stream",
        cache_control=record.cache_control, content_disposition=record.content_disposition,
        content_encoding=record.content_encoding, content_language=record.content_language,
    )


def object_info(bucket: str, key: str, v: ObjectVersion) -> pb.ObjectInfo:
    return pb.ObjectInfo(
        bucket=bucket, key=key, size=v.size, etag=f'"{v.etag}"',
        last_modified=timestamp(v.mtime_ns), headers=content_headers(v.content),
        metadata=dict(v.metadata), storage_class=v.storage_class or "STANDARD",
        version_id="" if v.version_id == "null" else v.version_id,
        checksum_crc32c=crc32c_b64(v.crc32c),
    )


def conditions(msg: pb.Conditions) -> Conditions:
    return Conditions(
        if_match=msg.if_match if msg.HasField("if_match") else None,
        if_none_match=msg.if_none_match if msg.HasField("if_none_match") else None,
        if_modified_since_ns=msg.if_modified_since.ToNanoseconds()
        if msg.HasField("if_modified_since") else None,
        if_unmodified_since_ns=msg.if_unmodified_since.ToNanoseconds()
        if msg.HasField("if_unmodified_since") else None,
    )
