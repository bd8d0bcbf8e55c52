"""STS over the node's HTTP port with boto3's STS client (the query protocol), against a
real `engine serve --manual-clock`: who the caller is (root, a user, a role session),
GetSessionToken, AssumeRole with a trust policy and the temporary credentials on S3 and
SQS over the same port, and expired or wrong session tokens refused as AWS refuses them.
The exact XML of GetCallerIdentity is pinned against a captured AWS answer's form."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError
from helpers_iam_http import ROOT, STS_NS, Keys, allow, client, error_of, policy, query, unique
from helpers_sqs import advance_clock

# The form of a GetCallerIdentity answer as AWS sends it (captured from sts.amazonaws.com:
# no XML declaration, two-space indent, Arn/UserId/Account, text/xml, x-amzn-RequestId).
CALLER_IDENTITY = """\
<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::{account}:root</Arn>
    <UserId>{account}</UserId>
    <Account>{account}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>{request_id}</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
"""


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory("--manual-clock")


@pytest.fixture(scope="module")
def iam(node):
    return client("iam", node.http_url)


@pytest.fixture(scope="module")
def account(node) -> str:
    return client("sts", node.http_url).get_caller_identity()["Account"]


def _user(iam, name: str, *statements: dict) -> Keys:
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(*statements))
    return Keys.of(iam.create_access_key(UserName=name)["AccessKey"])


def _code(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = caught.value.response
    return (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"],
            response["Error"]["Message"])


def test_get_caller_identity_of_root_is_awss_exact_xml(node, account):
    answer = query(node.http_url, {"Action": "GetCallerIdentity", "Version": "2011-06-15"},
                   service="sts", keys=ROOT)
    assert answer.status == 200 and re.fullmatch(r"\d{12}", account)
    assert answer.headers["content-type"] == "text/xml"
    request_id = answer.headers["x-amzn-requestid"]
    assert answer.body.decode() == CALLER_IDENTITY.format(account=account,
                                                          request_id=request_id)


def test_get_caller_identity_of_a_user(node, iam, account, request):
    name = unique(request.node.name)
    keys = _user(iam, name)  # no policy: GetCallerIdentity needs no permission
    identity = client("sts", node.http_url, keys).get_caller_identity()
    user_id = iam.get_user(UserName=name)["User"]["UserId"]
    assert (identity["Arn"], identity["UserId"], identity["Account"]) == (
        f"arn:aws:iam::{account}:user/{name}", user_id, account)


def test_assumed_role_credentials_work_on_s3_and_sqs_over_http(node, iam, account, request):
    name = unique(request.node.name)
    keys = _user(iam, name)
    role = unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/{name}"},
         "Action": "sts:AssumeRole"}))
    iam.put_role_policy(RoleName=role, PolicyName="work",
                        PolicyDocument=policy(allow(["s3:*", "sqs:*"])))
    answer = client("sts", node.http_url, keys).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="build-42",
        DurationSeconds=900)
    assert answer["AssumedRoleUser"]["Arn"] == \
        f"arn:aws:sts::{account}:assumed-role/{role}/build-42"
    assert answer["AssumedRoleUser"]["AssumedRoleId"].endswith(":build-42")
    assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")
    session = Keys.of(answer["Credentials"])

    assert client("sts", node.http_url, session).get_caller_identity()["Arn"] == \
        answer["AssumedRoleUser"]["Arn"]
    s3 = client("s3", node.http_url, session)
    bucket = unique("role").lower()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"by a role session")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"by a role session"
    sqs = client("sqs", node.http_url, session)
    url = sqs.create_queue(QueueName=unique("role-q"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]["Body"] == \
        "hello"
    with pytest.raises(ClientError) as caught:  # the role may not manage IAM
        client("iam", node.http_url, session).list_users()
    assert _code(caught)[:2] == (403, "AccessDenied")


def test_assume_role_refused_by_the_trust_policy(node, iam, account, request):
    name = unique(request.node.name)
    keys = _user(iam, name, allow("sts:AssumeRole"))
    role = unique("closed")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/other"},
         "Action": "sts:AssumeRole"}))
    arn = f"arn:aws:iam::{account}:role/{role}"
    with pytest.raises(ClientError) as caught:
        client("sts", node.http_url, keys).assume_role(RoleArn=arn, RoleSessionName="s1")
    status, code, message = _code(caught)
    assert (status, code) == (403, "AccessDenied")
    assert message.startswith(f"User: arn:aws:iam::{account}:user/{name} is not authorized "
                              f"to perform: sts:AssumeRole on resource: {arn}")
    with pytest.raises(ClientError) as caught:
        client("sts", node.http_url).assume_role(RoleArn=arn, RoleSessionName="s1")
    assert _code(caught) == (403, "AccessDenied", "Roles may not be assumed by root accounts.")
    with pytest.raises(ClientError) as caught:
        client("sts", node.http_url, keys).assume_role(RoleArn="arn:aws:iam::1:user/not-a-role",
                                                       RoleSessionName="s1")
    assert _code(caught) == (400, "ValidationError", "arn:aws:iam::1:user/not-a-role is invalid")


def test_session_tokens_expired_or_wrong_are_refused(node, iam, account, request):
    name = unique(request.node.name)
    keys = _user(iam, name, allow("s3:ListAllMyBuckets"))
    token = client("sts", node.http_url, keys).get_session_token(DurationSeconds=900)
    session = Keys.of(token["Credentials"])
    assert client("sts", node.http_url, session).get_caller_identity()["Arn"] == \
        f"arn:aws:iam::{account}:user/{name}"
    client("s3", node.http_url, session).list_buckets()

    wrong = Keys(session.key, session.secret, (session.token or "")[:-8] + "AAAAAAAA")
    with pytest.raises(ClientError) as caught:
        client("sts", node.http_url, wrong).get_caller_identity()
    assert _code(caught) == (403, "InvalidClientTokenId",
                             "The security token included in the request is invalid.")
    raw = error_of(query(node.http_url, {"Action": "GetCallerIdentity",
                                         "Version": "2011-06-15"}, service="sts", keys=wrong),
                   STS_NS)
    assert (raw.status, raw.type, raw.code) == (403, "Sender", "InvalidClientTokenId")

    advance_clock(node.endpoint, 901)  # the session's 15 minutes, on the engine clock
    with pytest.raises(ClientError) as caught:
        client("sts", node.http_url, session).get_caller_identity()
    assert _code(caught) == (403, "ExpiredToken",
                             "The security token included in the request is expired")
    with pytest.raises(ClientError) as caught:
        client("s3", node.http_url, session).list_buckets()
    assert caught.value.response["Error"]["Code"] == "ExpiredToken"
    with pytest.raises(ClientError) as caught:
        client("iam", node.http_url, session).get_user()
    assert _code(caught)[:2] == (403, "ExpiredToken")
