"""Access control over the S3 REST endpoint with boto3: bucket and object ACLs (canned,
grant headers and documents), bucket policies and their status, Block Public Access and
Object Ownership; and what they let an anonymous urllib client read."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import bucket_name, s3_client

from engine.client import client

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
NO_BLOCK = {"BlockPublicAcls": False, "IgnorePublicAcls": False,
            "BlockPublicPolicy": False, "RestrictPublicBuckets": False}


@pytest.fixture(scope="module", autouse=True)
def account_without_block(shared_server):
    """S3 Control's account-level Block Public Access (on from the start, as in a new AWS
    account) is off for this module's server, so each bucket's own settings decide."""
    with client("sts", endpoint=shared_server.endpoint) as sts, \
            client("s3control", endpoint=shared_server.endpoint) as control:
        control.delete_public_access_block(AccountId=sts.get_caller_identity()["Account"])


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name("acl")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def open_bucket(s3, bucket):
    """A bucket that takes ACLs and public policies: ObjectWriter, no Block Public Access."""
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=NO_BLOCK)
    return bucket


def error_of(call, **kwargs) -> tuple[int, str]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def anonymous_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def grants(acl: dict) -> list[tuple[str, str]]:
    return sorted((g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"])
                  for g in acl["Grants"])


# -- ACLs ------------------------------------------------------------------------------


def test_a_new_bucket_is_private_to_its_owner_and_takes_no_acls(s3, bucket):
    acl = s3.get_bucket_acl(Bucket=bucket)
    owner = acl["Owner"]["ID"]
    assert grants(acl) == [(owner, "FULL_CONTROL")]
    assert error_of(s3.put_bucket_acl, Bucket=bucket, ACL="public-read") == (
        400, "AccessControlListNotSupported")


def test_canned_and_granted_bucket_acls(s3, open_bucket):
    owner = s3.get_bucket_acl(Bucket=open_bucket)["Owner"]["ID"]
    s3.put_bucket_acl(Bucket=open_bucket, ACL="public-read")
    assert grants(s3.get_bucket_acl(Bucket=open_bucket)) == sorted(
        [(owner, "FULL_CONTROL"), (ALL_USERS, "READ")])
    s3.put_bucket_acl(Bucket=open_bucket, GrantRead=f'uri="{ALL_USERS}"',
                      GrantFullControl=f'id="{owner}"')
    assert grants(s3.get_bucket_acl(Bucket=open_bucket)) == sorted(
        [(owner, "FULL_CONTROL"), (ALL_USERS, "READ")])
    s3.put_bucket_acl(Bucket=open_bucket, AccessControlPolicy={
        "Owner": {"ID": owner},
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": owner},
                    "Permission": "FULL_CONTROL"}]})
    assert grants(s3.get_bucket_acl(Bucket=open_bucket)) == [(owner, "FULL_CONTROL")]


def test_acl_requests_s3_refuses(s3, open_bucket):
    assert error_of(s3.put_bucket_acl, Bucket=open_bucket) == (400, "MissingSecurityHeader")
    assert error_of(s3.put_bucket_acl, Bucket=open_bucket, ACL="everyone") == (
        400, "InvalidArgument")
    owner = s3.get_bucket_acl(Bucket=open_bucket)["Owner"]["ID"]
    assert error_of(s3.put_bucket_acl, Bucket=open_bucket, AccessControlPolicy={
        "Owner": {"ID": owner},
        "Grants": [{"Grantee": {"Type": "Group", "URI": ALL_USERS},
                    "Permission": "EVERYTHING"}]}) == (400, "MalformedACLError")
    assert error_of(s3.get_bucket_acl, Bucket=bucket_name("none")) == (404, "NoSuchBucket")


def test_an_object_acl_makes_one_object_public(shared_server, s3, open_bucket):
    s3.put_object(Bucket=open_bucket, Key="shared", Body=b"for everyone")
    s3.put_object(Bucket=open_bucket, Key="private", Body=b"mine")
    url = f"{shared_server.http_url}/{open_bucket}"
    assert anonymous_get(f"{url}/shared")[0] == 403
    s3.put_object_acl(Bucket=open_bucket, Key="shared", ACL="public-read")
    assert (ALL_USERS, "READ") in grants(s3.get_object_acl(Bucket=open_bucket, Key="shared"))
    assert anonymous_get(f"{url}/shared") == (200, b"for everyone")
    assert anonymous_get(f"{url}/private")[0] == 403
    assert error_of(s3.get_object_acl, Bucket=open_bucket, Key="missing") == (404, "NoSuchKey")


def test_block_public_acls_refuses_a_public_object_acl(s3, open_bucket):
    s3.put_object(Bucket=open_bucket, Key="k", Body=b"x")
    s3.put_public_access_block(Bucket=open_bucket, PublicAccessBlockConfiguration={
        **NO_BLOCK, "BlockPublicAcls": True})
    assert error_of(s3.put_object_acl, Bucket=open_bucket, Key="k", ACL="public-read") == (
        403, "AccessDenied")


# -- policies --------------------------------------------------------------------------


def public_read(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]})


def test_a_public_policy_round_trips_and_opens_the_bucket(shared_server, s3, bucket):
    assert error_of(s3.get_bucket_policy, Bucket=bucket) == (404, "NoSuchBucketPolicy")
    assert error_of(s3.get_bucket_policy_status, Bucket=bucket) == (404, "NoSuchBucketPolicy")
    assert error_of(s3.put_bucket_policy, Bucket=bucket, Policy=public_read(bucket)) == (
        403, "AccessDenied")  # BlockPublicPolicy is on for a new bucket
    s3.delete_public_access_block(Bucket=bucket)
    put = s3.put_bucket_policy(Bucket=bucket, Policy=public_read(bucket))
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(
        public_read(bucket))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    s3.put_object(Bucket=bucket, Key="page", Body=b"hello")
    assert anonymous_get(f"{shared_server.http_url}/{bucket}/page") == (200, b"hello")
    assert s3.delete_bucket_policy(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert anonymous_get(f"{shared_server.http_url}/{bucket}/page")[0] == 403
    assert error_of(s3.get_bucket_policy, Bucket=bucket) == (404, "NoSuchBucketPolicy")


def test_a_private_policy_is_not_public(s3, bucket):
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False


def test_malformed_policies_are_refused(s3, bucket):
    assert error_of(s3.put_bucket_policy, Bucket=bucket, Policy="not a policy") == (
        400, "MalformedPolicy")
    other = public_read(bucket).replace(bucket, "another-bucket")
    s3.delete_public_access_block(Bucket=bucket)
    assert error_of(s3.put_bucket_policy, Bucket=bucket, Policy=other) == (
        400, "MalformedPolicy")


# -- Block Public Access and Object Ownership ------------------------------------------


def test_public_access_block_round_trips_and_is_deleted(s3, bucket):
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        name: True for name in NO_BLOCK}
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True})
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        **NO_BLOCK, "BlockPublicAcls": True}
    deleted = s3.delete_public_access_block(Bucket=bucket)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.get_public_access_block, Bucket=bucket) == (
        404, "NoSuchPublicAccessBlockConfiguration")


def test_ownership_controls_round_trip_and_are_deleted(s3, bucket):
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}]
    assert s3.delete_bucket_ownership_controls(Bucket=bucket)["ResponseMetadata"][
        "HTTPStatusCode"] == 204
    assert error_of(s3.get_bucket_ownership_controls, Bucket=bucket) == (
        404, "OwnershipControlsNotFoundError")
    assert error_of(s3.put_bucket_ownership_controls, Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "Whoever"}]}) == (400, "MalformedXML")
