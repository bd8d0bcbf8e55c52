"""IAM over the node's HTTP port with boto3's IAM client (the query protocol), against a
real `engine serve`: users and their keys (a new key signs S3 calls on the same port),
groups, managed policies with versions, inline policies, paging with Marker/MaxItems,
and IAM's errors through boto3's modeled exceptions. Expectations are AWS's."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from helpers_iam_http import Keys, allow, client, policy, unique


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory()


@pytest.fixture(scope="module")
def iam(node):
    return client("iam", node.http_url)


@pytest.fixture(scope="module")
def account(node) -> str:
    return client("sts", node.http_url).get_caller_identity()["Account"]


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str, str]:
    response = caught.value.response
    return (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Type"],
            response["Error"]["Code"], response["Error"]["Message"])


def test_a_new_users_key_signs_s3_calls_as_its_policies_allow(node, iam, account, request):
    name = unique(request.node.name)
    user = iam.create_user(UserName=name, Path="/apps/",
                           Tags=[{"Key": "team", "Value": "photos & more"}])["User"]
    assert user["Arn"] == f"arn:aws:iam::{account}:user/apps/{name}"
    assert user["UserId"].startswith("AIDA") and user["Path"] == "/apps/"
    assert user["Tags"] == [{"Key": "team", "Value": "photos & more"}]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert key["UserName"] == name and key["Status"] == "Active"
    assert len(key["SecretAccessKey"]) == 40
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    assert "SecretAccessKey" not in listed[0]

    s3 = client("s3", node.http_url, Keys.of(key))
    bucket = unique("b").lower()
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(Bucket=bucket)
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    iam.put_user_policy(UserName=name, PolicyName="s3",
                        PolicyDocument=policy(allow("s3:*")))
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"made by a key IAM made over HTTP")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == \
        b"made by a key IAM made over HTTP"
    assert iam.get_user_policy(UserName=name, PolicyName="s3")["PolicyDocument"] == \
        json.loads(policy(allow("s3:*")))  # IAM sends it percent-encoded; botocore decodes
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["s3"]

    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as caught:
        s3.list_buckets()
    assert caught.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_group_membership(iam, account, request):
    user, group = unique(request.node.name), unique("group")
    iam.create_user(UserName=user)
    made = iam.create_group(GroupName=group)["Group"]
    assert made["Arn"] == f"arn:aws:iam::{account}:group/{group}"
    iam.add_user_to_group(GroupName=group, UserName=user)
    answer = iam.get_group(GroupName=group)
    assert answer["Group"]["GroupName"] == group and not answer["IsTruncated"]
    assert [u["UserName"] for u in answer["Users"]] == [user]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == \
        [group]
    with pytest.raises(iam.exceptions.DeleteConflictException) as caught:
        iam.delete_group(GroupName=group)
    assert _error(caught) == (409, "Sender", "DeleteConflict",
                              "Cannot delete entity, must remove users from group first.")
    iam.remove_user_from_group(GroupName=group, UserName=user)
    assert iam.get_group(GroupName=group)["Users"] == []  # an empty list, not a missing one
    iam.delete_group(GroupName=group)
    assert iam.list_groups_for_user(UserName=user)["Groups"] == []


def test_a_managed_policy_with_versions_attached_detached_and_deleted(iam, request):
    user, name = unique(request.node.name), unique("read")
    iam.create_user(UserName=user)
    first = policy(allow("s3:GetObject", "arn:aws:s3:::photos/*"))
    made = iam.create_policy(PolicyName=name, PolicyDocument=first,
                             Description="read photos")["Policy"]
    arn = made["Arn"]
    assert (made["DefaultVersionId"], made["AttachmentCount"], made["IsAttachable"]) == (
        "v1", 0, True)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == [
        {"PolicyName": name, "PolicyArn": arn}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)[
        "Policies"] if p["PolicyName"] == name] == [name]  # a boolean member, typed

    second = policy(allow(["s3:GetObject", "s3:ListBucket"], "*"))
    version = iam.create_policy_version(PolicyArn=arn, PolicyDocument=second,
                                        SetAsDefault=True)["PolicyVersion"]
    assert (version["VersionId"], version["IsDefaultVersion"]) == ("v2", True)
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted((v["VersionId"], v["IsDefaultVersion"]) for v in versions) == [
        ("v1", False), ("v2", True)]
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"][
        "Document"] == json.loads(first)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=first, SetAsDefault=False)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v3")
    with pytest.raises(iam.exceptions.DeleteConflictException) as caught:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert _error(caught)[2:] == ("DeleteConflict",
                                  "Cannot delete the default version of a policy.")

    with pytest.raises(iam.exceptions.DeleteConflictException) as caught:
        iam.delete_policy(PolicyArn=arn)
    assert _error(caught) == (409, "Sender", "DeleteConflict",
                              "Cannot delete a policy attached to entities.")
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == []
    for old in ("v1", "v2"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=old)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=arn)


def test_roles_with_typed_members_and_their_policies(iam, account, request):
    name = unique(request.node.name)
    trust = policy({"Effect": "Allow", "Principal": {"AWS": account},
                    "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust,
                           MaxSessionDuration=7200, Description="deploys")["Role"]
    assert (role["MaxSessionDuration"], role["Description"]) == (7200, "deploys")
    assert role["AssumeRolePolicyDocument"] == json.loads(trust)
    iam.update_role(RoleName=name, MaxSessionDuration=3600)  # an empty UpdateRoleResult
    assert iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 3600
    iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=policy(
        allow("s3:PutObject", "arn:aws:s3:::logs/*")))
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["logs"]
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_role(RoleName=name)
    iam.delete_role_policy(RoleName=name, PolicyName="logs")
    iam.delete_role(RoleName=name)
    assert name not in [r["RoleName"] for r in iam.list_roles()["Roles"]]


def test_listing_150_users_pages_by_marker(iam, request):
    path = f"/{unique(request.node.name)}/"
    names = sorted(f"user-{i:03d}" + unique("")[-9:] for i in range(150))
    for name in names:
        iam.create_user(UserName=name, Path=path)
    first = iam.list_users(PathPrefix=path, MaxItems=100)
    assert first["IsTruncated"] and first["Marker"]
    assert [u["UserName"] for u in first["Users"]] == names[:100]
    rest = iam.list_users(PathPrefix=path, MaxItems=100, Marker=first["Marker"])
    assert not rest["IsTruncated"] and "Marker" not in rest
    assert [u["UserName"] for u in rest["Users"]] == names[100:]

    pages = iam.get_paginator("list_users").paginate(PathPrefix=path,
                                                     PaginationConfig={"PageSize": 40})
    sizes = [len(page["Users"]) for page in pages]
    assert sizes == [40, 40, 40, 30]
    with pytest.raises(ClientError) as caught:
        iam.list_users(MaxItems=1001)
    assert _error(caught)[:3] == (400, "Sender", "ValidationError")


def test_errors_are_iams_through_boto3s_modeled_exceptions(iam, request):
    name = unique(request.node.name)
    iam.create_user(UserName=name)
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException) as caught:
        iam.create_user(UserName=name.upper())
    assert _error(caught) == (409, "Sender", "EntityAlreadyExists",
                              f"User with name {name.upper()} already exists.")
    with pytest.raises(iam.exceptions.NoSuchEntityException) as caught:
        iam.get_user(UserName=name + "-nobody")
    assert _error(caught) == (404, "Sender", "NoSuchEntity",
                              f"The user with name {name}-nobody cannot be found.")
    iam.create_access_key(UserName=name)
    with pytest.raises(iam.exceptions.DeleteConflictException) as caught:
        iam.delete_user(UserName=name)
    assert _error(caught) == (409, "Sender", "DeleteConflict",
                              "Cannot delete entity, must delete access keys first.")
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as caught:
        iam.put_user_policy(UserName=name, PolicyName="bad",
                            PolicyDocument=json.dumps({"Version": 1}))
    assert _error(caught) == (400, "Sender", "MalformedPolicyDocument",
                              "The policy must contain a valid version string")


def test_a_user_without_iam_permissions_is_denied(node, iam, account, request):
    name = unique(request.node.name)
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    theirs = client("iam", node.http_url, Keys.of(key))
    with pytest.raises(ClientError) as caught:
        theirs.create_user(UserName=name + "-2")
    assert _error(caught) == (
        403, "Sender", "AccessDenied",
        f"User: arn:aws:iam::{account}:user/{name} is not authorized to perform: "
        f"iam:CreateUser on resource: arn:aws:iam::{account}:user/{name}-2 because no "
        "identity-based policy allows the iam:CreateUser action")
    with pytest.raises(ClientError) as caught:
        theirs.list_access_keys()  # its own keys, by a call naming no user: on "*"
    assert _error(caught)[2] == "AccessDenied"
    iam.put_user_policy(UserName=name, PolicyName="self",
                        PolicyDocument=policy(allow("iam:ListAccessKeys")))
    assert [k["AccessKeyId"] for k in theirs.list_access_keys()["AccessKeyMetadata"]] == [
        key["AccessKeyId"]]
