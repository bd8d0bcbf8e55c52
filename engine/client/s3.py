"""The S3 client: boto3's S3 method names, parameters and response dicts over gRPC.

Code written against ``boto3.client("s3")`` for these operations runs unchanged against
``engine.client.client("s3", endpoint=...)``. Bodies stream both ways in 1 MiB chunks.
Buckets, objects and listings are here; multipart uploads, bucket configuration,
object subresources and the transfer manager (upload_file, ...) are mixins beside it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import grpc

from engine.client import convert
from engine.client.base import DEFAULT_TIMEOUT, ServiceClient
from engine.client.credentials import DEFAULT_REGION
from engine.client.errors import (
    S3_EXCEPTIONS,
    ParamValidationError,
    response_metadata,
)
from engine.client.paginate import PaginationModel
from engine.client.s3_bucket_config import BucketConfigMethods
from engine.client.s3_multipart import MultipartMethods
from engine.client.s3_permissions import PermissionMethods, acl_spec, grant_fields
from engine.client.s3_presign import PresignMethods, default_s3_endpoint
from engine.client.s3_subresources import SubresourceMethods
from engine.client.signing import Clock
from engine.client.streaming import StreamingBody, upload_body
from engine.client.transfer import TransferMethods
from engine.client.transport import DEFAULT_ENDPOINT, normalize_endpoint
from engine.sigv4 import Credentials
from engine.v1 import objects_pb2 as pb
from engine.v1 import objects_pb2_grpc

_PAGINATORS = {
    "list_objects_v2": PaginationModel(
        input_token="ContinuationToken",
        output_token="NextContinuationToken",
        more_results="IsTruncated",
        limit_key="MaxKeys",
        result_keys=("Contents", "CommonPrefixes"),
    ),
    "list_object_versions": PaginationModel(
        input_token=("KeyMarker", "VersionIdMarker"),
        output_token=("NextKeyMarker", "NextVersionIdMarker"),
        more_results="IsTruncated",
        limit_key="MaxKeys",
        result_keys=("Versions", "DeleteMarkers", "CommonPrefixes"),
    ),
    "list_parts": PaginationModel(
        input_token="PartNumberMarker",
        output_token="NextPartNumberMarker",
        more_results="IsTruncated",
        limit_key="MaxParts",
        result_keys=("Parts",),
    ),
    "list_multipart_uploads": PaginationModel(
        input_token=("KeyMarker", "UploadIdMarker"),
        output_token=("NextKeyMarker", "NextUploadIdMarker"),
        more_results="IsTruncated",
        limit_key="MaxUploads",
        result_keys=("Uploads", "CommonPrefixes"),
    ),
}

ReadRequest = TypeVar("ReadRequest", pb.GetObjectRequest, pb.HeadObjectRequest)


class S3Client(MultipartMethods, BucketConfigMethods, SubresourceMethods, PermissionMethods,
               TransferMethods, PresignMethods, ServiceClient):
    """An S3 client bound to one endpoint; thread-safe, one gRPC channel, reusable.

    ``s3_endpoint_url`` is the HTTP S3 endpoint presigned URLs point at (default: the
    gRPC endpoint's host, port 9000).
    """

    PAGINATORS = _PAGINATORS

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        channel: grpc.Channel | None = None,
        credentials: Credentials | None = None,
        region_name: str = DEFAULT_REGION,
        clock: Clock = time.time,
        s3_endpoint_url: str | None = None,
    ) -> None:
        super().__init__(endpoint, timeout=timeout, channel=channel, exceptions=S3_EXCEPTIONS,
                         credentials=credentials, region_name=region_name, clock=clock)
        self._s3_endpoint_url = (s3_endpoint_url or default_s3_endpoint(
            normalize_endpoint(endpoint)[0])).rstrip("/")
        self._stub = objects_pb2_grpc.ObjectStoreStub(self._channel)

    # -- buckets -----------------------------------------------------------------------

    def create_bucket(
        self,
        *,
        Bucket: str,
        CreateBucketConfiguration: Mapping[str, Any] | None = None,
        ACL: str | None = None,
        ObjectOwnership: str | None = None,
        GrantFullControl: str | None = None,
        GrantRead: str | None = None,
        GrantReadACP: str | None = None,
        GrantWrite: str | None = None,
        GrantWriteACP: str | None = None,
    ) -> dict[str, Any]:
        """Create a bucket: ObjectOwnership BucketOwnerEnforced (ACLs off) and Block Public
        Access all on unless changed, as S3 creates them."""
        config = CreateBucketConfiguration or {}
        resp = self._calls.unary(
            "CreateBucket",
            self._stub.CreateBucket,
            pb.CreateBucketRequest(
                bucket=Bucket, location_constraint=config.get("LocationConstraint") or "",
                acl=acl_spec(ACL, grant_fields(GrantFullControl, GrantRead, GrantReadACP,
                                               GrantWrite, GrantWriteACP)),
                object_ownership=ObjectOwnership or "",
            ),
        )
        return {"ResponseMetadata": response_metadata(200), "Location": resp.location}

    def delete_bucket(self, *, Bucket: str) -> dict[str, Any]:
        self._calls.unary(
            "DeleteBucket", self._stub.DeleteBucket, pb.DeleteBucketRequest(bucket=Bucket)
        )
        return {"ResponseMetadata": response_metadata(204)}

    def head_bucket(self, *, Bucket: str) -> dict[str, Any]:
        resp = self._calls.unary(
            "HeadBucket", self._stub.HeadBucket, pb.HeadBucketRequest(bucket=Bucket),
            no_body=True,
        )
        return {
            "ResponseMetadata": response_metadata(200),
            "BucketRegion": resp.bucket_region,
            "AccessPointAlias": False,
        }

    def list_buckets(self) -> dict[str, Any]:
        resp = self._calls.unary("ListBuckets", self._stub.ListBuckets, pb.ListBucketsRequest())
        return {
            "ResponseMetadata": response_metadata(200),
            "Buckets": [
                {"Name": b.name, "CreationDate": convert.xml_date(b.creation_date)}
                for b in resp.buckets
            ],
            "Owner": {"DisplayName": resp.owner_display_name, "ID": resp.owner_id},
        }

    # -- objects: write ----------------------------------------------------------------

    def put_object(
        self,
        *,
        Bucket: str,
        Key: str,
        Body: Any = None,
        Metadata: Mapping[str, str] | None = None,
        ContentType: str | None = None,
        CacheControl: str | None = None,
        ContentDisposition: str | None = None,
        ContentEncoding: str | None = None,
        ContentLanguage: str | None = None,
        ContentLength: int | None = None,
        ContentMD5: str | None = None,
        ChecksumCRC32C: str | None = None,
        StorageClass: str | None = None,
        IfMatch: str | None = None,
        IfNoneMatch: str | None = None,
        Tagging: str | None = None,
        ACL: str | None = None,
        GrantFullControl: str | None = None,
        GrantRead: str | None = None,
        GrantReadACP: str | None = None,
        GrantWriteACP: str | None = None,
    ) -> dict[str, Any]:
        """Upload ``Body`` (bytes, str or binary file) streamed in 1 MiB chunks.

        ``Tagging`` is URL-encoded (``"k1=v1&k2=v2"``), as boto3 takes it."""
        header = pb.PutObjectHeader(
            bucket=Bucket,
            key=Key,
            headers=convert.content_headers(
                ContentType, CacheControl, ContentDisposition, ContentEncoding, ContentLanguage
            ),
            metadata=dict(Metadata or {}),
            content_md5=ContentMD5 or "",
            storage_class=StorageClass or "",
            checksum_crc32c=ChecksumCRC32C or "",
            tagging=Tagging or "",
            acl=acl_spec(ACL, grant_fields(GrantFullControl, GrantRead, GrantReadACP, None,
                                           GrantWriteACP)),
        )
        if IfMatch is not None:
            header.if_match = IfMatch
        if IfNoneMatch is not None:
            header.if_none_match = IfNoneMatch
        resp = upload_body(self._calls, "PutObject", self._stub.PutObject, pb.PutObjectRequest,
                           header, Body, ContentLength)
        out = convert.upload_result(resp)
        if resp.version_id:
            out["VersionId"] = resp.version_id
        return out

    def copy_object(
        self,
        *,
        Bucket: str,
        Key: str,
        CopySource: str | Mapping[str, str],
        MetadataDirective: str | None = None,
        Metadata: Mapping[str, str] | None = None,
        ContentType: str | None = None,
        CacheControl: str | None = None,
        ContentDisposition: str | None = None,
        ContentEncoding: str | None = None,
        ContentLanguage: str | None = None,
        StorageClass: str | None = None,
        CopySourceIfMatch: str | None = None,
        CopySourceIfNoneMatch: str | None = None,
        CopySourceIfModifiedSince: convert.DateLike | None = None,
        CopySourceIfUnmodifiedSince: convert.DateLike | None = None,
        TaggingDirective: str | None = None,
        Tagging: str | None = None,
        ACL: str | None = None,
        GrantFullControl: str | None = None,
        GrantRead: str | None = None,
        GrantReadACP: str | None = None,
        GrantWriteACP: str | None = None,
    ) -> dict[str, Any]:
        """Server-side copy; headers and Metadata apply with MetadataDirective=REPLACE,
        Tagging (URL-encoded) with TaggingDirective=REPLACE."""
        source = convert.copy_source(CopySource, CopySourceIfMatch, CopySourceIfNoneMatch,
                                     CopySourceIfModifiedSince, CopySourceIfUnmodifiedSince)
        resp = self._calls.unary(
            "CopyObject",
            self._stub.CopyObject,
            pb.CopyObjectRequest(
                **source,
                bucket=Bucket,
                key=Key,
                metadata_directive=MetadataDirective or "",
                headers=convert.content_headers(
                    ContentType, CacheControl, ContentDisposition, ContentEncoding,
                    ContentLanguage,
                ),
                metadata=dict(Metadata or {}),
                storage_class=StorageClass or "",
                tagging_directive=TaggingDirective or "",
                tagging=Tagging or "",
                acl=acl_spec(ACL, grant_fields(GrantFullControl, GrantRead, GrantReadACP,
                                               None, GrantWriteACP)),
            ),
        )
        out: dict[str, Any] = {
            "ResponseMetadata": response_metadata(200),
            "CopyObjectResult": {
                "ETag": resp.etag,
                "LastModified": convert.xml_date(resp.last_modified),
            },
        }
        if resp.version_id:
            out["VersionId"] = resp.version_id
        if resp.copy_source_version_id:
            out["CopySourceVersionId"] = resp.copy_source_version_id
        return out

    def delete_object(
        self, *, Bucket: str, Key: str, VersionId: str | None = None
    ) -> dict[str, Any]:
        resp = self._calls.unary(
            "DeleteObject",
            self._stub.DeleteObject,
            pb.DeleteObjectRequest(bucket=Bucket, key=Key, version_id=VersionId or ""),
        )
        out: dict[str, Any] = {"ResponseMetadata": response_metadata(204)}
        if resp.delete_marker:
            out["DeleteMarker"] = True
        if resp.version_id:
            out["VersionId"] = resp.version_id
        return out

    def delete_objects(self, *, Bucket: str, Delete: Mapping[str, Any]) -> dict[str, Any]:
        """Delete up to 1000 keys; per-key failures come back in Errors, not raised."""
        if "Objects" not in Delete:
            raise ParamValidationError('Missing required parameter in Delete: "Objects"')
        objects: Sequence[Mapping[str, str]] = Delete["Objects"]
        for i, o in enumerate(objects):
            if not isinstance(o, Mapping) or "Key" not in o:
                raise ParamValidationError(
                    f'Missing required parameter in Delete.Objects[{i}]: "Key"'
                )
        resp = self._calls.unary(
            "DeleteObjects",
            self._stub.DeleteObjects,
            pb.DeleteObjectsRequest(
                bucket=Bucket,
                objects=[
                    pb.ObjectIdentifier(key=o["Key"], version_id=o.get("VersionId") or "")
                    for o in objects
                ],
                quiet=bool(Delete.get("Quiet", False)),
            ),
        )
        out: dict[str, Any] = {"ResponseMetadata": response_metadata(200)}
        deleted = []
        for d in resp.deleted:
            item: dict[str, Any] = {"Key": d.key}
            if d.version_id:
                item["VersionId"] = d.version_id
            if d.delete_marker:
                item["DeleteMarker"] = True
            if d.delete_marker_version_id:
                item["DeleteMarkerVersionId"] = d.delete_marker_version_id
            deleted.append(item)
        errors = []
        for e in resp.errors:
            err: dict[str, Any] = {"Key": e.key, "Code": e.code, "Message": e.message}
            if e.version_id:
                err["VersionId"] = e.version_id
            errors.append(err)
        if deleted:
            out["Deleted"] = deleted
        if errors:
            out["Errors"] = errors
        return out

    # -- objects: read -----------------------------------------------------------------

    def get_object(
        self,
        *,
        Bucket: str,
        Key: str,
        Range: str | None = None,
        VersionId: str | None = None,
        IfMatch: str | None = None,
        IfNoneMatch: str | None = None,
        IfModifiedSince: convert.DateLike | None = None,
        IfUnmodifiedSince: convert.DateLike | None = None,
        ChecksumMode: str | None = None,
        PartNumber: int | None = None,
    ) -> dict[str, Any]:
        """Open the object; ``Body`` pulls its bytes from the server as it is read."""
        request = self._read_request(
            pb.GetObjectRequest(), Bucket, Key, Range, VersionId, PartNumber,
            convert.conditions(IfMatch, IfNoneMatch, IfModifiedSince, IfUnmodifiedSince),
        )
        header, chunks, cancel = self._calls.download(
            "GetObject", self._stub.GetObject, request
        )
        body = StreamingBody(chunks, header.content_length, cancel)
        out = self._read_response(header.info, header.content_length, header.content_range,
                                  checksum=ChecksumMode == "ENABLED", tag_count=True)
        out["Body"] = body
        return out

    @staticmethod
    def _read_request(
        request: ReadRequest, bucket: str, key: str, range_: str | None,
        version_id: str | None, part_number: int | None, conditions: pb.Conditions,
    ) -> ReadRequest:
        """GetObject and HeadObject requests have the same fields."""
        request.bucket, request.key, request.version_id = bucket, key, version_id or ""
        request.part_number = part_number or 0
        request.conditions.CopyFrom(conditions)
        if range_ is not None:
            request.range = range_
        return request

    @staticmethod
    def _read_response(
        info: pb.ObjectInfo, length: int, content_range: str, *, checksum: bool,
        tag_count: bool = False,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ResponseMetadata": response_metadata(206 if content_range else 200),
            "ContentLength": length,
        }
        out.update(convert.object_fields(info, checksum=checksum, tag_count=tag_count))
        if content_range:
            out["ContentRange"] = content_range
        return out

    def head_object(
        self,
        *,
        Bucket: str,
        Key: str,
        Range: str | None = None,
        VersionId: str | None = None,
        IfMatch: str | None = None,
        IfNoneMatch: str | None = None,
        IfModifiedSince: convert.DateLike | None = None,
        IfUnmodifiedSince: convert.DateLike | None = None,
        ChecksumMode: str | None = None,
        PartNumber: int | None = None,
    ) -> dict[str, Any]:
        """GET without the body; errors carry the bare HTTP status as their Code."""
        request = self._read_request(
            pb.HeadObjectRequest(), Bucket, Key, Range, VersionId, PartNumber,
            convert.conditions(IfMatch, IfNoneMatch, IfModifiedSince, IfUnmodifiedSince),
        )
        resp = self._calls.unary("HeadObject", self._stub.HeadObject, request, no_body=True)
        return self._read_response(resp.info, resp.content_length, resp.content_range,
                                   checksum=ChecksumMode == "ENABLED")

    # -- listing -----------------------------------------------------------------------

    def list_objects_v2(
        self,
        *,
        Bucket: str,
        Prefix: str | None = None,
        Delimiter: str | None = None,
        MaxKeys: int | None = None,
        ContinuationToken: str | None = None,
        StartAfter: str | None = None,
        FetchOwner: bool | None = None,
    ) -> dict[str, Any]:
        request = pb.ListObjectsV2Request(
            bucket=Bucket,
            prefix=Prefix or "",
            delimiter=Delimiter or "",
            continuation_token=ContinuationToken or "",
            start_after=StartAfter or "",
            fetch_owner=bool(FetchOwner),
        )
        if MaxKeys is not None:
            request.max_keys = MaxKeys
        resp = self._calls.unary("ListObjectsV2", self._stub.ListObjectsV2, request)
        out: dict[str, Any] = {
            "ResponseMetadata": response_metadata(200),
            "IsTruncated": resp.is_truncated,
            "Name": resp.name,
            "Prefix": resp.prefix,
            "MaxKeys": resp.max_keys,
            "KeyCount": resp.key_count,
        }
        if resp.contents:
            out["Contents"] = [
                {
                    "Key": o.key,
                    "LastModified": convert.xml_date(o.last_modified),
                    "ETag": o.etag,
                    "Size": o.size,
                    "StorageClass": o.storage_class or "STANDARD",
                    **({"Owner": {"DisplayName": o.owner_display_name, "ID": o.owner_id}}
                       if o.owner_id else {}),
                }
                for o in resp.contents
            ]
        if resp.delimiter:
            out["Delimiter"] = resp.delimiter
        if resp.common_prefixes:
            out["CommonPrefixes"] = [{"Prefix": p} for p in resp.common_prefixes]
        if resp.continuation_token:
            out["ContinuationToken"] = resp.continuation_token
        if resp.next_continuation_token:
            out["NextContinuationToken"] = resp.next_continuation_token
        if resp.start_after:
            out["StartAfter"] = resp.start_after
        return out

    def list_object_versions(
        self,
        *,
        Bucket: str,
        Prefix: str | None = None,
        Delimiter: str | None = None,
        KeyMarker: str | None = None,
        VersionIdMarker: str | None = None,
        MaxKeys: int | None = None,
    ) -> dict[str, Any]:
        """Versions and delete markers, as boto3 splits them (two lists, each in order)."""
        request = pb.ListObjectVersionsRequest(
            bucket=Bucket,
            prefix=Prefix or "",
            delimiter=Delimiter or "",
            key_marker=KeyMarker or "",
            version_id_marker=VersionIdMarker or "",
        )
        if MaxKeys is not None:
            request.max_keys = MaxKeys
        resp = self._calls.unary("ListObjectVersions", self._stub.ListObjectVersions, request)
        out: dict[str, Any] = {
            "ResponseMetadata": response_metadata(200),
            "IsTruncated": resp.is_truncated,
            "KeyMarker": resp.key_marker,
            "VersionIdMarker": resp.version_id_marker,
            "Name": resp.name,
            "Prefix": resp.prefix,
            "MaxKeys": resp.max_keys,
        }
        if resp.is_truncated:
            out["NextKeyMarker"] = resp.next_key_marker
            out["NextVersionIdMarker"] = resp.next_version_id_marker
        versions = [convert.version_summary(v) for v in resp.versions if not v.delete_marker]
        markers = [convert.version_summary(v) for v in resp.versions if v.delete_marker]
        if versions:
            out["Versions"] = versions
        if markers:
            out["DeleteMarkers"] = markers
        if resp.delimiter:
            out["Delimiter"] = resp.delimiter
        if resp.common_prefixes:
            out["CommonPrefixes"] = [{"Prefix": p} for p in resp.common_prefixes]
        return out
