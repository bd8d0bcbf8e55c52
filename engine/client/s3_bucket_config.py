"""S3 bucket configuration methods (versioning, lifecycle, notifications) with boto3's
shapes.

Mixed into :class:`engine.client.s3.S3Client`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.client import lifecycle, notification
from engine.client.calls import Caller
from engine.client.errors import response_metadata
from engine.client.shapes import Struct, validate
from engine.v1 import lifecycle_pb2 as lc
from engine.v1 import objects_pb2 as pb
from engine.v1 import objects_pb2_grpc

VERSIONING_CONFIGURATION = Struct({"MFADelete": str, "Status": str})


class BucketConfigMethods:
    """put/get_bucket_versioning, the bucket lifecycle and notification configurations."""

    _calls: Caller
    _stub: objects_pb2_grpc.ObjectStoreStub

    def put_bucket_versioning(
        self,
        *,
        Bucket: str,
        VersioningConfiguration: Mapping[str, str],
        MFA: str | None = None,
    ) -> dict[str, Any]:
        """Status "Enabled" or "Suspended"; a bucket never returns to unversioned."""
        validate(VersioningConfiguration, VERSIONING_CONFIGURATION, "VersioningConfiguration")
        self._calls.unary(
            "PutBucketVersioning",
            self._stub.PutBucketVersioning,
            pb.PutBucketVersioningRequest(
                bucket=Bucket,
                status=VersioningConfiguration.get("Status", ""),
                mfa_delete=VersioningConfiguration.get("MFADelete", ""),
            ),
        )
        return {"ResponseMetadata": response_metadata(200)}

    def get_bucket_versioning(self, *, Bucket: str) -> dict[str, Any]:
        """No Status member for a bucket whose versioning was never configured."""
        resp = self._calls.unary(
            "GetBucketVersioning",
            self._stub.GetBucketVersioning,
            pb.GetBucketVersioningRequest(bucket=Bucket),
        )
        out: dict[str, Any] = {"ResponseMetadata": response_metadata(200)}
        if resp.status:
            out["Status"] = resp.status
        return out

    def put_bucket_lifecycle_configuration(
        self,
        *,
        Bucket: str,
        LifecycleConfiguration: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Replace the bucket's rules (S3's shape; Days only, no Date)."""
        config = (lifecycle.to_proto(LifecycleConfiguration)
                  if LifecycleConfiguration is not None else lc.LifecycleConfiguration())
        self._calls.unary(
            "PutBucketLifecycleConfiguration",
            self._stub.PutBucketLifecycleConfiguration,
            pb.PutBucketLifecycleConfigurationRequest(bucket=Bucket, configuration=config),
        )
        return {"ResponseMetadata": response_metadata(200)}

    def get_bucket_lifecycle_configuration(self, *, Bucket: str) -> dict[str, Any]:
        """The rules; NoSuchLifecycleConfiguration (404) when none are configured."""
        resp = self._calls.unary(
            "GetBucketLifecycleConfiguration",
            self._stub.GetBucketLifecycleConfiguration,
            pb.GetBucketLifecycleConfigurationRequest(bucket=Bucket),
        )
        return {
            "ResponseMetadata": response_metadata(200),
            "Rules": lifecycle.to_dict(resp.configuration),
        }

    def delete_bucket_lifecycle(self, *, Bucket: str) -> dict[str, Any]:
        self._calls.unary(
            "DeleteBucketLifecycle",
            self._stub.DeleteBucketLifecycle,
            pb.DeleteBucketLifecycleRequest(bucket=Bucket),
        )
        return {"ResponseMetadata": response_metadata(204)}

    def put_bucket_notification_configuration(
        self,
        *,
        Bucket: str,
        NotificationConfiguration: Mapping[str, Any],
        SkipDestinationValidation: bool = False,
        ExpectedBucketOwner: str | None = None,
    ) -> dict[str, Any]:
        """Replace the bucket's rules (QueueConfigurations only); ``{}`` turns
        notifications off. Each queue must exist and let the bucket send unless
        ``SkipDestinationValidation``."""
        config = notification.to_proto(NotificationConfiguration)
        self._calls.unary(
            "PutBucketNotificationConfiguration",
            self._stub.PutBucketNotificationConfiguration,
            pb.PutBucketNotificationConfigurationRequest(
                bucket=Bucket, configuration=config,
                skip_destination_validation=SkipDestinationValidation),
        )
        return {"ResponseMetadata": response_metadata(200)}

    def get_bucket_notification_configuration(
        self, *, Bucket: str, ExpectedBucketOwner: str | None = None
    ) -> dict[str, Any]:
        """The rules as boto3 returns them; no QueueConfigurations member when none."""
        resp = self._calls.unary(
            "GetBucketNotificationConfiguration",
            self._stub.GetBucketNotificationConfiguration,
            pb.GetBucketNotificationConfigurationRequest(bucket=Bucket),
        )
        return {"ResponseMetadata": response_metadata(200),
                **notification.to_dict(resp.configuration)}
