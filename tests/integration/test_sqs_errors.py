"""Bad input to the SQS API through the SDK against a real `engine serve --manual-clock`:
every limit of the queue and message model rejected with SQS's error code and a client
(4xx) status -- never an internal error -- and the node keeps serving afterwards.

Codes are what boto3 shows for SQS (query-compatible codes; see helpers_sqs.py): queue
attributes out of range are InvalidAttributeValue, unknown attribute names
InvalidAttributeName, request parameters out of range InvalidParameterValue.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers_sqs import (
    BATCH_IDS_NOT_DISTINCT,
    BATCH_REQUEST_TOO_LONG,
    EMPTY_BATCH_REQUEST,
    INVALID_ATTRIBUTE_NAME,
    INVALID_ATTRIBUTE_VALUE,
    INVALID_BATCH_ENTRY_ID,
    INVALID_MESSAGE_CONTENTS,
    INVALID_PARAMETER_VALUE,
    MIB,
    MISSING_PARAMETER,
    NON_EXISTENT_QUEUE,
    TOO_MANY_ENTRIES,
    assert_sqs_error,
    counts,
    make_queue,
    queue_arn,
    queue_attributes,
    receive_one,
    sqs_fixture,  # noqa: F401  (fixture "sqs")
    sqs_server_fixture,  # noqa: F401  (fixture "sqs_server")
    unique_queue_name,
)

from engine.client import ClientError, ParamValidationError

BAD_ATTRIBUTE_VALUES = [
    ("DelaySeconds", "-1"),
    ("DelaySeconds", "901"),
    ("DelaySeconds", "ten"),
    ("MaximumMessageSize", "1023"),
    ("MaximumMessageSize", str(MIB + 1)),
    ("MessageRetentionPeriod", "59"),
    ("MessageRetentionPeriod", str(14 * 24 * 3600 + 1)),
    ("ReceiveMessageWaitTimeSeconds", "-1"),
    ("ReceiveMessageWaitTimeSeconds", "21"),
    ("VisibilityTimeout", "-1"),
    ("VisibilityTimeout", "43201"),
    ("VisibilityTimeout", ""),
]


@pytest.fixture
def queue(sqs, request) -> str:
    return make_queue(sqs, request.node.name)


def _id(value: Any) -> str:
    return str(value)[:40]


# -- queue attributes ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), BAD_ATTRIBUTE_VALUES, ids=_id)
def test_create_queue_rejects_attribute_out_of_range(sqs, request, name: str,
                                                     value: str) -> None:
    qname = unique_queue_name(request.node.name)
    with pytest.raises(sqs.exceptions.InvalidAttributeValue) as info:
        sqs.create_queue(QueueName=qname, Attributes={name: value})
    assert_sqs_error(info, INVALID_ATTRIBUTE_VALUE)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=qname)


@pytest.mark.parametrize(("name", "value"), BAD_ATTRIBUTE_VALUES, ids=_id)
def test_set_queue_attributes_rejects_attribute_out_of_range(sqs, queue, name: str,
                                                             value: str) -> None:
    before = queue_attributes(sqs, queue)[name]
    with pytest.raises(sqs.exceptions.InvalidAttributeValue) as info:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={name: value})
    assert_sqs_error(info, INVALID_ATTRIBUTE_VALUE)
    assert queue_attributes(sqs, queue)[name] == before


def test_set_queue_attributes_is_all_or_nothing(sqs, queue) -> None:
    with pytest.raises(ClientError):
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"DelaySeconds": "7",
                                                             "VisibilityTimeout": "43201"})
    assert queue_attributes(sqs, queue, "DelaySeconds") == {"DelaySeconds": "0"}


def test_unknown_attribute_names(sqs, queue, request) -> None:
    with pytest.raises(sqs.exceptions.InvalidAttributeName) as info:
        sqs.create_queue(QueueName=unique_queue_name(request.node.name),
                         Attributes={"Colour": "red"})
    assert_sqs_error(info, INVALID_ATTRIBUTE_NAME)
    with pytest.raises(sqs.exceptions.InvalidAttributeName) as info:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Colour": "red"})
    assert_sqs_error(info, INVALID_ATTRIBUTE_NAME)
    with pytest.raises(sqs.exceptions.InvalidAttributeName) as info:
        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Colour"])
    assert_sqs_error(info, INVALID_ATTRIBUTE_NAME)


@pytest.mark.parametrize("name", ["QueueArn", "ApproximateNumberOfMessages",
                                  "CreatedTimestamp", "FifoQueue"])
def test_read_only_and_fixed_attributes_cannot_be_set(sqs, queue, name: str) -> None:
    with pytest.raises(ClientError) as info:
        sqs.set_queue_attributes(QueueUrl=queue, Attributes={name: "1"})
    assert info.value.response["Error"]["Code"] in (INVALID_ATTRIBUTE_NAME,
                                                    INVALID_ATTRIBUTE_VALUE)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# AWS answers a RedrivePolicy that is not JSON with InvalidAttributeValue ("Invalid value
# for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.") and a
# JSON policy it cannot use with InvalidParameterValue ("Value {...} for parameter
# RedrivePolicy is invalid. Reason: ..."), as seen in real AWS error reports.
@pytest.mark.parametrize(("policy", "code"), [
    ("not json", INVALID_ATTRIBUTE_VALUE),
    (json.dumps({"maxReceiveCount": 3}), INVALID_PARAMETER_VALUE),  # no target
    (json.dumps({"deadLetterTargetArn": "DLQ", "maxReceiveCount": 0}),
     INVALID_PARAMETER_VALUE),
    (json.dumps({"deadLetterTargetArn": "DLQ", "maxReceiveCount": 1001}),
     INVALID_PARAMETER_VALUE),
    (json.dumps({"deadLetterTargetArn": "DLQ"}), INVALID_PARAMETER_VALUE),  # no count
    (json.dumps({"deadLetterTargetArn": "MISSING", "maxReceiveCount": 3}),
     INVALID_PARAMETER_VALUE),
], ids=["not-json", "no-target", "count-0", "count-1001", "no-count", "missing-target"])
def test_bad_redrive_policies(sqs, request, policy: str, code: str) -> None:
    dlq = make_queue(sqs, request.node.name + "-dlq")
    arn = queue_arn(sqs, dlq)
    policy = policy.replace('"DLQ"', json.dumps(arn)).replace(
        '"MISSING"', json.dumps(arn + "-missing"))
    with pytest.raises(ClientError) as info:
        make_queue(sqs, request.node.name, RedrivePolicy=policy)
    assert_sqs_error(info, code)


@pytest.mark.parametrize("max_results", [0, 1001])
def test_list_queues_max_results_out_of_range(sqs, max_results: int) -> None:
    with pytest.raises(ClientError) as info:
        sqs.list_queues(MaxResults=max_results)
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)


# -- non-existent queues ---------------------------------------------------------------


def test_unknown_queue_url_is_non_existent_queue_everywhere(sqs, queue) -> None:
    url = queue.rsplit("/", 1)[0] + "/" + unique_queue_name("never-created")
    calls = {
        "GetQueueAttributes": lambda: sqs.get_queue_attributes(QueueUrl=url,
                                                               AttributeNames=["All"]),
        "SetQueueAttributes": lambda: sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"DelaySeconds": "1"}),
        "SendMessage": lambda: sqs.send_message(QueueUrl=url, MessageBody="x"),
        "SendMessageBatch": lambda: sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}]),
        "ReceiveMessage": lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0),
        "PurgeQueue": lambda: sqs.purge_queue(QueueUrl=url),
        "TagQueue": lambda: sqs.tag_queue(QueueUrl=url, Tags={"a": "b"}),
        "ListQueueTags": lambda: sqs.list_queue_tags(QueueUrl=url),
        "ListDeadLetterSourceQueues": lambda: sqs.list_dead_letter_source_queues(
            QueueUrl=url),
    }
    wrong = {}
    for op, call in calls.items():
        try:
            call()
            wrong[op] = "no error"
        except ClientError as e:
            code = e.response["Error"]["Code"]
            modeled = isinstance(e, sqs.exceptions.QueueDoesNotExist)
            if code != NON_EXISTENT_QUEUE or not modeled:
                wrong[op] = f"{type(e).__name__} {code}"
            elif e.response["ResponseMetadata"]["HTTPStatusCode"] != 400:
                wrong[op] = f"HTTP {e.response['ResponseMetadata']['HTTPStatusCode']}"
    assert wrong == {}


# -- send ------------------------------------------------------------------------------


@pytest.mark.parametrize("delay", [-1, 901])
def test_send_delay_out_of_range(sqs, queue, delay: int) -> None:
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=queue, MessageBody="x", DelaySeconds=delay)
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)
    sqs.send_message(QueueUrl=queue, MessageBody="x", DelaySeconds=900)


def test_message_larger_than_maximum_message_size(sqs, request) -> None:
    url = make_queue(sqs, request.node.name, MaximumMessageSize=1024)
    sqs.send_message(QueueUrl=url, MessageBody="a" * 1024)
    sqs.send_message(QueueUrl=url, MessageBody="é" * 512)  # 1024 UTF-8 bytes
    for body in ("a" * 1025, "é" * 513):
        with pytest.raises(ClientError) as info:
            sqs.send_message(QueueUrl=url, MessageBody=body)
        assert_sqs_error(info, INVALID_PARAMETER_VALUE)
    # Attributes count towards the size.
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="a" * 1000, MessageAttributes={
            "attribute": {"DataType": "String", "StringValue": "v" * 30}})
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)
    assert counts(sqs, url) == (2, 0, 0)


def test_message_larger_than_the_default_one_mib(sqs, queue) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody="z" * MIB)
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=queue, MessageBody="z" * (MIB + 1))
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)
    assert len(receive_one(sqs, queue)["Body"]) == MIB


def test_more_than_ten_message_attributes(sqs, queue) -> None:
    attrs = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=queue, MessageBody="x", MessageAttributes=attrs)
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)
    del attrs["a10"]
    sqs.send_message(QueueUrl=queue, MessageBody="x", MessageAttributes=attrs)


@pytest.mark.parametrize("attribute", [
    {"DataType": "String", "StringValue": ""},
    {"DataType": "Integer", "StringValue": "1"},
    {"DataType": "Number", "StringValue": "twelve"},
    {"DataType": "Binary", "StringValue": "not binary"},
    {"DataType": "String"},
], ids=["empty-string", "unknown-type", "not-a-number", "binary-without-bytes", "no-value"])
def test_bad_message_attribute_values(sqs, queue, attribute: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=queue, MessageBody="x", MessageAttributes={"a": attribute})
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)


@pytest.mark.parametrize("body", ["nul \x00", "backspace \x08", "bom-swap \ufffe",
                                  "escape \x1b"], ids=["nul", "bs", "fffe", "esc"])
def test_invalid_message_contents(sqs, queue, body: str) -> None:
    with pytest.raises(sqs.exceptions.InvalidMessageContents) as info:
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    assert_sqs_error(info, INVALID_MESSAGE_CONTENTS)
    assert counts(sqs, queue) == (0, 0, 0)


def test_allowed_unusual_characters_are_accepted(sqs, queue) -> None:
    body = "tab\t nl\n cr\r \ud7ff \ue000 \ufffd \U0001f600 \U0010ffff"
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    assert receive_one(sqs, queue)["Body"] == body


def test_empty_body_is_missing_parameter(sqs, queue) -> None:
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=queue, MessageBody="")
    assert_sqs_error(info, MISSING_PARAMETER)


def test_missing_required_parameter_is_caught_by_the_sdk(sqs, queue) -> None:
    with pytest.raises(ParamValidationError):
        sqs.send_message(QueueUrl=queue)
    with pytest.raises(ParamValidationError):
        sqs.delete_message(QueueUrl=queue)


# -- receive and visibility ------------------------------------------------------------


@pytest.mark.parametrize(("param", "value"), [
    ("MaxNumberOfMessages", 0),
    ("MaxNumberOfMessages", 11),
    ("WaitTimeSeconds", -1),
    ("WaitTimeSeconds", 21),
    ("VisibilityTimeout", -1),
    ("VisibilityTimeout", 43201),
])
def test_receive_parameters_out_of_range(sqs, queue, param: str, value: int) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody="stays")
    args: dict[str, Any] = {"WaitTimeSeconds": 0, param: value}
    with pytest.raises(ClientError) as info:
        sqs.receive_message(QueueUrl=queue, **args)
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)
    assert counts(sqs, queue) == (1, 0, 0)  # nothing was received


@pytest.mark.parametrize("timeout", [-1, 43201])
def test_change_message_visibility_out_of_range(sqs, queue, timeout: int) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody="x")
    m = receive_one(sqs, queue)
    with pytest.raises(ClientError) as info:
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"],
                                      VisibilityTimeout=timeout)
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)


# -- batches ---------------------------------------------------------------------------


def _send_entries(ids: list[str]) -> list[dict[str, Any]]:
    return [{"Id": i, "MessageBody": f"body {i}"} for i in ids]


def _delete_entries(ids: list[str]) -> list[dict[str, Any]]:
    return [{"Id": i, "ReceiptHandle": "h"} for i in ids]


def _visibility_entries(ids: list[str]) -> list[dict[str, Any]]:
    return [{"Id": i, "ReceiptHandle": "h", "VisibilityTimeout": 1} for i in ids]


BATCH_OPS = {
    "send": ("send_message_batch", _send_entries),
    "delete": ("delete_message_batch", _delete_entries),
    "visibility": ("change_message_visibility_batch", _visibility_entries),
}
BATCH_CASES = [
    ([], EMPTY_BATCH_REQUEST, "EmptyBatchRequest"),
    ([str(i) for i in range(11)], TOO_MANY_ENTRIES, "TooManyEntriesInBatchRequest"),
    (["a", "b", "a"], BATCH_IDS_NOT_DISTINCT, "BatchEntryIdsNotDistinct"),
    (["ok", "has space"], INVALID_BATCH_ENTRY_ID, "InvalidBatchEntryId"),
    (["ok", "dot.ted"], INVALID_BATCH_ENTRY_ID, "InvalidBatchEntryId"),
    (["x" * 81], INVALID_BATCH_ENTRY_ID, "InvalidBatchEntryId"),
    ([""], INVALID_BATCH_ENTRY_ID, "InvalidBatchEntryId"),
]


@pytest.mark.parametrize("op", list(BATCH_OPS))
@pytest.mark.parametrize(("ids", "code", "exception"), BATCH_CASES,
                         ids=["empty", "eleven", "dup", "space", "dot", "long", "blank"])
def test_batch_request_errors(sqs, queue, op: str, ids: list[str], code: str,
                              exception: str) -> None:
    method, entries = BATCH_OPS[op]
    with pytest.raises(getattr(sqs.exceptions, exception)) as info:
        getattr(sqs, method)(QueueUrl=queue, Entries=entries(ids))
    assert_sqs_error(info, code)
    assert counts(sqs, queue) == (0, 0, 0)  # nothing of a rejected batch was applied


def test_batch_ids_may_use_80_letters_digits_dash_underscore(sqs, queue) -> None:
    ids = ["x" * 80, "A-b_9", "0"]
    resp = sqs.send_message_batch(QueueUrl=queue, Entries=_send_entries(ids))
    assert sorted(e["Id"] for e in resp["Successful"]) == sorted(ids)
    assert sqs.send_message_batch(QueueUrl=queue, Entries=_send_entries(
        [str(i) for i in range(10)]))["Successful"]


def test_batch_longer_than_maximum_message_size(sqs, request) -> None:
    url = make_queue(sqs, request.node.name, MaximumMessageSize=1024)
    with pytest.raises(sqs.exceptions.BatchRequestTooLong) as info:
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "MessageBody": "a" * 600}, {"Id": "b", "MessageBody": "b" * 600}])
    assert_sqs_error(info, BATCH_REQUEST_TOO_LONG)
    assert counts(sqs, url) == (0, 0, 0)
    resp = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "a" * 512}, {"Id": "b", "MessageBody": "b" * 512}])
    assert len(resp["Successful"]) == 2


def test_batch_longer_than_the_default_one_mib(sqs, queue) -> None:
    with pytest.raises(sqs.exceptions.BatchRequestTooLong) as info:
        sqs.send_message_batch(QueueUrl=queue, Entries=[
            {"Id": str(i), "MessageBody": "p" * (300 * 1024)} for i in range(4)])
    assert_sqs_error(info, BATCH_REQUEST_TOO_LONG)
    assert counts(sqs, queue) == (0, 0, 0)


# -- the node survives all of the above ------------------------------------------------


def test_server_still_serves_after_bad_input(sqs, sqs_server, request) -> None:
    assert sqs_server.proc.poll() is None, "the server exited"
    url = make_queue(sqs, request.node.name)
    sqs.send_message(QueueUrl=url, MessageBody="still fine")
    assert receive_one(sqs, url)["Body"] == "still fine"
