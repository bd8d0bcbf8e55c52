"""AddPermission and RemovePermission against a real node: boto3's SQS client over HTTP
(the JSON protocol) and the gRPC SDK. The engine has one account, so "another principal"
is an IAM user with no identity policy: the queue policy a label adds is all that lets it
in, and RemovePermission shuts it out again. Codes and messages are SQS's."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError as BotoClientError
from helpers_sqs_http import queue_name, sqs_client
from helpers_sqs_query import query_client

from engine.client import ClientError, client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so


@pytest.fixture(scope="module")
def account(shared_server) -> str:
    with client("sts", endpoint=shared_server.endpoint) as sts:
        return sts.get_caller_identity()["Account"]


@pytest.fixture
def user(shared_server) -> tuple[str, dict[str, str]]:
    """A new IAM user with a key and no policies: (its ARN, its key's client keywords)."""
    name = f"u-{uuid.uuid4().hex[:10]}"
    with client("iam", endpoint=shared_server.endpoint) as iam:
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, {"aws_access_key_id": key["AccessKeyId"],
                 "aws_secret_access_key": key["SecretAccessKey"]}


def boto_error(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(BotoClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def sdk_error(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_a_label_lets_another_principal_in_until_it_is_removed(shared_server, account, user,
                                                               request):
    arn, keys = user
    root = sqs_client(shared_server.http_url)
    other = sqs_client(shared_server.http_url, key=keys["aws_access_key_id"],
                       secret=keys["aws_secret_access_key"])
    url = root.create_queue(QueueName=queue_name(request.node.name))["QueueUrl"]
    queue_arn = root.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    code, message = boto_error(lambda: other.send_message(QueueUrl=url, MessageBody="x"))
    assert code == "AccessDenied"
    assert message.startswith(f"User: {arn} is not authorized to perform: sqs:SendMessage "
                              f"on resource: {queue_arn}")

    root.add_permission(QueueUrl=url, Label="workers", AWSAccountIds=[account],
                        Actions=["SendMessage", "ReceiveMessage"])
    policy = json.loads(root.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])[
        "Attributes"]["Policy"])
    assert policy == {"Version": "2012-10-17", "Id": f"{queue_arn}/SQSDefaultPolicy",
                      "Statement": [{"Sid": "workers", "Effect": "Allow",
                                     "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                     "Action": ["SQS:SendMessage", "SQS:ReceiveMessage"],
                                     "Resource": queue_arn}]}
    other.send_message(QueueUrl=url, MessageBody="one")
    batch = other.send_message_batch(QueueUrl=url, Entries=[{"Id": "2", "MessageBody": "two"}])
    assert [e["Id"] for e in batch["Successful"]] == ["2"]  # the batch form comes along
    bodies: set[str] = set()
    for _ in range(20):
        got = other.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies |= {m["Body"] for m in got.get("Messages", [])}
        if len(bodies) == 2:
            break
    assert bodies == {"one", "two"}
    assert boto_error(lambda: other.purge_queue(QueueUrl=url))[0] == "AccessDenied"

    assert boto_error(lambda: root.add_permission(
        QueueUrl=url, Label="workers", AWSAccountIds=[account], Actions=["*"])) == (
        "InvalidParameterValue",
        "Value workers for parameter Label is invalid. Reason: Already exists.")

    root.remove_permission(QueueUrl=url, Label="workers")
    assert "Policy" not in root.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"]
    assert boto_error(lambda: other.send_message(QueueUrl=url, MessageBody="x"))[0] == \
        "AccessDenied"
    assert boto_error(lambda: root.remove_permission(QueueUrl=url, Label="workers")) == (
        "InvalidParameterValue", "Value workers for parameter Label is invalid. Reason: "
        "can't find label on existing policy.")


def test_an_iam_user_needs_sqs_add_permission_itself(shared_server, account, user, request):
    _, keys = user
    root = sqs_client(shared_server.http_url)
    other = sqs_client(shared_server.http_url, key=keys["aws_access_key_id"],
                       secret=keys["aws_secret_access_key"])
    url = root.create_queue(QueueName=queue_name(request.node.name))["QueueUrl"]
    assert boto_error(lambda: other.add_permission(
        QueueUrl=url, Label="me", AWSAccountIds=[account], Actions=["*"]))[0] == "AccessDenied"
    assert "Policy" not in root.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"]


@pytest.mark.parametrize(("label", "accounts", "actions", "code", "message"), [
    ("a.b", None, ["SendMessage"], "InvalidParameterValue",
     "Value a.b for parameter Label is invalid. Reason: Must be shorter than 80 and can only "
     "include alphanumeric characters, hyphens, or underscores."),
    ("a", ["12345"], ["SendMessage"], "InvalidParameterValue",
     "Value 12345 for parameter PrincipalId is invalid. Reason: Unable to verify principal."),
    ("a", None, ["DeleteQueue"], "InvalidParameterValue",
     "Value DeleteQueue for parameter ActionName is invalid. Reason: Only the queue owner is "
     "allowed to invoke this action."),
    ("a", None, ["Frobnicate"], "InvalidParameterValue",
     "Value Frobnicate for parameter ActionName is invalid. Reason: Please refer to the "
     "appropriate WSDL for a list of valid actions."),
])
def test_bad_permissions_over_http(shared_server, account, label, accounts, actions, code,
                                   message):
    root = sqs_client(shared_server.http_url)
    url = root.create_queue(QueueName=queue_name("bad-permission"))["QueueUrl"]
    assert boto_error(lambda: root.add_permission(
        QueueUrl=url, Label=label, AWSAccountIds=accounts or [account],
        Actions=actions)) == (code, message)


def test_an_unknown_queue_is_queue_does_not_exist(shared_server, account):
    root = sqs_client(shared_server.http_url)
    url = shared_server.http_url + f"/{account}/no-such-queue-{uuid.uuid4().hex[:6]}"
    with pytest.raises(root.exceptions.QueueDoesNotExist):
        root.add_permission(QueueUrl=url, Label="a", AWSAccountIds=[account], Actions=["*"])
    with pytest.raises(root.exceptions.QueueDoesNotExist):
        root.remove_permission(QueueUrl=url, Label="a")


def test_the_query_protocol_adds_and_removes(shared_server, account, request):
    """botocore's query serializer (ActionName.N, AWSAccountId.N) through the node."""
    root = sqs_client(shared_server.http_url)
    url = root.create_queue(QueueName=queue_name(request.node.name))["QueueUrl"]
    query = query_client(shared_server.http_url)
    query.add_permission(QueueUrl=url, Label="q", AWSAccountIds=[account],
                         Actions=["GetQueueAttributes"])
    statement = json.loads(root.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])[
        "Attributes"]["Policy"])["Statement"][0]
    assert (statement["Sid"], statement["Action"]) == ("q", "SQS:GetQueueAttributes")
    query.remove_permission(QueueUrl=url, Label="q")
    assert "Policy" not in root.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"]


def test_the_grpc_sdk_adds_and_removes(shared_server, account, user, request):
    _, keys = user
    with client("sqs", endpoint=shared_server.endpoint) as root, \
            client("sqs", endpoint=shared_server.endpoint, **keys) as other:
        url = root.create_queue(QueueName=queue_name(request.node.name))["QueueUrl"]
        own = {"Sid": "mine", "Effect": "Deny", "Principal": "*",
               "Action": "sqs:PurgeQueue", "Resource": "*"}
        root.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(
            {"Version": "2012-10-17", "Statement": [own]})})
        assert sdk_error(lambda: other.get_queue_attributes(
            QueueUrl=url, AttributeNames=["All"]))[0] == "AccessDenied"
        assert root.add_permission(QueueUrl=url, Label="readers", AWSAccountIds=[account],
                                   Actions=["GetQueueAttributes"])[
            "ResponseMetadata"]["HTTPStatusCode"] == 200
        assert "QueueArn" in other.get_queue_attributes(QueueUrl=url,
                                                        AttributeNames=["All"])["Attributes"]
        assert sdk_error(lambda: root.add_permission(
            QueueUrl=url, Label="readers", AWSAccountIds=[account], Actions=["*"])) == (
            "InvalidParameterValue",
            "Value readers for parameter Label is invalid. Reason: Already exists.")
        root.remove_permission(QueueUrl=url, Label="readers")
        assert sdk_error(lambda: other.get_queue_attributes(
            QueueUrl=url, AttributeNames=["All"]))[0] == "AccessDenied"
        kept = json.loads(root.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])[
            "Attributes"]["Policy"])
        assert kept["Statement"] == [own]
