"""The query protocol of IAM and STS on the node's HTTP port, as raw HTTP and aws-cli
send it: requests no SDK would send (no Action, an unknown one, a wrong Version, no
signature, a form that cannot be read, an oversized body) get the query protocol's XML
error with AWS's code and status, never a 500, and the node keeps serving; aws-cli's
`aws iam` and `aws sts` work against the node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from credentials import REGION, ROOT_KEY_ID, ROOT_SECRET
from helpers_iam_http import IAM_NS, STS_NS, Keys, client, error_of, policy, query, unique
from helpers_s3_http import send


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory()


AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")


def _aws(node, *args: str) -> subprocess.CompletedProcess[str]:
    assert AWS is not None
    return subprocess.run([AWS, "--endpoint-url", node.http_url, "--output", "json", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "AWS_PAGER": ""})


def test_a_request_without_action_is_missing_action(node):
    err = error_of(query(node.http_url, {"Version": "2010-05-08", "UserName": "a"}))
    assert (err.status, err.type, err.code) == (400, "Sender", "MissingAction")
    assert err.message == "The request must contain the parameter Action."


@pytest.mark.parametrize("action", ["CreateUsers", "ListUserTags", "CreateLoginProfile"])
def test_an_action_the_engine_lacks_is_invalid_action(node, action):
    err = error_of(query(node.http_url, {"Action": action, "Version": "2010-05-08"}))
    assert (err.status, err.type, err.code, err.message) == (
        400, "Sender", "InvalidAction",
        f"Could not find operation {action} for version 2010-05-08")


def test_an_action_of_the_other_service_is_invalid_action(node):
    err = error_of(query(node.http_url, {"Action": "GetCallerIdentity",
                                         "Version": "2010-05-08"}))  # signed for iam
    assert (err.status, err.code) == (400, "InvalidAction")
    err = error_of(query(node.http_url, {"Action": "ListUsers", "Version": "2011-06-15"},
                         service="sts"), STS_NS)
    assert (err.status, err.code) == (400, "InvalidAction")


@pytest.mark.parametrize(("version", "shown"), [("2009-01-01", "2009-01-01"),
                                                (None, "NO_VERSION_SPECIFIED")])
def test_a_wrong_or_missing_version_is_invalid_action(node, version, shown):
    form = {"Action": "ListUsers"} | ({"Version": version} if version else {})
    err = error_of(query(node.http_url, form))
    assert (err.status, err.code, err.message) == (
        400, "InvalidAction", f"Could not find operation ListUsers for version {shown}")


def test_an_unsigned_call_is_missing_authentication_token(node):
    for service, form, namespace in (
            ("iam", {"Action": "ListUsers", "Version": "2010-05-08"}, IAM_NS),
            ("sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"}, STS_NS),
            ("sqs", {"Action": "ListQueues", "Version": "2012-11-05"},
             "{http://queue.amazonaws.com/doc/2012-11-05/}")):
        err = error_of(query(node.http_url, form, service=service, keys=None), namespace)
        assert (err.status, err.type, err.code, err.message) == (
            403, "Sender", "MissingAuthenticationToken",
            "Request is missing Authentication Token"), service


def test_a_bad_signature_or_key_is_refused_in_xml(node):
    err = error_of(query(node.http_url, {"Action": "ListUsers", "Version": "2010-05-08"},
                         keys=Keys("AKIAENGINETESTROOT01", "not-the-secret")))
    assert (err.status, err.code) == (403, "SignatureDoesNotMatch")
    err = error_of(query(node.http_url, {"Action": "ListUsers", "Version": "2010-05-08"},
                         keys=Keys("AKIANOSUCHKEY0000000", "x")))
    assert (err.status, err.code, err.message) == (
        403, "InvalidClientTokenId", "The security token included in the request is invalid.")


@pytest.mark.parametrize(("body", "code", "status"), [
    (b"Action=ListUsers&Version=2010-05-08&MaxItems=ten", "ValidationError", 400),
    (b"Action=CreateUser&Version=2010-05-08&UserName=a&Tags.member.x.Key=k",
     "MalformedQueryString", 404),
    (b"Action=CreateUser&Version=2010-05-08&UserName=%FF%FE", "MalformedQueryString", 404),
    (b"Action=CreateUser&Version=2010-05-08", "ValidationError", 400),
    (b"Action=GetUser&Version=2010-05-08&UserName.member.1=x", "ValidationError", 400),
    (b"Action=CreateUser&Version=2010-05-08&UserName=a&Tags.member.1=x", "ValidationError",
     400),
])
def test_a_form_no_sdk_sends_gets_a_clear_error(node, body, code, status):
    err = error_of(query(node.http_url, body))
    assert (err.status, err.type, err.code) == (status, "Sender", code), err.message


def test_an_oversized_body_is_refused_and_the_node_serves_on(node):
    answer = query(node.http_url, b"Action=ListUsers&Version=2010-05-08&Pad=" +
                   b"x" * (300 * 1024))
    err = error_of(answer)
    assert (err.status, err.code) == (413, "RequestEntityTooLarge")
    assert "Users" in client("iam", node.http_url).list_users()


@pytest.mark.skipif(AWS is None, reason="aws-cli is not installed (dev extras)")
def test_aws_cli_creates_and_lists_users_and_knows_who_calls(node):
    name = unique("cli-user")
    made = _aws(node, "iam", "create-user", "--user-name", name, "--tags",
                "Key=team,Value=ops")
    assert made.returncode == 0, made.stderr
    user = json.loads(made.stdout)["User"]
    assert user["UserName"] == name and user["Tags"] == [{"Key": "team", "Value": "ops"}]
    listed = _aws(node, "iam", "list-users")
    assert listed.returncode == 0, listed.stderr
    assert name in [u["UserName"] for u in json.loads(listed.stdout)["Users"]]
    who = _aws(node, "sts", "get-caller-identity")
    assert who.returncode == 0, who.stderr
    identity = json.loads(who.stdout)
    assert identity["Arn"] == f"arn:aws:iam::{identity['Account']}:root"
    missing = _aws(node, "iam", "get-user", "--user-name", name + "-nobody")
    assert missing.returncode in (254, 255)  # aws-cli v2 and v1
    assert ("An error occurred (NoSuchEntity) when calling the GetUser operation: The user "
            f"with name {name}-nobody cannot be found.") in missing.stderr


def test_a_signed_get_carries_its_parameters_in_the_url(node):
    url = f"{node.http_url}/?Action=ListUsers&Version=2010-05-08&MaxItems=1"
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(ROOT_KEY_ID, ROOT_SECRET), "iam", REGION).add_auth(request)
    answer = send(node.http_url, "GET", list(request.headers.items()),
                  path="/?Action=ListUsers&Version=2010-05-08&MaxItems=1")
    assert answer.status == 200, answer.body
    root = ET.fromstring(answer.body)
    assert root.tag == f"{IAM_NS}ListUsersResponse"
    assert root.findtext(f"{IAM_NS}ListUsersResult/{IAM_NS}IsTruncated") in ("true", "false")


def test_calls_over_http_are_audited_as_over_grpc(server_factory, tmp_path):
    path = tmp_path / "audit.log"
    server = server_factory("--audit-log", str(path)).start()
    iam, sts = client("iam", server.http_url), client("sts", server.http_url)
    account = sts.get_caller_identity()["Account"]  # reads: no line
    iam.list_users()
    iam.create_user(UserName="eve")
    key = iam.create_access_key(UserName="eve")["AccessKey"]
    iam.create_role(RoleName="ops", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}))
    with pytest.raises(ClientError) as caught:  # eve's own policies must allow it too
        client("sts", server.http_url, Keys.of(key)).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/ops", RoleSessionName="s1")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert server.stop() == 0  # a clean stop writes every queued line
    text = path.read_text()
    assert key["SecretAccessKey"] not in text
    found = [json.loads(line) for line in text.splitlines()]
    assert [(line["decision"], line["action"], line["method"], line["error_code"])
            for line in found] == [
        ("allow", "iam:CreateUser", "iam:Query.CreateUser", None),
        ("allow", "iam:CreateAccessKey", "iam:Query.CreateAccessKey", None),
        ("allow", "iam:CreateRole", "iam:Query.CreateRole", None),
        ("deny", "sts:AssumeRole", "sts:Query.AssumeRole", "AccessDenied")]
    assert found[0]["principal"] == f"arn:aws:iam::{account}:root"
    assert found[3]["principal"] == f"arn:aws:iam::{account}:user/eve"
    assert found[3]["resource"] == f"arn:aws:iam::{account}:role/ops"
