"""The SQS client without a server: parameter checks, kwargs -> proto, proto -> boto3
dicts, modeled errors, paginators, long-poll deadlines; and the Queues servicer's
delegation to the queue service."""

from __future__ import annotations

import asyncio
import io
import re

import grpc
import pytest
from helpers_rpc import AbortingContext, FakeRpcError

from engine.api.queues_servicer import QueueApi, QueuesServicer
from engine.client import ClientError, ParamValidationError, SQSClient, client
from engine.client import sqs_convert as conv
from engine.client.errors import (
    S3_EXCEPTIONS,
    SQS_EXCEPTIONS,
    OperationNotPageableError,
    error_from_rpc,
)
from engine.errors import EngineError
from engine.v1 import queues_pb2 as pb
from engine.v1 import queues_pb2_grpc

URL = "http://localhost:9000/000000000000/q"

# -- fakes -------------------------------------------------------------------------------


def sqs_error(code: str, status: int = 400, message: str | None = None) -> FakeRpcError:
    return FakeRpcError.of(EngineError(code, message, http_status=status,
                                    grpc_status=grpc.StatusCode.INVALID_ARGUMENT))


class FakeChannel:
    """Unary methods only: handlers answer by RPC name; records (name, request, timeout)."""

    def __init__(self, **handlers):
        self.handlers = handlers
        self.calls: list[tuple[str, object, float | None]] = []
        self.closed = False

    def unary_unary(self, path, **_kw):
        name = path.rsplit("/", 1)[-1]

        def call(request, timeout=None, **_kw):
            self.calls.append((name, request, timeout))
            result = self.handlers[name](request)
            if isinstance(result, Exception):
                raise result
            return result

        return call

    def close(self):
        self.closed = True

    @property
    def requests(self):
        return [request for _, request, _ in self.calls]


def sqs(timeout: float | None = 10.0, **handlers) -> tuple[SQSClient, FakeChannel]:
    channel = FakeChannel(**handlers)
    return SQSClient("localhost:1", timeout=timeout, channel=channel), channel


def answer(response):
    return lambda _request: response


# -- construction ------------------------------------------------------------------------


def test_client_factory_and_context_manager():
    c = client("sqs", endpoint="localhost:1", region_name="us-east-1")
    assert isinstance(c, SQSClient)
    c.close()
    s, channel = sqs()
    with s as entered:
        assert entered is s
    assert channel.closed


# -- parameter validation ----------------------------------------------------------------

INVALID = [
    ("create_queue", {}, 'Missing required parameter in input: "QueueName"'),
    ("create_queue", {"QueueName": "q", "Tags": {}}, 'Unknown parameter in input: "Tags"'),
    ("create_queue", {"QueueName": 5}, "Invalid type for parameter QueueName"),
    ("create_queue", {"QueueName": "q", "Attributes": [("A", "1")]},
     "Invalid type for parameter Attributes, value: [('A', '1')]"),
    ("create_queue", {"QueueName": "q", "Attributes": {"DelaySeconds": 5}},
     "Invalid type for parameter Attributes.DelaySeconds, value: 5"),
    ("create_queue", {"QueueName": "q", "tags": {1: "x"}}, "Invalid type for parameter tags"),
    ("delete_queue", {"QueueName": "q"}, 'Unknown parameter in input: "QueueName"'),
    ("list_queues", {"MaxResults": "10"}, "Invalid type for parameter MaxResults"),
    ("get_queue_attributes", {"QueueUrl": URL, "AttributeNames": "All"},
     "Invalid type for parameter AttributeNames, value: All"),
    ("set_queue_attributes", {"QueueUrl": URL}, 'Missing required parameter in input: '
                                                '"Attributes"'),
    ("untag_queue", {"QueueUrl": URL, "TagKeys": "k"}, "Invalid type for parameter TagKeys"),
    ("send_message", {"QueueUrl": URL}, 'Missing required parameter in input: "MessageBody"'),
    ("send_message", {"QueueUrl": URL, "MessageBody": b"x"},
     "Invalid type for parameter MessageBody, value: b'x'"),
    ("send_message", {"QueueUrl": URL, "MessageBody": "x", "DelaySeconds": "5"},
     "Invalid type for parameter DelaySeconds"),
    ("send_message", {"QueueUrl": URL, "MessageBody": "x", "DelaySeconds": True},
     "Invalid type for parameter DelaySeconds"),
    ("send_message", {"QueueUrl": URL, "MessageBody": "x", "DelaySeconds": None},
     "Invalid type for parameter DelaySeconds, value: None"),
    ("send_message", {"QueueUrl": URL, "MessageBody": "x",
                      "MessageAttributes": {"a": {"StringValue": "v"}}},
     'Missing required parameter in MessageAttributes.a: "DataType"'),
    ("send_message", {"QueueUrl": URL, "MessageBody": "x",
                      "MessageAttributes": {"a": {"DataType": "Binary", "BinaryValue": 7}}},
     "Invalid type for parameter MessageAttributes.a.BinaryValue, value: 7"),
    ("send_message", {"QueueUrl": URL, "MessageBody": "x",
                      "MessageAttributes": {"a": {"DataType": "String", "Value": "v"}}},
     'Unknown parameter in MessageAttributes.a: "Value"'),
    ("send_message", {"QueueUrl": URL, "MessageBody": "x",
                      "MessageSystemAttributes": {"AWSTraceHeader": "Root=1"}},
     "Invalid type for parameter MessageSystemAttributes.AWSTraceHeader"),
    ("send_message_batch", {"QueueUrl": URL, "Entries": {"Id": "1"}},
     "Invalid type for parameter Entries"),
    ("send_message_batch", {"QueueUrl": URL, "Entries": [{"Id": "1"}]},
     'Missing required parameter in Entries[0]: "MessageBody"'),
    ("send_message_batch", {"QueueUrl": URL, "Entries": [
        {"Id": "1", "MessageBody": "x"},
        {"Id": "2", "MessageBody": "y", "MessageAttributes": {"a": {"DataType": 3}}}]},
     "Invalid type for parameter Entries[1].MessageAttributes.a.DataType"),
    ("receive_message", {"QueueUrl": URL, "MaxNumberOfMessages": 1.5},
     "Invalid type for parameter MaxNumberOfMessages"),
    ("receive_message", {"QueueUrl": URL, "WaitTimeSeconds": "20"},
     "Invalid type for parameter WaitTimeSeconds"),
    ("receive_message", {"QueueUrl": URL, "MessageAttributeNames": "All"},
     "Invalid type for parameter MessageAttributeNames"),
    ("delete_message", {"QueueUrl": URL}, 'Missing required parameter in input: '
                                          '"ReceiptHandle"'),
    ("delete_message_batch", {"QueueUrl": URL, "Entries": [{"Id": "1"}]},
     'Missing required parameter in Entries[0]: "ReceiptHandle"'),
    ("change_message_visibility", {"QueueUrl": URL, "ReceiptHandle": "r"},
     'Missing required parameter in input: "VisibilityTimeout"'),
    ("change_message_visibility_batch", {"QueueUrl": URL, "Entries": [
        {"Id": "1", "ReceiptHandle": "r", "VisibilityTimeout": "30"}]},
     "Invalid type for parameter Entries[0].VisibilityTimeout"),
]


@pytest.mark.parametrize(("method", "kwargs", "problem"), INVALID,
                         ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(INVALID)])
def test_invalid_parameters_raise_before_sending(method, kwargs, problem):
    s, channel = sqs()
    with pytest.raises(ParamValidationError) as exc:
        getattr(s, method)(**kwargs)
    text = str(exc.value)
    assert text.startswith("Parameter validation failed:\n")
    assert problem in text
    assert channel.calls == []


def test_every_problem_is_reported_at_once():
    s, _ = sqs()
    with pytest.raises(ParamValidationError) as exc:
        s.send_message(MessageBody=1, DelaySeconds="x", Bogus=True)
    lines = str(exc.value).splitlines()[1:]
    assert len(lines) == 4
    assert any('"QueueUrl"' in line for line in lines)
    assert any('"Bogus"' in line for line in lines)


def test_positional_arguments_are_refused():
    s, channel = sqs()
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        s.delete_queue(URL)
    assert channel.calls == []


def test_value_ranges_are_left_to_the_server():
    s, channel = sqs(ReceiveMessage=answer(pb.ReceiveMessageResponse()),
                     ListQueues=answer(pb.ListQueuesResponse()))
    s.receive_message(QueueUrl=URL, MaxNumberOfMessages=11, WaitTimeSeconds=-3)
    s.list_queues(MaxResults=2**40)  # saturates to int32 instead of failing to encode
    receive, listing = channel.requests
    assert receive.max_number_of_messages == 11
    assert receive.wait_time_seconds == -3
    assert listing.max_results == 2**31 - 1


def test_binary_values_accept_bytes_bytearray_str_and_files():
    s, channel = sqs(SendMessage=answer(pb.SendMessageResponse(message_id="m")))
    values = {"a": b"\x00\xff", "b": bytearray(b"\x01"), "c": "é", "d": io.BytesIO(b"file")}
    s.send_message(QueueUrl=URL, MessageBody="x", MessageAttributes={
        name: {"DataType": "Binary", "BinaryValue": v} for name, v in values.items()})
    sent = channel.requests[0].message_attributes
    assert {k: v.binary_value for k, v in sent.items()} == {
        "a": b"\x00\xff", "b": b"\x01", "c": "é".encode(), "d": b"file"}
    assert all(not v.HasField("string_value") for v in sent.values())


# -- requests ----------------------------------------------------------------------------


def test_create_queue_request():
    s, channel = sqs(CreateQueue=answer(pb.CreateQueueResponse(queue_url=URL)))
    out = s.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"},
                         tags={"team": "a"})
    assert out["QueueUrl"] == URL
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    request = channel.requests[0]
    assert request.queue_name == "q.fifo"
    assert dict(request.attributes) == {"FifoQueue": "true"}
    assert dict(request.tags) == {"team": "a"}


def test_send_message_request_keeps_absent_apart_from_zero():
    s, channel = sqs(SendMessage=answer(pb.SendMessageResponse(message_id="m")))
    s.send_message(QueueUrl=URL, MessageBody="hello")
    s.send_message(QueueUrl=URL, MessageBody="hello", DelaySeconds=0,
                   MessageGroupId="g", MessageDeduplicationId="d",
                   MessageAttributes={"n": {"DataType": "Number", "StringValue": "1"}},
                   MessageSystemAttributes={"AWSTraceHeader": {
                       "DataType": "String", "StringValue": "Root=1"}})
    bare, full = channel.requests
    assert bare.queue_url == URL and bare.message_body == "hello"
    assert not bare.HasField("delay_seconds")
    assert not bare.message_attributes and not bare.message_group_id
    assert full.HasField("delay_seconds") and full.delay_seconds == 0
    assert (full.message_group_id, full.message_deduplication_id) == ("g", "d")
    assert full.message_attributes["n"] == pb.MessageAttributeValue(
        data_type="Number", string_value="1")
    assert full.message_system_attributes["AWSTraceHeader"].string_value == "Root=1"


def test_receive_message_request():
    s, channel = sqs(ReceiveMessage=answer(pb.ReceiveMessageResponse()))
    s.receive_message(QueueUrl=URL)
    s.receive_message(QueueUrl=URL, AttributeNames=["All"],
                      MessageSystemAttributeNames=["SentTimestamp"],
                      MessageAttributeNames=["attr.*"], MaxNumberOfMessages=10,
                      VisibilityTimeout=0, WaitTimeSeconds=5, ReceiveRequestAttemptId="a1")
    bare, full = channel.requests
    for field in ("max_number_of_messages", "visibility_timeout", "wait_time_seconds"):
        assert not bare.HasField(field)
    assert list(full.attribute_names) == ["All"]
    assert list(full.message_system_attribute_names) == ["SentTimestamp"]
    assert list(full.message_attribute_names) == ["attr.*"]
    assert (full.max_number_of_messages, full.visibility_timeout, full.wait_time_seconds) \
        == (10, 0, 5)
    assert full.HasField("visibility_timeout")
    assert full.receive_request_attempt_id == "a1"


def test_batch_requests():
    s, channel = sqs(
        SendMessageBatch=answer(pb.SendMessageBatchResponse()),
        DeleteMessageBatch=answer(pb.DeleteMessageBatchResponse()),
        ChangeMessageVisibilityBatch=answer(pb.ChangeMessageVisibilityBatchResponse()),
    )
    s.send_message_batch(QueueUrl=URL, Entries=[
        {"Id": "a", "MessageBody": "1"},
        {"Id": "b", "MessageBody": "2", "DelaySeconds": 3, "MessageGroupId": "g",
         "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
    ])
    s.delete_message_batch(QueueUrl=URL, Entries=[{"Id": "a", "ReceiptHandle": "r1"}])
    s.change_message_visibility_batch(QueueUrl=URL, Entries=[
        {"Id": "a", "ReceiptHandle": "r1", "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": "r2"},
    ])
    send, delete, visibility = channel.requests
    a, b = send.entries
    assert (a.id, a.message_body, a.HasField("delay_seconds")) == ("a", "1", False)
    assert (b.id, b.delay_seconds, b.message_group_id) == ("b", 3, "g")
    assert b.message_attributes["k"].string_value == "v"
    assert [(e.id, e.receipt_handle) for e in delete.entries] == [("a", "r1")]
    first, second = visibility.entries
    assert first.HasField("visibility_timeout") and first.visibility_timeout == 0
    assert not second.HasField("visibility_timeout")


def test_queue_management_requests():
    s, channel = sqs(
        GetQueueUrl=answer(pb.GetQueueUrlResponse(queue_url=URL)),
        SetQueueAttributes=answer(pb.SetQueueAttributesResponse()),
        TagQueue=answer(pb.TagQueueResponse()),
        UntagQueue=answer(pb.UntagQueueResponse()),
        ChangeMessageVisibility=answer(pb.ChangeMessageVisibilityResponse()),
    )
    assert s.get_queue_url(QueueName="q", QueueOwnerAWSAccountId="123")["QueueUrl"] == URL
    assert s.set_queue_attributes(QueueUrl=URL, Attributes={"VisibilityTimeout": "5"}) == {
        "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}}
    s.tag_queue(QueueUrl=URL, Tags={"a": "1"})
    s.untag_queue(QueueUrl=URL, TagKeys=["a", "b"])
    s.change_message_visibility(QueueUrl=URL, ReceiptHandle="r", VisibilityTimeout=0)
    url, attrs, tag, untag, visibility = channel.requests
    assert url.queue_owner_aws_account_id == "123"
    assert dict(attrs.attributes) == {"VisibilityTimeout": "5"}
    assert dict(tag.tags) == {"a": "1"}
    assert list(untag.tag_keys) == ["a", "b"]
    assert visibility.HasField("visibility_timeout") and visibility.visibility_timeout == 0


# -- responses ---------------------------------------------------------------------------


def test_send_message_response_omits_empty_members():
    s, _ = sqs(SendMessage=answer(pb.SendMessageResponse(
        message_id="m1", md5_of_message_body="5d41402abc4b2a76b9719d911017c592")))
    out = s.send_message(QueueUrl=URL, MessageBody="hello")
    out.pop("ResponseMetadata")
    assert out == {"MessageId": "m1", "MD5OfMessageBody": "5d41402abc4b2a76b9719d911017c592"}


def test_send_message_response_fifo():
    resp = pb.SendMessageResponse(message_id="m", md5_of_message_body="b",
                                  md5_of_message_attributes="a",
                                  md5_of_message_system_attributes="s",
                                  sequence_number="10000000000000000001")
    assert conv.send_result(resp) == {
        "MessageId": "m", "MD5OfMessageBody": "b", "MD5OfMessageAttributes": "a",
        "MD5OfMessageSystemAttributes": "s", "SequenceNumber": "10000000000000000001"}


def test_receive_without_messages_has_no_messages_key():
    s, _ = sqs(ReceiveMessage=answer(pb.ReceiveMessageResponse()))
    out = s.receive_message(QueueUrl=URL, WaitTimeSeconds=0)
    assert "Messages" not in out
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_receive_message_shapes():
    plain = pb.Message(message_id="1", receipt_handle="r1", md5_of_body="m1", body="a")
    rich = pb.Message(
        message_id="2", receipt_handle="r2", md5_of_body="m2", body="b",
        attributes={"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        md5_of_message_attributes="ma",
        message_attributes={
            "s": pb.MessageAttributeValue(data_type="String", string_value="v"),
            "n": pb.MessageAttributeValue(data_type="Number.int", string_value="7"),
            "b": pb.MessageAttributeValue(data_type="Binary", binary_value=b"\x00"),
            "e": pb.MessageAttributeValue(data_type="String", string_value=""),
        },
    )
    s, _ = sqs(ReceiveMessage=answer(pb.ReceiveMessageResponse(messages=[plain, rich])))
    first, second = s.receive_message(QueueUrl=URL, MaxNumberOfMessages=2)["Messages"]
    assert first == {"MessageId": "1", "ReceiptHandle": "r1", "MD5OfBody": "m1", "Body": "a"}
    assert second["Attributes"] == {"ApproximateReceiveCount": "1",
                                    "SentTimestamp": "1700000000000"}
    assert second["MD5OfMessageAttributes"] == "ma"
    assert second["MessageAttributes"] == {
        "s": {"StringValue": "v", "DataType": "String"},
        "n": {"StringValue": "7", "DataType": "Number.int"},
        "b": {"BinaryValue": b"\x00", "DataType": "Binary"},
        "e": {"StringValue": "", "DataType": "String"},
    }


def test_batch_responses_always_have_both_lists():
    ok = pb.SendMessageBatchResultEntry(id="a", message_id="m", md5_of_message_body="x")
    bad = pb.BatchResultErrorEntry(id="b", sender_fault=True, code="InvalidParameterValue",
                                   message="nope")
    s, _ = sqs(
        SendMessageBatch=answer(pb.SendMessageBatchResponse(successful=[ok], failed=[bad])),
        DeleteMessageBatch=answer(pb.DeleteMessageBatchResponse()),
        ChangeMessageVisibilityBatch=answer(pb.ChangeMessageVisibilityBatchResponse(
            successful=[pb.ChangeMessageVisibilityBatchResultEntry(id="c")])),
    )
    sent = s.send_message_batch(QueueUrl=URL, Entries=[{"Id": "a", "MessageBody": "1"}])
    assert sent["Successful"] == [{"Id": "a", "MessageId": "m", "MD5OfMessageBody": "x"}]
    assert sent["Failed"] == [{"Id": "b", "SenderFault": True,
                               "Code": "InvalidParameterValue", "Message": "nope"}]
    deleted = s.delete_message_batch(QueueUrl=URL, Entries=[{"Id": "a", "ReceiptHandle": "r"}])
    assert (deleted["Successful"], deleted["Failed"]) == ([], [])
    changed = s.change_message_visibility_batch(
        QueueUrl=URL, Entries=[{"Id": "c", "ReceiptHandle": "r", "VisibilityTimeout": 1}])
    assert (changed["Successful"], changed["Failed"]) == ([{"Id": "c"}], [])


def test_listing_responses_omit_empty_members():
    s, _ = sqs(
        ListQueues=answer(pb.ListQueuesResponse()),
        GetQueueAttributes=answer(pb.GetQueueAttributesResponse()),
        ListQueueTags=answer(pb.ListQueueTagsResponse()),
        ListDeadLetterSourceQueues=answer(pb.ListDeadLetterSourceQueuesResponse()),
    )
    for out in (s.list_queues(), s.get_queue_attributes(QueueUrl=URL),
                s.list_queue_tags(QueueUrl=URL)):
        assert set(out) == {"ResponseMetadata"}
    dead = s.list_dead_letter_source_queues(QueueUrl=URL)
    assert set(dead) == {"queueUrls", "ResponseMetadata"} and dead["queueUrls"] == []


def test_listing_responses_with_content():
    s, _ = sqs(
        ListQueues=answer(pb.ListQueuesResponse(queue_urls=[URL], next_token="t")),
        GetQueueAttributes=answer(pb.GetQueueAttributesResponse(attributes={"A": "1"})),
        ListQueueTags=answer(pb.ListQueueTagsResponse(tags={"k": "v"})),
        ListDeadLetterSourceQueues=answer(pb.ListDeadLetterSourceQueuesResponse(
            queue_urls=[URL], next_token="n")),
    )
    assert s.list_queues(MaxResults=1)["QueueUrls"] == [URL]
    assert s.list_queues(MaxResults=1)["NextToken"] == "t"
    assert s.get_queue_attributes(QueueUrl=URL, AttributeNames=["All"])["Attributes"] == {
        "A": "1"}
    assert s.list_queue_tags(QueueUrl=URL)["Tags"] == {"k": "v"}
    dead = s.list_dead_letter_source_queues(QueueUrl=URL, MaxResults=1)
    assert (dead["queueUrls"], dead["NextToken"]) == ([URL], "n")


# -- errors ------------------------------------------------------------------------------

MODELED = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "ReceiptHandleIsInvalid": "ReceiptHandleIsInvalid",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "InvalidAttributeName": "InvalidAttributeName",
    "InvalidAttributeValue": "InvalidAttributeValue",
    "InvalidMessageContents": "InvalidMessageContents",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
    "OverLimit": "OverLimit",
    "InvalidAddress": "InvalidAddress",
}


@pytest.mark.parametrize(("name", "code"), MODELED.items())
def test_modeled_exceptions_by_code(name, code):
    s, _ = sqs()
    cls = getattr(s.exceptions, name)
    assert cls.__name__ == name and issubclass(cls, ClientError)
    assert s.exceptions.from_code(code) is cls
    err = error_from_rpc(sqs_error(code), "SendMessage", exceptions=s.exceptions)
    assert type(err) is cls
    assert err.response["Error"] == {"Code": code, "Message": err.response["Error"]["Message"],
                                     "QueryErrorCode": name, "Type": "Sender"}


def test_exceptions_namespace_is_by_class_name_not_code():
    s, _ = sqs()
    assert s.exceptions.ClientError is ClientError
    assert s.exceptions.from_code("QueueDoesNotExist") is ClientError  # the name, not a code
    with pytest.raises(AttributeError):
        _ = s.exceptions.NoSuchKey
    with pytest.raises(AttributeError):
        _ = S3_EXCEPTIONS.QueueDoesNotExist


def test_call_raises_modeled_exception():
    s, _ = sqs(GetQueueUrl=lambda _r: sqs_error("AWS.SimpleQueueService.NonExistentQueue",
                                                message="The specified queue does not exist."))
    with pytest.raises(s.exceptions.QueueDoesNotExist) as exc:
        s.get_queue_url(QueueName="missing")
    assert str(exc.value) == (
        "An error occurred (AWS.SimpleQueueService.NonExistentQueue) when calling the "
        "GetQueueUrl operation: The specified queue does not exist.")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert exc.value.operation_name == "GetQueueUrl"


def test_unmodeled_sqs_error_is_a_plain_client_error_with_type():
    err = error_from_rpc(sqs_error("InvalidParameterValue", message="bad"), "ReceiveMessage",
                         exceptions=SQS_EXCEPTIONS)
    assert type(err) is ClientError
    assert err.response["Error"] == {"Code": "InvalidParameterValue", "Message": "bad",
                                     "Type": "Sender"}
    internal = error_from_rpc(FakeRpcError.of(EngineError("InternalError")), "SendMessage",
                              exceptions=SQS_EXCEPTIONS)
    assert internal.response["Error"]["Type"] == "Receiver"


def test_sqs_errors_drop_details_but_s3_errors_keep_them():
    wire = FakeRpcError.of(EngineError("NoSuchBucket", bucket="b"))
    s3 = error_from_rpc(wire, "GetObject")
    assert s3.response["Error"]["BucketName"] == "b" and "Type" not in s3.response["Error"]
    queue = error_from_rpc(FakeRpcError.of(EngineError("InvalidAttributeName", http_status=400,
                                                    attribute="Foo")),
                           "GetQueueAttributes", exceptions=SQS_EXCEPTIONS)
    assert set(queue.response["Error"]) == {"Code", "Message", "QueryErrorCode", "Type"}


# -- paginators --------------------------------------------------------------------------


def pages_of(urls: list[str]):
    """A ListQueues handler paging ``urls`` by MaxResults with index tokens."""

    def handle(request: pb.ListQueuesRequest):
        start = int(request.next_token or 0)
        if not request.HasField("max_results"):
            return pb.ListQueuesResponse(queue_urls=urls[start:])
        end = start + request.max_results
        return pb.ListQueuesResponse(queue_urls=urls[start:end],
                                     next_token=str(end) if end < len(urls) else "")

    return handle


def test_list_queues_paginator_follows_next_token():
    urls = [f"{URL}{i}" for i in range(5)]
    s, channel = sqs(ListQueues=pages_of(urls))
    assert s.can_paginate("list_queues") and not s.can_paginate("receive_message")
    pages = list(s.get_paginator("list_queues").paginate(
        QueueNamePrefix="q", PaginationConfig={"PageSize": 2}))
    assert [p["QueueUrls"] for p in pages] == [urls[:2], urls[2:4], urls[4:]]
    assert [r.next_token for r in channel.requests] == ["", "2", "4"]
    assert all(r.max_results == 2 and r.queue_name_prefix == "q" for r in channel.requests)


def test_list_queues_paginator_max_items_and_resume():
    urls = [f"{URL}{i}" for i in range(5)]
    s, _ = sqs(ListQueues=pages_of(urls))
    paginator = s.get_paginator("list_queues")
    first = paginator.paginate(PaginationConfig={"PageSize": 2, "MaxItems": 3})
    result = first.build_full_result()
    assert result["QueueUrls"] == urls[:3]
    rest = paginator.paginate(PaginationConfig={"PageSize": 2,
                                                "StartingToken": result["NextToken"]})
    assert rest.build_full_result()["QueueUrls"] == urls[3:]
    # a raw NextToken from list_queues works as a StartingToken too
    raw = paginator.paginate(PaginationConfig={"PageSize": 2, "StartingToken": "4"})
    assert raw.build_full_result() == {"QueueUrls": urls[4:]}


def test_dead_letter_paginator_uses_lower_camel_result_key():
    calls = iter([
        pb.ListDeadLetterSourceQueuesResponse(queue_urls=["a"], next_token="t"),
        pb.ListDeadLetterSourceQueuesResponse(queue_urls=["b"]),
    ])
    s, channel = sqs(ListDeadLetterSourceQueues=lambda _r: next(calls))
    result = s.get_paginator("list_dead_letter_source_queues").paginate(
        QueueUrl=URL, PaginationConfig={"PageSize": 1}).build_full_result()
    assert result == {"queueUrls": ["a", "b"]}
    assert [r.next_token for r in channel.requests] == ["", "t"]


def test_unknown_paginator():
    s, _ = sqs()
    with pytest.raises(OperationNotPageableError):
        s.get_paginator("receive_message")


# -- long-poll deadlines -----------------------------------------------------------------


@pytest.mark.parametrize(("timeout", "wait", "deadline"), [
    (10.0, 20, 30.0),
    (10.0, 5, 15.0),
    (10.0, 0, 10.0),
    (10.0, None, 30.0),  # the queue's default wait may be up to 20 s
    (None, 20, None),
])
def test_receive_deadline_includes_the_wait(timeout, wait, deadline):
    s, channel = sqs(timeout=timeout, ReceiveMessage=answer(pb.ReceiveMessageResponse()),
                     DeleteQueue=answer(pb.DeleteQueueResponse()))
    kwargs = {} if wait is None else {"WaitTimeSeconds": wait}
    s.receive_message(QueueUrl=URL, **kwargs)
    s.delete_queue(QueueUrl=URL)
    (_, _, receive_timeout), (_, _, other_timeout) = channel.calls
    assert receive_timeout == deadline
    assert other_timeout == timeout  # other calls keep the plain timeout


def test_long_poll_timeout_bounds_invalid_waits():
    assert conv.long_poll_timeout(5.0, 600) == 25.0
    assert conv.long_poll_timeout(5.0, -1) == 5.0


def test_receive_timeout_error_names_the_operation():
    deadline = FakeRpcError.of(EngineError("DEADLINE_EXCEEDED", "Deadline Exceeded",
                                        grpc_status=grpc.StatusCode.DEADLINE_EXCEEDED))
    # a transport failure: no ErrorInfo, so strip the detail the fake would send
    deadline.trailing_metadata = lambda: ()
    s, _ = sqs(ReceiveMessage=lambda _r: deadline)
    with pytest.raises(ClientError) as exc:
        s.receive_message(QueueUrl=URL, WaitTimeSeconds=20)
    assert exc.value.response["Error"]["Code"] == "DEADLINE_EXCEEDED"
    assert exc.value.operation_name == "ReceiveMessage"


# -- servicer ----------------------------------------------------------------------------


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


RPCS = [m.name for m in pb.DESCRIPTOR.services_by_name["Queues"].methods]


class RecordingService:
    """Answers every RPC with an empty response of the right type, recording the call."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        rpc = {snake(r): r for r in RPCS}[name]
        response_type = pb.DESCRIPTOR.services_by_name["Queues"].methods_by_name[rpc].output_type

        async def method(request):
            self.calls.append((name, request))
            return getattr(pb, response_type.name)()

        return method


@pytest.mark.parametrize("rpc", RPCS)
def test_servicer_delegates_each_rpc_to_the_snake_case_method(rpc):
    service = RecordingService()
    servicer = QueuesServicer(service)
    method = pb.DESCRIPTOR.services_by_name["Queues"].methods_by_name[rpc]
    request = getattr(pb, method.input_type.name)()
    response = asyncio.run(getattr(servicer, rpc)(request, context=None))
    assert service.calls == [(snake(rpc), request)]
    assert type(response).__name__ == method.output_type.name
    # overridden (the generated base answers UNIMPLEMENTED) and listed in the Protocol
    assert getattr(QueuesServicer, rpc) is not getattr(queues_pb2_grpc.QueuesServicer, rpc)
    assert snake(rpc) in QueueApi.__dict__


def test_servicer_turns_service_errors_into_statuses():
    class Failing:
        async def purge_queue(self, request):
            raise EngineError("AWS.SimpleQueueService.PurgeQueueInProgress", http_status=403)

    context = AbortingContext()
    with pytest.raises(RuntimeError, match="aborted"):
        asyncio.run(QueuesServicer(Failing()).PurgeQueue(pb.PurgeQueueRequest(), context))
    assert context.status is not None
