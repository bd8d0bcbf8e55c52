"""Dead-letter queue redrive against a real node: StartMessageMoveTask,
ListMessageMoveTasks and CancelMessageMoveTask through boto3's SQS client over HTTP (the
JSON protocol) and through the gRPC SDK. Messages reach the dead-letter queue the way
they do in production (received past maxReceiveCount), and every message is accounted
for after a move or a cancel: moved to its source, or still in the dead-letter queue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError as BotoClientError
from helpers_sqs_http import queue_name, sqs_client

from engine.client import ClientError, client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

DEADLINE = 30.0


def eventually(probe: Callable[[], Any], what: str) -> Any:
    """Poll a background task's visible effect until it shows (bounded)."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def arn_of(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]


def visible(sqs, url: str) -> int:
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])


def dead_lettered(sqs, hint: str, bodies: list[str]) -> tuple[str, str, str]:
    """(source URL, DLQ URL, DLQ ARN) with every body sent to the source and received past
    maxReceiveCount 1, so it sits in the dead-letter queue."""
    dlq = sqs.create_queue(QueueName=queue_name("dlq-" + hint))["QueueUrl"]
    dlq_arn = arn_of(sqs, dlq)
    source = sqs.create_queue(QueueName=queue_name(hint), Attributes={"RedrivePolicy": (
        json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))})["QueueUrl"]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=source, Entries=[
            {"Id": str(i), "MessageBody": b, "MessageAttributes": {
                "n": {"DataType": "Number", "StringValue": str(start + i)}}}
            for i, b in enumerate(bodies[start:start + 10])])

    def all_dead() -> bool:
        sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=0,
                            WaitTimeSeconds=1)
        return visible(sqs, dlq) == len(bodies)
    eventually(all_dead, "the messages to reach the dead-letter queue")
    return source, dlq, dlq_arn


def drain(sqs, url: str, count: int) -> list[dict[str, Any]]:
    got: dict[str, dict[str, Any]] = {}

    def more() -> bool:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                     MessageAttributeNames=["All"]).get("Messages", []):
            got[m["MessageId"]] = m
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(got) >= count
    eventually(more, f"{count} messages in {url}")
    return list(got.values())


def boto_error(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(BotoClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_a_redrive_returns_every_message_to_its_source(shared_server, request):
    sqs = sqs_client(shared_server.http_url)
    bodies = [f"job-{i}" for i in range(15)]
    source, dlq, dlq_arn = dead_lettered(sqs, request.node.name, bodies)
    peek = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0, WaitTimeSeconds=1,
                               MessageSystemAttributeNames=["DeadLetterQueueSourceArn"])
    assert peek["Messages"][0]["Attributes"] == {"DeadLetterQueueSourceArn": arn_of(sqs, source)}

    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    done = eventually(lambda: [t for t in sqs.list_message_move_tasks(SourceArn=dlq_arn)[
        "Results"] if t["Status"] == "COMPLETED"], "the task to complete")[0]
    assert {k: v for k, v in done.items() if k != "StartedTimestamp"} == {
        "Status": "COMPLETED", "SourceArn": dlq_arn, "ApproximateNumberOfMessagesMoved": 15,
        "ApproximateNumberOfMessagesToMove": 15}
    assert isinstance(done["StartedTimestamp"], int)
    moved = drain(sqs, source, 15)
    assert sorted(m["Body"] for m in moved) == sorted(bodies)
    assert sorted(int(m["MessageAttributes"]["n"]["StringValue"]) for m in moved) == list(
        range(15))
    assert visible(sqs, dlq) == 0
    assert boto_error(lambda: sqs.cancel_message_move_task(TaskHandle=handle)) == (
        "AWS.SimpleQueueService.UnsupportedOperation",
        "Only a RUNNING task can be cancelled; this one is COMPLETED.")


def test_a_cancel_stops_midway_and_loses_nothing(shared_server, request):
    sqs = sqs_client(shared_server.http_url)
    source, dlq, dlq_arn = dead_lettered(sqs, request.node.name,
                                         [f"m{i}" for i in range(20)])
    handle = sqs.start_message_move_task(SourceArn=dlq_arn,
                                         MaxNumberOfMessagesPerSecond=2)["TaskHandle"]
    assert boto_error(lambda: sqs.start_message_move_task(SourceArn=dlq_arn)) == (
        "AWS.SimpleQueueService.UnsupportedOperation",
        "There is already a task running. Only one active task is allowed for a source "
        "queue arn at a given time.")
    running = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert [(t["Status"], t["TaskHandle"], t["MaxNumberOfMessagesPerSecond"])
            for t in running] == [("RUNNING", handle, 2)]
    eventually(lambda: sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0][
        "ApproximateNumberOfMessagesMoved"] >= 1, "a first message to move")
    cancelled = sqs.cancel_message_move_task(TaskHandle=handle)
    assert cancelled["ApproximateNumberOfMessagesMoved"] >= 1
    final = eventually(lambda: [t for t in sqs.list_message_move_tasks(SourceArn=dlq_arn)[
        "Results"] if t["Status"] == "CANCELLED"], "the task to stop")[0]
    moved = final["ApproximateNumberOfMessagesMoved"]
    assert 1 <= moved < 20 and "TaskHandle" not in final
    assert (visible(sqs, source), visible(sqs, dlq)) == (moved, 20 - moved)

    # a new task may start now; the list is newest first, 1 by default, up to 10
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=arn_of(sqs, source))
    eventually(lambda: sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0][
        "Status"] == "COMPLETED", "the second task to complete")
    both = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    assert [t["Status"] for t in both] == ["COMPLETED", "CANCELLED"]
    assert both[0]["DestinationArn"] == arn_of(sqs, source)
    assert sorted(m["Body"] for m in drain(sqs, source, 20)) == sorted(
        f"m{i}" for i in range(20))


def test_a_destination_arn_takes_the_messages_elsewhere(shared_server, request):
    sqs = sqs_client(shared_server.http_url)
    _, dlq, dlq_arn = dead_lettered(sqs, request.node.name, ["a", "b"])
    other = sqs.create_queue(QueueName=queue_name("other-" + request.node.name))["QueueUrl"]
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=arn_of(sqs, other))
    assert sorted(m["Body"] for m in drain(sqs, other, 2)) == ["a", "b"]
    assert visible(sqs, dlq) == 0


def test_errors_a_user_meets(shared_server, request):
    sqs = sqs_client(shared_server.http_url)
    plain = sqs.create_queue(QueueName=queue_name(request.node.name))["QueueUrl"]
    plain_arn = arn_of(sqs, plain)
    missing = plain_arn + "-missing"
    assert boto_error(lambda: sqs.start_message_move_task(SourceArn=plain_arn)) == (
        "InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
    with pytest.raises(sqs.exceptions.ResourceNotFoundException) as info:
        sqs.start_message_move_task(SourceArn=missing)
    assert info.value.response["Error"]["Message"] == (
        "The resource that you specified for the SourceArn parameter doesn't exist.")
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.list_message_move_tasks(SourceArn=missing)
    assert boto_error(lambda: sqs.list_message_move_tasks(SourceArn=plain_arn,
                                                          MaxResults=11)) == (
        "InvalidParameterValue",
        "Value 11 for parameter MaxResults is invalid. Reason: must be between 1 and 10.")
    assert sqs.list_message_move_tasks(SourceArn=plain_arn)["Results"] == []
    assert boto_error(lambda: sqs.start_message_move_task(SourceArn="nope")) == (
        "InvalidParameterValue",
        "Value nope for parameter SourceArn is invalid. Reason: not a queue ARN.")
    _, _, dlq_arn = dead_lettered(sqs, request.node.name, ["x"])
    assert boto_error(lambda: sqs.start_message_move_task(
        SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=501)) == (
        "InvalidParameterValue", "Value 501 for parameter MaxNumberOfMessagesPerSecond is "
        "invalid. Reason: must be between 1 and 500.")
    assert boto_error(lambda: sqs.cancel_message_move_task(TaskHandle="garbage")) == (
        "InvalidParameterValue", "Value for parameter TaskHandle is invalid.")


def test_the_grpc_sdk_starts_lists_and_cancels(shared_server, request):
    http = sqs_client(shared_server.http_url)
    source, dlq, dlq_arn = dead_lettered(http, request.node.name,
                                         [f"g{i}" for i in range(6)])
    with client("sqs", endpoint=shared_server.endpoint) as sqs:
        handle = sqs.start_message_move_task(SourceArn=dlq_arn,
                                             MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
        [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        assert (task["Status"], task["TaskHandle"], task["ApproximateNumberOfMessagesToMove"],
                task["MaxNumberOfMessagesPerSecond"]) == ("RUNNING", handle, 6, 1)
        sqs.cancel_message_move_task(TaskHandle=handle)
        final = eventually(lambda: [t for t in sqs.list_message_move_tasks(
            SourceArn=dlq_arn)["Results"] if t["Status"] == "CANCELLED"], "the cancel")[0]
        moved = final["ApproximateNumberOfMessagesMoved"]
        assert (visible(http, source), visible(http, dlq)) == (moved, 6 - moved)
        with pytest.raises(ClientError) as info:
            sqs.list_message_move_tasks(SourceArn=dlq_arn + "-missing")
        assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
