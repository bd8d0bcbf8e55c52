"""client("iam") and client("sts") against a tiny in-process Iam/Sts server: boto3's
method names become AWS actions, members travel as JSON, and replies come back in
boto3's shapes (datetimes, policy documents as dicts, ResponseMetadata, modeled
exceptions)."""

from __future__ import annotations

import datetime
import json
import re
from concurrent import futures
from urllib.parse import quote

import grpc
import pytest
from grpc_status import rpc_status

from engine.client import ClientError, IAMClient, ParamValidationError, STSClient
from engine.errors import EngineError
from engine.v1 import iam_pb2 as pb
from engine.v1 import iam_pb2_grpc

UTC = datetime.UTC
WHEN = "2026-12-07T07:07:43Z"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
     "Action": "sts:AssumeRole"}]}
USERS = [f"user{i}" for i in range(5)]


def _abort(context: grpc.ServicerContext, err: EngineError) -> None:
    context.abort_with_status(rpc_status.to_status(err.to_rpc_status()))


def _answer(action: str, params: dict) -> dict:
    """Canned replies in the IAM API Reference's shapes; anything else is echoed."""
    if params.get("UserName") == "ghost":
        raise EngineError("NoSuchEntity", "The user with name ghost cannot be found.")
    if action == "CreateUser" and params.get("Path") == "bad":
        raise EngineError("ValidationError", "1 validation error detected")
    if action == "GetUser":
        return {"User": {"UserName": params.get("UserName", "root"), "CreateDate": WHEN,
                         "PasswordLastUsed": "not a date"}}
    if action == "GetRole":
        return {"Role": {"RoleName": params["RoleName"], "CreateDate": WHEN,
                         "AssumeRolePolicyDocument": json.dumps(TRUST)}}
    if action == "GetPolicyVersion":
        return {"PolicyVersion": {"VersionId": "v1", "IsDefaultVersion": True,
                                  "CreateDate": "2026-01-02T03:04:05+00:00",
                                  "Document": quote(json.dumps(TRUST))}}
    if action == "GetUserPolicy":
        return {"UserName": params["UserName"], "PolicyName": params["PolicyName"],
                "PolicyDocument": "not json"}
    if action == "GetAccessKeyLastUsed":
        return {"UserName": "alice", "AccessKeyLastUsed": {
            "LastUsedDate": WHEN, "ServiceName": "s3", "Region": "us-east-1"}}
    if action == "ListUsers":
        after = [u for u in USERS if u > params.get("Marker", "")]
        limit = int(params.get("MaxItems", 100))
        page = {"Users": [{"UserName": u, "CreateDate": WHEN} for u in after[:limit]],
                "IsTruncated": len(after) > limit}
        if page["IsTruncated"]:
            page["Marker"] = after[limit - 1]
        return page
    if action == "AssumeRole":
        if params.get("RoleSessionName") == "expired":
            raise EngineError("ExpiredTokenException", "The security token included in "
                              "the request is expired", http_status=400,
                              grpc_status=grpc.StatusCode.UNAUTHENTICATED)
        return {"Credentials": {"AccessKeyId": "ASIA1", "SecretAccessKey": "s",
                                "SessionToken": "t", "Expiration": WHEN},
                "AssumedRoleUser": {"AssumedRoleId": "AROA1:s", "Arn": "arn"},
                "PackedPolicySize": 6}
    return {"Action": action, "Params": params}


class Fake(iam_pb2_grpc.IamServicer, iam_pb2_grpc.StsServicer):
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def Call(self, request: pb.AwsCall, context: grpc.ServicerContext) -> pb.AwsReply:
        params = json.loads(request.params_json)
        self.calls.append((request.action, params))
        try:
            return pb.AwsReply(result_json=json.dumps(_answer(request.action, params)))
        except EngineError as err:
            _abort(context, err)
            raise AssertionError("unreachable") from None


@pytest.fixture(scope="module")
def server():
    fake = Fake()
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    iam_pb2_grpc.add_IamServicer_to_server(fake, srv)
    iam_pb2_grpc.add_StsServicer_to_server(fake, srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    yield f"127.0.0.1:{port}", fake
    srv.stop(None)


@pytest.fixture
def iam(server):
    endpoint, fake = server
    fake.calls.clear()
    with IAMClient(endpoint, timeout=10) as c:
        yield c, fake


@pytest.fixture
def sts(server):
    endpoint, fake = server
    fake.calls.clear()
    with STSClient(endpoint, timeout=10) as c:
        yield c, fake


# --- requests

IAM_METHODS = [
    "create_user", "get_user", "list_users", "delete_user", "create_group", "get_group",
    "list_groups", "list_groups_for_user", "delete_group", "add_user_to_group",
    "remove_user_from_group", "create_role", "get_role", "list_roles", "delete_role",
    "update_assume_role_policy", "update_role", "create_access_key", "list_access_keys",
    "update_access_key", "delete_access_key", "get_access_key_last_used", "create_policy",
    "get_policy", "list_policies", "delete_policy", "create_policy_version", "get_policy_version",
    "list_policy_versions", "delete_policy_version", "set_default_policy_version",
    "attach_user_policy", "detach_user_policy", "list_attached_user_policies",
    "attach_group_policy", "detach_group_policy", "list_attached_group_policies",
    "attach_role_policy", "detach_role_policy", "list_attached_role_policies", "put_user_policy",
    "get_user_policy", "delete_user_policy", "list_user_policies", "put_group_policy",
    "get_group_policy", "delete_group_policy", "list_group_policies", "put_role_policy",
    "get_role_policy", "delete_role_policy", "list_role_policies",
    "simulate_principal_policy", "simulate_custom_policy",
]


def _action(method_name: str) -> str:
    return "".join(part.capitalize() for part in method_name.split("_"))


def _call_with_required(method):
    """Call with no members; when some are required (the error names them), with those."""
    try:
        return method()
    except ParamValidationError as exc:
        missing = re.findall(r'Missing required parameter in input: "(\w+)"', str(exc))
        assert missing, str(exc)
        return method(**dict.fromkeys(missing, "x"))


@pytest.mark.parametrize("name", IAM_METHODS)
def test_every_iam_method_sends_its_action(iam, name):
    c, fake = iam
    result = _call_with_required(getattr(c, name))
    assert fake.calls[-1][0] == _action(name)
    assert result["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize(("name", "action"), [
    ("get_caller_identity", "GetCallerIdentity"), ("get_session_token", "GetSessionToken"),
    ("assume_role", "AssumeRole")])
def test_every_sts_method_sends_its_action(sts, name, action):
    c, fake = sts
    _call_with_required(getattr(c, name))
    assert fake.calls[-1][0] == action


def test_members_travel_as_json_and_dict_documents_as_text(iam):
    c, fake = iam
    c.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=7200,
                  Tags=[{"Key": "team", "Value": "storage"}])
    action, params = fake.calls[-1]
    assert action == "CreateRole"
    assert params["AssumeRolePolicyDocument"] == json.dumps(TRUST)
    assert params["MaxSessionDuration"] == 7200
    assert params["Tags"] == [{"Key": "team", "Value": "storage"}]
    text = '{"Version":"2012-10-17","Statement":[]}'
    c.put_user_policy(UserName="u", PolicyName="p", PolicyDocument=text)
    assert fake.calls[-1][1]["PolicyDocument"] == text


def test_members_are_checked_before_sending(iam):
    c, fake = iam
    with pytest.raises(ParamValidationError) as info:
        c.create_user(UserName="a", Nickname="b")
    assert 'Unknown parameter in input: "Nickname", must be one of: UserName, Path' in (
        str(info.value))
    with pytest.raises(ParamValidationError, match='Missing required parameter in input: '
                                                   '"PolicyArn"'):
        c.attach_role_policy(RoleName="r")
    with pytest.raises(ParamValidationError, match="PolicyDocument"):
        c.create_policy(PolicyName="p", PolicyDocument=["not", "a", "document"])
    assert fake.calls == []


# --- replies

def test_dates_become_timezone_aware_datetimes(iam):
    c, _ = iam
    user = c.get_user(UserName="alice")["User"]
    assert user["CreateDate"] == datetime.datetime(2026, 12, 7, 7, 7, 43, tzinfo=UTC)
    assert user["CreateDate"].tzinfo is not None
    assert user["PasswordLastUsed"] == "not a date"
    last = c.get_access_key_last_used(AccessKeyId="AK")["AccessKeyLastUsed"]
    assert last["LastUsedDate"] == datetime.datetime(2026, 12, 7, 7, 7, 43, tzinfo=UTC)
    version = c.get_policy_version(PolicyArn="arn", VersionId="v1")["PolicyVersion"]
    assert version["CreateDate"] == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_policy_documents_become_dicts(iam):
    c, _ = iam
    assert c.get_role(RoleName="r")["Role"]["AssumeRolePolicyDocument"] == TRUST
    version = c.get_policy_version(PolicyArn="arn", VersionId="v1")["PolicyVersion"]
    assert version["Document"] == TRUST  # URL-encoded, as AWS sends it
    assert c.get_user_policy(UserName="u", PolicyName="p")["PolicyDocument"] == "not json"


def test_sts_credentials_expiration_is_a_datetime(sts):
    c, fake = sts
    result = c.assume_role(RoleArn="arn:aws:iam::123456789012:role/r", RoleSessionName="s",
                           Policy={"Version": "2012-10-17", "Statement": []})
    assert result["Credentials"]["Expiration"] == datetime.datetime(2026, 12, 7, 7, 7, 43,
                                                                     tzinfo=UTC)
    assert result["AssumedRoleUser"]["Arn"] == "arn" and result["PackedPolicySize"] == 6
    assert json.loads(fake.calls[-1][1]["Policy"]) == {"Version": "2012-10-17",
                                                       "Statement": []}


# --- errors

def test_a_modeled_error_raises_its_exception(iam):
    c, _ = iam
    with pytest.raises(c.exceptions.NoSuchEntityException) as info:
        c.get_user(UserName="ghost")
    err = info.value
    assert isinstance(err, ClientError) and err.operation_name == "GetUser"
    assert err.response["Error"] == {"Type": "Sender", "Code": "NoSuchEntity",
                                     "Message": "The user with name ghost cannot be found."}
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert str(err) == ("An error occurred (NoSuchEntity) when calling the GetUser operation: "
                        "The user with name ghost cannot be found.")


def test_an_unmodeled_error_is_a_plain_client_error(iam):
    c, _ = iam
    with pytest.raises(ClientError) as info:
        c.create_user(UserName="a", Path="bad")
    assert type(info.value) is ClientError
    assert info.value.response["Error"]["Code"] == "ValidationError"


def test_sts_has_its_own_modeled_errors(sts):
    c, _ = sts
    with pytest.raises(c.exceptions.ExpiredTokenException) as info:
        c.assume_role(RoleArn="arn:aws:iam::123456789012:role/r", RoleSessionName="expired")
    assert info.value.response["Error"]["Code"] == "ExpiredTokenException"


# --- paginators

def test_list_calls_have_marker_paginators(iam):
    c, fake = iam
    assert c.can_paginate("list_users") and c.can_paginate("list_policies")
    assert not c.can_paginate("get_user")
    pages = list(c.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2}))
    assert [[u["UserName"] for u in p["Users"]] for p in pages] == [
        ["user0", "user1"], ["user2", "user3"], ["user4"]]
    assert [params.get("Marker") for _, params in fake.calls] == [None, "user1", "user3"]
    full = c.get_paginator("list_users").paginate(
        PaginationConfig={"MaxItems": 3, "PageSize": 2}).build_full_result()
    assert [u["UserName"] for u in full["Users"]] == ["user0", "user1", "user2"]
    assert "NextToken" in full
