"""The S3 actions of the ObjectStore service, as S3 authorizes its REST operations.

Names follow the S3 User Guide's "Required permissions for Amazon S3 API operations" and
the Service Authorization Reference: a read of a named version is the ``...Version``
action (with ``s3:versionid``), multipart steps are ``s3:PutObject``, HeadBucket is
``s3:ListBucket``, DeleteBucketLifecycle is ``s3:PutLifecycleConfiguration``, a write
that sets an ACL also needs ``s3:PutObjectAcl``, and S3 Control's account-level Block
Public Access is ``s3:PutAccountPublicAccessBlock`` on "*". Every Access names its bucket,
whose policy and ACL are weighed with the caller's policies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from engine.api.access_rules_types import Access, Rule, Target, rule
from engine.objects.tagging import parse_tagging
from engine.v1 import objects_pb2 as pb

SERVICE = "s3"
BUCKET = "`arn:aws:s3:::<bucket>`"
OBJECT = "`arn:aws:s3:::<bucket>/<key>`"
LIST_KEYS = "keys `s3:prefix`, `s3:delimiter`, `s3:max-keys`"
TAG_KEYS = "`s3:RequestObjectTag/<tag>`, `s3:RequestObjectTagKeys`"
ACL_KEYS = "`s3:x-amz-acl`, `s3:x-amz-grant-*` (from ACL headers)"
WITH_ACL = "with an ACL also `s3:PutObjectAcl` on the object"


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    """The key goes in as is: S3 policies match the decoded key, slashes and all."""
    return f"arn:aws:s3:::{bucket}/{key}"


def on_bucket(action: str, bucket: str, keys: Mapping[str, object] | None = None) -> Access:
    return Access(action, bucket_arn(bucket), dict(keys or {}), bucket=bucket)


def on_object(action: str, bucket: str, key: str, version_id: str = "",
              keys: Mapping[str, object] | None = None) -> Access:
    """``action`` on an object; with a version id the action's ``Version`` form (which S3
    spells by inserting "Version" after "Object") and the ``s3:versionid`` key."""
    merged = dict(keys or {})
    if version_id:
        action = action.replace("Object", "ObjectVersion", 1)
        merged["s3:versionid"] = version_id
    return Access(action, object_arn(bucket, key), merged, bucket=bucket)


def tag_keys(pairs: Iterable[tuple[str, str]]) -> dict[str, object]:
    """``s3:RequestObjectTag/<tag>`` per tag and ``s3:RequestObjectTagKeys`` (all of them,
    a multivalued key): what a policy tests to require or forbid tags on a write."""
    keys: dict[str, object] = {}
    names: list[str] = []
    for name, value in pairs:
        keys[f"s3:RequestObjectTag/{name}"] = value
        names.append(name)
    if names:
        keys["s3:RequestObjectTagKeys"] = names
    return keys


def write_keys(storage_class: str, tagging: str) -> dict[str, object]:
    """The keys of a request that creates an object (PutObject, CreateMultipartUpload,
    CopyObject). A malformed tagging string fails here as the write itself would."""
    keys = tag_keys(parse_tagging(tagging).items())
    if storage_class:
        keys["s3:x-amz-storage-class"] = storage_class
    return keys


_GRANT_KEYS = (("s3:x-amz-grant-full-control", "grant_full_control"),
               ("s3:x-amz-grant-read", "grant_read"), ("s3:x-amz-grant-read-acp", "grant_read_acp"),
               ("s3:x-amz-grant-write", "grant_write"),
               ("s3:x-amz-grant-write-acp", "grant_write_acp"))


def acl_keys(spec: pb.AclSpec) -> dict[str, object]:
    """``s3:x-amz-acl`` and ``s3:x-amz-grant-*`` of a request that sets an ACL by header:
    what AWS's examples test to require bucket-owner-full-control or forbid public-read."""
    keys: dict[str, object] = {name: getattr(spec, field) for name, field in _GRANT_KEYS
                               if getattr(spec, field)}
    if spec.canned:
        keys["s3:x-amz-acl"] = spec.canned
    return keys


def sets_acl(spec: pb.AclSpec) -> bool:
    return bool(acl_keys(spec)) or spec.HasField("access_control_policy")


def with_acl(accesses: list[Access], spec: pb.AclSpec, bucket: str, key: str) -> list[Access]:
    """A write that sets an ACL also needs s3:PutObjectAcl on the new object, as in S3."""
    if sets_acl(spec):
        accesses.append(on_object("s3:PutObjectAcl", bucket, key, keys=acl_keys(spec)))
    return accesses


def copy_source(bucket: str, key: str, version_id: str) -> str:
    """``s3:x-amz-copy-source`` as AWS's policy examples match it: ``bucket/key``."""
    return f"{bucket}/{key}" + (f"?versionId={version_id}" if version_id else "")


class _Bucketed(Protocol):
    bucket: str


class _Keyed(Protocol):
    bucket: str
    key: str


class _Versioned(Protocol):
    bucket: str
    key: str
    version_id: str


def bucket_rule(action: str) -> Rule:
    def accesses(request: _Bucketed, target: Target) -> list[Access]:
        return [on_bucket(action, request.bucket)]
    return rule(SERVICE, f"`{action}` on {BUCKET}", accesses)


def object_rule(action: str) -> Rule:
    def accesses(request: _Keyed, target: Target) -> list[Access]:
        return [on_object(action, request.bucket, request.key)]
    return rule(SERVICE, f"`{action}` on {OBJECT}", accesses)


def versioned_rule(action: str) -> Rule:
    def accesses(request: _Versioned, target: Target) -> list[Access]:
        return [on_object(action, request.bucket, request.key, request.version_id)]
    versioned = action.replace("Object", "ObjectVersion", 1)
    doc = (f"`{action}`, or `{versioned}` with a version id (key `s3:versionid`), "
           f"on {OBJECT}")
    return rule(SERVICE, doc, accesses)


def list_keys(prefix: str, delimiter: str, max_keys: int | None) -> dict[str, object]:
    """s3:prefix and s3:delimiter are always present (an empty one is the top level, which
    AWS's home-folder policies allow with ``"s3:prefix": [""]``); s3:max-keys only when
    given. Numbers go in as strings, as they arrive in S3's query string."""
    keys: dict[str, object] = {"s3:prefix": prefix, "s3:delimiter": delimiter}
    if max_keys is not None:
        keys["s3:max-keys"] = str(max_keys)
    return keys


def _list_buckets(request: pb.ListBucketsRequest, target: Target) -> list[Access]:
    return [Access("s3:ListAllMyBuckets", "*")]


def _create_bucket(request: pb.CreateBucketRequest, target: Target) -> list[Access]:
    """With an ACL S3 also demands s3:PutBucketAcl, with an ObjectOwnership
    s3:PutBucketOwnershipControls."""
    keys: dict[str, object] = acl_keys(request.acl)
    if request.location_constraint:
        keys["s3:LocationConstraint"] = request.location_constraint
    if request.object_ownership:
        keys["s3:x-amz-object-ownership"] = request.object_ownership
    needed = [on_bucket("s3:CreateBucket", request.bucket, keys)]
    if sets_acl(request.acl):
        needed.append(on_bucket("s3:PutBucketAcl", request.bucket, acl_keys(request.acl)))
    if request.object_ownership:
        needed.append(on_bucket("s3:PutBucketOwnershipControls", request.bucket))
    return needed


def _put_object(request: pb.PutObjectRequest, target: Target) -> list[Access]:
    header = request.header  # authorized on the first message, which carries it
    keys = {**write_keys(header.storage_class, header.tagging), **acl_keys(header.acl)}
    return with_acl([on_object("s3:PutObject", header.bucket, header.key, keys=keys)],
                    header.acl, header.bucket, header.key)


def _upload_part(request: pb.UploadPartRequest, target: Target) -> list[Access]:
    header = request.header
    return [on_object("s3:PutObject", header.bucket, header.key)]


def _create_multipart(request: pb.CreateMultipartUploadRequest, target: Target
                      ) -> list[Access]:
    keys = {**write_keys(request.storage_class, request.tagging), **acl_keys(request.acl)}
    return with_acl([on_object("s3:PutObject", request.bucket, request.key, keys=keys)],
                    request.acl, request.bucket, request.key)


def _delete_objects(request: pb.DeleteObjectsRequest, target: Target) -> list[Access]:
    """One Access per key, in request order, so the servicer can deny keys one by one as
    S3 does. An empty batch still needs delete on the whole bucket: an empty list would
    mean "needs no permission"."""
    if not request.objects:
        return [on_object("s3:DeleteObject", request.bucket, "*")]
    return [on_object("s3:DeleteObject", request.bucket, o.key, o.version_id)
            for o in request.objects]


def _copy_object(request: pb.CopyObjectRequest, target: Target) -> list[Access]:
    keys = write_keys(request.storage_class,
                      request.tagging if request.tagging_directive == "REPLACE" else "")
    keys["s3:x-amz-copy-source"] = copy_source(
        request.source_bucket, request.source_key, request.source_version_id)
    if request.metadata_directive:
        keys["s3:x-amz-metadata-directive"] = request.metadata_directive
    keys.update(acl_keys(request.acl))
    return with_acl([on_object("s3:GetObject", request.source_bucket, request.source_key,
                               request.source_version_id),
                     on_object("s3:PutObject", request.bucket, request.key, keys=keys)],
                    request.acl, request.bucket, request.key)


def _upload_part_copy(request: pb.UploadPartCopyRequest, target: Target) -> list[Access]:
    source = copy_source(request.source_bucket, request.source_key, request.source_version_id)
    return [on_object("s3:GetObject", request.source_bucket, request.source_key,
                      request.source_version_id),
            on_object("s3:PutObject", request.bucket, request.key,
                      keys={"s3:x-amz-copy-source": source})]


def _list_objects(request: pb.ListObjectsV2Request, target: Target) -> list[Access]:
    max_keys = request.max_keys if request.HasField("max_keys") else None
    return [on_bucket("s3:ListBucket", request.bucket,
                      list_keys(request.prefix, request.delimiter, max_keys))]


def _list_versions(request: pb.ListObjectVersionsRequest, target: Target) -> list[Access]:
    max_keys = request.max_keys if request.HasField("max_keys") else None
    return [on_bucket("s3:ListBucketVersions", request.bucket,
                      list_keys(request.prefix, request.delimiter, max_keys))]


def _put_tagging(request: pb.PutObjectTaggingRequest, target: Target) -> list[Access]:
    keys = tag_keys((tag.key, tag.value) for tag in request.tags)
    return [on_object("s3:PutObjectTagging", request.bucket, request.key,
                      request.version_id, keys)]


def _put_bucket_acl(request: pb.PutBucketAclRequest, target: Target) -> list[Access]:
    return [on_bucket("s3:PutBucketAcl", request.bucket, acl_keys(request.acl))]


def _put_object_acl(request: pb.PutObjectAclRequest, target: Target) -> list[Access]:
    return [on_object("s3:PutObjectAcl", request.bucket, request.key, request.version_id,
                      acl_keys(request.acl))]


def _account_rule(action: str) -> Rule:
    """S3 Control's account-level calls: on "*", as the account has no ARN in S3."""
    def accesses(request: object, target: Target) -> list[Access]:
        return [Access(action, "*")]
    return rule(SERVICE, f"`{action}` on `*`", accesses)


def _restore(request: pb.RestoreObjectRequest, target: Target) -> list[Access]:
    """RestoreObject has no Version form: a version id restores that version under the
    same action."""
    return [on_object("s3:RestoreObject", request.bucket, request.key)]


_Fn = Callable[..., list[Access]]
_CUSTOM: dict[str, tuple[_Fn, str]] = {
    "ListBuckets": (_list_buckets, "`s3:ListAllMyBuckets` on `*`"),
    "CreateBucket": (_create_bucket,
                     f"`s3:CreateBucket` on {BUCKET}; keys `s3:LocationConstraint`, "
                     f"`s3:x-amz-object-ownership`, {ACL_KEYS}; with an ACL also "
                     "`s3:PutBucketAcl`, with an ObjectOwnership also "
                     "`s3:PutBucketOwnershipControls`"),
    "PutObject": (_put_object, f"`s3:PutObject` on {OBJECT}; keys {TAG_KEYS} (from the "
                  f"tagging), `s3:x-amz-storage-class`, {ACL_KEYS}; {WITH_ACL}"),
    "UploadPart": (_upload_part, f"`s3:PutObject` on {OBJECT}"),
    "CreateMultipartUpload": (_create_multipart, f"`s3:PutObject` on {OBJECT}; keys "
                              f"{TAG_KEYS}, `s3:x-amz-storage-class`, {ACL_KEYS}; "
                              f"{WITH_ACL}"),
    "DeleteObjects": (_delete_objects, "one `s3:DeleteObject` (`s3:DeleteObjectVersion` with "
                      f"a version id) per key on {OBJECT}; each denied key fails alone"),
    "CopyObject": (_copy_object, "`s3:GetObject` (`s3:GetObjectVersion` with a source version "
                   "id) on the source object and `s3:PutObject` on the destination "
                   f"{OBJECT}; keys `s3:x-amz-copy-source`, `s3:x-amz-metadata-directive`, "
                   f"`s3:x-amz-storage-class`, {TAG_KEYS} (with tagging directive REPLACE), "
                   f"{ACL_KEYS}; {WITH_ACL}"),
    "UploadPartCopy": (_upload_part_copy, "`s3:GetObject` (`s3:GetObjectVersion`) on the "
                       f"source object and `s3:PutObject` on the destination {OBJECT}; key "
                       "`s3:x-amz-copy-source`"),
    "ListObjectsV2": (_list_objects, f"`s3:ListBucket` on {BUCKET}; {LIST_KEYS}"),
    "ListObjectVersions": (_list_versions, f"`s3:ListBucketVersions` on {BUCKET}; {LIST_KEYS}"),
    "PutObjectTagging": (_put_tagging, "`s3:PutObjectTagging`, or `s3:PutObjectVersionTagging` "
                         f"with a version id, on {OBJECT}; keys {TAG_KEYS}"),
    "RestoreObject": (_restore, f"`s3:RestoreObject` on {OBJECT}"),
    "PutBucketAcl": (_put_bucket_acl, f"`s3:PutBucketAcl` on {BUCKET}; keys {ACL_KEYS}"),
    "PutObjectAcl": (_put_object_acl, "`s3:PutObjectAcl`, or `s3:PutObjectVersionAcl` with a "
                     f"version id (key `s3:versionid`), on {OBJECT}; keys {ACL_KEYS}"),
}

RULES: dict[str, Rule] = {
    **{name: rule(SERVICE, doc, fn) for name, (fn, doc) in _CUSTOM.items()},
    "DeleteBucket": bucket_rule("s3:DeleteBucket"),
    "HeadBucket": bucket_rule("s3:ListBucket"),
    "GetObject": versioned_rule("s3:GetObject"),
    "HeadObject": versioned_rule("s3:GetObject"),
    "DeleteObject": versioned_rule("s3:DeleteObject"),
    "PutBucketVersioning": bucket_rule("s3:PutBucketVersioning"),
    "GetBucketVersioning": bucket_rule("s3:GetBucketVersioning"),
    "CompleteMultipartUpload": object_rule("s3:PutObject"),
    "AbortMultipartUpload": object_rule("s3:AbortMultipartUpload"),
    "ListParts": object_rule("s3:ListMultipartUploadParts"),
    "ListMultipartUploads": bucket_rule("s3:ListBucketMultipartUploads"),
    "PutBucketLifecycleConfiguration": bucket_rule("s3:PutLifecycleConfiguration"),
    "GetBucketLifecycleConfiguration": bucket_rule("s3:GetLifecycleConfiguration"),
    "DeleteBucketLifecycle": bucket_rule("s3:PutLifecycleConfiguration"),
    "PutBucketNotificationConfiguration": bucket_rule("s3:PutBucketNotification"),
    "GetBucketNotificationConfiguration": bucket_rule("s3:GetBucketNotification"),
    "GetObjectTagging": versioned_rule("s3:GetObjectTagging"),
    "DeleteObjectTagging": versioned_rule("s3:DeleteObjectTagging"),
    "PutBucketPolicy": bucket_rule("s3:PutBucketPolicy"),
    "GetBucketPolicy": bucket_rule("s3:GetBucketPolicy"),
    "DeleteBucketPolicy": bucket_rule("s3:DeleteBucketPolicy"),
    "GetBucketPolicyStatus": bucket_rule("s3:GetBucketPolicyStatus"),
    "GetBucketAcl": bucket_rule("s3:GetBucketAcl"),
    "GetObjectAcl": versioned_rule("s3:GetObjectAcl"),
    "PutPublicAccessBlock": bucket_rule("s3:PutBucketPublicAccessBlock"),
    "GetPublicAccessBlock": bucket_rule("s3:GetBucketPublicAccessBlock"),
    "DeletePublicAccessBlock": bucket_rule("s3:PutBucketPublicAccessBlock"),
    "PutBucketOwnershipControls": bucket_rule("s3:PutBucketOwnershipControls"),
    "GetBucketOwnershipControls": bucket_rule("s3:GetBucketOwnershipControls"),
    "DeleteBucketOwnershipControls": bucket_rule("s3:PutBucketOwnershipControls"),
    "PutAccountPublicAccessBlock": _account_rule("s3:PutAccountPublicAccessBlock"),
    "GetAccountPublicAccessBlock": _account_rule("s3:GetAccountPublicAccessBlock"),
    "DeleteAccountPublicAccessBlock": _account_rule("s3:PutAccountPublicAccessBlock"),
}
