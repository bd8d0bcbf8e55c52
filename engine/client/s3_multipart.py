"""S3 multipart upload methods, with boto3's names, parameters and response dicts.

Mixed into :class:`engine.client.s3.S3Client`; parts stream like PutObject bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.client import convert
from engine.client.calls import Caller
from engine.client.errors import response_metadata
from engine.client.s3_permissions import acl_spec, grant_fields
from engine.client.shapes import ListOf, Struct, validate
from engine.client.streaming import upload_body
from engine.v1 import objects_pb2 as pb
from engine.v1 import objects_pb2_grpc

_COMPLETED_PART = Struct({
    "ETag": str, "ChecksumCRC32": str, "ChecksumCRC32C": str, "ChecksumCRC64NVME": str,
    "ChecksumSHA1": str, "ChecksumSHA256": str, "PartNumber": int,
})
MULTIPART_UPLOAD = Struct({"Parts": ListOf(_COMPLETED_PART)})


class MultipartMethods:
    """create/upload/copy/complete/abort/list: S3's multipart upload API."""

    _calls: Caller
    _stub: objects_pb2_grpc.ObjectStoreStub

    def create_multipart_upload(
        self,
        *,
        Bucket: str,
        Key: str,
        Metadata: Mapping[str, str] | None = None,
        ContentType: str | None = None,
        CacheControl: str | None = None,
        ContentDisposition: str | None = None,
        ContentEncoding: str | None = None,
        ContentLanguage: str | None = None,
        StorageClass: str | None = None,
        Tagging: str | None = None,
        ACL: str | None = None,
        GrantFullControl: str | None = None,
        GrantRead: str | None = None,
        GrantReadACP: str | None = None,
        GrantWriteACP: str | None = None,
    ) -> dict[str, Any]:
        """Start an upload; the object takes these headers, metadata, tags and ACL on
        completion."""
        resp = self._calls.unary(
            "CreateMultipartUpload",
            self._stub.CreateMultipartUpload,
            pb.CreateMultipartUploadRequest(
                bucket=Bucket,
                key=Key,
                headers=convert.content_headers(
                    ContentType, CacheControl, ContentDisposition, ContentEncoding,
                    ContentLanguage,
                ),
                metadata=dict(Metadata or {}),
                storage_class=StorageClass or "",
                tagging=Tagging or "",
                acl=acl_spec(ACL, grant_fields(GrantFullControl, GrantRead, GrantReadACP,
                                               None, GrantWriteACP)),
            ),
        )
        return {
            "ResponseMetadata": response_metadata(200),
            "Bucket": resp.bucket,
            "Key": resp.key,
            "UploadId": resp.upload_id,
        }

    def upload_part(
        self,
        *,
        Bucket: str,
        Key: str,
        PartNumber: int,
        UploadId: str,
        Body: Any = None,
        ContentLength: int | None = None,
        ContentMD5: str | None = None,
        ChecksumCRC32C: str | None = None,
    ) -> dict[str, Any]:
        """Upload one part (1-10000), streamed in 1 MiB chunks like put_object's Body."""
        header = pb.UploadPartHeader(
            bucket=Bucket,
            key=Key,
            upload_id=UploadId,
            part_number=PartNumber,
            content_md5=ContentMD5 or "",
            checksum_crc32c=ChecksumCRC32C or "",
        )
        resp = upload_body(self._calls, "UploadPart", self._stub.UploadPart,
                           pb.UploadPartRequest, header, Body, ContentLength)
        return convert.upload_result(resp)

    def upload_part_copy(
        self,
        *,
        Bucket: str,
        Key: str,
        CopySource: str | Mapping[str, str],
        PartNumber: int,
        UploadId: str,
        CopySourceRange: str | None = None,
        CopySourceIfMatch: str | None = None,
        CopySourceIfNoneMatch: str | None = None,
        CopySourceIfModifiedSince: convert.DateLike | None = None,
        CopySourceIfUnmodifiedSince: convert.DateLike | None = None,
    ) -> dict[str, Any]:
        """A part copied server-side from an object, whole or ``bytes=first-last``."""
        source = convert.copy_source(CopySource, CopySourceIfMatch, CopySourceIfNoneMatch,
                                     CopySourceIfModifiedSince, CopySourceIfUnmodifiedSince)
        resp = self._calls.unary(
            "UploadPartCopy",
            self._stub.UploadPartCopy,
            pb.UploadPartCopyRequest(
                **source,
                bucket=Bucket,
                key=Key,
                upload_id=UploadId,
                part_number=PartNumber,
                source_range=CopySourceRange or "",
            ),
        )
        out: dict[str, Any] = {"ResponseMetadata": response_metadata(200)}
        if resp.copy_source_version_id:
            out["CopySourceVersionId"] = resp.copy_source_version_id
        out["CopyPartResult"] = {
            "ETag": resp.etag,
            "LastModified": convert.xml_date(resp.last_modified),
        }
        return out

    def complete_multipart_upload(
        self,
        *,
        Bucket: str,
        Key: str,
        UploadId: str,
        MultipartUpload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Assemble the listed parts (ascending PartNumber, each with its ETag)."""
        upload = MultipartUpload or {}
        validate(upload, MULTIPART_UPLOAD, "MultipartUpload")
        resp = self._calls.unary(
            "CompleteMultipartUpload",
            self._stub.CompleteMultipartUpload,
            pb.CompleteMultipartUploadRequest(
                bucket=Bucket,
                key=Key,
                upload_id=UploadId,
                parts=[
                    pb.CompletedPart(part_number=p.get("PartNumber", 0), etag=p.get("ETag", ""))
                    for p in upload.get("Parts", ())
                ],
            ),
        )
        out: dict[str, Any] = {
            "ResponseMetadata": response_metadata(200),
            "Location": resp.location,
            "Bucket": resp.bucket,
            "Key": resp.key,
            "ETag": resp.etag,
        }
        if resp.checksum_crc32c:
            out["ChecksumCRC32C"] = resp.checksum_crc32c
        out.update(convert.version_id(resp.version_id))
        return out

    def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str) -> dict[str, Any]:
        self._calls.unary(
            "AbortMultipartUpload",
            self._stub.AbortMultipartUpload,
            pb.AbortMultipartUploadRequest(bucket=Bucket, key=Key, upload_id=UploadId),
        )
        return {"ResponseMetadata": response_metadata(204)}

    def list_parts(
        self,
        *,
        Bucket: str,
        Key: str,
        UploadId: str,
        MaxParts: int | None = None,
        PartNumberMarker: int | str | None = None,
    ) -> dict[str, Any]:
        request = pb.ListPartsRequest(
            bucket=Bucket, key=Key, upload_id=UploadId,
            part_number_marker=int(PartNumberMarker or 0),
        )
        if MaxParts is not None:
            request.max_parts = MaxParts
        resp = self._calls.unary("ListParts", self._stub.ListParts, request)
        out: dict[str, Any] = {
            "ResponseMetadata": response_metadata(200),
            "Bucket": resp.bucket,
            "Key": resp.key,
            "UploadId": resp.upload_id,
            "PartNumberMarker": resp.part_number_marker,
            "NextPartNumberMarker": resp.next_part_number_marker,
            "MaxParts": resp.max_parts,
            "IsTruncated": resp.is_truncated,
            "StorageClass": resp.storage_class or "STANDARD",
        }
        if resp.parts:
            out["Parts"] = [
                {
                    "PartNumber": p.part_number,
                    "LastModified": convert.xml_date(p.last_modified),
                    "ETag": p.etag,
                    "Size": p.size,
                }
                for p in resp.parts
            ]
        return out

    def list_multipart_uploads(
        self,
        *,
        Bucket: str,
        Delimiter: str | None = None,
        KeyMarker: str | None = None,
        MaxUploads: int | None = None,
        Prefix: str | None = None,
        UploadIdMarker: str | None = None,
    ) -> dict[str, Any]:
        request = pb.ListMultipartUploadsRequest(
            bucket=Bucket, prefix=Prefix or "", delimiter=Delimiter or "",
            key_marker=KeyMarker or "", upload_id_marker=UploadIdMarker or "",
        )
        if MaxUploads is not None:
            request.max_uploads = MaxUploads
        resp = self._calls.unary(
            "ListMultipartUploads", self._stub.ListMultipartUploads, request
        )
        out: dict[str, Any] = {
            "ResponseMetadata": response_metadata(200),
            "Bucket": resp.bucket,
            "KeyMarker": resp.key_marker,
            "UploadIdMarker": resp.upload_id_marker,
            "NextKeyMarker": resp.next_key_marker,
            "NextUploadIdMarker": resp.next_upload_id_marker,
            "Prefix": resp.prefix,
            "MaxUploads": resp.max_uploads,
            "IsTruncated": resp.is_truncated,
        }
        if resp.delimiter:
            out["Delimiter"] = resp.delimiter
        if resp.uploads:
            out["Uploads"] = [
                {
                    "UploadId": u.upload_id,
                    "Key": u.key,
                    "Initiated": convert.xml_date(u.initiated),
                    "StorageClass": u.storage_class or "STANDARD",
                }
                for u in resp.uploads
            ]
        if resp.common_prefixes:
            out["CommonPrefixes"] = [{"Prefix": p} for p in resp.common_prefixes]
        return out
