"""What a user gets wrong against SQS over HTTP, and what they get back: SQS's JSON errors
(``__type`` plus the x-amzn-query-error header boto3 reads its code from), checked with
boto3's modeled exceptions and with raw HTTP for what boto3 never sends (bad JSON, an
unknown target, wrong types, an oversized body), and an IAM policy that allows
sqs:SendMessage on one queue only. One known vector pins SendMessage's wire form."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import send
from helpers_sqs_http import call, error_of, queue_name, signed_post, sqs_client

from engine.client import client as engine_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so


@pytest.fixture(scope="module")
def sqs(shared_server):
    return sqs_client(shared_server.http_url)


@pytest.fixture
def queue(sqs, request) -> str:
    return sqs.create_queue(QueueName=queue_name(request.node.name))["QueueUrl"]


def test_a_missing_queue_is_the_modeled_queue_does_not_exist(sqs):
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as exc:
        sqs.get_queue_url(QueueName="no-such-queue")
    error = exc.value.response["Error"]
    assert error["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error["Message"] == "The specified queue does not exist."
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_an_existing_name_with_other_attributes_is_queue_name_exists(sqs, queue):
    name = queue.rsplit("/", 1)[1]
    with pytest.raises(sqs.exceptions.QueueNameExists) as exc:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "99"})
    assert exc.value.response["Error"]["Code"] == "QueueAlreadyExists"


def test_raw_nonexistent_queue_answer(shared_server):
    url = f"{shared_server.http_url}/000000000000/absent"
    answer = call(shared_server.http_url, "SendMessage", {"QueueUrl": url,
                                                          "MessageBody": "x"})
    assert error_of(answer) == (400, "com.amazonaws.sqs#QueueDoesNotExist",
                                "AWS.SimpleQueueService.NonExistentQueue;Sender",
                                "The specified queue does not exist.")
    assert answer.headers["content-type"] == "application/x-amz-json-1.0"
    assert re.fullmatch(r"[0-9a-f-]{36}", answer.headers["x-amzn-requestid"])


def test_bad_json_is_a_serialization_exception(shared_server):
    answer = signed_post(shared_server.http_url, "AmazonSQS.ListQueues", b'{"QueueName": ')
    assert error_of(answer) == (400, "com.amazon.coral.service#SerializationException",
                                "SerializationException;Sender",
                                "The request body is not valid JSON.")
    answer = signed_post(shared_server.http_url, "AmazonSQS.ListQueues", b"[1, 2]")
    assert error_of(answer)[1] == "com.amazon.coral.service#SerializationException"


def test_an_unknown_target_is_invalid_action(shared_server):
    answer = signed_post(shared_server.http_url, "AmazonSQS.Frobnicate", b"{}")
    status, kind, header, _ = error_of(answer)
    assert (status, kind, header) == (400, "com.amazonaws.sqs#InvalidAction",
                                      "InvalidAction;Sender")


def test_missing_and_mistyped_parameters(shared_server, queue):
    missing = call(shared_server.http_url, "SendMessage", {"QueueUrl": queue})
    assert error_of(missing) == (400, "com.amazonaws.sqs#MissingRequiredParameterException",
                                 "MissingParameter;Sender",
                                 "The request must contain the parameter MessageBody.")
    entry = call(shared_server.http_url, "DeleteMessageBatch",
                 {"QueueUrl": queue, "Entries": [{"Id": "a"}]})
    assert error_of(entry)[3] == ("The request must contain the parameter "
                                  "Entries.1.ReceiptHandle.")
    wrong = call(shared_server.http_url, "ReceiveMessage",
                 {"QueueUrl": queue, "MaxNumberOfMessages": "ten"})
    assert error_of(wrong) == (400, "com.amazonaws.sqs#InvalidParameterValueException",
                               "InvalidParameterValue;Sender",
                               "Value ten for parameter MaxNumberOfMessages is invalid. "
                               "Reason: must be an integer.")
    attrs = call(shared_server.http_url, "TagQueue", {"QueueUrl": queue, "Tags": ["a"]})
    assert error_of(attrs)[2] == "InvalidParameterValue;Sender"


def test_oversized_bodies(shared_server, sqs, queue):
    with pytest.raises(ClientError) as exc:  # over the queue's MaximumMessageSize
        sqs.send_message(QueueUrl=queue, MessageBody="x" * (1024 * 1024 + 1))
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    huge = json.dumps({"QueueUrl": queue, "MessageBody": "x" * (3 * 1024 * 1024)}).encode()
    answer = signed_post(shared_server.http_url, "AmazonSQS.SendMessage", huge)
    assert error_of(answer)[:3] == (413, "com.amazon.coral.service#RequestEntityTooLarge",
                                    "RequestEntityTooLarge;Sender")
    assert sqs.list_queues(QueueNamePrefix=queue.rsplit("/", 1)[1])["QueueUrls"] == [queue]


def test_unsigned_and_badly_signed_requests_are_refused(shared_server):
    answer = send(shared_server.http_url, "POST",
                  [("X-Amz-Target", "AmazonSQS.ListQueues"),
                   ("Content-Type", "application/x-amz-json-1.0")], b"{}", path="/")
    assert error_of(answer)[:3] == (
        403, "com.amazon.coral.service#MissingAuthenticationToken",
        "MissingAuthenticationToken;Sender")
    stranger = sqs_client(shared_server.http_url, key="AKIANOSUCHKEY0000000",
                          secret="x" * 40)
    with pytest.raises(ClientError) as exc:
        stranger.list_queues()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"
    wrong_secret = sqs_client(shared_server.http_url, secret="y" * 40)
    with pytest.raises(ClientError) as exc:
        wrong_secret.list_queues()
    assert exc.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_send_message_known_vector(shared_server, queue):
    """A raw JSON request as botocore writes it, and SQS's answer member by member; the
    MD5s are of the body and of the attributes by the algorithm of AWS's Developer Guide
    (length-prefixed name, type, transport byte 1 and value), worked out by hand."""
    body = (b'{"QueueUrl": "' + queue.encode() + b'", "MessageBody": "This is a test '
            b'message", "MessageAttributes": {"City": {"DataType": "String", '
            b'"StringValue": "Any City"}}}')
    answer = signed_post(shared_server.http_url, "AmazonSQS.SendMessage", body)
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/x-amz-json-1.0"
    document = json.loads(answer.body)
    message_id = document.pop("MessageId")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                        message_id)
    assert document == {"MD5OfMessageBody": "fafb00f5732ab283681e124bf8747ed1",
                        "MD5OfMessageAttributes": "0c32cb5c844c01fbd5b6b434b52cf670"}


def test_a_policy_for_one_queue_refuses_another(shared_server, sqs, request):
    allowed = sqs.create_queue(QueueName=queue_name("allowed"))["QueueUrl"]
    other = sqs.create_queue(QueueName=queue_name("other"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=allowed, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    user = queue_name("sender")[:60]
    with engine_client("iam", endpoint=shared_server.endpoint) as iam:
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        iam.put_user_policy(UserName=user, PolicyName="send-one", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}]}))
    app = sqs_client(shared_server.http_url, key=key["AccessKeyId"],
                     secret=key["SecretAccessKey"])
    assert app.send_message(QueueUrl=allowed, MessageBody="ok")["MessageId"]
    assert app.send_message_batch(QueueUrl=allowed, Entries=[
        {"Id": "1", "MessageBody": "ok"}])["Successful"]
    for call_refused in (lambda: app.send_message(QueueUrl=other, MessageBody="no"),
                         lambda: app.receive_message(QueueUrl=allowed)):
        with pytest.raises(ClientError) as exc:
            call_refused()
        assert exc.value.response["Error"]["Code"] == "AccessDenied"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "sqs:ReceiveMessage" in exc.value.response["Error"]["Message"]


def test_sqs_calls_are_audited_as_over_grpc(server_factory, tmp_path):
    audit = tmp_path / "audit.jsonl"
    server = server_factory("--audit-log", str(audit)).start()
    sqs = sqs_client(server.http_url)
    url = sqs.create_queue(QueueName=queue_name("audited"))["QueueUrl"]
    sqs.list_queues()  # a read: not audited
    stranger = sqs_client(server.http_url, key="AKIANOSUCHKEY0000000", secret="x" * 40)
    with pytest.raises(ClientError):
        stranger.delete_queue(QueueUrl=url)
    assert server.stop() == 0  # the audit log is written out on stop
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    calls = [(line["method"], line["decision"], line["error_code"], line["action"])
             for line in lines if line["method"].startswith("sqs:JSON.")]
    assert calls == [("sqs:JSON.CreateQueue", "allow", None, "sqs:CreateQueue"),
                     ("sqs:JSON.DeleteQueue", "deny", "InvalidClientTokenId", None)]
