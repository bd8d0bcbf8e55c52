"""S3 Object Ownership: who owns a new object, and whether ACLs count at all.

A bucket-level setting (AWS "Controlling ownership of objects and disabling ACLs"):

- BucketOwnerEnforced, the default for new buckets since April 2023: ACLs are disabled.
  The bucket owner owns every object, ACLs take no part in authorization, reading an ACL
  shows only the bucket owner's FULL_CONTROL, and a request that sets any ACL other than
  "full control to the bucket owner" (no ACL, private, bucket-owner-full-control or an
  equivalent explicit grant) fails with AccessControlListNotSupported.
- BucketOwnerPreferred: ACLs on; an object written with bucket-owner-full-control belongs
  to the bucket owner, any other to its writer.
- ObjectWriter: ACLs on; the writer owns what it writes.

Stored ACLs are kept while ACLs are disabled, so switching back restores them.
"""

from __future__ import annotations

from enum import StrEnum

from engine.errors import EngineError
from engine.iam.acl import Acl, AclRequest, Grant, Grantee, Owner, Permission, Resource


class ObjectOwnership(StrEnum):
    BUCKET_OWNER_ENFORCED = "BucketOwnerEnforced"
    BUCKET_OWNER_PREFERRED = "BucketOwnerPreferred"
    OBJECT_WRITER = "ObjectWriter"


DEFAULT_OBJECT_OWNERSHIP = ObjectOwnership.BUCKET_OWNER_ENFORCED


def parse_object_ownership(value: str | None) -> ObjectOwnership:
    """The x-amz-object-ownership header of CreateBucket (absent: the default)."""
    if value is None:
        return DEFAULT_OBJECT_OWNERSHIP
    try:
        return ObjectOwnership(value)
    except ValueError:
        raise EngineError("InvalidArgument", f"Invalid x-amz-object-ownership header: {value}",
                          ArgumentName="x-amz-object-ownership") from None


def acls_apply(ownership: ObjectOwnership) -> bool:
    """Whether bucket and object ACLs take part in authorization."""
    return ownership is not ObjectOwnership.BUCKET_OWNER_ENFORCED


def _only_bucket_owner_full_control(request: AclRequest, bucket_owner: Owner,
                                    resource: Resource) -> bool:
    """Whether the ACL, bound as if the bucket owner owned the resource, grants exactly
    FULL_CONTROL to the bucket owner: the "equivalent forms" AWS still accepts."""
    acl = request.to_acl(bucket_owner, resource=resource, bucket_owner=bucket_owner)
    return set(acl.grants) == {Grant(Grantee.user(bucket_owner.id), Permission.FULL_CONTROL)}


def check_acl_request(ownership: ObjectOwnership, request: AclRequest | None, *,
                      bucket_owner: Owner, resource: Resource) -> None:
    """Refuse an ACL the bucket does not allow (PutObject, CopyObject, CreateMultipartUpload,
    PutObjectAcl, PutBucketAcl) with AccessControlListNotSupported."""
    if (ownership is ObjectOwnership.BUCKET_OWNER_ENFORCED and request is not None
            and not _only_bucket_owner_full_control(request, bucket_owner, resource)):
        raise EngineError("AccessControlListNotSupported", "The bucket does not allow ACLs")


def check_create_bucket_acl(ownership: ObjectOwnership, request: AclRequest | None, *,
                            bucket_owner: Owner) -> None:
    """CreateBucket with ACLs disabled accepts only an ACL giving the owner sole control;
    S3 answers anything else with InvalidBucketAclWithObjectOwnership."""
    if (ownership is ObjectOwnership.BUCKET_OWNER_ENFORCED and request is not None
            and not _only_bucket_owner_full_control(request, bucket_owner, "bucket")):
        raise _invalid_bucket_acl()


def check_can_enforce(bucket_acl: Acl) -> None:
    """PutBucketOwnershipControls(BucketOwnerEnforced) needs a bucket ACL that gives
    access to no one but the bucket owner; migrate other grants to a policy first."""
    if any(g.grantee != Grantee.user(bucket_acl.owner.id) for g in bucket_acl.grants):
        raise _invalid_bucket_acl()


def _invalid_bucket_acl() -> EngineError:
    return EngineError("InvalidBucketAclWithObjectOwnership",
                       "Bucket cannot have ACLs set with ObjectOwnership's "
                       "BucketOwnerEnforced setting")


def new_object_owner(ownership: ObjectOwnership, request: AclRequest | None, *,
                     writer: Owner, bucket_owner: Owner) -> Owner:
    """Who owns an object this writer is creating (an anonymous writer passes
    Owner(ANONYMOUS_OWNER_ID))."""
    if ownership is ObjectOwnership.BUCKET_OWNER_ENFORCED:
        return bucket_owner
    if (ownership is ObjectOwnership.BUCKET_OWNER_PREFERRED and request is not None
            and request.canned == "bucket-owner-full-control"):
        return bucket_owner
    return writer


def acl_for_new_object(ownership: ObjectOwnership, request: AclRequest | None, *,
                       writer: Owner, bucket_owner: Owner) -> Acl:
    """The ACL to store with a new object, after check_acl_request accepted the request.
    Under BucketOwnerPreferred with bucket-owner-full-control the writer keeps no grant."""
    owner = new_object_owner(ownership, request, writer=writer, bucket_owner=bucket_owner)
    if request is None or ownership is ObjectOwnership.BUCKET_OWNER_ENFORCED:
        return Acl.private(owner)
    return request.to_acl(owner, resource="object", bucket_owner=bucket_owner)


def readable_acl(ownership: ObjectOwnership, stored: Acl, *, bucket_owner: Owner) -> Acl:
    """What GetBucketAcl / GetObjectAcl return: with ACLs disabled, always the bucket
    owner's FULL_CONTROL, whatever is stored."""
    if ownership is ObjectOwnership.BUCKET_OWNER_ENFORCED:
        return Acl.private(bucket_owner)
    return stored
