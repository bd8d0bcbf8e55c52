"""Translations for S3 access control: the wire's ACL forms into engine.iam.acl's model
and back, and the caller of the current call as ACLs and Block Public Access name it."""

from __future__ import annotations

from collections.abc import Callable

from engine.api.auth_interceptor import current_principal
from engine.errors import EngineError
from engine.iam.acl import (
    ANONYMOUS_OWNER_ID,
    Acl,
    AclRequest,
    Grant,
    Grantee,
    GranteeType,
    Owner,
    Permission,
    check_grantee,
    parse_acl_headers,
    refuse_email_grantee,
)
from engine.iam.principal import canonical_id
from engine.iam.public_access import Denial
from engine.objects.access_settings import AccountSettings, bucket_owner
from engine.objects.core import WriteOptions
from engine.v1 import objects_pb2 as pb

_HEADERS = (("x-amz-grant-full-control", "grant_full_control"),
            ("x-amz-grant-read", "grant_read"), ("x-amz-grant-read-acp", "grant_read_acp"),
            ("x-amz-grant-write", "grant_write"), ("x-amz-grant-write-acp", "grant_write_acp"))


def _malformed(why: str) -> EngineError:
    return EngineError("MalformedACLError", f"The XML you provided was not well-formed or "
                       f"did not validate against our published schema: {why}")


def _body_grant(grant: pb.Grant, is_known_id: Callable[[str], bool]) -> Grant:
    try:
        permission = Permission(grant.permission)
    except ValueError:
        raise _malformed(f"unknown permission {grant.permission[:64]!r}") from None
    grantee = grant.grantee
    if grantee.type == "AmazonCustomerByEmail":
        raise refuse_email_grantee(grantee.email_address)
    if grantee.type == GranteeType.CANONICAL_USER:
        found = Grantee.user(grantee.id)
    elif grantee.type == GranteeType.GROUP:
        found = Grantee.group(grantee.uri)
    else:
        raise _malformed(f"unknown grantee type {grantee.type[:64]!r}")
    return Grant(check_grantee(found, is_known_id=is_known_id), permission)


def acl_request(spec: pb.AclSpec, is_known_id: Callable[[str], bool]) -> AclRequest | None:
    """The ACL a request sets (x-amz-acl, x-amz-grant-* or an AccessControlPolicy), None
    when it sets none. One form only, as S3 requires."""
    if not spec.ListFields():  # most writes set no ACL
        return None
    headers = {name: getattr(spec, field) for name, field in _HEADERS if getattr(spec, field)}
    if spec.canned:
        headers["x-amz-acl"] = spec.canned
    if spec.HasField("access_control_policy"):
        if headers:
            raise EngineError("InvalidRequest", "Specifying both an AccessControlPolicy and "
                              "ACL headers is not allowed")
        return AclRequest(grants=tuple(_body_grant(g, is_known_id)
                                       for g in spec.access_control_policy.grants))
    return parse_acl_headers(headers, is_known_id=is_known_id)


def acl_message(acl: Acl) -> pb.AccessControlPolicy:
    """GetBucketAcl / GetObjectAcl's Owner and Grants."""
    return pb.AccessControlPolicy(
        owner=pb.Owner(id=acl.owner.id, display_name=acl.owner.display_name),
        grants=[pb.Grant(grantee=pb.Grantee(type=g.grantee.type.value, id=g.grantee.value)
                         if g.grantee.type is GranteeType.CANONICAL_USER
                         else pb.Grantee(type=g.grantee.type.value, uri=g.grantee.value),
                         permission=g.permission.value)
                for g in acl.grants])


def writer() -> Owner | None:
    """Who owns what the current caller writes where the writer owns (ObjectWriter);
    None: the bucket owner (calls served without authentication)."""
    principal = current_principal()
    if principal is None:
        return None
    if principal.anonymous:
        return Owner(ANONYMOUS_OWNER_ID)
    return Owner(canonical_id(principal.account))


def denial(action: str, resource: str) -> Denial | None:
    """The current caller for AWS's enhanced AccessDenied message; anonymous callers get
    the bare "Access Denied", as S3 answers them."""
    principal = current_principal()
    if principal is None or principal.arn is None:
        return None
    return Denial(principal.arn, action, resource)


def known_id(account: AccountSettings) -> Callable[[str], bool]:
    """ACL grants may name only accounts that exist: here, the cluster's one."""
    return lambda canonical: canonical.lower() == bucket_owner(account).id


def with_acl(options: WriteOptions, spec: pb.AclSpec, account: AccountSettings,
             bucket: str, key: str) -> WriteOptions:
    """A write's options with the ACL it asks for and the caller who writes it."""
    options.acl = acl_request(spec, known_id(account))
    options.writer = writer()
    options.requester = denial("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")
    return options
