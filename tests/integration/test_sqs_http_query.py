"""SQS's query protocol on the node's HTTP port, with botocore's own query client (the SQS
model of botocore 1.31.0, before SQS moved to JSON) against a real `engine serve
--manual-clock`: queues, attributes, tags, messages with attributes, batches with partial
failures, visibility, FIFO, dead-letter sources, purge and delete, and a message written
by one protocol read by the other. Expectations are AWS's."""

from __future__ import annotations

import pytest
from helpers_sqs import advance_clock, md5_hex, md5_of_message_attributes
from helpers_sqs_http import queue_name, sqs_client
from helpers_sqs_query import form_request, query_client


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory("--manual-clock")


@pytest.fixture(scope="module")
def sqs(node):
    return query_client(node.http_url)


@pytest.fixture
def queue(sqs, request) -> str:
    return sqs.create_queue(QueueName=queue_name(request.node.name))["QueueUrl"]


def receive(sqs, url: str, **kwargs) -> list[dict]:
    return sqs.receive_message(QueueUrl=url, WaitTimeSeconds=kwargs.pop("wait", 5),
                               **kwargs).get("Messages", [])


def test_the_client_speaks_the_query_protocol(sqs, node):
    seen: list[tuple[str | bytes, str | bytes]] = []
    sqs.meta.events.register("before-send.sqs.ListQueues",
                             lambda request, **_: seen.append(
                                 (request.headers["Content-Type"], request.body)))
    answer = sqs.list_queues(QueueNamePrefix="none-such")
    [(content_type, body)] = seen
    content_type, body = (v.decode() if isinstance(v, bytes) else v
                          for v in (content_type, body))
    assert content_type.startswith("application/x-www-form-urlencoded")
    assert body.startswith("Action=ListQueues&Version=2012-11-05")
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"].startswith("text/xml")
    assert "QueueUrls" not in answer


def test_queues_attributes_tags_and_listing(node, sqs, request):
    name = queue_name(request.node.name)
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"},
                           tags={"team": "a"})["QueueUrl"]
    account = url.split("/")[3]
    assert url == f"{node.http_url}/{account}/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == f"arn:aws:sqs:us-east-1:{account}:{name}"
    assert attributes["VisibilityTimeout"] == "45"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5",
                                                       "MaximumMessageSize": "2048"})
    got = sqs.get_queue_attributes(QueueUrl=url,
                                   AttributeNames=["DelaySeconds", "MaximumMessageSize"])
    assert got["Attributes"] == {"DelaySeconds": "5", "MaximumMessageSize": "2048"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "test", "owner": "me"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["owner", "team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "test"}
    others = sorted(sqs.create_queue(QueueName=f"{name}-{i}")["QueueUrl"] for i in range(2))
    first = sqs.list_queues(QueueNamePrefix=name, MaxResults=2)
    assert len(first["QueueUrls"]) == 2 and first["NextToken"]
    second = sqs.list_queues(QueueNamePrefix=name, MaxResults=2, NextToken=first["NextToken"])
    assert sorted(first["QueueUrls"] + second["QueueUrls"]) == sorted([url, *others])
    assert "NextToken" not in second


def test_send_receive_delete_with_attributes(sqs, queue):
    attributes = {"kind": {"DataType": "String", "StringValue": "greeting"},
                  "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
                  "n": {"DataType": "Number", "StringValue": "42"}}
    body = "hello\r\n<world> & \u00e9\u4e16"
    sent = sqs.send_message(
        QueueUrl=queue, MessageBody=body, MessageAttributes=attributes,
        MessageSystemAttributes={"AWSTraceHeader": {
            "DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}})
    assert sent["MD5OfMessageBody"] == md5_hex(body)
    assert sent["MD5OfMessageAttributes"] == md5_of_message_attributes(attributes)
    assert sent["MD5OfMessageSystemAttributes"]
    [message] = receive(sqs, queue, MessageAttributeNames=["All"], AttributeNames=["All"])
    assert message["Body"] == body and message["MessageId"] == sent["MessageId"]
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["MessageAttributes"] == attributes
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert message["Attributes"]["AWSTraceHeader"].startswith("Root=1-")
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert receive(sqs, queue, wait=0) == []


def test_batches_answer_per_entry(sqs, queue):
    sent = sqs.send_message_batch(QueueUrl=queue, Entries=[
        {"Id": "ok1", "MessageBody": "a",
         "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "bad", "MessageBody": "b", "DelaySeconds": 901},
        {"Id": "ok2", "MessageBody": "c"}])
    assert sorted(e["Id"] for e in sent["Successful"]) == ["ok1", "ok2"]
    [failed] = sent["Failed"]
    assert failed["Id"] == "bad" and failed["SenderFault"] is True
    assert failed["Code"] == "InvalidParameterValue" and failed["Message"]
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
    assert "Failed" not in deleted  # a flattened list with no entry: nothing on the wire
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.delete_message_batch(QueueUrl=queue, Entries=[])


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
    got = receive(sqs, url, MaxNumberOfMessages=10, AttributeNames=["All"],
                  ReceiveRequestAttemptId="attempt-1")
    assert [m["Body"] for m in got] == ["1", "2"]
    assert got[0]["Attributes"]["MessageGroupId"] == "g"
    assert got[0]["Attributes"]["SequenceNumber"] == first["SequenceNumber"]


def test_dead_letter_sources_purge_and_delete(sqs, request):
    dlq = sqs.create_queue(QueueName=queue_name("dlq-" + request.node.name))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    source = sqs.create_queue(QueueName=queue_name(request.node.name), Attributes={
        "RedrivePolicy": f'{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"3"}}'}
    )["QueueUrl"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]
    sqs.send_message(QueueUrl=source, MessageBody="gone soon")
    sqs.purge_queue(QueueUrl=source)
    assert receive(sqs, source, wait=1) == []
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as exc:
        sqs.purge_queue(QueueUrl=source)
    assert exc.value.response["Error"]["Code"] == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    sqs.delete_queue(QueueUrl=source)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as exc:
        sqs.get_queue_attributes(QueueUrl=source)
    error = exc.value.response["Error"]
    assert (error["Code"], error["Type"]) == ("AWS.SimpleQueueService.NonExistentQueue",
                                              "Sender")
    assert error["Message"] == "The specified queue does not exist."


def test_both_protocols_share_one_queue(node, sqs, queue):
    json_sqs = sqs_client(node.http_url)
    json_sqs.send_message(QueueUrl=queue, MessageBody="from json")
    [message] = receive(sqs, queue)
    assert message["Body"] == "from json"
    json_sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert receive(json_sqs, queue, wait=0) == []


def test_a_request_to_the_queue_url_names_the_queue(node, sqs, queue):
    path = "/" + queue.split("/", 3)[3]
    sent = form_request(node.http_url, {"Action": "SendMessage", "Version": "2012-11-05",
                                        "MessageBody": "posted to the queue"}, path=path)
    assert sent.status == 200, sent.body
    got = form_request(node.http_url, {"Action": "ReceiveMessage", "Version": "2012-11-05",
                                       "WaitTimeSeconds": "5"}, method="GET", path=path)
    assert got.status == 200 and b"<Body>posted to the queue</Body>" in got.body
