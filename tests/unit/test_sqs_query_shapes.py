"""SQS's query protocol held to botocore: every operation's request, as botocore's query
serializer writes it from the query-protocol model (botocore 1.31.0's, vendored under
tests/data), decodes to the same queues.proto message as the same call through botocore's
JSON serializer and the current model; every answer, as XML, reads back through
botocore's query parser to what the JSON answer reads back to through its JSON parser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from engine.api.aws.sqs import convert, query_parse
from engine.api.aws.sqs.operations import OPERATIONS
from engine.api.aws.sqs.query_render import error_document, result_document
from engine.errors import EngineError
from engine.v1 import queues_pb2 as pb

QUERY_MODEL = Path(__file__).resolve().parents[1] / "data" / "botocore-sqs-query"
URL = "http://127.0.0.1:9000/000000000000/q"
ARN = "arn:aws:sqs:us-east-1:000000000000:q"
ATTRS = {"s": {"DataType": "String", "StringValue": "v\r\n"},
         "b": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}
TRACE = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}}
ENTRY = {"Id": "e1", "MessageBody": "b", "DelaySeconds": 2, "MessageAttributes": ATTRS,
         "MessageSystemAttributes": TRACE, "MessageDeduplicationId": "d",
         "MessageGroupId": "g"}
INPUTS: dict[str, dict[str, Any]] = {
    "CreateQueue": {"QueueName": "q", "Attributes": {"DelaySeconds": "1", "FifoQueue": "true"},
                    "tags": {"a": "b", "c": ""}},
    "DeleteQueue": {"QueueUrl": URL},
    "ListQueues": {"QueueNamePrefix": "p", "NextToken": "t", "MaxResults": 5},
    "GetQueueUrl": {"QueueName": "q", "QueueOwnerAWSAccountId": "000000000000"},
    "GetQueueAttributes": {"QueueUrl": URL, "AttributeNames": ["All", "QueueArn"]},
    "SetQueueAttributes": {"QueueUrl": URL, "Attributes": {"Policy": '{"a": "&b"}'}},
    "PurgeQueue": {"QueueUrl": URL},
    "TagQueue": {"QueueUrl": URL, "Tags": {"k": "v", "k2": "v2"}},
    "UntagQueue": {"QueueUrl": URL, "TagKeys": ["k", "k2"]},
    "ListQueueTags": {"QueueUrl": URL},
    "ListDeadLetterSourceQueues": {"QueueUrl": URL, "NextToken": "t", "MaxResults": 3},
    "SendMessage": {"QueueUrl": URL, **{k: v for k, v in ENTRY.items() if k != "Id"}},
    "SendMessageBatch": {"QueueUrl": URL, "Entries": [ENTRY, {"Id": "e2",
                                                              "MessageBody": "x y+z"}]},
    "ReceiveMessage": {"QueueUrl": URL, "AttributeNames": ["All"],
                       "MessageAttributeNames": ["s", "b.*"], "MaxNumberOfMessages": 10,
                       "VisibilityTimeout": 0, "WaitTimeSeconds": 20,
                       "ReceiveRequestAttemptId": "r"},
    "DeleteMessage": {"QueueUrl": URL, "ReceiptHandle": "h"},
    "DeleteMessageBatch": {"QueueUrl": URL, "Entries": [{"Id": "a", "ReceiptHandle": "h"},
                                                        {"Id": "b", "ReceiptHandle": "i"}]},
    "ChangeMessageVisibility": {"QueueUrl": URL, "ReceiptHandle": "h", "VisibilityTimeout": 0},
    "AddPermission": {"QueueUrl": URL, "Label": "l-1", "AWSAccountIds": ["111122223333",
                                                                        "444455556666"],
                      "Actions": ["SendMessage", "ReceiveMessage"]},
    "RemovePermission": {"QueueUrl": URL, "Label": "l-1"},
    "StartMessageMoveTask": {"SourceArn": ARN, "DestinationArn": ARN + "2",
                             "MaxNumberOfMessagesPerSecond": 50},
    "ListMessageMoveTasks": {"SourceArn": ARN, "MaxResults": 10},
    "CancelMessageMoveTask": {"TaskHandle": "eyJ0YXNrSWQiOiJ4In0="},
    "ChangeMessageVisibilityBatch": {"QueueUrl": URL, "Entries": [
        {"Id": "a", "ReceiptHandle": "h", "VisibilityTimeout": 60},
        {"Id": "b", "ReceiptHandle": "i"}]},
}
VALUE = pb.MessageAttributeValue
FAILED = [pb.BatchResultErrorEntry(id="x", sender_fault=True, code="C", message="m <&>")]
OUTPUTS: dict[str, Any] = {
    "CreateQueue": pb.CreateQueueResponse(queue_url=URL),
    "ListQueues": pb.ListQueuesResponse(queue_urls=[URL, URL + "2"], next_token="t"),
    "GetQueueUrl": pb.GetQueueUrlResponse(queue_url=URL),
    "GetQueueAttributes": pb.GetQueueAttributesResponse(attributes={"A": "1", "B": "{}"}),
    "ListQueueTags": pb.ListQueueTagsResponse(tags={"k": "v", "e": ""}),
    "ListDeadLetterSourceQueues": pb.ListDeadLetterSourceQueuesResponse(queue_urls=[URL]),
    "SendMessage": pb.SendMessageResponse(message_id="m", md5_of_message_body="a",
                                          md5_of_message_attributes="b",
                                          md5_of_message_system_attributes="c",
                                          sequence_number="1"),
    "SendMessageBatch": pb.SendMessageBatchResponse(successful=[pb.SendMessageBatchResultEntry(
        id="i", message_id="m", md5_of_message_body="a", sequence_number="2")],
        failed=FAILED),
    "ReceiveMessage": pb.ReceiveMessageResponse(messages=[pb.Message(
        message_id="m", receipt_handle="h", md5_of_body="a", body="x\r\ny <&>",
        attributes={"SenderId": "s", "ApproximateReceiveCount": "1"},
        md5_of_message_attributes="b",
        message_attributes={"s": VALUE(data_type="String", string_value="v"),
                            "b": VALUE(data_type="Binary.x", binary_value=b"\x01\x02")}),
        pb.Message(message_id="n", receipt_handle="i", md5_of_body="c", body="")]),
    "DeleteMessageBatch": pb.DeleteMessageBatchResponse(
        successful=[pb.DeleteMessageBatchResultEntry(id="a")], failed=FAILED),
    "ChangeMessageVisibilityBatch": pb.ChangeMessageVisibilityBatchResponse(
        successful=[pb.ChangeMessageVisibilityBatchResultEntry(id="a")]),
    "StartMessageMoveTask": pb.StartMessageMoveTaskResponse(task_handle="h"),
    "ListMessageMoveTasks": pb.ListMessageMoveTasksResponse(results=[
        pb.ListMessageMoveTasksResultEntry(
            task_handle="h", status="RUNNING", source_arn=ARN, destination_arn=ARN + "2",
            max_number_of_messages_per_second=5, approximate_number_of_messages_moved=0,
            approximate_number_of_messages_to_move=12, started_timestamp=1700000000000),
        pb.ListMessageMoveTasksResultEntry(
            status="FAILED", source_arn=ARN, approximate_number_of_messages_moved=3,
            approximate_number_of_messages_to_move=4, failure_reason="why",
            started_timestamp=1600000000000)]),
    "CancelMessageMoveTask": pb.CancelMessageMoveTaskResponse(
        approximate_number_of_messages_moved=7),
}


@pytest.fixture(scope="module")
def models():
    query = botocore.session.get_session()
    query.set_config_variable("data_path", str(QUERY_MODEL))
    return query.get_service_model("sqs"), botocore.session.get_session().get_service_model(
        "sqs")


def test_every_served_operation_is_covered():
    assert set(INPUTS) == set(OPERATIONS)
    assert {name for name, op in OPERATIONS.items()
            if op.request().DESCRIPTOR.fields and
            getattr(pb, name + "Response").DESCRIPTOR.fields} == set(OUTPUTS)


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_requests_decode_as_their_json_twins(models, name):
    query_model, json_model = models
    form = create_serializer("query").serialize_to_request(
        INPUTS[name], query_model.operation_model(name))["body"]
    assert form["Action"] == name and form["Version"] == "2012-11-05"
    document = create_serializer("json").serialize_to_request(
        INPUTS[name], json_model.operation_model(name))["body"]
    request = OPERATIONS[name].request
    expected = convert.to_proto(json.loads(document), request)
    assert query_parse.to_proto({k: str(v) for k, v in form.items()}, request) == expected


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_answers_read_back_as_their_json_twins(models, name):
    query_model, json_model = models
    xml = result_document(name, OUTPUTS[name], "rid")
    ours = create_parser("query").parse(
        {"body": xml, "headers": {}, "status_code": 200},
        query_model.operation_model(name).output_shape)
    twin = create_parser("json").parse(
        {"body": json.dumps(convert.to_json(OUTPUTS[name])).encode(), "headers": {},
         "status_code": 200}, json_model.operation_model(name).output_shape)
    assert ours.pop("ResponseMetadata")["RequestId"] == "rid"
    twin.pop("ResponseMetadata")
    # A flattened list with no entry is nothing on the wire: query clients read no member
    # where the JSON protocol says [] (the batches' Successful and Failed).
    assert ours == {k: v for k, v in twin.items() if v != []}


def test_errors_read_back_as_botocore_reads_sqs_errors(models):
    query_model, _ = models
    err = EngineError("AWS.SimpleQueueService.NonExistentQueue", "No <queue> & more.")
    parsed = create_parser("query").parse(
        {"body": error_document(err, "rid"), "headers": {}, "status_code": 400},
        query_model.operation_model("GetQueueUrl").output_shape)
    assert parsed["Error"] == {"Type": "Sender", "Code": err.code,
                               "Message": "No <queue> & more.", "Detail": None}
    assert parsed["ResponseMetadata"]["RequestId"] == "rid"
    internal = EngineError("InternalError")
    assert b"<Type>Receiver</Type>" in error_document(internal, "rid")


@pytest.mark.parametrize(("params", "code", "where"), [
    ({"QueueUrl": URL, "MessageBody": "x", "DelaySeconds": "1.5"}, "InvalidParameterValue",
     "DelaySeconds"),
    ({"QueueUrl": URL, "MessageBody": "x", "DelaySeconds": "99999999999"},
     "InvalidParameterValue", "DelaySeconds"),
    ({"QueueUrl": URL, "MessageBody": "x", "MessageAttribute.0.Name": "a"},
     "InvalidParameterValue", "MessageAttribute.0"),
    ({"QueueUrl": URL, "MessageBody": "x", "MessageAttribute.1.Name": "a",
      "MessageAttribute.1.Value": "flat"}, "MissingParameter", "MessageAttribute.1.Value"),
    ({"QueueUrl": URL}, "MissingParameter", "MessageBody"),
    ({"MessageBody": "x"}, "MissingParameter", "QueueUrl"),
])
def test_malformed_parameters(params, code, where):
    with pytest.raises(EngineError) as exc:
        query_parse.to_proto(params, pb.SendMessageRequest)
    assert exc.value.code == code and where in exc.value.message


def test_entries_follow_their_numbers_and_unknown_parameters_are_ignored():
    message = query_parse.to_proto({
        "QueueUrl": URL, "Unknown": "x", "Entries": "",
        "DeleteMessageBatchRequestEntry.10.Id": "ten",
        "DeleteMessageBatchRequestEntry.10.ReceiptHandle": "h10",
        "DeleteMessageBatchRequestEntry.2.Id": "two",
        "DeleteMessageBatchRequestEntry.2.ReceiptHandle": "h2"}, pb.DeleteMessageBatchRequest)
    assert [e.id for e in message.entries] == ["two", "ten"]
    empty = query_parse.to_proto({"QueueUrl": URL, "Entries": ""},
                                 pb.DeleteMessageBatchRequest)
    assert list(empty.entries) == []  # the queue service answers EmptyBatchRequest
