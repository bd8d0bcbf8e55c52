"""Bucket and object access control as S3 serves it: bucket policies, bucket and object
ACLs, Block Public Access (bucket and account level) and Object Ownership.

Bucket settings live in the bucket record and change through ``Buckets.update``, so a
cluster replicates them like versioning; an object's ACL lives in its version record and
changes with a version patch. What each setting means is engine.iam's (acl, ownership,
public_access); this module checks requests against it and stores the result. The
authorizer reads the same records (engine/api/resource_policies.py).
"""

from __future__ import annotations

import json

from engine.errors import EngineError
from engine.iam.acl import Acl, AclRequest
from engine.iam.ownership import (
    ObjectOwnership,
    check_acl_request,
    check_can_enforce,
    check_create_bucket_acl,
    parse_object_ownership,
    readable_acl,
)
from engine.iam.policy import BUCKET, parse_policy
from engine.iam.public_access import (
    Denial,
    PublicAccessBlock,
    check_acl_put,
    check_policy_put,
    is_policy_public,
)
from engine.objects.access_settings import (
    NEW_BUCKET_BLOCK,
    block_message,
    bucket_acl,
    bucket_block,
    bucket_owner,
    enforced_block,
    object_acl,
    ownership_of,
    stored_form,
)
from engine.objects.core import ObjectCore
from engine.v1.records_pb2 import BucketRecord, VersionPatch


def _missing_acl() -> EngineError:
    return EngineError("MissingSecurityHeader", "Your request was missing a required header",
                       MissingHeaderName="x-amz-acl")


class PermissionOps(ObjectCore):
    # -- creating a bucket -------------------------------------------------------------

    async def create_bucket(self, name: str, region: str = "", *, acl: AclRequest | None = None,
                            ownership: str = "", who: Denial | None = None) -> BucketRecord:
        """A new bucket with S3's defaults: BucketOwnerEnforced unless ``ownership`` says
        otherwise, Block Public Access all on, the owner's private ACL."""
        chosen = parse_object_ownership(ownership or None)
        owner = bucket_owner(self.account)
        check_create_bucket_acl(chosen, acl, bucket_owner=owner)
        settings = BucketRecord(object_ownership=chosen.value)
        settings.public_access_block.CopyFrom(block_message(NEW_BUCKET_BLOCK))
        if acl is not None:
            bound = acl.to_acl(owner, resource="bucket")
            check_acl_put(enforced_block(self.account, None), bound, who)
            settings.acl = stored_form(self.account, bound)
        return await self.buckets.create(name, region, settings)

    # -- bucket policy -----------------------------------------------------------------

    async def put_bucket_policy(self, bucket: str, text: str, *,
                                who: Denial | None = None) -> None:
        """Validated as S3 does (MalformedPolicy, PolicyTooLarge) and refused while
        BlockPublicPolicy is on if it is public."""
        record = await self.buckets.get(bucket)
        parse_policy(text, BUCKET, attached_to=f"arn:aws:s3:::{bucket}")
        check_policy_put(enforced_block(self.account, record), json.loads(text), who)
        await self._update_bucket(record, lambda r: setattr(r, "policy", text))

    async def get_bucket_policy(self, bucket: str) -> str:
        record = await self.buckets.get(bucket)
        if not record.policy:
            raise EngineError("NoSuchBucketPolicy", BucketName=bucket)
        return record.policy

    async def delete_bucket_policy(self, bucket: str) -> None:
        record = await self.buckets.get(bucket)
        if record.policy:
            await self._update_bucket(record, lambda r: r.ClearField("policy"))

    async def get_bucket_policy_status(self, bucket: str) -> bool:
        """PolicyStatus.IsPublic, by AWS's definition of a public policy."""
        return is_policy_public(json.loads(await self.get_bucket_policy(bucket)))

    # -- ACLs ----------------------------------------------------------------------------

    async def put_bucket_acl(self, bucket: str, request: AclRequest | None, *,
                             who: Denial | None = None) -> None:
        record = await self.buckets.get(bucket)
        if request is None:
            raise _missing_acl()
        owner = bucket_owner(self.account)
        check_acl_request(ownership_of(record), request, bucket_owner=owner, resource="bucket")
        acl = request.to_acl(owner, resource="bucket")
        check_acl_put(enforced_block(self.account, record), acl, who)
        stored = stored_form(self.account, acl)
        if stored != record.acl:
            await self._update_bucket(record, lambda r: setattr(r, "acl", stored))

    async def get_bucket_acl(self, bucket: str) -> Acl:
        """With ACLs disabled, always the owner's FULL_CONTROL, whatever is stored."""
        record = await self.buckets.get(bucket)
        return readable_acl(ownership_of(record), bucket_acl(self.account, record),
                            bucket_owner=bucket_owner(self.account))

    async def put_object_acl(self, bucket: str, key: str, request: AclRequest | None, *,
                             version_id: str = "", who: Denial | None = None) -> str:
        """Replace one version's ACL (the current one without ``version_id``); the
        object keeps its owner. Returns the version id."""
        record = await self.buckets.get(bucket, stale_ok=True)
        version = await self._version(bucket, key, version_id)
        if request is None:
            raise _missing_acl()
        owner = bucket_owner(self.account)
        check_acl_request(ownership_of(record), request, bucket_owner=owner, resource="object")
        current = object_acl(self.account, version)
        acl = request.to_acl(current.owner, resource="object", bucket_owner=owner)
        check_acl_put(enforced_block(self.account, record), acl, who)
        await self._patch(bucket, key, VersionPatch(
            version_id=version.version_id, set_acl=True, acl=stored_form(self.account, acl)))
        return version.version_id

    async def get_object_acl(self, bucket: str, key: str, *, version_id: str = ""
                             ) -> tuple[str, Acl]:
        record = await self.buckets.get(bucket, stale_ok=True)
        version = await self._version(bucket, key, version_id)
        return version.version_id, readable_acl(
            ownership_of(record), object_acl(self.account, version),
            bucket_owner=bucket_owner(self.account))

    async def governing_acl(self, bucket: str, key: str, version_id: str = "") -> Acl | None:
        """For authorization: the stored ACL of the version a request names (the current
        one without ``version_id``), unfiltered; None when there is no such version."""
        try:
            version = await self._version(bucket, key, version_id)
        except EngineError as exc:
            if exc.code in ("ServiceUnavailable", "InternalError"):
                raise
            return None
        return object_acl(self.account, version)

    # -- Block Public Access -------------------------------------------------------------

    async def put_public_access_block(self, bucket: str, config: PublicAccessBlock) -> None:
        record = await self.buckets.get(bucket)
        await self._update_bucket(
            record, lambda r: r.public_access_block.CopyFrom(block_message(config)))

    async def get_public_access_block(self, bucket: str) -> PublicAccessBlock:
        config = bucket_block(await self.buckets.get(bucket))
        if config is None:
            raise EngineError("NoSuchPublicAccessBlockConfiguration", BucketName=bucket)
        return config

    async def delete_public_access_block(self, bucket: str) -> None:
        record = await self.buckets.get(bucket)
        if record.HasField("public_access_block"):
            await self._update_bucket(record, lambda r: r.ClearField("public_access_block"))

    def _check_account(self, account_id: str) -> None:
        """S3 Control names the account in every call; only this cluster's exists."""
        if account_id != self.account.account_id():
            raise EngineError("AccessDenied")

    async def put_account_public_access_block(self, account_id: str,
                                              config: PublicAccessBlock) -> None:
        self._check_account(account_id)
        await self.account.set_public_access_block(config)

    async def get_account_public_access_block(self, account_id: str) -> PublicAccessBlock:
        self._check_account(account_id)
        config = self.account.public_access_block()
        if config is None:
            raise EngineError("NoSuchPublicAccessBlockConfiguration",
                              AccountId=account_id)
        return config

    async def delete_account_public_access_block(self, account_id: str) -> None:
        self._check_account(account_id)
        await self.account.set_public_access_block(None)

    # -- Object Ownership ----------------------------------------------------------------

    async def put_bucket_ownership_controls(self, bucket: str, rules: list[str]) -> None:
        """Exactly one rule. BucketOwnerEnforced needs a bucket ACL that grants no one
        but the owner (InvalidBucketAclWithObjectOwnership)."""
        record = await self.buckets.get(bucket)
        if len(rules) != 1:
            raise EngineError("MalformedXML")
        try:
            chosen = ObjectOwnership(rules[0])
        except ValueError:
            raise EngineError("MalformedXML") from None
        if chosen is ObjectOwnership.BUCKET_OWNER_ENFORCED:
            check_can_enforce(bucket_acl(self.account, record))
        if record.object_ownership != chosen.value:
            await self._update_bucket(record, lambda r: setattr(r, "object_ownership",
                                                                chosen.value))

    async def get_bucket_ownership_controls(self, bucket: str) -> str:
        record = await self.buckets.get(bucket)
        if not record.object_ownership:
            raise EngineError("OwnershipControlsNotFoundError", BucketName=bucket)
        return record.object_ownership

    async def delete_bucket_ownership_controls(self, bucket: str) -> None:
        record = await self.buckets.get(bucket)
        if record.object_ownership:
            await self._update_bucket(record, lambda r: r.ClearField("object_ownership"))
