"""S3 object subresource methods (tagging, restore) with boto3's shapes.

Mixed into :class:`engine.client.s3.S3Client`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.client import convert
from engine.client.calls import Caller
from engine.client.errors import response_metadata
from engine.client.shapes import Anything, ListOf, Struct, validate
from engine.v1 import objects_pb2 as pb
from engine.v1 import objects_pb2_grpc

TAG = Struct({"Key": str, "Value": str}, required=("Key", "Value"))
TAGGING = Struct({"TagSet": ListOf(TAG)}, required=("TagSet",))
RESTORE_REQUEST = Struct({
    "Days": int,
    "GlacierJobParameters": Struct({"Tier": str}, required=("Tier",)),
    "Type": str,
    "Tier": str,
    "Description": str,
    "SelectParameters": Anything,
    "OutputLocation": Anything,
})


class SubresourceMethods:
    """put/get/delete_object_tagging and restore_object."""

    _calls: Caller
    _stub: objects_pb2_grpc.ObjectStoreStub

    def put_object_tagging(
        self,
        *,
        Bucket: str,
        Key: str,
        Tagging: Mapping[str, Any],
        VersionId: str | None = None,
    ) -> dict[str, Any]:
        """Replace the version's tag set (at most 10 tags, unique keys)."""
        validate(Tagging, TAGGING, "Tagging")
        resp = self._calls.unary(
            "PutObjectTagging",
            self._stub.PutObjectTagging,
            pb.PutObjectTaggingRequest(bucket=Bucket, key=Key, version_id=VersionId or "",
                                       tags=convert.tags(Tagging["TagSet"])),
        )
        return {"ResponseMetadata": response_metadata(200),
                **convert.version_id(resp.version_id)}

    def get_object_tagging(
        self, *, Bucket: str, Key: str, VersionId: str | None = None
    ) -> dict[str, Any]:
        resp = self._calls.unary(
            "GetObjectTagging",
            self._stub.GetObjectTagging,
            pb.GetObjectTaggingRequest(bucket=Bucket, key=Key, version_id=VersionId or ""),
        )
        return {"ResponseMetadata": response_metadata(200),
                **convert.version_id(resp.version_id), "TagSet": convert.tag_set(resp.tags)}

    def delete_object_tagging(
        self, *, Bucket: str, Key: str, VersionId: str | None = None
    ) -> dict[str, Any]:
        resp = self._calls.unary(
            "DeleteObjectTagging",
            self._stub.DeleteObjectTagging,
            pb.DeleteObjectTaggingRequest(bucket=Bucket, key=Key, version_id=VersionId or ""),
        )
        return {"ResponseMetadata": response_metadata(204),
                **convert.version_id(resp.version_id)}

    def restore_object(
        self,
        *,
        Bucket: str,
        Key: str,
        VersionId: str | None = None,
        RestoreRequest: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start (202) or extend (200) a temporary copy of an archived object."""
        restore = RestoreRequest or {}
        validate(restore, RESTORE_REQUEST, "RestoreRequest")
        tier = restore.get("GlacierJobParameters", {}).get("Tier") or restore.get("Tier") or ""
        request = pb.RestoreObjectRequest(bucket=Bucket, key=Key, version_id=VersionId or "",
                                          tier=tier)
        if "Days" in restore:
            request.days = restore["Days"]
        resp = self._calls.unary("RestoreObject", self._stub.RestoreObject, request)
        return {"ResponseMetadata": response_metadata(200 if resp.already_restored else 202)}
