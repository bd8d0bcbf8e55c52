"""S3 Block Public Access and what "public" means for ACLs and bucket policies.

Four independent flags, set per account and per bucket; S3 applies the most restrictive
combination (the OR of both levels). New buckets and the engine's accounts start with all
four on. The definitions follow AWS's "Blocking public access to your Amazon S3 storage",
section "The meaning of 'public'":

- an ACL is public if it grants anything to AllUsers or AuthenticatedUsers;
- a bucket policy is public unless every Allow statement is limited to fixed principals
  or by a condition with fixed values (no wildcard, no policy variable) on one of the
  keys AWS lists. Actions do not matter: S3 also judges the actions a policy might gain.

Policies arrive as parsed JSON (the policy evaluator is a separate module).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from engine.errors import EngineError
from engine.iam.acl import ALL_USERS, AUTHENTICATED_USERS, Acl

PUBLIC_GROUPS = frozenset((ALL_USERS, AUTHENTICATED_USERS))


@dataclass(frozen=True)
class PublicAccessBlock:
    """A PublicAccessBlockConfiguration. The defaults are what a new bucket gets; an
    element missing from a PUT body is false, as in S3."""

    block_public_acls: bool = True
    ignore_public_acls: bool = True
    block_public_policy: bool = True
    restrict_public_buckets: bool = True

    def __or__(self, other: PublicAccessBlock) -> PublicAccessBlock:
        return PublicAccessBlock(*(getattr(self, f.name) or getattr(other, f.name)
                                   for f in fields(self)))

    def to_dict(self) -> dict[str, bool]:
        """AWS's element names, for the wire and the stored form."""
        return {aws: getattr(self, name) for name, aws in _AWS_NAMES.items()}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> PublicAccessBlock:
        """From the parsed XML body (strings "true"/"false") or a stored dict (bools)."""
        values = {}
        for name, aws in _AWS_NAMES.items():
            raw = doc.get(aws, False)
            if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
                raw = raw.strip().lower() == "true"
            if not isinstance(raw, bool):
                raise EngineError("MalformedXML")
            values[name] = raw
        return cls(**values)


_AWS_NAMES = {
    "block_public_acls": "BlockPublicAcls",
    "ignore_public_acls": "IgnorePublicAcls",
    "block_public_policy": "BlockPublicPolicy",
    "restrict_public_buckets": "RestrictPublicBuckets",
}
NO_BLOCK = PublicAccessBlock(False, False, False, False)


def effective_block(account: PublicAccessBlock | None,
                    bucket: PublicAccessBlock | None) -> PublicAccessBlock:
    """The configuration S3 enforces for a bucket; None where a level has none."""
    return (account or NO_BLOCK) | (bucket or NO_BLOCK)


@dataclass(frozen=True)
class Denial:
    """Who was refused what, for AWS's enhanced AccessDenied message (same-account
    callers only; others get a bare "Access Denied")."""

    principal_arn: str
    action: str
    resource_arn: str


def _denied(reason: str, who: Denial | None) -> EngineError:
    if who is None:
        return EngineError("AccessDenied")
    return EngineError("AccessDenied", f"User: {who.principal_arn} is not authorized to "
                       f'perform: {who.action} on resource: "{who.resource_arn}" {reason}')


# ---- ACLs --------------------------------------------------------------------------

def is_acl_public(acl: Acl) -> bool:
    return any(g.grantee.value in PUBLIC_GROUPS for g in acl.grants)


def check_acl_put(config: PublicAccessBlock, acl: Acl, who: Denial | None = None) -> None:
    """BlockPublicAcls: PutBucketAcl, PutObjectAcl, PutObject (and CreateBucket, against
    the account's setting) fail when the ACL they set is public."""
    if config.block_public_acls and is_acl_public(acl):
        raise _denied("because public ACLs are prevented by the BlockPublicAcls setting in "
                      "S3 Block Public Access.", who)


def effective_acl(config: PublicAccessBlock, acl: Acl) -> Acl:
    """IgnorePublicAcls: the ACL S3 enforces has its public grants dropped; the stored ACL
    (what GetBucketAcl / GetObjectAcl show) is untouched."""
    if not config.ignore_public_acls:
        return acl
    return Acl(acl.owner, tuple(g for g in acl.grants if g.grantee.value not in PUBLIC_GROUPS))


# ---- bucket policies ---------------------------------------------------------------

# Condition keys whose fixed values make an Allow statement non-public (lower case:
# condition keys are case-insensitive). aws:PrincipalOrgID and its kin name principals.
_RESTRICTING_KEYS = frozenset(k.lower() for k in (
    "aws:SourceIp", "aws:SourceArn", "aws:SourceVpc", "aws:SourceVpce", "aws:SourceOwner",
    "aws:SourceAccount", "aws:userid", "aws:PrincipalOrgID", "aws:PrincipalAccount",
    "aws:PrincipalArn", "s3:DataAccessPointArn", "s3:DataAccessPointAccount",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
))
# Operators that narrow the request to the listed values (alone or as ForAnyValue:).
# Negated operators, ...IfExists and ForAllValues: hold when the key is absent, so they
# restrict nothing and are not listed.
_NARROWING_OPERATORS = frozenset(o.lower() for o in (
    "StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike",
    "IpAddress",
))
# IPv4 ranges broader than /8 and IPv6 broader than /32 count as public (AWS's note on
# aws:SourceIp; RFC 1918 ranges are all /8 or narrower, so their exclusion never bites).
_MIN_PREFIX = {4: 8, 6: 32}
_ROLE_SESSIONS = re.compile(r"^[A-Za-z0-9]+:\*$")  # aws:userid "AROLEID:*"
_ACCESS_POINT_ARN = re.compile(r"^arn:[^:*?]+:s3:[^:]*:(\d{12}):accesspoint/.*$")


def _values(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    return [item if isinstance(item, str) else str(item) for item in items]


def _fixed(text: str) -> bool:
    return "*" not in text and "?" not in text and "${" not in text


def _fixed_value(key: str, operator: str, value: str) -> bool:
    if key == "aws:sourceip":
        if operator != "ipaddress" or not _fixed(value):
            return False
        try:
            network = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            return False
        return network.prefixlen >= _MIN_PREFIX[network.version]
    if operator == "ipaddress" or "${" in value:
        return False
    if key == "s3:dataaccesspointarn":
        # A bucket policy may wildcard the access point name as long as the account is
        # fixed (arn:aws:s3:us-west-2:123456789012:accesspoint/*).
        return _ACCESS_POINT_ARN.match(value) is not None or _fixed(value)
    if key == "aws:userid":
        # All sessions of one role (its unique id, then ":*") is still a fixed principal.
        return _fixed(value) or _ROLE_SESSIONS.match(value) is not None
    return _fixed(value)


def _condition_restricts(condition: Any) -> bool:
    if not isinstance(condition, Mapping):
        return False
    for operator, block in condition.items():
        op = str(operator).lower().removeprefix("foranyvalue:")
        if op not in _NARROWING_OPERATORS or not isinstance(block, Mapping):
            continue
        for key, raw in block.items():
            key = str(key).lower()
            values = _values(raw)
            if key in _RESTRICTING_KEYS and values and all(
                    _fixed_value(key, op, v) for v in values):
                return True
    return False


def _principal_open(principal: Any) -> bool:
    """Whether a Principal reaches beyond fixed accounts, users, roles and services.
    Federated (web identity, e.g. graph.facebook.com) lets anyone with such an identity
    in, so AWS counts it as public."""
    if not isinstance(principal, Mapping):
        return principal is None or not _fixed(str(principal)) or principal == ""
    for kind, raw in principal.items():
        if kind == "Federated" or not all(_fixed(v) for v in _values(raw)):
            return True
    return not principal


def _statement_public(statement: Any) -> bool:
    if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
        return False
    # NotPrincipal with Allow grants everyone but the named principals.
    if "NotPrincipal" not in statement and not _principal_open(statement.get("Principal")):
        return False
    return not _condition_restricts(statement.get("Condition"))


def is_policy_public(policy: Mapping[str, Any]) -> bool:
    """AWS's test: public unless every Allow statement is limited to fixed values."""
    statements = policy.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    return isinstance(statements, list) and any(_statement_public(s) for s in statements)


def check_policy_put(config: PublicAccessBlock, policy: Mapping[str, Any],
                     who: Denial | None = None) -> None:
    """BlockPublicPolicy: PutBucketPolicy fails when the new policy is public."""
    if config.block_public_policy and is_policy_public(policy):
        raise _denied("because public policies are prevented by the BlockPublicPolicy "
                      "setting in S3 Block Public Access.", who)


def policy_grant_counts(config: PublicAccessBlock, policy: Mapping[str, Any] | None, *,
                        requester_account: str | None, bucket_account: str,
                        service_principal: bool = False) -> bool:
    """RestrictPublicBuckets: while the bucket policy is public, its Allow statements
    reach only AWS service principals and the bucket owner's own account; every other
    grant of that policy, including non-public delegation to a named account, is void.
    Call before counting a bucket-policy Allow for this requester."""
    if policy is None or not config.restrict_public_buckets or not is_policy_public(policy):
        return True
    return service_principal or (requester_account is not None
                                 and requester_account == bucket_account)


def policy_status(policy: Mapping[str, Any] | None) -> dict[str, bool]:
    """GetBucketPolicyStatus's PolicyStatus; a bucket without a policy has no status."""
    if policy is None:
        raise EngineError("NoSuchBucketPolicy", "The bucket policy does not exist")
    return {"IsPublic": is_policy_public(policy)}
