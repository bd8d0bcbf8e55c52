"""S3 conformance, ACLs, bucket policies and Block Public Access: Get/PutBucketAcl,
Get/PutObjectAcl (canned ACLs, grant headers, documents), Object Ownership's effect on
ACLs, Get/Put/DeleteBucketPolicy and GetBucketPolicyStatus, the four Block Public Access
flags, and what each lets an unsigned request do, as AWS's API reference and its access
control guides document them."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from helpers_s3_conformance import Node, error_of, failure, find, lift_account_block, xml_of
from helpers_s3_http import bucket_name, s3_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
NO_BLOCK = {"BlockPublicAcls": False, "IgnorePublicAcls": False,
            "BlockPublicPolicy": False, "RestrictPublicBuckets": False}


@pytest.fixture(scope="module", autouse=True)
def account_without_block(shared_server):
    lift_account_block(shared_server.endpoint)


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture(scope="module")
def node(shared_server) -> Node:
    return Node(shared_server.http_url)


@pytest.fixture(scope="module")
def owner(s3) -> str:
    return s3.list_buckets()["Owner"]["ID"]


@pytest.fixture
def bucket(s3) -> str:
    """A new bucket as S3 makes one: BucketOwnerEnforced, every public access blocked."""
    name = bucket_name("access")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"object")
    return name


@pytest.fixture
def open_bucket(s3, bucket) -> str:
    """A bucket that takes ACLs and public policies: ObjectWriter, nothing blocked."""
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=NO_BLOCK)
    return bucket


def grants(acl: dict) -> set[tuple[str, str]]:
    return {(g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"])
            for g in acl["Grants"]}


def code_of(call, **params: object) -> tuple[int, str]:
    with pytest.raises(ClientError) as exc:
        call(**params)
    got = failure(exc)
    return got.status, got.code


def policy(bucket: str, *statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow_everyone(bucket: str, action: str = "s3:GetObject", resource: str = "/*") -> dict:
    return {"Effect": "Allow", "Principal": "*", "Action": action,
            "Resource": f"arn:aws:s3:::{bucket}{resource}"}


# -- ACL documents --------------------------------------------------------------------------


def test_the_default_acl_document(node, bucket, owner):
    for target in (f"/{bucket}?acl", f"/{bucket}/k?acl"):
        answer = node.request("GET", target)
        assert answer.status == 200
        doc = xml_of(answer.body)
        assert doc.tag.endswith("AccessControlPolicy")
        assert [e.text for e in find(doc, "Owner/ID")] == [owner]
        [grant] = find(doc, "AccessControlList/Grant")
        [grantee] = find(grant, "Grantee")
        assert grantee.get(XSI_TYPE) == "CanonicalUser"
        assert [e.text for e in find(grantee, "ID")] == [owner]
        assert [e.text for e in find(grant, "Permission")] == ["FULL_CONTROL"]


@pytest.mark.parametrize(("canned", "extra"), [
    ("private", set()),
    ("public-read", {(ALL_USERS, "READ")}),
    ("public-read-write", {(ALL_USERS, "READ"), (ALL_USERS, "WRITE")}),
    ("authenticated-read", {(AUTHENTICATED, "READ")}),
])
def test_canned_bucket_acls(s3, open_bucket, owner, canned, extra):
    s3.put_bucket_acl(Bucket=open_bucket, ACL=canned)
    assert grants(s3.get_bucket_acl(Bucket=open_bucket)) == {(owner, "FULL_CONTROL")} | extra


@pytest.mark.parametrize(("canned", "extra"), [
    ("public-read", {(ALL_USERS, "READ")}),
    ("authenticated-read", {(AUTHENTICATED, "READ")}),
    ("bucket-owner-full-control", set()),
])
def test_canned_object_acls(s3, open_bucket, owner, canned, extra):
    s3.put_object(Bucket=open_bucket, Key="canned", Body=b"x", ACL=canned)
    assert grants(s3.get_object_acl(Bucket=open_bucket, Key="canned")) == {
        (owner, "FULL_CONTROL")} | extra


def test_grant_headers(s3, open_bucket, owner):
    s3.put_object(Bucket=open_bucket, Key="granted", Body=b"x", GrantRead=f'uri="{ALL_USERS}"',
                  GrantFullControl=f'id="{owner}"')
    assert grants(s3.get_object_acl(Bucket=open_bucket, Key="granted")) == {
        (owner, "FULL_CONTROL"), (ALL_USERS, "READ")}


def test_an_acl_on_an_owner_enforced_bucket_is_not_supported(s3, node, bucket):
    """AWS Object Ownership: with ACLs disabled, a request setting any ACL but
    bucket-owner-full-control fails with AccessControlListNotSupported."""
    assert code_of(s3.put_bucket_acl, Bucket=bucket, ACL="public-read") == (
        400, "AccessControlListNotSupported")
    assert code_of(s3.put_object_acl, Bucket=bucket, Key="k", ACL="public-read") == (
        400, "AccessControlListNotSupported")
    answer = node.request("PUT", f"/{bucket}/acl-put", {"x-amz-acl": "public-read"}, b"x")
    assert answer.status == 400
    assert error_of(answer) == ("AccessControlListNotSupported", "The bucket does not allow ACLs")
    ok = node.request("PUT", f"/{bucket}/acl-ok", {"x-amz-acl": "bucket-owner-full-control"},
                      b"x")
    assert ok.status == 200


def test_acl_requests_s3_refuses(s3, node, open_bucket, owner):
    assert code_of(s3.put_bucket_acl, Bucket=open_bucket, ACL="everyone") == (
        400, "InvalidArgument")
    answer = node.request("PUT", f"/{open_bucket}?acl", body=b"<AccessControlPolicy>")
    assert answer.status == 400 and error_of(answer)[0] == "MalformedACLError"
    assert code_of(s3.get_object_acl, Bucket=open_bucket, Key="missing") == (404, "NoSuchKey")


# -- what an ACL lets an unsigned request do ------------------------------------------------


def test_a_public_read_object_is_read_anonymously(s3, node, open_bucket):
    assert node.request("GET", f"/{open_bucket}/k", sign=False).status == 403
    s3.put_object_acl(Bucket=open_bucket, Key="k", ACL="public-read")
    answer = node.request("GET", f"/{open_bucket}/k", sign=False)
    assert answer.status == 200 and answer.body == b"object"
    head = node.request("HEAD", f"/{open_bucket}/k", sign=False)
    assert head.status == 200 and head.headers["content-length"] == "6"
    put = node.request("PUT", f"/{open_bucket}/k", body=b"changed", sign=False)
    assert put.status == 403


def test_a_public_read_bucket_is_listed_anonymously(s3, node, open_bucket):
    s3.put_bucket_acl(Bucket=open_bucket, ACL="public-read")
    answer = node.request("GET", f"/{open_bucket}?list-type=2", sign=False)
    assert answer.status == 200 and b"<Key>k</Key>" in answer.body
    assert node.request("GET", f"/{open_bucket}/k", sign=False).status == 403


def test_ignore_public_acls_makes_a_public_object_private(s3, node, open_bucket):
    s3.put_object_acl(Bucket=open_bucket, Key="k", ACL="public-read")
    s3.put_public_access_block(Bucket=open_bucket, PublicAccessBlockConfiguration={
        **NO_BLOCK, "IgnorePublicAcls": True})
    assert node.request("GET", f"/{open_bucket}/k", sign=False).status == 403
    assert grants(s3.get_object_acl(Bucket=open_bucket, Key="k")) >= {(ALL_USERS, "READ")}


def test_block_public_acls_refuses_new_public_acls(s3, node, open_bucket):
    s3.put_public_access_block(Bucket=open_bucket, PublicAccessBlockConfiguration={
        **NO_BLOCK, "BlockPublicAcls": True})
    assert code_of(s3.put_bucket_acl, Bucket=open_bucket, ACL="public-read") == (
        403, "AccessDenied")
    answer = node.request("PUT", f"/{open_bucket}/pub", {"x-amz-acl": "public-read"}, b"x")
    assert answer.status == 403 and error_of(answer)[0] == "AccessDenied"
    s3.put_bucket_acl(Bucket=open_bucket, ACL="private")


# -- bucket policies ------------------------------------------------------------------------


def test_policy_round_trip(s3, node, bucket):
    s3.delete_public_access_block(Bucket=bucket)
    document = policy(bucket, allow_everyone(bucket))
    put = node.request("PUT", f"/{bucket}?policy", body=document.encode())
    assert put.status == 204 and put.body == b""
    got = node.request("GET", f"/{bucket}?policy")
    assert got.status == 200 and json.loads(got.body) == json.loads(document)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": True}
    deleted = node.request("DELETE", f"/{bucket}?policy")
    assert deleted.status == 204
    missing = node.request("GET", f"/{bucket}?policy")
    assert missing.status == 404
    assert error_of(missing) == ("NoSuchBucketPolicy", "The bucket policy does not exist")


def test_a_public_policy_opens_reads_and_listing_to_anyone(s3, node, bucket):
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        bucket, allow_everyone(bucket), allow_everyone(bucket, "s3:ListBucket", "")))
    assert node.request("GET", f"/{bucket}/k", sign=False).body == b"object"
    listing = node.request("GET", f"/{bucket}", sign=False)
    assert listing.status == 200 and b"<Key>k</Key>" in listing.body
    missing = node.request("GET", f"/{bucket}/missing", sign=False)
    assert missing.status == 404 and error_of(missing)[0] == "NoSuchKey"
    assert node.request("DELETE", f"/{bucket}/k", sign=False).status == 403


def test_without_list_permission_a_missing_key_is_403(s3, node, bucket):
    """AWS GetObject: without s3:ListBucket a missing key is 403 AccessDenied (a HEAD
    too, with no body), so s3:GetObject alone does not reveal which keys exist; an
    existing key is still served."""
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="there", Body=b"t")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, allow_everyone(bucket)))
    answer = node.request("GET", f"/{bucket}/missing", sign=False)
    assert answer.status == 403 and error_of(answer)[0] == "AccessDenied"
    head = node.request("HEAD", f"/{bucket}/missing", sign=False)
    assert head.status == 403 and head.body == b""
    assert node.request("GET", f"/{bucket}/there", sign=False).body == b"t"


def test_an_explicit_deny_binds_the_owner_too(s3, node, bucket):
    s3.put_object(Bucket=bucket, Key="secret/x", Body=b"s")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, {
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/secret/*"}))
    answer = node.request("GET", f"/{bucket}/secret/x")
    assert answer.status == 403 and error_of(answer)[0] == "AccessDenied"
    assert node.request("GET", f"/{bucket}/k").status == 200
    s3.delete_bucket_policy(Bucket=bucket)
    assert node.request("GET", f"/{bucket}/secret/x").body == b"s"


def test_restrict_public_buckets_keeps_anonymous_callers_out(s3, node, bucket):
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, allow_everyone(bucket)))
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        **NO_BLOCK, "RestrictPublicBuckets": True})
    assert node.request("GET", f"/{bucket}/k", sign=False).status == 403
    assert node.request("GET", f"/{bucket}/k").status == 200


def test_block_public_policy_refuses_a_public_policy(s3, bucket):
    """A new bucket blocks public policies (S3's default since 2023)."""
    assert code_of(s3.put_bucket_policy, Bucket=bucket,
                   Policy=policy(bucket, allow_everyone(bucket))) == (403, "AccessDenied")
    private = policy(bucket, {"Effect": "Allow",
                              "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                              "Action": "s3:GetObject",
                              "Resource": f"arn:aws:s3:::{bucket}/*"})
    s3.put_bucket_policy(Bucket=bucket, Policy=private)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": False}


@pytest.mark.parametrize("document", [
    "not json",
    "{}",
    json.dumps({"Version": "2012-10-17", "Statement": []}),
    json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::another-bucket/*"}]}),
    json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Maybe", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::BUCKET/*"}]}),
    json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:FlyAway",
        "Resource": "arn:aws:s3:::BUCKET/*"}]}),
], ids=["not-json", "empty", "no-statements", "other-bucket", "bad-effect", "bad-action"])
def test_malformed_policies_are_malformed_policy(s3, bucket, document):
    s3.delete_public_access_block(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy=document.replace("BUCKET", bucket))
    got = failure(exc)
    assert (got.status, got.code) == (400, "MalformedPolicy")
    assert got.message


def test_a_policy_over_20_kb_is_policy_too_large(s3, bucket):
    statement = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                 "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    big = policy(bucket, *[{**statement, "Sid": f"s{i:04d}"} for i in range(150)])
    assert len(big) > 20 * 1024
    assert code_of(s3.put_bucket_policy, Bucket=bucket, Policy=big) == (400, "PolicyTooLarge")


# -- Block Public Access and Object Ownership documents -------------------------------------


def test_a_new_bucket_blocks_all_public_access(s3, node, bucket):
    config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert config == {name: True for name in NO_BLOCK}
    doc = xml_of(node.request("GET", f"/{bucket}?publicAccessBlock").body)
    assert doc.tag.endswith("PublicAccessBlockConfiguration")


def test_a_flag_left_out_is_false_and_delete_removes_the_block(s3, node, bucket):
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "IgnorePublicAcls": True})
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        **NO_BLOCK, "IgnorePublicAcls": True}
    assert node.request("DELETE", f"/{bucket}?publicAccessBlock").status == 204
    assert code_of(s3.get_public_access_block, Bucket=bucket) == (
        404, "NoSuchPublicAccessBlockConfiguration")


def test_ownership_controls(s3, bucket):
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    for value in ("BucketOwnerPreferred", "ObjectWriter", "BucketOwnerEnforced"):
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
            "Rules": [{"ObjectOwnership": value}]})
        assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"][
            "Rules"] == [{"ObjectOwnership": value}]
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    assert code_of(s3.get_bucket_ownership_controls, Bucket=bucket) == (
        404, "OwnershipControlsNotFoundError")
    assert code_of(s3.put_bucket_ownership_controls, Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "Whoever"}]}) == (400, "MalformedXML")
