"""SQS over the node's HTTP port with boto3's SQS client (the JSON protocol current
botocore speaks), against a real `engine serve --manual-clock`: every operation of the
Queues service, long polling, visibility, batches with partial failures, FIFO groups and
deduplication, a dead-letter queue through RedrivePolicy, tags, purge and delete. S3 keeps
answering on the same port. Expectations are AWS's."""

from __future__ import annotations

import json
import threading
import time

import pytest
from helpers_s3_http import bucket_name, s3_client
from helpers_sqs import advance_clock
from helpers_sqs_http import queue_name, sqs_client


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory("--manual-clock")


@pytest.fixture(scope="module")
def sqs(node):
    return sqs_client(node.http_url)


@pytest.fixture
def queue(sqs, request) -> str:
    return sqs.create_queue(QueueName=queue_name(request.node.name))["QueueUrl"]


def receive(sqs, url: str, **kwargs) -> list[dict]:
    return sqs.receive_message(QueueUrl=url, WaitTimeSeconds=kwargs.pop("wait", 5),
                               **kwargs).get("Messages", [])


def test_queue_urls_name_the_host_the_client_used(node, sqs, request):
    name = queue_name(request.node.name)
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"},
                           tags={"team": "a"})["QueueUrl"]
    account = url.split("/")[3]
    assert url == f"{node.http_url}/{account}/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == f"arn:aws:sqs:us-east-1:{account}:{name}"
    assert attributes["VisibilityTimeout"] == "45"
    # Any host in a QueueUrl: only its path names the queue.
    other = f"https://sqs.us-east-1.amazonaws.com/{account}/{name}"
    assert sqs.list_queue_tags(QueueUrl=other)["Tags"] == {"team": "a"}


def test_list_queues_pages_with_prefix(sqs, request):
    prefix = queue_name(request.node.name)[:30]
    urls = sorted(sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(3))
    first = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    assert len(first["QueueUrls"]) == 2 and first["NextToken"]
    second = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2,
                             NextToken=first["NextToken"])
    assert sorted(first["QueueUrls"] + second["QueueUrls"]) == urls
    assert "NextToken" not in second
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=prefix + "-none")


def test_set_attributes_tags_and_untag(sqs, queue):
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"DelaySeconds": "5"})
    got = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["DelaySeconds"])
    assert got["Attributes"] == {"DelaySeconds": "5"}
    sqs.tag_queue(QueueUrl=queue, Tags={"env": "test", "owner": "me"})
    sqs.untag_queue(QueueUrl=queue, TagKeys=["owner"])
    assert sqs.list_queue_tags(QueueUrl=queue)["Tags"] == {"env": "test"}


def test_send_receive_delete_with_attributes(sqs, queue):
    sent = sqs.send_message(
        QueueUrl=queue, MessageBody="hello",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"},
                           "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
                           "n": {"DataType": "Number", "StringValue": "42"}},
        MessageSystemAttributes={"AWSTraceHeader": {
            "DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}})
    assert sent["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"  # md5("hello")
    assert sent["MD5OfMessageAttributes"] and sent["MD5OfMessageSystemAttributes"]
    [message] = receive(sqs, queue, MessageAttributeNames=["All"],
                        MessageSystemAttributeNames=["All"])
    assert message["Body"] == "hello" and message["MessageId"] == sent["MessageId"]
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["MessageAttributes"]["blob"] == {"DataType": "Binary",
                                                    "BinaryValue": b"\x00\xff"}
    assert message["MessageAttributes"]["n"] == {"DataType": "Number", "StringValue": "42"}
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert message["Attributes"]["AWSTraceHeader"].startswith("Root=1-")
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert receive(sqs, queue, wait=0) == []


def test_visibility_timeout_and_change(node, sqs, queue):
    sqs.send_message(QueueUrl=queue, MessageBody="job")
    [first] = receive(sqs, queue, VisibilityTimeout=10)
    assert receive(sqs, queue, wait=0) == []  # in flight
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=first["ReceiptHandle"],
                                  VisibilityTimeout=100)
    advance_clock(node.endpoint, 50)
    assert receive(sqs, queue, wait=0) == []  # extended past the first 10 s
    advance_clock(node.endpoint, 60)
    [again] = receive(sqs, queue)
    assert again["MessageId"] == first["MessageId"]
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=again["ReceiptHandle"],
                                  VisibilityTimeout=0)  # back at once
    assert receive(sqs, queue)[0]["MessageId"] == first["MessageId"]


def test_long_poll_waits_and_returns_when_a_message_arrives(sqs, queue):
    started = time.monotonic()
    assert receive(sqs, queue, wait=1) == []
    assert time.monotonic() - started >= 0.9  # held for the wait, then answered empty
    timer = threading.Timer(0.5, sqs.send_message, kwargs={"QueueUrl": queue,
                                                           "MessageBody": "late"})
    timer.start()
    try:
        started = time.monotonic()
        [message] = receive(sqs, queue, wait=10)
        assert message["Body"] == "late" and time.monotonic() - started < 8
    finally:
        timer.join()


def test_batches_answer_per_entry(sqs, queue):
    sent = sqs.send_message_batch(QueueUrl=queue, Entries=[
        {"Id": "ok1", "MessageBody": "a"},
        {"Id": "bad", "MessageBody": "b", "DelaySeconds": 901},
        {"Id": "ok2", "MessageBody": "c"}])
    assert sorted(e["Id"] for e in sent["Successful"]) == ["ok1", "ok2"]
    [failed] = sent["Failed"]
    assert failed["Id"] == "bad" and failed["SenderFault"] is True
    assert failed["Code"] == "InvalidParameterValue"
    messages = receive(sqs, queue, MaxNumberOfMessages=10)
    while len(messages) < 2:
        messages += receive(sqs, queue, MaxNumberOfMessages=10)
    handles = [m["ReceiptHandle"] for m in messages]
    changed = sqs.change_message_visibility_batch(QueueUrl=queue, Entries=[
        {"Id": "h0", "ReceiptHandle": handles[0], "VisibilityTimeout": 60},
        {"Id": "forged", "ReceiptHandle": "not-a-handle", "VisibilityTimeout": 60}])
    assert [e["Id"] for e in changed["Successful"]] == ["h0"]
    assert changed["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    deleted = sqs.delete_message_batch(QueueUrl=queue, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": h} for i, h in enumerate(handles)])
    assert sorted(e["Id"] for e in deleted["Successful"]) == ["d0", "d1"]
    assert deleted["Failed"] == []


def test_fifo_keeps_group_order_and_deduplicates(sqs, request):
    url = sqs.create_queue(QueueName=queue_name(request.node.name)[:60] + ".fifo",
                           Attributes={"FifoQueue": "true"})["QueueUrl"]
    first = sqs.send_message(QueueUrl=url, MessageBody="1", MessageGroupId="g",
                             MessageDeduplicationId="d1")
    duplicate = sqs.send_message(QueueUrl=url, MessageBody="1 again", MessageGroupId="g",
                                 MessageDeduplicationId="d1")
    assert duplicate["MessageId"] == first["MessageId"] and first["SequenceNumber"]
    sqs.send_message(QueueUrl=url, MessageBody="2", MessageGroupId="g",
                     MessageDeduplicationId="d2")
    got = receive(sqs, url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
    assert [m["Body"] for m in got] == ["1", "2"]
    assert got[0]["Attributes"]["MessageGroupId"] == "g"


def test_redrive_policy_moves_to_the_dead_letter_queue(node, sqs, request):
    dlq = sqs.create_queue(QueueName=queue_name("dlq-" + request.node.name))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    source = sqs.create_queue(QueueName=queue_name(request.node.name), Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}),
        "VisibilityTimeout": "5"})["QueueUrl"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]
    sqs.send_message(QueueUrl=source, MessageBody="poison")
    assert receive(sqs, source)[0]["Body"] == "poison"
    advance_clock(node.endpoint, 10)
    assert receive(sqs, source, wait=1) == []  # received once: moved on the next receive
    assert receive(sqs, dlq)[0]["Body"] == "poison"


def test_purge_and_delete(sqs, queue):
    sqs.send_message(QueueUrl=queue, MessageBody="gone soon")
    sqs.purge_queue(QueueUrl=queue)
    assert receive(sqs, queue, wait=1) == []
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as exc:
        sqs.purge_queue(QueueUrl=queue)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    sqs.delete_queue(QueueUrl=queue)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_attributes(QueueUrl=queue)


def test_s3_still_answers_on_the_same_port(node):
    s3 = s3_client(node.http_url)
    bucket = bucket_name("beside-sqs")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
