"""S3 Object Ownership (AWS "Controlling ownership of objects and disabling ACLs")."""

from __future__ import annotations

import pytest

from engine.errors import EngineError
from engine.iam.acl import (
    ALL_USERS,
    ANONYMOUS_OWNER_ID,
    Acl,
    AclRequest,
    Grant,
    Grantee,
    Owner,
    Permission,
    canned_acl,
    parse_acl_headers,
)
from engine.iam.ownership import (
    DEFAULT_OBJECT_OWNERSHIP,
    ObjectOwnership,
    acl_for_new_object,
    acls_apply,
    check_acl_request,
    check_can_enforce,
    check_create_bucket_acl,
    new_object_owner,
    parse_object_ownership,
    readable_acl,
)

BUCKET_OWNER = Owner("852b113e7a2f25102679df27bb0ae12b3f85be6f290b936c4393484be31bebcc")
WRITER = Owner("79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be")
ENFORCED = ObjectOwnership.BUCKET_OWNER_ENFORCED
PREFERRED = ObjectOwnership.BUCKET_OWNER_PREFERRED
WRITER_OWNS = ObjectOwnership.OBJECT_WRITER
FC, READ = Permission.FULL_CONTROL, Permission.READ
BOFC = AclRequest(canned="bucket-owner-full-control")


def fc(owner: Owner) -> Grant:
    return Grant(Grantee.user(owner.id), FC)


def test_new_buckets_disable_acls_by_default():
    assert DEFAULT_OBJECT_OWNERSHIP is ENFORCED
    assert parse_object_ownership(None) is ENFORCED
    assert not acls_apply(ENFORCED)
    assert acls_apply(PREFERRED) and acls_apply(WRITER_OWNS)


@pytest.mark.parametrize("value", list(ObjectOwnership))
def test_every_setting_parses_from_its_header(value):
    assert parse_object_ownership(value.value) is value


def test_unknown_setting_is_refused_as_aws_words_it():
    with pytest.raises(EngineError) as err:
        parse_object_ownership("RandomValue")
    assert err.value.code == "InvalidArgument"
    assert err.value.message == "Invalid x-amz-object-ownership header: RandomValue"
    assert err.value.details == {"ArgumentName": "x-amz-object-ownership"}


# ---- who owns a new object

@pytest.mark.parametrize(("ownership", "request_", "owner"), [
    (ENFORCED, None, BUCKET_OWNER),
    (ENFORCED, BOFC, BUCKET_OWNER),
    (PREFERRED, BOFC, BUCKET_OWNER),
    (PREFERRED, None, WRITER),
    (PREFERRED, AclRequest(canned="public-read"), WRITER),
    (PREFERRED, AclRequest(grants=(fc(BUCKET_OWNER),)), WRITER),  # only the canned name
    (WRITER_OWNS, BOFC, WRITER),
    (WRITER_OWNS, None, WRITER),
])
def test_owner_of_a_new_object(ownership, request_, owner):
    assert new_object_owner(ownership, request_, writer=WRITER,
                            bucket_owner=BUCKET_OWNER) == owner


def test_anonymous_writer_owns_its_object_under_object_writer():
    anon = Owner(ANONYMOUS_OWNER_ID)
    acl = acl_for_new_object(WRITER_OWNS, None, writer=anon, bucket_owner=BUCKET_OWNER)
    assert acl == Acl.private(anon)


def test_stored_acl_of_a_new_object_per_setting():
    public = AclRequest(canned="public-read")
    assert acl_for_new_object(ENFORCED, BOFC, writer=WRITER, bucket_owner=BUCKET_OWNER) == (
        Acl.private(BUCKET_OWNER))
    # Bucket owner preferred + bucket-owner-full-control: "the object writer no longer
    # has full control access".
    assert acl_for_new_object(PREFERRED, BOFC, writer=WRITER, bucket_owner=BUCKET_OWNER) == (
        Acl(BUCKET_OWNER, (fc(BUCKET_OWNER),)))
    assert acl_for_new_object(WRITER_OWNS, BOFC, writer=WRITER,
                              bucket_owner=BUCKET_OWNER) == (
        Acl(WRITER, (fc(WRITER), fc(BUCKET_OWNER))))
    assert acl_for_new_object(PREFERRED, public, writer=WRITER,
                              bucket_owner=BUCKET_OWNER) == (
        canned_acl("public-read", WRITER, resource="object"))


# ---- which ACL inputs a PUT may carry

@pytest.mark.parametrize("headers", [
    {},
    {"x-amz-acl": "bucket-owner-full-control"},
    {"x-amz-acl": "private"},
    {"x-amz-grant-full-control": f'id="{BUCKET_OWNER.id}"'},  # an equivalent form
])
def test_acls_disabled_still_accept_bucket_owner_full_control(headers):
    request = parse_acl_headers(headers)
    for resource in ("object", "bucket"):
        check_acl_request(ENFORCED, request, bucket_owner=BUCKET_OWNER, resource=resource)


@pytest.mark.parametrize("headers", [
    {"x-amz-acl": "public-read"},
    {"x-amz-acl": "bucket-owner-read"},
    {"x-amz-acl": "aws-exec-read"},
    {"x-amz-grant-read": f'id="{WRITER.id}"'},
    {"x-amz-grant-full-control": f'id="{BUCKET_OWNER.id}", id="{WRITER.id}"'},
])
def test_acls_disabled_refuse_any_other_acl(headers):
    with pytest.raises(EngineError) as err:
        check_acl_request(ENFORCED, parse_acl_headers(headers), bucket_owner=BUCKET_OWNER,
                          resource="object")
    assert (err.value.code, err.value.message) == ("AccessControlListNotSupported",
                                                   "The bucket does not allow ACLs")


@pytest.mark.parametrize("ownership", [PREFERRED, WRITER_OWNS])
def test_acls_enabled_accept_any_acl(ownership):
    check_acl_request(ownership, AclRequest(canned="public-read-write"),
                      bucket_owner=BUCKET_OWNER, resource="bucket")


def test_create_bucket_with_acls_disabled_and_a_granting_acl():
    check_create_bucket_acl(ENFORCED, AclRequest(canned="private"), bucket_owner=BUCKET_OWNER)
    check_create_bucket_acl(PREFERRED, AclRequest(canned="public-read"),
                            bucket_owner=BUCKET_OWNER)
    with pytest.raises(EngineError) as err:
        check_create_bucket_acl(ENFORCED, AclRequest(canned="public-read"),
                                bucket_owner=BUCKET_OWNER)
    assert err.value.code == "InvalidBucketAclWithObjectOwnership"
    assert err.value.message == (
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")


def test_enforcing_needs_a_bucket_acl_that_grants_no_one_else():
    check_can_enforce(Acl.private(BUCKET_OWNER))
    # AWS's example: an existing bucket ACL granting public read.
    public = Acl(BUCKET_OWNER, (fc(BUCKET_OWNER), Grant(Grantee.group(ALL_USERS), READ)))
    with pytest.raises(EngineError) as err:
        check_can_enforce(public)
    assert err.value.code == "InvalidBucketAclWithObjectOwnership"
    with pytest.raises(EngineError):
        check_can_enforce(Acl(BUCKET_OWNER, (fc(BUCKET_OWNER), fc(WRITER))))


def test_reading_an_acl_with_acls_disabled_shows_only_the_bucket_owner():
    stored = Acl(WRITER, (fc(WRITER), Grant(Grantee.group(ALL_USERS), READ)))
    assert readable_acl(ENFORCED, stored, bucket_owner=BUCKET_OWNER) == (
        Acl.private(BUCKET_OWNER))
    # Re-enabling ACLs restores what was stored.
    assert readable_acl(WRITER_OWNS, stored, bucket_owner=BUCKET_OWNER) == stored
