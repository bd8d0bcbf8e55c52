"""FIFO queues through the SDK against a real `engine serve --manual-clock`: strict order
within a message group, a group blocked while one of its messages is in flight, other
groups still delivered, deduplication (explicit ids and content-based) for 5 minutes even
after the first copy was deleted, SequenceNumber, required parameters, dead-letter queues.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from helpers_sqs import (
    DEDUP_WINDOW,
    INVALID_ATTRIBUTE_NAME,
    INVALID_PARAMETER_VALUE,
    MISSING_PARAMETER,
    assert_nothing_to_receive,
    assert_sqs_error,
    counts,
    make_queue,
    queue_arn,
    queue_attributes,
    receive,
    receive_n,
    receive_one,
    sqs_fixture,  # noqa: F401  (fixture "sqs")
    sqs_server_fixture,  # noqa: F401  (fixture "sqs_server")
    unique_queue_name,
)

from engine.client import ClientError


def send(sqs, url: str, body: str, group: str = "g", dedup: str | None = None,
         **kwargs) -> dict:
    """SendMessage on a FIFO queue; the deduplication id defaults to the body (so bodies
    here are valid ids: letters, digits and punctuation)."""
    return sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group,
                            MessageDeduplicationId=dedup or body, **kwargs)


def drain_in_order(sqs, url: str, n: int) -> list[str]:
    """Receive and delete until n messages came; bodies in delivery order."""
    bodies: list[str] = []
    for _ in range(4 * n + 10):
        if len(bodies) >= n:
            break
        batch = receive(sqs, url, wait=1, max_messages=10)
        for m in batch:
            bodies.append(m["Body"])
        if batch:
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(batch)])
    return bodies


def test_fifo_queue_attributes(sqs, request) -> None:
    url = make_queue(sqs, request.node.name, fifo=True)
    attrs = queue_attributes(sqs, url)
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "false"
    cbd = make_queue(sqs, request.node.name, fifo=True, ContentBasedDeduplication="true")
    assert queue_attributes(sqs, cbd, "ContentBasedDeduplication") == {
        "ContentBasedDeduplication": "true"}
    sqs.set_queue_attributes(QueueUrl=cbd, Attributes={"ContentBasedDeduplication": "false"})
    assert queue_attributes(sqs, cbd, "ContentBasedDeduplication") == {
        "ContentBasedDeduplication": "false"}


def test_content_based_deduplication_is_not_an_attribute_of_standard_queues(sqs,
                                                                            request) -> None:
    with pytest.raises(ClientError) as info:
        sqs.create_queue(QueueName=unique_queue_name(request.node.name),
                         Attributes={"ContentBasedDeduplication": "true"})
    assert_sqs_error(info, INVALID_ATTRIBUTE_NAME)


def test_strict_order_within_a_group(sqs, request) -> None:
    url = make_queue(sqs, request.node.name, fifo=True)
    bodies = [f"m{i:02d}" for i in range(25)]
    for b in bodies[:5]:
        send(sqs, url, b)
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": f"e{i}", "MessageBody": b, "MessageGroupId": "g", "MessageDeduplicationId": b}
        for i, b in enumerate(bodies[5:15])])
    for b in bodies[15:]:
        send(sqs, url, b)
    assert drain_in_order(sqs, url, 25) == bodies


def test_order_is_kept_per_group_across_interleaved_groups(sqs, request) -> None:
    url = make_queue(sqs, request.node.name, fifo=True)
    for i in range(10):
        for g in ("a", "b", "c"):
            send(sqs, url, f"{g}{i}", group=g)
    got = drain_in_order(sqs, url, 30)
    assert sorted(got) == sorted(f"{g}{i}" for g in "abc" for i in range(10))
    for g in "abc":
        assert [b for b in got if b[0] == g] == [f"{g}{i}" for i in range(10)]


def test_group_is_blocked_while_a_message_is_in_flight(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name, fifo=True)
    send(sqs, url, "a1", group="A")
    send(sqs, url, "a2", group="A")
    first = receive(sqs, url, max_messages=1)
    assert [m["Body"] for m in first] == ["a1"]

    send(sqs, url, "b1", group="B")
    # a2 waits behind a1 (in flight); group B is served.
    b = receive(sqs, url, max_messages=10)
    assert [m["Body"] for m in b] == ["b1"]
    assert_nothing_to_receive(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=b[0]["ReceiptHandle"])

    # a1's visibility runs out: a1 comes again, still before a2.
    sqs_server.advance(31)
    again = receive(sqs, url, max_messages=1, AttributeNames=["ApproximateReceiveCount"])
    assert [m["Body"] for m in again] == ["a1"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
    assert [m["Body"] for m in receive(sqs, url, max_messages=10)] == ["a2"]


def test_deduplication_id_within_five_minutes_even_after_delete(sqs, sqs_server,
                                                                request) -> None:
    url = make_queue(sqs, request.node.name, fifo=True)
    first = send(sqs, url, "original", dedup="d-1")
    dup = send(sqs, url, "another body, same id", dedup="d-1")
    assert dup["MessageId"] == first["MessageId"]
    assert counts(sqs, url) == (1, 0, 0)

    m = receive_one(sqs, url)
    assert m["Body"] == "original"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    sqs_server.advance(DEDUP_WINDOW - 100)
    again = send(sqs, url, "original", dedup="d-1")
    assert again["MessageId"] == first["MessageId"]
    assert_nothing_to_receive(sqs, url)

    sqs_server.advance(101)  # 5 min + 1 s after the first send
    fresh = send(sqs, url, "original", dedup="d-1")
    assert fresh["MessageId"] != first["MessageId"]
    assert receive_one(sqs, url)["MessageId"] == fresh["MessageId"]


def test_deduplication_ids_are_per_queue(sqs, request) -> None:
    q1 = make_queue(sqs, request.node.name, fifo=True)
    q2 = make_queue(sqs, request.node.name, fifo=True)
    send(sqs, q1, "x", dedup="same")
    send(sqs, q2, "x", dedup="same")
    assert counts(sqs, q1)[0] == 1
    assert counts(sqs, q2)[0] == 1


def test_content_based_deduplication_uses_sha256_of_body(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name, fifo=True, ContentBasedDeduplication="true")
    body = "same body"
    a = sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    b = sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g",
                         MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    assert b["MessageId"] == a["MessageId"]  # attributes are not part of the hash
    c = sqs.send_message(QueueUrl=url, MessageBody=body + "!", MessageGroupId="g")
    assert c["MessageId"] != a["MessageId"]
    # An explicit id takes precedence over the content hash.
    d = sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g",
                         MessageDeduplicationId="explicit")
    assert d["MessageId"] != a["MessageId"]
    assert counts(sqs, url) == (3, 0, 0)

    m = receive_one(sqs, url, max_messages=1,
                    MessageSystemAttributeNames=["MessageDeduplicationId"])
    assert m["Body"] == body
    assert m["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(
        body.encode()).hexdigest()
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    sqs_server.advance(DEDUP_WINDOW + 1)
    e = sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    assert e["MessageId"] != a["MessageId"]


def test_sequence_numbers_increase_and_system_attributes(sqs, request) -> None:
    url = make_queue(sqs, request.node.name, fifo=True)
    seqs = [send(sqs, url, f"s{i}", group="grp")["SequenceNumber"] for i in range(3)]
    batch = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": f"b{i}", "MessageBody": f"b{i}", "MessageGroupId": "grp",
         "MessageDeduplicationId": f"b{i}"} for i in range(3)])
    by_id = {e["Id"]: e for e in batch["Successful"]}
    seqs += [by_id[f"b{i}"]["SequenceNumber"] for i in range(3)]
    assert all(s.isdigit() for s in seqs), seqs
    numbers = [int(s) for s in seqs]
    assert numbers == sorted(numbers) and len(set(numbers)) == 6

    m = receive_one(sqs, url, max_messages=1, MessageSystemAttributeNames=["All"])
    a = m["Attributes"]
    assert m["Body"] == "s0"
    assert a["SequenceNumber"] == seqs[0]
    assert a["MessageGroupId"] == "grp"
    assert a["MessageDeduplicationId"] == "s0"
    assert a["ApproximateReceiveCount"] == "1"
    assert "SentTimestamp" in a


def test_message_group_id_is_required(sqs, request) -> None:
    url = make_queue(sqs, request.node.name, fifo=True, ContentBasedDeduplication="true")
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="no group")
    assert_sqs_error(info, MISSING_PARAMETER)
    assert counts(sqs, url) == (0, 0, 0)


def test_deduplication_id_or_content_based_deduplication_is_required(sqs, request) -> None:
    url = make_queue(sqs, request.node.name, fifo=True)
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="no dedup", MessageGroupId="g")
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)


def test_per_message_delay_is_rejected_but_queue_delay_applies(sqs, sqs_server,
                                                               request) -> None:
    url = make_queue(sqs, request.node.name, fifo=True)
    with pytest.raises(ClientError) as info:
        send(sqs, url, "late", DelaySeconds=5)
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)

    delayed = make_queue(sqs, request.node.name, fifo=True, DelaySeconds=10)
    send(sqs, delayed, "queue-delay")
    assert counts(sqs, delayed) == (0, 0, 1)
    sqs_server.advance(10)
    assert receive_one(sqs, delayed)["Body"] == "queue-delay"


@pytest.mark.parametrize("field", ["MessageGroupId", "MessageDeduplicationId"])
def test_fifo_ids_longer_than_128_characters_are_rejected(sqs, request, field: str) -> None:
    url = make_queue(sqs, request.node.name, fifo=True)
    args = {"MessageGroupId": "g", "MessageDeduplicationId": "d", field: "x" * 129}
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="long id", **args)
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)
    args[field] = "y" * 128
    sqs.send_message(QueueUrl=url, MessageBody="ok id", **args)


def test_deduplication_id_on_a_standard_queue_is_rejected(sqs, request) -> None:
    url = make_queue(sqs, request.node.name)
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)


def test_fifo_dead_letter_queue(sqs, sqs_server, request) -> None:
    dlq = make_queue(sqs, request.node.name + "-dlq", fifo=True)
    src = make_queue(sqs, request.node.name, fifo=True, RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": 1}))
    first = send(sqs, src, "poison", group="p")
    send(sqs, src, "next", group="p")
    m = receive(sqs, src, max_messages=1, AttributeNames=["SentTimestamp"])
    assert [x["Body"] for x in m] == ["poison"]
    sqs_server.advance(31)
    # The second receive moves "poison"; its group then goes on with "next".
    assert [x["Body"] for x in receive_n(sqs, src, 1)] == ["next"]
    moved = receive_one(sqs, dlq, MessageSystemAttributeNames=["All"])
    assert moved["MessageId"] == first["MessageId"]
    assert moved["Body"] == "poison"
    assert moved["Attributes"]["MessageGroupId"] == "p"
    assert moved["Attributes"]["SentTimestamp"] == m[0]["Attributes"]["SentTimestamp"]
