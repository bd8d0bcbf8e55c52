"""What a query-protocol SQS request gets wrong, and what it gets back: SQS's XML error
(``<ErrorResponse><Error><Type/><Code/><Message/><Detail/></Error><RequestId/>``) with the
query codes and statuses, checked through botocore's query client (its modeled
exceptions) and raw HTTP for what a client never sends (no Action, an unknown one,
missing or malformed parameters, a bad signature, an oversized body) and an IAM policy
that allows one queue only. One known vector pins SendMessage's XML answer."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError
from helpers_sqs_http import queue_name
from helpers_sqs_query import form_request, query_client, xml_error

from engine.client import client as engine_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

V = {"Version": "2012-11-05"}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def sqs(shared_server):
    return query_client(shared_server.http_url)


@pytest.fixture
def queue(sqs, request) -> str:
    return sqs.create_queue(QueueName=queue_name(request.node.name))["QueueUrl"]


def test_send_message_answer_is_sqs_xml(shared_server, queue):
    """The SendMessage answer of SQS's API reference, for a body whose MD5 it gives."""
    answer = form_request(shared_server.http_url, {"Action": "SendMessage", **V,
                                                   "QueueUrl": queue,
                                                   "MessageBody": "This is a test message"})
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/xml")
    text = answer.body.decode()
    message_id = re.search(r"<MessageId>(.*)</MessageId>", text).group(1)
    request_id = answer.headers["x-amzn-requestid"]
    assert re.fullmatch(UUID, message_id) and re.fullmatch(UUID, request_id)
    assert text == (
        '<SendMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">\n'
        "  <SendMessageResult>\n"
        "    <MD5OfMessageBody>fafb00f5732ab283681e124bf8747ed1</MD5OfMessageBody>\n"
        f"    <MessageId>{message_id}</MessageId>\n"
        "  </SendMessageResult>\n"
        "  <ResponseMetadata>\n"
        f"    <RequestId>{request_id}</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</SendMessageResponse>\n")


def test_an_operation_without_result_answers_only_metadata(shared_server, queue):
    answer = form_request(shared_server.http_url, {"Action": "TagQueue", **V,
                                                   "QueueUrl": queue, "Tag.1.Key": "k",
                                                   "Tag.1.Value": "v"})
    assert answer.status == 200
    assert re.fullmatch(r'<TagQueueResponse xmlns="[^"]+">\n  <ResponseMetadata>\n'
                        rf"    <RequestId>{UUID}</RequestId>\n  </ResponseMetadata>\n"
                        r"</TagQueueResponse>\n", answer.body.decode())


def test_a_missing_queue_is_the_modeled_exception(sqs, shared_server):
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as exc:
        sqs.get_queue_url(QueueName="no-such-queue")
    assert exc.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    url = f"{shared_server.http_url}/000000000000/absent"
    answer = form_request(shared_server.http_url, {"Action": "SendMessage", **V,
                                                   "QueueUrl": url, "MessageBody": "x"})
    assert xml_error(answer) == (400, "Sender", "AWS.SimpleQueueService.NonExistentQueue",
                                 "The specified queue does not exist.")


def test_name_taken_with_other_attributes(sqs, queue):
    with pytest.raises(sqs.exceptions.QueueNameExists) as exc:
        sqs.create_queue(QueueName=queue.rsplit("/", 1)[1],
                         Attributes={"VisibilityTimeout": "99"})
    assert exc.value.response["Error"]["Code"] == "QueueAlreadyExists"


def test_missing_and_unknown_actions(shared_server):
    url = shared_server.http_url
    assert xml_error(form_request(url, {**V, "QueueName": "q"})) == (
        400, "Sender", "MissingAction", "The request must contain the parameter Action.")
    status, kind, code, _ = xml_error(form_request(url, {"Action": "Frobnicate", **V}))
    assert (status, kind, code) == (400, "Sender", "InvalidAction")


def test_missing_parameters_are_named(shared_server, queue):
    url = shared_server.http_url
    cases = [
        ({"Action": "SendMessage", "QueueUrl": queue}, "MessageBody"),
        ({"Action": "SetQueueAttributes", "QueueUrl": queue}, "Attribute.1.Name"),
        ({"Action": "UntagQueue", "QueueUrl": queue}, "TagKey.1"),
        ({"Action": "SendMessageBatch", "QueueUrl": queue,
          "SendMessageBatchRequestEntry.1.MessageBody": "x"},
         "SendMessageBatchRequestEntry.1.Id"),
        ({"Action": "SendMessage", "QueueUrl": queue, "MessageBody": "x",
          "MessageAttribute.1.Name": "k"}, "MessageAttribute.1.Value.DataType"),
        ({"Action": "CreateQueue", "QueueName": "q", "Attribute.1.Value": "5"},
         "Attribute.1.Name"),
    ]
    for params, name in cases:
        assert xml_error(form_request(url, {**params, **V})) == (
            400, "Sender", "MissingParameter",
            f"The request must contain the parameter {name}."), params


def test_malformed_entries_and_values(shared_server, queue):
    url = shared_server.http_url
    bad_index = form_request(url, {"Action": "DeleteMessageBatch", **V, "QueueUrl": queue,
                                   "DeleteMessageBatchRequestEntry.first.Id": "a"})
    status, kind, code, message = xml_error(bad_index)
    assert (status, kind, code) == (400, "Sender", "InvalidParameterValue")
    assert "DeleteMessageBatchRequestEntry.first" in message
    not_a_number = form_request(url, {"Action": "SendMessage", **V, "QueueUrl": queue,
                                      "MessageBody": "x", "DelaySeconds": "soon"})
    assert xml_error(not_a_number) == (
        400, "Sender", "InvalidParameterValue",
        "Value soon for parameter DelaySeconds is invalid. Reason: must be an integer.")
    not_base64 = form_request(url, {
        "Action": "SendMessage", **V, "QueueUrl": queue, "MessageBody": "x",
        "MessageAttribute.1.Name": "b", "MessageAttribute.1.Value.DataType": "Binary",
        "MessageAttribute.1.Value.BinaryValue": "***"})
    assert xml_error(not_base64)[2] == "InvalidParameterValue"
    empty = form_request(url, {"Action": "ChangeMessageVisibilityBatch", **V,
                               "QueueUrl": queue})
    assert xml_error(empty)[:3] == (400, "Sender",
                                    "AWS.SimpleQueueService.EmptyBatchRequest")
    too_many = {f"SendMessageBatchRequestEntry.{i}.{k}": v for i in range(1, 12)
                for k, v in (("Id", f"e{i}"), ("MessageBody", "x"))}
    answer = form_request(url, {"Action": "SendMessageBatch", **V, "QueueUrl": queue,
                                **too_many})
    assert xml_error(answer)[2] == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


def test_a_bad_signature_is_refused_in_xml(shared_server):
    answer = form_request(shared_server.http_url, {"Action": "ListQueues", **V},
                          secret="not-the-secret")
    status, kind, code, _ = xml_error(answer)
    assert (status, kind, code) == (403, "Sender", "SignatureDoesNotMatch")
    unknown = form_request(shared_server.http_url, {"Action": "ListQueues", **V},
                           key="AKIANOSUCHKEY0000000")
    assert xml_error(unknown)[:3] == (403, "Sender", "InvalidClientTokenId")


def test_get_with_parameters_in_the_query_string(shared_server, queue):
    answer = form_request(shared_server.http_url, {"Action": "GetQueueAttributes", **V,
                                                   "QueueUrl": queue,
                                                   "AttributeName.1": "VisibilityTimeout"},
                          method="GET")
    assert answer.status == 200
    assert b"<Attribute>\n      <Name>VisibilityTimeout</Name>\n      <Value>30</Value>" \
        in answer.body


def test_an_oversized_body_is_refused_and_the_node_goes_on(sqs, shared_server, queue):
    with pytest.raises(ClientError) as exc:  # over the queue's MaximumMessageSize
        sqs.send_message(QueueUrl=queue, MessageBody="x" * (1024 * 1024 + 1))
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    huge = form_request(shared_server.http_url, {  # 3.6 MiB once percent-escaped
        "Action": "SendMessage", **V, "QueueUrl": queue, "MessageBody": "\u00e9" * 614_400})
    assert xml_error(huge)[:3] == (413, "Sender", "RequestEntityTooLarge")
    assert sqs.list_queues(QueueNamePrefix=queue.rsplit("/", 1)[1])["QueueUrls"] == [queue]


def test_a_policy_for_one_queue_refuses_another(shared_server, sqs):
    allowed = sqs.create_queue(QueueName=queue_name("allowed"))["QueueUrl"]
    other = sqs.create_queue(QueueName=queue_name("other"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=allowed, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    user = queue_name("query-sender")[:60]
    with engine_client("iam", endpoint=shared_server.endpoint) as iam:
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        iam.put_user_policy(UserName=user, PolicyName="send-one", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}]}))
    app = query_client(shared_server.http_url, key=key["AccessKeyId"],
                       secret=key["SecretAccessKey"])
    assert app.send_message(QueueUrl=allowed, MessageBody="ok")["MessageId"]
    with pytest.raises(ClientError) as exc:
        app.send_message(QueueUrl=other, MessageBody="no")
    error = exc.value.response["Error"]
    assert (error["Type"], error["Code"]) == ("Sender", "AccessDenied")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "sqs:SendMessage" in error["Message"]
