"""S3 ACLs: canned expansion, x-amz-grant-* headers, the stored form, and what an ACL
allows (AWS "Access control list (ACL) overview")."""

from __future__ import annotations

import pytest

from engine.errors import EngineError
from engine.iam.acl import (
    ALL_USERS,
    ANONYMOUS,
    AUTHENTICATED_USERS,
    BUCKET_ACTIONS,
    EC2_CANONICAL_ID,
    LOG_DELIVERY,
    OBJECT_ACTIONS,
    Acl,
    AclRequest,
    Grant,
    Grantee,
    Owner,
    Permission,
    Requester,
    acl_allows,
    acl_from_bytes,
    acl_resource,
    acl_to_bytes,
    canned_acl,
    parse_acl_headers,
)

OWNER_ID = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"  # AWS's example
BUCKET_OWNER_ID = "852b113e7a2f25102679df27bb0ae12b3f85be6f290b936c4393484be31bebcc"
OTHER_ID = "a" * 64
OWNER, BUCKET_OWNER = Owner(OWNER_ID), Owner(BUCKET_OWNER_ID)
R, W, RA, WA, FC = (Permission.READ, Permission.WRITE, Permission.READ_ACP,
                    Permission.WRITE_ACP, Permission.FULL_CONTROL)


def user(canonical_id: str, perm: Permission) -> Grant:
    return Grant(Grantee.user(canonical_id), perm)


def group(uri: str, perm: Permission) -> Grant:
    return Grant(Grantee.group(uri), perm)


# ---- canned ACLs: the table "Canned ACL", for an object written by OWNER into
# BUCKET_OWNER's bucket, and for a bucket owned by OWNER.
OBJECT_CANNED = {
    "private": [user(OWNER_ID, FC)],
    "public-read": [user(OWNER_ID, FC), group(ALL_USERS, R)],
    "public-read-write": [user(OWNER_ID, FC), group(ALL_USERS, R), group(ALL_USERS, W)],
    "authenticated-read": [user(OWNER_ID, FC), group(AUTHENTICATED_USERS, R)],
    "aws-exec-read": [user(OWNER_ID, FC), user(EC2_CANONICAL_ID, R)],
    "bucket-owner-read": [user(OWNER_ID, FC), user(BUCKET_OWNER_ID, R)],
    "bucket-owner-full-control": [user(OWNER_ID, FC), user(BUCKET_OWNER_ID, FC)],
    "log-delivery-write": [user(OWNER_ID, FC), group(LOG_DELIVERY, W), group(LOG_DELIVERY, RA)],
}
BUCKET_CANNED = {
    **OBJECT_CANNED,
    # "If you specify this canned ACL when creating a bucket, Amazon S3 ignores it."
    "bucket-owner-read": [user(OWNER_ID, FC)],
    "bucket-owner-full-control": [user(OWNER_ID, FC)],
}


@pytest.mark.parametrize("name", sorted(OBJECT_CANNED))
def test_canned_acl_on_an_object(name):
    acl = canned_acl(name, OWNER, resource="object", bucket_owner=BUCKET_OWNER)
    assert acl == Acl(OWNER, tuple(OBJECT_CANNED[name]))


@pytest.mark.parametrize("name", sorted(BUCKET_CANNED))
def test_canned_acl_on_a_bucket(name):
    acl = canned_acl(name, OWNER, resource="bucket")
    assert acl == Acl(OWNER, tuple(BUCKET_CANNED[name]))


def test_bucket_owner_full_control_written_by_the_bucket_owner_is_one_grant():
    acl = canned_acl("bucket-owner-full-control", BUCKET_OWNER, resource="object",
                     bucket_owner=BUCKET_OWNER)
    assert acl.grants == (user(BUCKET_OWNER_ID, FC),)


def test_unknown_canned_acl_is_an_invalid_argument():
    with pytest.raises(EngineError) as err:
        parse_acl_headers({"x-amz-acl": "public"})
    assert err.value.code == "InvalidArgument"
    assert err.value.details == {"ArgumentName": "x-amz-acl", "ArgumentValue": "public"}


# ---- x-amz-grant-* headers

def test_no_acl_headers_means_no_acl_request():
    assert parse_acl_headers({"content-type": "text/plain"}) is None


def test_canned_header_names_are_case_insensitive():
    assert parse_acl_headers({"X-Amz-Acl": "public-read"}) == AclRequest(canned="public-read")


def test_grant_headers_parse_into_grants_without_an_implicit_owner_grant():
    request = parse_acl_headers({
        "x-amz-grant-read": f'id="{OTHER_ID}", uri="{ALL_USERS}"',
        "X-Amz-Grant-Full-Control": f"id={BUCKET_OWNER_ID}",  # quotes are optional
        "x-amz-grant-write-acp": f'uri="{LOG_DELIVERY}"',
    })
    assert request is not None
    acl = request.to_acl(OWNER, resource="object")
    assert acl.grants == (user(BUCKET_OWNER_ID, FC), user(OTHER_ID, R), group(ALL_USERS, R),
                          group(LOG_DELIVERY, WA))


def test_canned_acl_and_header_grants_together_are_refused():
    with pytest.raises(EngineError) as err:
        parse_acl_headers({"x-amz-acl": "private", "x-amz-grant-read": f'id="{OTHER_ID}"'})
    assert err.value.code == "InvalidRequest"
    assert err.value.message == "Specifying both Canned ACLs and Header Grants is not allowed"


@pytest.mark.parametrize(("value", "bad_item"), [
    ("canonical=abc", "canonical=abc"),
    (f'id="{OTHER_ID}", nonsense', "nonsense"),
    ('ID="x"', 'ID="x"'),
    (f'id="{OTHER_ID}', f'id="{OTHER_ID}'),  # unbalanced quote
])
def test_malformed_grant_names_the_offending_header(value, bad_item):
    with pytest.raises(EngineError) as err:
        parse_acl_headers({"x-amz-grant-read-acp": value})
    assert (err.value.code, err.value.message) == ("InvalidArgument",
                                                   "Argument format not recognized")
    assert err.value.http_status == 400
    assert err.value.details == {"ArgumentName": "x-amz-grant-read-acp",
                                 "ArgumentValue": bad_item}


def test_unknown_group_uri_is_refused():
    with pytest.raises(EngineError) as err:
        parse_acl_headers({"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/x"'})
    assert (err.value.code, err.value.message) == ("InvalidArgument", "Invalid group uri")
    assert err.value.details["ArgumentValue"] == "http://acs.amazonaws.com/groups/x"


@pytest.mark.parametrize("bad_id", ["", "123456789012", "z" * 64, OTHER_ID + "0"])
def test_malformed_canonical_id_is_refused(bad_id):
    with pytest.raises(EngineError) as err:
        parse_acl_headers({"x-amz-grant-write": f'id="{bad_id}"'})
    assert (err.value.code, err.value.message) == ("InvalidArgument", "Invalid id")


def test_canonical_id_of_an_unknown_account_is_refused_when_the_caller_can_tell():
    known = {OWNER_ID}.__contains__
    assert parse_acl_headers({"x-amz-grant-read": f"id={OWNER_ID}"}, is_known_id=known)
    with pytest.raises(EngineError) as err:
        parse_acl_headers({"x-amz-grant-read": f"id={OTHER_ID}"}, is_known_id=known)
    assert err.value.message == "Invalid id"


def test_email_grantees_are_unresolvable():
    with pytest.raises(EngineError) as err:
        parse_acl_headers({"x-amz-grant-read": 'emailAddress="xyz@amazon.com"'})
    assert err.value.code == "UnresolvableGrantByEmailAddress"
    assert err.value.details == {"EmailAddress": "xyz@amazon.com"}


# ---- the stored form

def test_stored_form_is_pinned():
    acl = Acl(Owner(OWNER_ID, "mtd"), (user(OWNER_ID, FC), group(ALL_USERS, R),
                                       group(LOG_DELIVERY, WA)))
    assert acl_to_bytes(acl) == (
        b'{"g":[["u","' + OWNER_ID.encode() + b'","FC"],["g","AllUsers","R"],'
        b'["g","LogDelivery","WA"]],"n":"mtd","o":"' + OWNER_ID.encode() + b'","v":1}')
    assert acl_from_bytes(acl_to_bytes(acl)) == acl


@pytest.mark.parametrize("name", sorted(OBJECT_CANNED))
def test_every_canned_acl_survives_the_stored_form(name):
    acl = canned_acl(name, OWNER, resource="object", bucket_owner=BUCKET_OWNER)
    assert acl_from_bytes(acl_to_bytes(acl)) == acl


@pytest.mark.parametrize("data", [b'{"v":2,"o":"x","g":[]}', b'{"v":1,"g":[]}',
                                  b'{"v":1,"o":"x","g":[["g","Nobody","R"]]}', b"[]"])
def test_unreadable_stored_form_is_a_value_error(data):
    with pytest.raises(ValueError):
        acl_from_bytes(data)


# ---- evaluation: "Mapping of ACL permissions and access policy permissions"

TABLE = [
    ("s3:ListBucket", "bucket", R), ("s3:ListBucketVersions", "bucket", R),
    ("s3:ListBucketMultipartUploads", "bucket", R), ("s3:PutObject", "bucket", W),
    ("s3:DeleteObject", "bucket", W), ("s3:GetBucketAcl", "bucket", RA),
    ("s3:PutBucketAcl", "bucket", WA), ("s3:GetObject", "object", R),
    ("s3:GetObjectVersion", "object", R), ("s3:GetObjectTorrent", "object", R),
    ("s3:GetObjectAcl", "object", RA), ("s3:GetObjectVersionAcl", "object", RA),
    ("s3:PutObjectAcl", "object", WA), ("s3:PutObjectVersionAcl", "object", WA),
]
GRANTEE = Requester.account(OTHER_ID)


def test_table_covers_every_action_the_module_knows():
    assert {a for a, _, _ in TABLE} | {"s3:DeleteObjectVersion"} == (
        set(BUCKET_ACTIONS) | set(OBJECT_ACTIONS))


@pytest.mark.parametrize(("action", "resource", "needed"), TABLE)
def test_each_action_needs_exactly_its_permission(action, resource, needed):
    assert acl_resource(action) == resource
    for perm in (R, W, RA, WA):
        acl = Acl(OWNER, (user(OTHER_ID, perm),))
        assert acl_allows(acl, GRANTEE, action) is (perm is needed), perm
    assert acl_allows(Acl(OWNER, (user(OTHER_ID, FC),)), GRANTEE, action)
    assert not acl_allows(Acl(OWNER, ()), GRANTEE, action)


def test_actions_outside_the_table_are_never_granted_by_an_acl():
    acl = Acl(OWNER, (user(OTHER_ID, FC),))
    assert acl_resource("s3:PutBucketPolicy") is None
    assert not acl_allows(acl, GRANTEE, "s3:PutBucketPolicy")
    assert not acl_allows(acl, GRANTEE, "s3:GetObjectTagging")


def test_all_users_reaches_anonymous_and_signed_requests():
    acl = canned_acl("public-read", OWNER, resource="object")
    assert acl_allows(acl, ANONYMOUS, "s3:GetObject")
    assert acl_allows(acl, GRANTEE, "s3:GetObject")
    assert not acl_allows(acl, ANONYMOUS, "s3:GetObjectAcl")


def test_authenticated_users_needs_a_signed_request():
    acl = canned_acl("authenticated-read", OWNER, resource="object")
    assert acl_allows(acl, GRANTEE, "s3:GetObject")
    assert not acl_allows(acl, ANONYMOUS, "s3:GetObject")


def test_log_delivery_group_is_only_log_delivery():
    acl = canned_acl("log-delivery-write", OWNER, resource="bucket")
    assert acl_allows(acl, Requester(log_delivery=True), "s3:PutObject")
    assert acl_allows(acl, Requester(log_delivery=True), "s3:GetBucketAcl")
    assert not acl_allows(acl, GRANTEE, "s3:PutObject")


def test_owner_keeps_its_acl_permissions_even_without_a_grant():
    acl = Acl(OWNER, (user(OTHER_ID, FC),))
    owner = Requester.account(OWNER_ID)
    assert acl_allows(acl, owner, "s3:GetObjectAcl")
    assert acl_allows(acl, owner, "s3:PutObjectAcl")
    assert not acl_allows(acl, owner, "s3:GetObject")


def test_bucket_write_creates_but_only_owners_overwrite_or_delete():
    bucket_acl = Acl(BUCKET_OWNER, (user(BUCKET_OWNER_ID, FC), group(ALL_USERS, W)))
    bucket_owner = Requester.account(BUCKET_OWNER_ID)
    assert acl_allows(bucket_acl, GRANTEE, "s3:PutObject")  # a new key
    assert acl_allows(bucket_acl, ANONYMOUS, "s3:PutObject")
    assert not acl_allows(bucket_acl, GRANTEE, "s3:PutObject", existing_owner_id=OWNER_ID)
    assert not acl_allows(bucket_acl, GRANTEE, "s3:DeleteObject", existing_owner_id=OWNER_ID)
    assert acl_allows(bucket_acl, GRANTEE, "s3:DeleteObject", existing_owner_id=OTHER_ID)
    assert acl_allows(bucket_acl, bucket_owner, "s3:DeleteObject", existing_owner_id=OWNER_ID)


def test_delete_object_version_needs_write_and_being_the_bucket_owner_or_version_owner():
    bucket_acl = Acl(BUCKET_OWNER, (user(BUCKET_OWNER_ID, FC), user(OTHER_ID, W)))
    bucket_owner = Requester.account(BUCKET_OWNER_ID)
    action = "s3:DeleteObjectVersion"
    assert acl_allows(bucket_acl, bucket_owner, action, existing_owner_id=OWNER_ID)
    assert acl_allows(bucket_acl, GRANTEE, action, existing_owner_id=OTHER_ID)
    assert not acl_allows(bucket_acl, GRANTEE, action, existing_owner_id=OWNER_ID)
    assert not acl_allows(bucket_acl, GRANTEE, action)
    unwritable = Acl(BUCKET_OWNER, (user(BUCKET_OWNER_ID, R),))
    assert not acl_allows(unwritable, bucket_owner, action, existing_owner_id=OWNER_ID)
