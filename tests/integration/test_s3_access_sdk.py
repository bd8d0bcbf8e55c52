"""Bucket policies, ACLs, Object Ownership, Block Public Access and queue policies against
a real `engine serve`, through the SDK, as an operator and an application would meet them:
the exact codes and messages a client sees."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine.client import ClientError, S3Client, SQSClient, client


def error_of(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call()
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture(scope="module")
def endpoint(shared_server) -> str:
    """The module's node: each test uses buckets and users of its own names and leaves
    the account's settings alone (the one test that changes them has a node of its own)."""
    return shared_server.endpoint


@pytest.fixture
def own_endpoint(server) -> str:
    """A node of the test's own: for a test that changes account-wide settings."""
    return server.endpoint


def root_clients(endpoint: str) -> Iterator[dict[str, Any]]:
    with client("s3", endpoint=endpoint) as s3, client("iam", endpoint=endpoint) as iam, \
            client("sts", endpoint=endpoint) as sts, \
            client("s3control", endpoint=endpoint) as control:
        yield {"s3": s3, "iam": iam, "control": control,
               "account": sts.get_caller_identity()["Account"]}


@pytest.fixture
def root(endpoint: str) -> Iterator[dict[str, Any]]:
    yield from root_clients(endpoint)


@pytest.fixture
def own_root(own_endpoint: str) -> Iterator[dict[str, Any]]:
    yield from root_clients(own_endpoint)


def new_user(endpoint: str, iam: Any, name: str) -> tuple[str, dict[str, str]]:
    """A user with a key and no policies: (its ARN, its client keywords)."""
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, {"aws_access_key_id": key["AccessKeyId"],
                 "aws_secret_access_key": key["SecretAccessKey"]}


def test_a_bucket_policy_opens_reading_to_one_user_and_nothing_more(endpoint, root):
    s3, account = root["s3"], root["account"]
    s3.create_bucket(Bucket="shared-photos")
    s3.put_object(Bucket="shared-photos", Key="cat.jpg", Body=b"meow")
    arn, keys = new_user(endpoint, root["iam"], "bob")
    assert arn == f"arn:aws:iam::{account}:user/bob"
    with client("s3", endpoint=endpoint, **keys) as bob:
        assert error_of(lambda: bob.get_object(Bucket="shared-photos", Key="cat.jpg")) == (
            "AccessDenied", f"User: {arn} is not authorized to perform: s3:GetObject on "
            "resource: arn:aws:s3:::shared-photos/cat.jpg because no identity-based policy "
            "allows the s3:GetObject action")
        s3.put_bucket_policy(Bucket="shared-photos", Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Sid": "BobReads", "Effect": "Allow", "Principal": {"AWS": arn},
                "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared-photos/*"}]}))
        assert bob.get_object(Bucket="shared-photos", Key="cat.jpg")["Body"].read() == b"meow"
        assert error_of(lambda: bob.put_object(Bucket="shared-photos", Key="dog.jpg",
                                               Body=b"woof")) == (
            "AccessDenied", f"User: {arn} is not authorized to perform: s3:PutObject on "
            "resource: arn:aws:s3:::shared-photos/dog.jpg because no identity-based policy "
            "allows the s3:PutObject action")
        assert error_of(lambda: bob.get_bucket_policy(Bucket="shared-photos"))[0] == (
            "AccessDenied")
    status = s3.get_bucket_policy_status(Bucket="shared-photos")["PolicyStatus"]
    assert status == {"IsPublic": False}
    s3.delete_bucket_policy(Bucket="shared-photos")
    assert error_of(lambda: s3.get_bucket_policy(Bucket="shared-photos")) == (
        "NoSuchBucketPolicy", "The bucket policy does not exist")


def test_a_public_read_object_opens_only_once_acls_and_public_access_are_allowed(
        own_endpoint, own_root):
    """Turns the account's Block Public Access off: on a node of its own."""
    endpoint, root = own_endpoint, own_root
    s3, control, account = root["s3"], root["control"], root["account"]
    s3.create_bucket(Bucket="website")
    s3.put_object(Bucket="website", Key="index.html", Body=b"<h1>hi</h1>")
    anonymous = S3Client(endpoint)  # no credentials: unsigned calls
    denied = ("AccessDenied", "Access Denied")
    assert error_of(lambda: anonymous.get_object(Bucket="website", Key="index.html")) == denied
    # ACLs are off on a new bucket (BucketOwnerEnforced)...
    assert s3.get_bucket_ownership_controls(Bucket="website")["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert error_of(lambda: s3.put_object(Bucket="website", Key="index.html", Body=b"x",
                                          ACL="public-read")) == (
        "AccessControlListNotSupported", "The bucket does not allow ACLs")
    s3.put_bucket_ownership_controls(Bucket="website", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    # ...and Block Public Access is on, at the bucket and at the account
    blocked = ("AccessDenied", f"User: arn:aws:iam::{account}:root is not authorized to "
               'perform: s3:PutObjectAcl on resource: "arn:aws:s3:::website/index.html" '
               "because public ACLs are prevented by the BlockPublicAcls setting in S3 Block "
               "Public Access.")
    assert error_of(lambda: s3.put_object_acl(Bucket="website", Key="index.html",
                                              ACL="public-read")) == blocked
    assert error_of(lambda: s3.put_object(Bucket="website", Key="index.html", Body=b"x",
                                          ACL="public-read")) == (
        "AccessDenied", blocked[1].replace("s3:PutObjectAcl", "s3:PutObject"))
    all_on = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
              "RestrictPublicBuckets": True}
    assert s3.get_public_access_block(Bucket="website")[
        "PublicAccessBlockConfiguration"] == all_on
    s3.delete_public_access_block(Bucket="website")
    assert error_of(lambda: s3.get_public_access_block(Bucket="website")) == (
        "NoSuchPublicAccessBlockConfiguration",
        "The public access block configuration was not found")
    assert error_of(lambda: s3.put_object_acl(Bucket="website", Key="index.html",
                                              ACL="public-read")) == blocked
    assert control.get_public_access_block(AccountId=account)[
        "PublicAccessBlockConfiguration"] == all_on
    control.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    s3.put_object_acl(Bucket="website", Key="index.html", ACL="public-read")
    grants = s3.get_object_acl(Bucket="website", Key="index.html")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/"
                        "AllUsers"}, "Permission": "READ"} in grants
    assert anonymous.get_object(Bucket="website", Key="index.html")["Body"].read() == (
        b"<h1>hi</h1>")
    # reading one object is not listing the bucket, nor writing to it
    assert error_of(lambda: anonymous.list_objects_v2(Bucket="website")) == denied
    assert error_of(lambda: anonymous.put_object(Bucket="website", Key="x", Body=b"x")) == (
        denied)
    # IgnorePublicAcls at either level closes it again without touching the ACL
    s3.put_public_access_block(Bucket="website", PublicAccessBlockConfiguration={
        "IgnorePublicAcls": True})
    assert error_of(lambda: anonymous.get_object(Bucket="website", Key="index.html")) == denied
    assert len(s3.get_object_acl(Bucket="website", Key="index.html")["Grants"]) == 2
    anonymous.close()


def test_unsigned_calls_to_other_services_still_need_credentials(endpoint):
    with SQSClient(endpoint) as unsigned:
        assert error_of(lambda: unsigned.list_queues()) == (
            "MissingAuthenticationToken", "Request is missing Authentication Token")


def test_a_queue_policy_lets_a_user_send_and_nothing_else(endpoint, root):
    arn, keys = new_user(endpoint, root["iam"], "sender")
    with client("sqs", endpoint=endpoint) as sqs:
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        assert error_of(lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={
            "Policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "sqs:Send",
                                                 "Principal": "*", "Resource": "*"}]})})) == (
            "InvalidAttributeValue", "Invalid value for the parameter Policy.")
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sqs:SendMessage",
                "Resource": queue_arn}]})})
        with client("sqs", endpoint=endpoint, **keys) as sender:
            sender.send_message(QueueUrl=url, MessageBody="hello")
            code, message = error_of(lambda: sender.receive_message(QueueUrl=url))
            assert code == "AccessDenied"
            assert message.startswith(f"User: {arn} is not authorized to perform: "
                                      f"sqs:ReceiveMessage on resource: {queue_arn}")
        received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
        assert [m["Body"] for m in received] == ["hello"]


def test_acls_round_trip_in_boto3s_shapes(endpoint, root):
    s3, account = root["s3"], root["account"]
    s3.create_bucket(Bucket="acls", ObjectOwnership="ObjectWriter", ACL="private")
    owner = s3.get_bucket_acl(Bucket="acls")["Owner"]
    assert len(owner["ID"]) == 64
    s3.delete_public_access_block(Bucket="acls")
    root["control"].delete_public_access_block(AccountId=account)
    assert error_of(lambda: root["control"].get_public_access_block(AccountId=account))[0] == (
        "NoSuchPublicAccessBlockConfiguration")
    all_users = "http://acs.amazonaws.com/groups/global/AllUsers"
    grants = [{"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]},
               "Permission": "FULL_CONTROL"},
              {"Grantee": {"Type": "Group", "URI": all_users}, "Permission": "READ"}]
    s3.put_bucket_acl(Bucket="acls", AccessControlPolicy={"Owner": owner, "Grants": grants})
    got = s3.get_bucket_acl(Bucket="acls")
    assert (got["Owner"], got["Grants"]) == (owner, grants)
    s3.put_bucket_acl(Bucket="acls", GrantFullControl=f'id="{owner["ID"]}"',
                      GrantRead='uri="http://acs.amazonaws.com/groups/global/'
                                'AuthenticatedUsers"')
    assert [g["Permission"] for g in s3.get_bucket_acl(Bucket="acls")["Grants"]] == [
        "FULL_CONTROL", "READ"]
    assert error_of(lambda: s3.put_bucket_acl(Bucket="acls", ACL="private",
                                              GrantRead=f'id="{owner["ID"]}"')) == (
        "InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed")
    assert error_of(lambda: s3.put_bucket_acl(Bucket="acls", GrantRead='emailAddress="a@b.c"'))[
        0] == "UnresolvableGrantByEmailAddress"
    assert error_of(lambda: s3.put_bucket_acl(Bucket="acls", GrantRead=f'id="{"0" * 64}"')) == (
        "InvalidArgument", "Invalid id")
    s3.delete_bucket_ownership_controls(Bucket="acls")
    assert error_of(lambda: s3.get_bucket_ownership_controls(Bucket="acls")) == (
        "OwnershipControlsNotFoundError", "The bucket ownership controls were not found")


def test_setting_an_acl_on_upload_needs_put_object_acl(endpoint, root, tmp_path):
    s3 = root["s3"]
    s3.create_bucket(Bucket="uploads", ObjectOwnership="BucketOwnerPreferred")
    bucket_owner = s3.get_bucket_acl(Bucket="uploads")["Owner"]

    def allow(*actions: str) -> None:
        root["iam"].put_user_policy(UserName="uploader", PolicyName="put",
                                    PolicyDocument=json.dumps({
                                        "Version": "2012-10-17", "Statement": [{
                                            "Effect": "Allow", "Action": list(actions),
                                            "Resource": "arn:aws:s3:::uploads/*"}]}))

    arn, keys = new_user(endpoint, root["iam"], "uploader")
    allow("s3:PutObject")
    path = tmp_path / "report.csv"
    path.write_bytes(b"a,b\n")
    with client("s3", endpoint=endpoint, **keys) as uploader:
        uploader.upload_file(str(path), "uploads", "plain.csv")
        assert error_of(lambda: uploader.put_object(
            Bucket="uploads", Key="owned.csv", Body=b"x",
            ACL="bucket-owner-full-control")) == (
            "AccessDenied", f"User: {arn} is not authorized to perform: s3:PutObjectAcl on "
            "resource: arn:aws:s3:::uploads/owned.csv because no identity-based policy "
            "allows the s3:PutObjectAcl action")
        allow("s3:PutObject", "s3:PutObjectAcl")
        uploader.upload_file(str(path), "uploads", "owned.csv",
                             ExtraArgs={"ACL": "bucket-owner-full-control"})
    assert s3.get_object_acl(Bucket="uploads", Key="owned.csv")["Owner"] == bucket_owner
    assert s3.get_object(Bucket="uploads", Key="plain.csv")["Body"].read() == b"a,b\n"


def test_a_missing_key_is_hidden_from_a_caller_who_may_not_list(endpoint, root):
    """As S3: without s3:ListBucket, GetObject/HeadObject of a missing key is
    AccessDenied, so s3:GetObject alone does not tell which keys exist; with it, the
    caller learns NoSuchKey."""
    s3 = root["s3"]
    s3.create_bucket(Bucket="hidden-keys")
    s3.put_object(Bucket="hidden-keys", Key="there", Body=b"t")
    _, keys = new_user(endpoint, root["iam"], "reader")
    statement = {"Effect": "Allow", "Action": "s3:GetObject",
                 "Resource": "arn:aws:s3:::hidden-keys/*"}
    root["iam"].put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [statement]}))
    with client("s3", endpoint=endpoint, **keys) as reader:
        assert reader.get_object(Bucket="hidden-keys", Key="there")["Body"].read() == b"t"
        assert error_of(lambda: reader.get_object(Bucket="hidden-keys", Key="nope"))[0] == \
            "AccessDenied"
        # a HEAD's error has no body: boto3 (and the SDK, as boto3) names it by its status
        assert error_of(lambda: reader.head_object(Bucket="hidden-keys", Key="nope"))[0] == \
            "403"
        listing = {"Effect": "Allow", "Action": "s3:ListBucket",
                   "Resource": "arn:aws:s3:::hidden-keys"}
        root["iam"].put_user_policy(UserName="reader", PolicyName="read",
                                    PolicyDocument=json.dumps({"Version": "2012-10-17",
                                                               "Statement": [statement,
                                                                             listing]}))
        assert error_of(lambda: reader.get_object(Bucket="hidden-keys", Key="nope"))[0] == \
            "NoSuchKey"
