"""SQS request and response mapping: boto3 parameters -> queues.proto, and back.

Pure functions, so the mapping is testable without a channel. Responses follow boto3's
JSON-protocol shapes: a member SQS leaves out when empty (Messages, QueueUrls,
Attributes, MD5OfMessageAttributes, SequenceNumber, ...) is absent, not empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from google.protobuf.message import Message

from engine.client.errors import response_metadata
from engine.v1 import queues_pb2 as pb

MAX_WAIT_SECONDS = 20  # the longest long poll SQS allows (WaitTimeSeconds)
_INT32 = (-(2**31), 2**31 - 1)


def ok(**members: Any) -> dict[str, Any]:
    """A boto3 response: the members given plus ResponseMetadata (SQS answers 200)."""
    return {**members, "ResponseMetadata": response_metadata(200)}


def int32(value: int) -> int:
    """Saturate to int32, so an absurd value reaches the server (which rejects it with
    SQS's code) instead of failing to serialize here."""
    return max(_INT32[0], min(_INT32[1], value))


def set_optional(request: Message, **fields: int | None) -> None:
    """Set the proto3 ``optional`` int fields that were given; absent stays absent (the
    queue's default), which 0 would not."""
    for name, value in fields.items():
        if value is not None:
            setattr(request, name, int32(value))


def long_poll_timeout(timeout: float | None, wait_time_seconds: int | None) -> float | None:
    """The deadline of a ReceiveMessage: the client's timeout on top of the wait.

    Without WaitTimeSeconds the queue's ReceiveMessageWaitTimeSeconds applies, which
    may be up to 20 s, so that much is allowed for."""
    if timeout is None:
        return None
    wait = MAX_WAIT_SECONDS if wait_time_seconds is None else wait_time_seconds
    return timeout + min(max(wait, 0), MAX_WAIT_SECONDS)


# -- requests ----------------------------------------------------------------------------


def blob(value: Any) -> bytes:
    """A BinaryValue as botocore accepts it: bytes-like, str (UTF-8) or a readable file."""
    if hasattr(value, "read"):
        value = value.read()
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


def attribute_value(value: Mapping[str, Any]) -> pb.MessageAttributeValue:
    out = pb.MessageAttributeValue(data_type=value["DataType"])
    if "StringValue" in value:
        out.string_value = value["StringValue"]
    if "BinaryValue" in value:
        out.binary_value = blob(value["BinaryValue"])
    return out


def attribute_values(
    values: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, pb.MessageAttributeValue]:
    return {name: attribute_value(v) for name, v in (values or {}).items()}


def message_fields(
    *,
    MessageBody: str,
    DelaySeconds: int | None = None,
    MessageAttributes: Mapping[str, Mapping[str, Any]] | None = None,
    MessageSystemAttributes: Mapping[str, Mapping[str, Any]] | None = None,
    MessageDeduplicationId: str | None = None,
    MessageGroupId: str | None = None,
) -> dict[str, Any]:
    """The proto fields SendMessageRequest and SendMessageBatchRequestEntry share."""
    fields: dict[str, Any] = {
        "message_body": MessageBody,
        "message_attributes": attribute_values(MessageAttributes),
        "message_system_attributes": attribute_values(MessageSystemAttributes),
        "message_deduplication_id": MessageDeduplicationId or "",
        "message_group_id": MessageGroupId or "",
    }
    if DelaySeconds is not None:
        fields["delay_seconds"] = int32(DelaySeconds)
    return fields


def send_entry(entry: Mapping[str, Any]) -> pb.SendMessageBatchRequestEntry:
    fields = {k: v for k, v in entry.items() if k != "Id"}
    return pb.SendMessageBatchRequestEntry(id=entry["Id"], **message_fields(**fields))


def delete_entry(entry: Mapping[str, Any]) -> pb.DeleteMessageBatchRequestEntry:
    return pb.DeleteMessageBatchRequestEntry(id=entry["Id"], receipt_handle=entry["ReceiptHandle"])


def visibility_entry(entry: Mapping[str, Any]) -> pb.ChangeMessageVisibilityBatchRequestEntry:
    out = pb.ChangeMessageVisibilityBatchRequestEntry(
        id=entry["Id"], receipt_handle=entry["ReceiptHandle"]
    )
    set_optional(out, visibility_timeout=entry.get("VisibilityTimeout"))
    return out


# -- responses ---------------------------------------------------------------------------


class _SendResult(Protocol):
    """SendMessageResponse and SendMessageBatchResultEntry."""

    message_id: str
    md5_of_message_body: str
    md5_of_message_attributes: str
    md5_of_message_system_attributes: str
    sequence_number: str


def send_result(result: _SendResult) -> dict[str, Any]:
    out = {"MD5OfMessageBody": result.md5_of_message_body, "MessageId": result.message_id}
    if result.md5_of_message_attributes:
        out["MD5OfMessageAttributes"] = result.md5_of_message_attributes
    if result.md5_of_message_system_attributes:
        out["MD5OfMessageSystemAttributes"] = result.md5_of_message_system_attributes
    if result.sequence_number:
        out["SequenceNumber"] = result.sequence_number
    return out


def send_batch_entry(entry: pb.SendMessageBatchResultEntry) -> dict[str, Any]:
    return {"Id": entry.id, **send_result(entry)}


def batch_id(entry: pb.DeleteMessageBatchResultEntry | pb.ChangeMessageVisibilityBatchResultEntry
             ) -> dict[str, Any]:
    return {"Id": entry.id}


def failed_entry(entry: pb.BatchResultErrorEntry) -> dict[str, Any]:
    return {"Id": entry.id, "SenderFault": entry.sender_fault, "Code": entry.code,
            "Message": entry.message}


def batch_result(
    successful: Iterable[Any],
    failed: Iterable[pb.BatchResultErrorEntry],
    shape: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """A batch response: both lists are always there, as SQS sends them."""
    return ok(Successful=[shape(e) for e in successful],
              Failed=[failed_entry(e) for e in failed])


def attribute_value_dict(value: pb.MessageAttributeValue) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if value.HasField("string_value"):
        out["StringValue"] = value.string_value
    if value.HasField("binary_value"):
        out["BinaryValue"] = value.binary_value
    out["DataType"] = value.data_type
    return out


def message(msg: pb.Message) -> dict[str, Any]:
    out: dict[str, Any] = {
        "MessageId": msg.message_id,
        "ReceiptHandle": msg.receipt_handle,
        "MD5OfBody": msg.md5_of_body,
        "Body": msg.body,
    }
    if msg.attributes:
        out["Attributes"] = dict(msg.attributes)
    if msg.md5_of_message_attributes:
        out["MD5OfMessageAttributes"] = msg.md5_of_message_attributes
    if msg.message_attributes:
        out["MessageAttributes"] = {
            name: attribute_value_dict(v) for name, v in msg.message_attributes.items()
        }
    return out


def present(**members: Any) -> dict[str, Any]:
    """Only the members that are non-empty (SQS's JSON leaves empty ones out)."""
    return {name: value for name, value in members.items() if value}


def move_task(entry: pb.ListMessageMoveTasksResultEntry) -> dict[str, Any]:
    """A ListMessageMoveTasks result entry in boto3's shape: what the task has."""
    out: dict[str, Any] = present(
        TaskHandle=entry.task_handle, Status=entry.status, SourceArn=entry.source_arn,
        DestinationArn=entry.destination_arn, FailureReason=entry.failure_reason)
    for member, field in (("MaxNumberOfMessagesPerSecond", "max_number_of_messages_per_second"),
                          ("ApproximateNumberOfMessagesMoved",
                           "approximate_number_of_messages_moved"),
                          ("ApproximateNumberOfMessagesToMove",
                           "approximate_number_of_messages_to_move"),
                          ("StartedTimestamp", "started_timestamp")):
        if entry.HasField(field):
            out[member] = getattr(entry, field)
    return out
