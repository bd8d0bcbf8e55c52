"""How a bucket's access-control settings are read from its record, and who owns what.

The bucket record (replicated) carries the policy, the bucket ACL, Object Ownership and
the bucket's Block Public Access; the account carries the account-level Block Public
Access (engine.iam.s3_account). These helpers give both the object service and the
authorizer one reading of them. There is one account per cluster, so the bucket owner is
always that account, named by its canonical user id.
"""

from __future__ import annotations

from typing import Protocol

from engine.iam.acl import Acl, AclRequest, Owner, acl_from_bytes, acl_to_bytes
from engine.iam.ownership import (
    ObjectOwnership,
    acl_for_new_object,
    acls_apply,
    check_acl_request,
)
from engine.iam.principal import canonical_id
from engine.iam.public_access import Denial, PublicAccessBlock, check_acl_put, effective_block
from engine.v1.access_pb2 import PublicAccessBlockConfiguration
from engine.v1.records_pb2 import BucketRecord, ObjectVersion

NEW_BUCKET_BLOCK = PublicAccessBlock()  # every new bucket starts with all four on


class AccountSettings(Protocol):
    """The account's side: its id and S3 Control's Block Public Access."""

    def account_id(self) -> str: ...
    def public_access_block(self) -> PublicAccessBlock | None: ...
    async def set_public_access_block(self, config: PublicAccessBlock | None) -> None: ...


class StaticAccount:
    """Account settings held in memory, for an object service built without an identity
    store (unit tests and tools); the account-level block starts on, as a real one."""

    def __init__(self, account: str = "000000000000") -> None:
        self._account = account
        self._block: PublicAccessBlock | None = PublicAccessBlock()

    def account_id(self) -> str:
        return self._account

    def public_access_block(self) -> PublicAccessBlock | None:
        return self._block

    async def set_public_access_block(self, config: PublicAccessBlock | None) -> None:
        self._block = config


def bucket_owner(account: AccountSettings) -> Owner:
    return Owner(canonical_id(account.account_id()))


def ownership_of(record: BucketRecord) -> ObjectOwnership:
    """No ownership controls (deleted, or a bucket older than them) behave as ObjectWriter,
    as S3 does."""
    if not record.object_ownership:
        return ObjectOwnership.OBJECT_WRITER
    return ObjectOwnership(record.object_ownership)


def block_from_message(message: PublicAccessBlockConfiguration) -> PublicAccessBlock:
    return PublicAccessBlock(message.block_public_acls, message.ignore_public_acls,
                             message.block_public_policy, message.restrict_public_buckets)


def block_message(config: PublicAccessBlock) -> PublicAccessBlockConfiguration:
    return PublicAccessBlockConfiguration(
        block_public_acls=config.block_public_acls,
        ignore_public_acls=config.ignore_public_acls,
        block_public_policy=config.block_public_policy,
        restrict_public_buckets=config.restrict_public_buckets)


def bucket_block(record: BucketRecord) -> PublicAccessBlock | None:
    if not record.HasField("public_access_block"):
        return None
    return block_from_message(record.public_access_block)


def enforced_block(account: AccountSettings, record: BucketRecord | None) -> PublicAccessBlock:
    """What S3 enforces for the bucket: the account's and the bucket's flags, OR-ed."""
    return effective_block(account.public_access_block(),
                           bucket_block(record) if record is not None else NEW_BUCKET_BLOCK)


def bucket_acl(account: AccountSettings, record: BucketRecord) -> Acl:
    """The stored bucket ACL; none stored is the default, private to the owner."""
    return acl_from_bytes(record.acl) if record.acl else Acl.private(bucket_owner(account))


def object_acl(account: AccountSettings, version: ObjectVersion) -> Acl:
    """The version's stored ACL; none stored: private to the bucket owner, who owns every
    object written while ACLs were disabled."""
    return acl_from_bytes(version.acl) if version.acl else Acl.private(bucket_owner(account))


def stored_form(account: AccountSettings, acl: Acl) -> bytes:
    """What a record keeps: nothing for the default (the owner's FULL_CONTROL alone)."""
    return b"" if acl == Acl.private(bucket_owner(account)) else acl_to_bytes(acl)


def new_object_acl(account: AccountSettings, record: BucketRecord, request: AclRequest | None,
                   writer: Owner | None, who: Denial | None = None) -> bytes:
    """The stored ACL of an object a PUT, copy or multipart upload creates: refused when
    the bucket takes no ACLs (AccessControlListNotSupported) or when it is public and
    BlockPublicAcls is on (AccessDenied)."""
    ownership = ownership_of(record)
    owner = bucket_owner(account)
    check_acl_request(ownership, request, bucket_owner=owner, resource="object")
    if not acls_apply(ownership):
        return b""
    acl = acl_for_new_object(ownership, request, writer=writer or owner, bucket_owner=owner)
    if request is not None:
        check_acl_put(enforced_block(account, record), acl, who)
    return stored_form(account, acl)
