"""The resource side of authorization: a bucket's policy and ACLs, a queue's policy.

For each permission a call needs (engine.api.access_table's Access), the interceptor
asks :meth:`ResourcePolicies.decide`, which weighs the caller's identity policies with
the resource's own, as AWS does within one account: an explicit Deny anywhere wins; an
Allow from either the identity side or the resource side is enough.

S3 (AWS "How Amazon S3 authorizes a request"):
- The bucket policy counts as a resource policy, compiled once and kept until the
  bucket's policy text changes. While it is public and RestrictPublicBuckets is on
  (the account's or the bucket's flag), only callers of the bucket owner's account get
  its Allows; everyone else gets its Denies alone.
- ACLs count only where Object Ownership enables them (not BucketOwnerEnforced, the
  default), only when no policy decided already (an ACL never denies), and without
  their public grants while IgnorePublicAcls is on. A grant to the account is the
  account's, which its IAM users do not inherit (they need policies): in a one-account
  cluster only the AllUsers and AuthenticatedUsers groups reach them. An object's ACL is
  read from its version record, so only buckets with ACLs enabled pay for that read.

SQS: the queue's ``Policy`` attribute, compiled once per policy text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace

from engine.api.access_table import Access
from engine.errors import EngineError
from engine.iam.acl import ANONYMOUS, Permission, Requester, acl_allows, acl_resource
from engine.iam.acl import BUCKET_ACTIONS as ACL_BUCKET_ACTIONS
from engine.iam.authz import Authorizer, Named
from engine.iam.ownership import acls_apply
from engine.iam.policy import BUCKET, QUEUE, CompiledPolicy, Decision, PolicyKind, parse_policy
from engine.iam.principal import Principal, canonical_id
from engine.iam.public_access import PublicAccessBlock, effective_acl, is_policy_public
from engine.objects.access_settings import bucket_acl, enforced_block, ownership_of
from engine.objects.service import ObjectService
from engine.queues.catalog import QueueCatalog
from engine.v1.records_pb2 import BucketRecord

log = logging.getLogger("engine.api")
MAX_CACHED = 10_000  # compiled policies kept per kind (one per bucket or queue)
_ABSENT = ("NoSuchBucket", "InvalidBucketName")


@dataclass(frozen=True)
class _Compiled:
    text: str
    policy: CompiledPolicy | None  # None: a stored text that no longer compiles
    denies: CompiledPolicy | None = None  # its Deny statements alone
    public: bool = False


def _compile(text: str, kind: PolicyKind, name: str) -> _Compiled:
    try:
        policy = parse_policy(text, kind)
    except EngineError as err:  # stored before validation was this strict
        log.warning("%s policy of %s no longer compiles, ignored: %s", kind.name, name,
                    err.message)
        return _Compiled(text, None)
    public = kind is BUCKET and is_policy_public(json.loads(text))
    return _Compiled(text, policy, replace(policy, statements=policy.denies), public)


class _PolicyCache:
    """Compiled policies by resource name, recompiled when the resource's text changes."""

    def __init__(self, kind: PolicyKind) -> None:
        self.kind = kind
        self._by_name: dict[str, _Compiled] = {}

    def get(self, name: str, text: str) -> _Compiled | None:
        if not text:
            return None
        found = self._by_name.get(name)
        if found is None or found.text != text:
            if len(self._by_name) >= MAX_CACHED:
                self._by_name.clear()
            found = self._by_name[name] = _compile(text, self.kind, name)
        return found


def _requester(principal: Principal) -> Requester:
    """Who an ACL sees: the account for its root; for the account's IAM users and
    roles only what any signed request is (AuthenticatedUsers); anonymous."""
    if principal.anonymous:
        return ANONYMOUS
    if principal.is_root:
        return Requester.account(canonical_id(principal.account))
    return Requester(authenticated=True)


class ResourcePolicies:
    def __init__(self, authz: Authorizer, objects: ObjectService, queues: QueueCatalog) -> None:
        self.authz = authz
        self.objects = objects
        self.queues = queues
        self._buckets = _PolicyCache(BUCKET)
        self._queues = _PolicyCache(QUEUE)

    async def decide(self, principal: Principal, access: Access) -> Decision:
        if access.bucket is not None:
            return await self._s3(principal, access, access.bucket)
        if access.queue is not None:
            return await self._sqs(principal, access, access.queue)
        return self._decide(principal, access, ())

    def _decide(self, principal: Principal, access: Access, policies: Named) -> Decision:
        return self.authz.decide(principal, access.action, access.resource, access.keys,
                                 resource_policies=policies)

    # -- S3 --------------------------------------------------------------------------------

    async def _bucket(self, name: str) -> BucketRecord | None:
        try:
            return await self.objects.buckets.get(name, stale_ok=True)
        except EngineError as err:
            if err.code in _ABSENT:
                return None  # CreateBucket, or a call the operation refuses itself
            raise

    async def _s3(self, principal: Principal, access: Access, bucket: str) -> Decision:
        record = await self._bucket(bucket)
        if record is None:
            return self._decide(principal, access, ())
        account = self.objects.account
        policies: Named = ()
        compiled = self._buckets.get(bucket, record.policy)
        if compiled is not None and compiled.policy is not None:
            own_account = not principal.anonymous and principal.account == account.account_id()
            restricted = (compiled.public and not own_account
                          and enforced_block(account, record).restrict_public_buckets)
            chosen = compiled.denies if restricted else compiled.policy
            assert chosen is not None
            policies = ((f"arn:aws:s3:::{bucket}", chosen),)
        decision = self._decide(principal, access, policies)
        if decision.allowed or decision.kind == "explicit-deny":
            return decision
        if acls_apply(ownership_of(record)) and await self._acl_allows(
                principal, access, record, enforced_block(account, record)):
            return Decision(True, "allow", None, f"allowed by the ACL of {access.resource}")
        return decision

    async def _acl_allows(self, principal: Principal, access: Access, record: BucketRecord,
                          block: PublicAccessBlock) -> bool:
        which = acl_resource(access.action)
        if which is None:
            return False
        who = _requester(principal)
        key = access.resource.removeprefix(f"arn:aws:s3:::{record.name}/")
        if which == "bucket":
            acl = effective_acl(block, bucket_acl(self.objects.account, record))
            if not acl_allows(acl, who, access.action):
                return False
            if ACL_BUCKET_ACTIONS[access.action] is not Permission.WRITE \
                    or access.action == "s3:DeleteObjectVersion":
                return True
            # WRITE creates keys; replacing or deleting one takes owning it or the bucket
            existing = await self.objects.governing_acl(record.name, key)
            return acl_allows(acl, who, access.action,
                              existing_owner_id=existing.owner.id if existing else None)
        version_id = str(access.keys.get("s3:versionid", ""))
        found = await self.objects.governing_acl(record.name, key, version_id)
        return found is not None and acl_allows(effective_acl(block, found), who,
                                                access.action)

    # -- SQS -------------------------------------------------------------------------------

    async def _sqs(self, principal: Principal, access: Access, queue: str) -> Decision:
        record = await self.queues.get(queue, stale_ok=True)
        text = record.attributes.get("Policy", "") if record is not None else ""
        compiled = self._queues.get(queue, text)
        policies: Named = ()
        if compiled is not None and compiled.policy is not None:
            policies = ((access.resource, compiled.policy),)
        return self._decide(principal, access, policies)
