"""S3 Block Public Access and "The meaning of 'public'" (AWS "Blocking public access to
your Amazon S3 storage"); the policy examples are AWS's own where the doc gives one."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import EngineError
from engine.iam.acl import (
    ALL_USERS,
    ANONYMOUS,
    AUTHENTICATED_USERS,
    LOG_DELIVERY,
    Acl,
    Grant,
    Grantee,
    Owner,
    Permission,
    Requester,
    acl_allows,
    canned_acl,
)
from engine.iam.public_access import (
    NO_BLOCK,
    Denial,
    PublicAccessBlock,
    check_acl_put,
    check_policy_put,
    effective_acl,
    effective_block,
    is_acl_public,
    is_policy_public,
    policy_grant_counts,
    policy_status,
)

OWNER = Owner("79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be")
OTHER_ID = "a" * 64


def allow(principal: Any = "*", condition: dict | None = None, **extra: Any) -> dict:
    statement = {"Principal": principal, "Resource": "*", "Action": "s3:PutObject",
                 "Effect": "Allow", **extra}
    if condition is not None:
        statement["Condition"] = condition
    return statement


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# ---- the configuration

def test_new_buckets_and_accounts_block_everything():
    config = PublicAccessBlock()
    assert config.to_dict() == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def test_put_body_elements_default_to_false_and_round_trip():
    config = PublicAccessBlock.from_dict({"BlockPublicAcls": "TRUE",
                                          "RestrictPublicBuckets": "false"})
    assert config == PublicAccessBlock(True, False, False, False)
    assert PublicAccessBlock.from_dict(config.to_dict()) == config


def test_put_body_with_a_non_boolean_is_malformed():
    with pytest.raises(EngineError) as err:
        PublicAccessBlock.from_dict({"BlockPublicPolicy": "yes"})
    assert err.value.code == "MalformedXML"


FLAGS = ["block_public_acls", "ignore_public_acls", "block_public_policy",
         "restrict_public_buckets"]


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize(("on_account", "on_bucket"), [
    (False, False), (True, False), (False, True), (True, True)])
def test_effective_setting_is_the_most_restrictive_of_account_and_bucket(
        flag, on_account, on_bucket):
    account = PublicAccessBlock(**{f: f == flag and on_account for f in FLAGS})
    bucket = PublicAccessBlock(**{f: f == flag and on_bucket for f in FLAGS})
    effective = effective_block(account, bucket)
    assert getattr(effective, flag) is (on_account or on_bucket)
    assert all(not getattr(effective, f) for f in FLAGS if f != flag)


def test_combination_of_different_flags_at_each_level():
    account = PublicAccessBlock(True, False, True, False)
    bucket = PublicAccessBlock(False, True, False, False)
    assert effective_block(account, bucket) == PublicAccessBlock(True, True, True, False)
    assert effective_block(None, None) == NO_BLOCK  # both configurations deleted
    assert effective_block(None, bucket) == bucket


# ---- ACLs

@pytest.mark.parametrize(("name", "public"), [
    ("private", False), ("public-read", True), ("public-read-write", True),
    ("authenticated-read", True), ("aws-exec-read", False), ("log-delivery-write", False),
    ("bucket-owner-full-control", False),
])
def test_an_acl_is_public_when_it_grants_to_all_or_authenticated_users(name, public):
    assert is_acl_public(canned_acl(name, OWNER, resource="object")) is public


def test_block_public_acls_refuses_setting_a_public_acl():
    public = canned_acl("public-read", OWNER, resource="object")
    with pytest.raises(EngineError) as err:
        check_acl_put(PublicAccessBlock(), public)
    assert (err.value.code, err.value.http_status) == ("AccessDenied", 403)
    check_acl_put(PublicAccessBlock(), canned_acl("private", OWNER, resource="object"))
    check_acl_put(PublicAccessBlock(block_public_acls=False), public)


def test_block_public_acls_denial_names_the_setting_for_same_account_callers():
    who = Denial("arn:aws:iam::123456789012:user/MaryMajor", "s3:PutObjectAcl",
                 "arn:aws:s3:::amzn-s3-demo-bucket1/object-name")
    with pytest.raises(EngineError) as err:
        check_acl_put(PublicAccessBlock(), canned_acl("public-read", OWNER,
                                                      resource="object"), who)
    assert err.value.message == (
        "User: arn:aws:iam::123456789012:user/MaryMajor is not authorized to perform: "
        's3:PutObjectAcl on resource: "arn:aws:s3:::amzn-s3-demo-bucket1/object-name" '
        "because public ACLs are prevented by the BlockPublicAcls setting in S3 Block "
        "Public Access.")


def test_ignore_public_acls_drops_public_grants_from_what_is_enforced_and_shown():
    acl = Acl(OWNER, (Grant(Grantee.user(OWNER.id), Permission.FULL_CONTROL),
                      Grant(Grantee.group(ALL_USERS), Permission.READ),
                      Grant(Grantee.group(AUTHENTICATED_USERS), Permission.READ),
                      Grant(Grantee.group(LOG_DELIVERY), Permission.WRITE),
                      Grant(Grantee.user(OTHER_ID), Permission.READ)))
    shown = effective_acl(PublicAccessBlock(), acl)
    assert shown == Acl(OWNER, (acl.grants[0], acl.grants[3], acl.grants[4]))
    assert not acl_allows(shown, ANONYMOUS, "s3:GetObject")
    assert acl_allows(shown, Requester.account(OTHER_ID), "s3:GetObject")
    assert effective_acl(PublicAccessBlock(ignore_public_acls=False), acl) == acl
    assert acl_allows(acl, ANONYMOUS, "s3:GetObject")  # the stored ACL is untouched


# ---- bucket policies

PUBLIC_POLICIES = {
    # AWS's three "Public bucket policies" examples.
    "federated web identity": allow({"Federated": "graph.facebook.com"}),
    "everyone": allow("*"),
    "wildcard vpc": allow("*", {"StringLike": {"aws:SourceVpc": "vpc-*"}}),
    # AWS's note: very broad IP ranges are public (broader than /8 and /32).
    "half the internet": allow("*", {"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}}),
    "ipv4 broader than /8": allow("*", {"IpAddress": {"aws:SourceIp": "10.0.0.0/7"}}),
    "ipv6 broader than /32": allow("*", {"IpAddress": {"aws:SourceIp": "2001:db8::/31"}}),
    "one broad range among fixed ones": allow("*", {"IpAddress": {
        "aws:SourceIp": ["192.0.2.0/24", "0.0.0.0/0"]}}),
    "AWS star": allow({"AWS": "*"}),
    "star among fixed principals": allow({"AWS": ["arn:aws:iam::111122223333:root", "*"]}),
    "policy variable": allow("*", {"StringEquals": {"aws:SourceVpc": "${aws:username}"}}),
    "access point of any account": allow("*", {"StringLike": {
        "s3:DataAccessPointArn": "arn:aws:s3:us-west-2:*:accesspoint/*"}}),
    "any session of any role": allow("*", {"StringLike": {"aws:userid": "*"}}),
    "negated condition": allow("*", {"StringNotEquals": {"aws:SourceVpc": "vpc-91237329"}}),
    "IfExists": allow("*", {"StringEqualsIfExists": {"aws:SourceVpc": "vpc-91237329"}}),
    "ForAllValues": allow("*", {"ForAllValues:StringEquals": {
        "aws:SourceVpc": "vpc-91237329"}}),
    "condition on a key AWS does not list": allow("*", {"StringEquals": {
        "aws:UserAgent": "curl"}}),
    "NotPrincipal": {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1111222233"
                                                                "33:root"},
                     "Action": "s3:GetObject", "Resource": "*"},
}
NON_PUBLIC_POLICIES = {
    # AWS's fix for the third public example: a fixed aws:SourceVpc.
    "fixed vpc": allow("*", {"StringEquals": {"aws:SourceVpc": "vpc-91237329"}}),
    "fixed role": allow({"AWS": "arn:aws:iam::111122223333:role/JohnDoe"}),
    "account id": allow({"AWS": ["111122223333", "444455556666"]}),
    "service principal": allow({"Service": "cloudtrail.amazonaws.com"}),
    "canonical user": allow({"CanonicalUser": OWNER.id}),
    "fixed ip": allow("*", {"IpAddress": {"aws:SourceIp": "192.168.1.1/32"}}),
    "exactly /8": allow("*", {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.7"]}}),
    "ipv6 /32": allow("*", {"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}),
    # AWS's note: a wildcard access point name with a fixed account stays non-public.
    "access points of one account": allow("*", {"StringLike": {
        "s3:DataAccessPointArn": "arn:aws:s3:us-west-2:123456789012:accesspoint/*"}}),
    "access point account": allow("*", {"StringEquals": {
        "s3:DataAccessPointAccount": "123456789012"}}),
    "sessions of one role": allow("*", {"StringLike": {"aws:userid": "AROAEXAMPLEID:*"}}),
    "organization": allow("*", {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
    "source account, key in any case": allow("*", {"StringEquals": {
        "AWS:SOURCEACCOUNT": "111122223333"}}),
    "source arn": allow("*", {"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:us-east-1:"
                                                         "111122223333:trail/t"}}),
    "kms key": allow("*", {"StringEquals": {
        "s3:x-amz-server-side-encryption-aws-kms-key-id":
            "arn:aws:kms:us-east-1:111122223333:key/k"}}),
    "one fixed key among open ones": allow("*", {
        "StringLike": {"aws:UserAgent": "*"},
        "ForAnyValue:StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}),
    "deny everyone": {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
}


@pytest.mark.parametrize("name", sorted(PUBLIC_POLICIES))
def test_public_policy(name):
    assert is_policy_public(policy(PUBLIC_POLICIES[name]))
    assert policy_status(policy(PUBLIC_POLICIES[name])) == {"IsPublic": True}


@pytest.mark.parametrize("name", sorted(NON_PUBLIC_POLICIES))
def test_non_public_policy(name):
    assert not is_policy_public(policy(NON_PUBLIC_POLICIES[name]))
    assert policy_status(policy(NON_PUBLIC_POLICIES[name])) == {"IsPublic": False}


def test_one_public_statement_makes_the_whole_policy_public():
    fixed = NON_PUBLIC_POLICIES["fixed role"]
    assert not is_policy_public(policy(fixed, NON_PUBLIC_POLICIES["deny everyone"]))
    assert is_policy_public(policy(fixed, PUBLIC_POLICIES["everyone"]))
    assert is_policy_public({"Statement": PUBLIC_POLICIES["everyone"]})  # a lone statement


def test_bucket_without_a_policy_has_no_policy_status():
    with pytest.raises(EngineError) as err:
        policy_status(None)
    assert (err.value.code, err.value.message) == ("NoSuchBucketPolicy",
                                                   "The bucket policy does not exist")


def test_block_public_policy_refuses_a_public_policy():
    with pytest.raises(EngineError) as err:
        check_policy_put(PublicAccessBlock(), policy(PUBLIC_POLICIES["everyone"]))
    assert err.value.code == "AccessDenied"
    check_policy_put(PublicAccessBlock(), policy(NON_PUBLIC_POLICIES["fixed vpc"]))
    check_policy_put(PublicAccessBlock(block_public_policy=False),
                     policy(PUBLIC_POLICIES["everyone"]))


# AWS's example: Account-1's bucket policy grants CloudTrail, Account-2, and the public.
CLOUDTRAIL = allow({"Service": "cloudtrail.amazonaws.com"})
ACCOUNT_2 = allow({"AWS": "arn:aws:iam::222222222222:root"})


@pytest.mark.parametrize(("requester", "service", "counts"), [
    ("111111111111", False, True),    # the bucket owner's own account
    ("222222222222", False, False),   # named, but cross-account: blocked
    ("333333333333", False, False),   # the public
    (None, False, False),             # anonymous
    (None, True, True),               # CloudTrail, an AWS service principal
])
def test_restrict_public_buckets_with_a_public_policy(requester, service, counts):
    public = policy(CLOUDTRAIL, ACCOUNT_2, allow("*"))
    assert policy_grant_counts(PublicAccessBlock(), public, requester_account=requester,
                               bucket_account="111111111111",
                               service_principal=service) is counts
    # Without the setting, every grant of the policy counts.
    assert policy_grant_counts(NO_BLOCK, public, requester_account=requester,
                               bucket_account="111111111111", service_principal=service)


def test_restrict_public_buckets_leaves_a_non_public_policy_alone():
    # Remove the public statement and Account-2 regains access.
    fixed = policy(CLOUDTRAIL, ACCOUNT_2)
    assert policy_grant_counts(PublicAccessBlock(), fixed, requester_account="222222222222",
                               bucket_account="111111111111")
    assert policy_grant_counts(PublicAccessBlock(), None, requester_account="222222222222",
                               bucket_account="111111111111")
