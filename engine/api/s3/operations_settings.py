"""Every bucket and object configuration operation of the REST API, by S3's name, for
app.py to merge: tagging, versioning and lifecycle, ACLs, policies, Block Public Access
and Object Ownership, restores and attributes, CORS, website and notification configuration."""

from __future__ import annotations

from engine.api.s3 import (
    operations_acl,
    operations_attributes,
    operations_cors,
    operations_notification,
    operations_policy,
    operations_public_access,
    operations_restore,
    operations_tagging,
    operations_versioning,
    operations_website,
)
from engine.api.s3.context import Operation

OPERATIONS: dict[str, Operation] = {
    **operations_tagging.OPERATIONS,
    **operations_versioning.OPERATIONS,
    **operations_acl.OPERATIONS,
    **operations_policy.OPERATIONS,
    **operations_public_access.OPERATIONS,
    **operations_restore.OPERATIONS,
    **operations_attributes.OPERATIONS,
    **operations_cors.OPERATIONS,
    **operations_website.OPERATIONS,
    **operations_notification.OPERATIONS,
}
