"""Bucket listings: ListObjects (v1), ListObjectsV2 and ListObjectVersions.

Each listing has a query function (S3's query parameters, validated as S3 validates them,
into the gRPC request plus the ``encoding-type`` to answer with) and a result function
(the gRPC response into S3's document). Element order and omission follow what S3 sends:
v1 always carries ``Marker`` and gives ``NextMarker`` only with a delimiter; v2 echoes
``StartAfter``/``ContinuationToken`` only when they were sent; ``Delimiter`` only when set.
Under ``encoding-type=url`` keys, prefixes, delimiters and markers are encoded, tokens and
version ids are not.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from engine.api.s3.xml.base import (
    add,
    add_if,
    add_owner,
    encoder,
    encoding_type,
    invalid_argument,
    query_bool,
    query_int,
    render,
    root,
)
from engine.v1 import objects_pb2 as pb

_V2_ONLY = (("continuation-token",
             "continuation-token only supported in REST.GET.BUCKET with list-type=2"),
            ("start-after", "startAfter only supported in REST.GET.BUCKET with list-type=2"))


def _max_keys(query: Mapping[str, str]) -> int | None:
    return query_int(query, "max-keys", range_name="maxKeys")


# --- ListObjectsV2 -------------------------------------------------------------------------


def list_objects_v2_request(bucket: str, query: Mapping[str, str]
                            ) -> tuple[pb.ListObjectsV2Request, str]:
    """``GET /bucket?list-type=2&...``: the request and the encoding-type to answer with."""
    if "marker" in query:
        raise invalid_argument("Marker unsupported with REST.GET.BUCKET in list-type=2",
                               "marker")
    max_keys = _max_keys(query)
    encoding = encoding_type(query)
    token = query.get("continuation-token")
    if token is not None and not token:
        raise invalid_argument("The continuation token provided is incorrect",
                               "continuation-token")
    request = pb.ListObjectsV2Request(
        bucket=bucket, prefix=query.get("prefix", ""), delimiter=query.get("delimiter", ""),
        continuation_token=token or "", start_after=query.get("start-after", ""),
        fetch_owner=query_bool(query, "fetch-owner"))
    if max_keys is not None:
        request.max_keys = max_keys
    return request, encoding


def _contents(parent: ET.Element, item: pb.ObjectSummary, key: str) -> None:
    contents = add(parent, "Contents")
    add(contents, "Key", key)
    add(contents, "LastModified", item.last_modified)
    add(contents, "ETag", item.etag)
    add_if(contents, "ChecksumAlgorithm", item.checksum_algorithm)
    add(contents, "Size", item.size)
    add_owner(contents, "Owner", item.owner_id, item.owner_display_name)
    add(contents, "StorageClass", item.storage_class or "STANDARD")


def list_objects_v2_result(resp: pb.ListObjectsV2Response, *, encoding: str = "") -> bytes:
    enc = encoder(encoding)
    doc = root("ListBucketResult")
    add(doc, "Name", resp.name)
    add(doc, "Prefix", enc(resp.prefix))
    if not resp.continuation_token:
        add_if(doc, "StartAfter", enc(resp.start_after))
    add_if(doc, "ContinuationToken", resp.continuation_token)
    if resp.is_truncated:
        add_if(doc, "NextContinuationToken", resp.next_continuation_token)
    add(doc, "KeyCount", resp.key_count)
    add(doc, "MaxKeys", resp.max_keys)
    add_if(doc, "Delimiter", enc(resp.delimiter))
    add_if(doc, "EncodingType", encoding)
    add(doc, "IsTruncated", resp.is_truncated)
    for item in resp.contents:
        _contents(doc, item, enc(item.key))
    for prefix in resp.common_prefixes:
        add(add(doc, "CommonPrefixes"), "Prefix", enc(prefix))
    return render(doc)


# --- ListObjects (v1) ------------------------------------------------------------------------


def list_objects_v1_request(bucket: str, query: Mapping[str, str]
                            ) -> tuple[pb.ListObjectsV2Request, str]:
    """``GET /bucket?marker=...``: v1 is v2 resuming after ``marker``, with owners, as S3
    lists them (a marker naming a common prefix resumes past that whole prefix)."""
    for name, message in _V2_ONLY:
        if name in query:
            raise invalid_argument(message, name)
    max_keys = _max_keys(query)
    encoding = encoding_type(query)
    request = pb.ListObjectsV2Request(
        bucket=bucket, prefix=query.get("prefix", ""), delimiter=query.get("delimiter", ""),
        start_after=query.get("marker", ""), fetch_owner=True)
    if max_keys is not None:
        request.max_keys = max_keys
    return request, encoding


def next_marker(resp: pb.ListObjectsV2Response) -> str:
    """v1's NextMarker: the last entry of a truncated delimited page, key or prefix."""
    if not (resp.is_truncated and resp.delimiter):
        return ""
    last = [resp.contents[-1].key] if resp.contents else []
    last += resp.common_prefixes[-1:]
    return max(last, default="")


def list_objects_v1_result(resp: pb.ListObjectsV2Response, *, encoding: str = "") -> bytes:
    """The v1 page from the v2 response its request produced (``start_after`` is Marker)."""
    enc = encoder(encoding)
    doc = root("ListBucketResult")
    add(doc, "Name", resp.name)
    add(doc, "Prefix", enc(resp.prefix))
    add(doc, "Marker", enc(resp.start_after))
    add_if(doc, "NextMarker", enc(next_marker(resp)))
    add(doc, "MaxKeys", resp.max_keys)
    add_if(doc, "Delimiter", enc(resp.delimiter))
    add_if(doc, "EncodingType", encoding)
    add(doc, "IsTruncated", resp.is_truncated)
    for item in resp.contents:
        _contents(doc, item, enc(item.key))
    for prefix in resp.common_prefixes:
        add(add(doc, "CommonPrefixes"), "Prefix", enc(prefix))
    return render(doc)


# --- ListObjectVersions ----------------------------------------------------------------------


def list_object_versions_request(bucket: str, query: Mapping[str, str]
                                 ) -> tuple[pb.ListObjectVersionsRequest, str]:
    """``GET /bucket?versions&...``."""
    max_keys = _max_keys(query)
    encoding = encoding_type(query)
    key_marker = query.get("key-marker", "")
    version_marker = query.get("version-id-marker", "")
    if version_marker and not key_marker:
        raise invalid_argument("A version-id marker cannot be specified without a key marker.",
                               "version-id-marker", version_marker)
    request = pb.ListObjectVersionsRequest(
        bucket=bucket, prefix=query.get("prefix", ""), delimiter=query.get("delimiter", ""),
        key_marker=key_marker, version_id_marker=version_marker)
    if max_keys is not None:
        request.max_keys = max_keys
    return request, encoding


def list_versions_result(resp: pb.ListObjectVersionsResponse, *, encoding: str = "",
                         owner: pb.Owner | None = None) -> bytes:
    """Versions and delete markers interleaved in the response's order (key ascending,
    newest first), each with the bucket owner S3 names beside it."""
    enc = encoder(encoding)
    doc = root("ListVersionsResult")
    add(doc, "Name", resp.name)
    add(doc, "Prefix", enc(resp.prefix))
    add(doc, "KeyMarker", enc(resp.key_marker))
    add(doc, "VersionIdMarker", resp.version_id_marker)
    if resp.is_truncated:
        add_if(doc, "NextKeyMarker", enc(resp.next_key_marker))
        add_if(doc, "NextVersionIdMarker", resp.next_version_id_marker)
    add(doc, "MaxKeys", resp.max_keys)
    add_if(doc, "Delimiter", enc(resp.delimiter))
    add_if(doc, "EncodingType", encoding)
    add(doc, "IsTruncated", resp.is_truncated)
    for version in resp.versions:
        entry = add(doc, "DeleteMarker" if version.delete_marker else "Version")
        add(entry, "Key", enc(version.key))
        add(entry, "VersionId", version.version_id or "null")
        add(entry, "IsLatest", version.is_latest)
        add(entry, "LastModified", version.last_modified)
        if not version.delete_marker:
            add(entry, "ETag", version.etag)
            add_if(entry, "ChecksumAlgorithm", version.checksum_algorithm)
            add(entry, "Size", version.size)
            add(entry, "StorageClass", version.storage_class or "STANDARD")
        if owner is not None:
            add_owner(entry, "Owner", owner.id, owner.display_name)
    for prefix in resp.common_prefixes:
        add(add(doc, "CommonPrefixes"), "Prefix", enc(prefix))
    return render(doc)

