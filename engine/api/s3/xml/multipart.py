"""Multipart upload and copy documents: InitiateMultipartUploadResult, the
CompleteMultipartUpload request and its result, ListMultipartUploadsResult,
ListPartsResult, CopyObjectResult and CopyPartResult.

The proto's CompletedPart has no checksums, so the per-part ``Checksum*`` elements of a
CompleteMultipartUpload body come back beside the request in :class:`CompleteUpload`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from google.protobuf.timestamp_pb2 import Timestamp

from engine.api.s3.xml.base import (
    COMPLETE_BODY,
    add,
    add_if,
    add_owner,
    encoder,
    encoding_type,
    parse,
    query_int,
    render,
    root,
)
from engine.errors import EngineError
from engine.objects.multipart import MAX_PARTS, check_part_number
from engine.v1 import objects_pb2 as pb

CHECKSUM_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


# --- CreateMultipartUpload -------------------------------------------------------------------


def initiate_result(resp: pb.CreateMultipartUploadResponse) -> bytes:
    doc = root("InitiateMultipartUploadResult")
    add(doc, "Bucket", resp.bucket)
    add(doc, "Key", resp.key)
    add(doc, "UploadId", resp.upload_id)
    return render(doc)


# --- CompleteMultipartUpload -----------------------------------------------------------------


@dataclass(frozen=True)
class CompleteUpload:
    """The parsed body: the gRPC request, and each part's checksums by algorithm name
    (``{1: {"CRC32C": "yZRlqg=="}}``) for the parts that sent any."""

    request: pb.CompleteMultipartUploadRequest
    checksums: dict[int, dict[str, str]] = field(default_factory=dict)


def parse_complete(body: bytes, bucket: str, key: str, upload_id: str) -> CompleteUpload:
    """At least one Part, each with PartNumber and ETag; numbers 1-10000 and ascending
    (InvalidPartOrder otherwise), as S3 requires."""
    doc = parse(body, "CompleteMultipartUpload", COMPLETE_BODY)
    parts = doc.children("Part")
    if not parts or len(parts) > MAX_PARTS:
        raise doc.fail()
    request = pb.CompleteMultipartUploadRequest(bucket=bucket, key=key, upload_id=upload_id)
    checksums: dict[int, dict[str, str]] = {}
    for part in parts:
        number, etag = part.integer("PartNumber"), part.token("ETag")
        if number is None or etag is None:
            raise doc.fail()
        check_part_number(number)
        request.parts.add(part_number=number, etag=etag)
        sums = {name: value for name in CHECKSUM_ALGORITHMS
                if (value := part.token(f"Checksum{name}"))}
        if sums:
            checksums[number] = sums
    if any(a.part_number >= b.part_number for a, b in pairwise(request.parts)):
        raise EngineError("InvalidPartOrder")
    return CompleteUpload(request, checksums)


def complete_result(resp: pb.CompleteMultipartUploadResponse, *, location: str = "",
                    checksum_type: str = "FULL_OBJECT",
                    checksum: tuple[str, str] | None = None) -> bytes:
    """``location`` overrides the response's (the REST layer knows the URL it was asked
    on); ``checksum_type`` accompanies a checksum: the engine combines the parts' CRC32Cs
    into the whole object's (FULL_OBJECT). ``checksum``: (algorithm, value) of the
    upload's own algorithm, answered instead of the CRC32C."""
    doc = root("CompleteMultipartUploadResult")
    add(doc, "Location", location or resp.location)
    add(doc, "Bucket", resp.bucket)
    add(doc, "Key", resp.key)
    add(doc, "ETag", resp.etag)
    algorithm, value = checksum if checksum is not None else ("CRC32C", resp.checksum_crc32c)
    add_if(doc, f"Checksum{algorithm}", value)
    if value:
        add_if(doc, "ChecksumType", checksum_type)
    return render(doc)


def _add_people(parent: ET.Element, owner: pb.Owner | None, initiator: pb.Owner | None
                ) -> None:
    """An upload's Initiator then Owner; the initiator defaults to the owner."""
    initiator = initiator or owner
    if initiator is not None:
        add_owner(parent, "Initiator", initiator.id, initiator.display_name)
    if owner is not None:
        add_owner(parent, "Owner", owner.id, owner.display_name)


# --- ListMultipartUploads --------------------------------------------------------------------


def list_uploads_request(bucket: str, query: Mapping[str, str]
                         ) -> tuple[pb.ListMultipartUploadsRequest, str]:
    """``GET /bucket?uploads&...``; upload-id-marker without key-marker is ignored, as S3
    documents."""
    max_uploads = query_int(query, "max-uploads")
    encoding = encoding_type(query)
    key_marker = query.get("key-marker", "")
    request = pb.ListMultipartUploadsRequest(
        bucket=bucket, prefix=query.get("prefix", ""), delimiter=query.get("delimiter", ""),
        key_marker=key_marker,
        upload_id_marker=query.get("upload-id-marker", "") if key_marker else "")
    if max_uploads is not None:
        request.max_uploads = max_uploads
    return request, encoding


def list_uploads_result(resp: pb.ListMultipartUploadsResponse, *, encoding: str = "",
                        owner: pb.Owner | None = None, initiator: pb.Owner | None = None
                        ) -> bytes:
    """Markers always present (empty when unset), Delimiter and Prefix only when set, as S3
    sends them; each upload names ``owner``, and ``initiator`` (default: the owner)."""
    enc = encoder(encoding)
    doc = root("ListMultipartUploadsResult")
    add(doc, "Bucket", resp.bucket)
    add(doc, "KeyMarker", enc(resp.key_marker))
    add(doc, "UploadIdMarker", resp.upload_id_marker)
    add(doc, "NextKeyMarker", enc(resp.next_key_marker))
    add(doc, "NextUploadIdMarker", resp.next_upload_id_marker)
    add_if(doc, "Delimiter", enc(resp.delimiter))
    add_if(doc, "Prefix", enc(resp.prefix))
    add(doc, "MaxUploads", resp.max_uploads)
    add_if(doc, "EncodingType", encoding)
    add(doc, "IsTruncated", resp.is_truncated)
    for upload in resp.uploads:
        entry = add(doc, "Upload")
        add(entry, "Key", enc(upload.key))
        add(entry, "UploadId", upload.upload_id)
        _add_people(entry, owner, initiator)
        add(entry, "StorageClass", upload.storage_class or "STANDARD")
        add(entry, "Initiated", upload.initiated)
    for prefix in resp.common_prefixes:
        add(add(doc, "CommonPrefixes"), "Prefix", enc(prefix))
    return render(doc)


# --- ListParts -------------------------------------------------------------------------------


def list_parts_request(bucket: str, key: str, query: Mapping[str, str]) -> pb.ListPartsRequest:
    """``GET /bucket/key?uploadId=...&max-parts=...&part-number-marker=...``."""
    max_parts = query_int(query, "max-parts")
    marker = query_int(query, "part-number-marker")
    request = pb.ListPartsRequest(bucket=bucket, key=key, upload_id=query.get("uploadId", ""),
                                  part_number_marker=marker or 0)
    if max_parts is not None:
        request.max_parts = max_parts
    return request


def list_parts_result(resp: pb.ListPartsResponse, *, owner: pb.Owner | None = None,
                      initiator: pb.Owner | None = None, algorithm: str = "",
                      checksum_type: str = "",
                      part_checksums: Mapping[int, str] | None = None) -> bytes:
    """``algorithm``/``checksum_type``: the upload's x-amz-checksum-algorithm and type,
    ``part_checksums`` each part's value in it, by part number."""
    doc = root("ListPartsResult")
    add(doc, "Bucket", resp.bucket)
    add(doc, "Key", resp.key)
    add(doc, "UploadId", resp.upload_id)
    _add_people(doc, owner, initiator)
    add(doc, "StorageClass", resp.storage_class or "STANDARD")
    add_if(doc, "ChecksumAlgorithm", algorithm)
    add_if(doc, "ChecksumType", checksum_type if algorithm else "")
    add(doc, "PartNumberMarker", resp.part_number_marker)
    if resp.is_truncated:
        add(doc, "NextPartNumberMarker", resp.next_part_number_marker)
    add(doc, "MaxParts", resp.max_parts)
    add(doc, "IsTruncated", resp.is_truncated)
    for part in resp.parts:
        entry = add(doc, "Part")
        add(entry, "PartNumber", part.part_number)
        add(entry, "LastModified", part.last_modified)
        add(entry, "ETag", part.etag)
        add(entry, "Size", part.size)
        add_if(entry, f"Checksum{algorithm}", (part_checksums or {}).get(part.part_number, ""))
    return render(doc)


# --- copies ----------------------------------------------------------------------------------


def _copy_result(name: str, etag: str, last_modified: Timestamp, checksum_crc32c: str) -> bytes:
    doc = root(name)
    add(doc, "LastModified", last_modified)
    add(doc, "ETag", etag)
    add_if(doc, "ChecksumCRC32C", checksum_crc32c)
    return render(doc)


def copy_object_result(resp: pb.CopyObjectResponse, *, checksum_crc32c: str = "") -> bytes:
    return _copy_result("CopyObjectResult", resp.etag, resp.last_modified, checksum_crc32c)


def copy_part_result(resp: pb.UploadPartCopyResponse, *, checksum_crc32c: str = "") -> bytes:
    return _copy_result("CopyPartResult", resp.etag, resp.last_modified, checksum_crc32c)

