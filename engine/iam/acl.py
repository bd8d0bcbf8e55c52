"""S3 access control lists: the model, how requests set them, and what they allow.

An ACL is the legacy, per-resource half of S3 authorization: an owner plus up to 100
grants of READ / WRITE / READ_ACP / WRITE_ACP / FULL_CONTROL to an account (canonical id)
or a predefined group. Requests set one with a canned name (``x-amz-acl``) or with
``x-amz-grant-*`` headers, never both. Whether ACLs count at all is Object Ownership's
call (``engine.iam.ownership``) and Block Public Access may ignore public grants
(``engine.iam.public_access``); this module only answers what an ACL itself says.
Semantics follow AWS's "Access control list (ACL) overview".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from engine.errors import EngineError

Resource = Literal["bucket", "object"]

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY)
# Amazon EC2's canonical user ("za-team"), which aws-exec-read grants READ.
EC2_CANONICAL_ID = "6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c"
# The owner S3 records for an object an anonymous requester uploaded.
ANONYMOUS_OWNER_ID = "65a011a29cdf8ec533ec3d1ccaae921c"
_CANONICAL_ID = re.compile(r"^[0-9a-fA-F]{64}$")


class Permission(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    READ_ACP = "READ_ACP"
    WRITE_ACP = "WRITE_ACP"
    FULL_CONTROL = "FULL_CONTROL"


class GranteeType(StrEnum):
    CANONICAL_USER = "CanonicalUser"
    GROUP = "Group"


@dataclass(frozen=True)
class Grantee:
    """An account (by canonical id) or a predefined group (by URI). Email grantees are
    resolved or refused at parse time, so they never reach a stored ACL (as in S3)."""

    type: GranteeType
    value: str

    @classmethod
    def user(cls, canonical_id: str) -> Grantee:
        return cls(GranteeType.CANONICAL_USER, canonical_id)

    @classmethod
    def group(cls, uri: str) -> Grantee:
        return cls(GranteeType.GROUP, uri)


@dataclass(frozen=True)
class Grant:
    grantee: Grantee
    permission: Permission


@dataclass(frozen=True)
class Owner:
    id: str
    display_name: str = ""


@dataclass(frozen=True)
class Acl:
    owner: Owner
    grants: tuple[Grant, ...]

    @classmethod
    def private(cls, owner: Owner) -> Acl:
        """The default ACL S3 gives every new bucket and object."""
        return cls(owner, (Grant(Grantee.user(owner.id), Permission.FULL_CONTROL),))


def _dedupe(grants: list[Grant]) -> tuple[Grant, ...]:
    """Identical grants collapse (bucket-owner-full-control written by the bucket owner)."""
    return tuple(dict.fromkeys(grants))


# ---- canned ACLs -------------------------------------------------------------------

CANNED_ACLS = (
    "private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
    "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write",
)


def canned_acl(name: str, owner: Owner, *, resource: Resource,
               bucket_owner: Owner | None = None) -> Acl:
    """Expand a canned ACL as S3 does. bucket-owner-* only mean something on objects: on a
    bucket S3 ignores them, leaving the owner's FULL_CONTROL."""
    if name not in CANNED_ACLS:
        raise EngineError("InvalidArgument", ArgumentName="x-amz-acl", ArgumentValue=name)
    fc, read = Permission.FULL_CONTROL, Permission.READ
    grants = [Grant(Grantee.user(owner.id), fc)]
    bucket_owner_id = (bucket_owner or owner).id
    extra: dict[str, list[Grant]] = {
        "public-read": [Grant(Grantee.group(ALL_USERS), read)],
        "public-read-write": [Grant(Grantee.group(ALL_USERS), read),
                              Grant(Grantee.group(ALL_USERS), Permission.WRITE)],
        "authenticated-read": [Grant(Grantee.group(AUTHENTICATED_USERS), read)],
        "aws-exec-read": [Grant(Grantee.user(EC2_CANONICAL_ID), read)],
        "log-delivery-write": [Grant(Grantee.group(LOG_DELIVERY), Permission.WRITE),
                               Grant(Grantee.group(LOG_DELIVERY), Permission.READ_ACP)],
    }
    if resource == "object":
        extra["bucket-owner-read"] = [Grant(Grantee.user(bucket_owner_id), read)]
        extra["bucket-owner-full-control"] = [Grant(Grantee.user(bucket_owner_id), fc)]
    return Acl(owner, _dedupe(grants + extra.get(name, [])))


# ---- request headers ---------------------------------------------------------------

GRANT_HEADERS: dict[str, Permission] = {
    "x-amz-grant-full-control": Permission.FULL_CONTROL,
    "x-amz-grant-read": Permission.READ,
    "x-amz-grant-read-acp": Permission.READ_ACP,
    "x-amz-grant-write": Permission.WRITE,
    "x-amz-grant-write-acp": Permission.WRITE_ACP,
}


@dataclass(frozen=True)
class AclRequest:
    """What a request asked for: a canned name or explicit grants (from x-amz-grant-*
    headers or an AccessControlPolicy body), before it is bound to an owner."""

    canned: str | None = None
    grants: tuple[Grant, ...] = ()

    def to_acl(self, owner: Owner, *, resource: Resource,
               bucket_owner: Owner | None = None) -> Acl:
        if self.canned is not None:
            return canned_acl(self.canned, owner, resource=resource, bucket_owner=bucket_owner)
        # Explicit grants are the whole ACL: S3 adds no implicit owner grant.
        return Acl(owner, _dedupe(list(self.grants)))


def refuse_email_grantee(address: str) -> EngineError:
    """S3 no longer creates email-grantee ACLs (every Region since October 2025), and the
    engine has no email-to-account directory: every email grantee is unresolvable."""
    return EngineError("UnresolvableGrantByEmailAddress", EmailAddress=address)


def check_grantee(grantee: Grantee, *,
                  is_known_id: Callable[[str], bool] | None = None) -> Grantee:
    """The grantee if S3 would accept it: a known group URI or a well-formed (and, when
    the caller can tell, existing) canonical id."""
    if grantee.type is GranteeType.GROUP:
        if grantee.value not in GROUPS:
            raise EngineError("InvalidArgument", "Invalid group uri", ArgumentName="uri",
                              ArgumentValue=grantee.value)
    elif not _CANONICAL_ID.match(grantee.value) or (
            is_known_id is not None and not is_known_id(grantee.value)):
        raise EngineError("InvalidArgument", "Invalid id", ArgumentName="id",
                          ArgumentValue=grantee.value)
    return grantee


def _parse_grantees(header: str, value: str,
                    is_known_id: Callable[[str], bool] | None) -> list[Grantee]:
    grantees = []
    for item in value.split(","):
        kind, sep, raw = (part.strip() for part in item.partition("="))
        quoted = len(raw) >= 2 and raw[0] == raw[-1] == '"'
        if not sep or kind not in ("id", "uri", "emailAddress") or (
                '"' in (raw[1:-1] if quoted else raw)):
            raise EngineError("InvalidArgument", "Argument format not recognized",
                              ArgumentName=header, ArgumentValue=item.strip())
        raw = raw[1:-1] if quoted else raw
        if kind == "emailAddress":
            raise refuse_email_grantee(raw)
        grantee = Grantee.user(raw) if kind == "id" else Grantee.group(raw)
        grantees.append(check_grantee(grantee, is_known_id=is_known_id))
    return grantees


def parse_acl_headers(headers: Mapping[str, str], *,
                      is_known_id: Callable[[str], bool] | None = None) -> AclRequest | None:
    """The ACL a PUT asks for through x-amz-acl or x-amz-grant-*, or None when it names
    none. ``is_known_id`` lets the caller refuse canonical ids of unknown accounts."""
    lower = {k.lower(): v for k, v in headers.items()}
    canned = lower.get("x-amz-acl")
    present = [(h, lower[h]) for h in GRANT_HEADERS if lower.get(h, "").strip()]
    if canned is not None and present:
        raise EngineError("InvalidRequest",
                          "Specifying both Canned ACLs and Header Grants is not allowed")
    if canned is not None:
        if canned not in CANNED_ACLS:
            raise EngineError("InvalidArgument", ArgumentName="x-amz-acl",
                              ArgumentValue=canned)
        return AclRequest(canned=canned)
    if not present:
        return None
    grants = [Grant(grantee, GRANT_HEADERS[header])
              for header, value in present
              for grantee in _parse_grantees(header, value, is_known_id)]
    return AclRequest(grants=tuple(grants))


# ---- stored form -------------------------------------------------------------------

_PERM_CODE = {Permission.READ: "R", Permission.WRITE: "W", Permission.READ_ACP: "RA",
              Permission.WRITE_ACP: "WA", Permission.FULL_CONTROL: "FC"}
_CODE_PERM = {code: perm for perm, code in _PERM_CODE.items()}
_GROUP_CODE = {uri: uri.rsplit("/", 1)[1] for uri in GROUPS}
_CODE_GROUP = {code: uri for uri, code in _GROUP_CODE.items()}


def acl_to_bytes(acl: Acl) -> bytes:
    """Compact, deterministic JSON for the replicated metadata: every bucket and object
    carries one, so group URIs and permissions are abbreviated."""
    grants = [["u", g.grantee.value, _PERM_CODE[g.permission]]
              if g.grantee.type is GranteeType.CANONICAL_USER
              else ["g", _GROUP_CODE[g.grantee.value], _PERM_CODE[g.permission]]
              for g in acl.grants]
    doc: dict[str, object] = {"v": 1, "o": acl.owner.id, "g": grants}
    if acl.owner.display_name:
        doc["n"] = acl.owner.display_name
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def acl_from_bytes(data: bytes) -> Acl:
    """Inverse of acl_to_bytes; ValueError on a record this version cannot read."""
    try:
        doc = json.loads(data)
        if doc.get("v") != 1:
            raise ValueError(f"unknown ACL record version {doc.get('v')!r}")
        grants = tuple(
            Grant(Grantee.user(value) if kind == "u" else Grantee.group(_CODE_GROUP[value]),
                  _CODE_PERM[perm])
            for kind, value, perm in doc["g"])
        return Acl(Owner(doc["o"], doc.get("n", "")), grants)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed ACL record: {exc!r}") from exc


# ---- evaluation --------------------------------------------------------------------

@dataclass(frozen=True)
class Requester:
    """Who is asking, as ACLs see it: an account's canonical id (None when anonymous),
    whether the request was signed, and whether it is S3's log delivery."""

    canonical_id: str | None = None
    authenticated: bool = False
    log_delivery: bool = False

    @classmethod
    def account(cls, canonical_id: str) -> Requester:
        return cls(canonical_id, authenticated=True)


ANONYMOUS = Requester()

# The table "Mapping of ACL permissions and access policy permissions".
BUCKET_ACTIONS: dict[str, Permission] = {
    "s3:ListBucket": Permission.READ,
    "s3:ListBucketVersions": Permission.READ,
    "s3:ListBucketMultipartUploads": Permission.READ,
    "s3:PutObject": Permission.WRITE,
    "s3:DeleteObject": Permission.WRITE,
    "s3:DeleteObjectVersion": Permission.WRITE,
    "s3:GetBucketAcl": Permission.READ_ACP,
    "s3:PutBucketAcl": Permission.WRITE_ACP,
}
OBJECT_ACTIONS: dict[str, Permission] = {
    "s3:GetObject": Permission.READ,
    "s3:GetObjectVersion": Permission.READ,
    "s3:GetObjectTorrent": Permission.READ,
    "s3:GetObjectAcl": Permission.READ_ACP,
    "s3:GetObjectVersionAcl": Permission.READ_ACP,
    "s3:PutObjectAcl": Permission.WRITE_ACP,
    "s3:PutObjectVersionAcl": Permission.WRITE_ACP,
}


def acl_resource(action: str) -> Resource | None:
    """Whose ACL an action is checked against, or None when ACLs never grant it."""
    if action in BUCKET_ACTIONS:
        return "bucket"
    return "object" if action in OBJECT_ACTIONS else None


def _applies(grantee: Grantee, who: Requester) -> bool:
    if grantee.type is GranteeType.CANONICAL_USER:
        return who.canonical_id is not None and grantee.value == who.canonical_id
    return (grantee.value == ALL_USERS
            or (grantee.value == AUTHENTICATED_USERS and who.authenticated)
            or (grantee.value == LOG_DELIVERY and who.log_delivery))


def permissions_of(acl: Acl, who: Requester) -> frozenset[Permission]:
    """Every permission the ACL gives the requester. The owner always keeps READ_ACP and
    WRITE_ACP, so an owner can never lock itself out of its own ACL."""
    held = {g.permission for g in acl.grants if _applies(g.grantee, who)}
    if Permission.FULL_CONTROL in held:
        held.update(Permission)
    if who.canonical_id is not None and who.canonical_id == acl.owner.id:
        held.update((Permission.READ_ACP, Permission.WRITE_ACP))
    return frozenset(held)


def acl_allows(acl: Acl, who: Requester, action: str, *,
               existing_owner_id: str | None = None) -> bool:
    """Whether this ACL alone lets the requester perform the S3 action. ``acl`` is the
    bucket's ACL for bucket actions (see acl_resource), the object's for object actions.

    WRITE on a bucket creates new objects; overwriting or deleting an existing one
    (``existing_owner_id`` is its owner, None when the key is new) takes WRITE plus being
    the bucket owner or that object's owner, and DeleteObjectVersion always needs that.
    """
    needed = BUCKET_ACTIONS.get(action) or OBJECT_ACTIONS.get(action)
    if needed is None or needed not in permissions_of(acl, who):
        return False
    if needed is not Permission.WRITE:
        return True
    owners = {acl.owner.id, existing_owner_id}
    if action == "s3:DeleteObjectVersion" or existing_owner_id is not None:
        return who.canonical_id is not None and who.canonical_id in owners
    return True
