"""SQS messages through the SDK against a real `engine serve --manual-clock`: send (MD5s,
attributes, batches), receive (system attributes, MaxNumberOfMessages, attribute filters),
visibility timeouts, ChangeMessageVisibility(Batch), DeleteMessage(Batch), delays,
retention, long polling (wake-up latency, no busy loop), short polling and dead-letter
queues. Timers run on the engine clock, which the tests move; only long polls take real
time.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import psutil
import pytest
from helpers_sqs import (
    INVALID_MESSAGE_CONTENTS,
    INVALID_PARAMETER_VALUE,
    MESSAGE_NOT_INFLIGHT,
    RECEIPT_HANDLE_IS_INVALID,
    assert_nothing_to_receive,
    assert_sqs_error,
    counts,
    make_queue,
    md5_hex,
    md5_of_message_attributes,
    queue_arn,
    receive,
    receive_n,
    receive_one,
    sqs_fixture,  # noqa: F401  (fixture "sqs")
    sqs_server_fixture,  # noqa: F401  (fixture "sqs_server")
)

from engine.client import ClientError, client

ATTRIBUTES: dict[str, dict[str, Any]] = {
    "city": {"DataType": "String", "StringValue": "Zürich"},
    "count": {"DataType": "Number", "StringValue": "-12.5e3"},
    "blob": {"DataType": "Binary", "BinaryValue": bytes(range(256))},
    "label": {"DataType": "String.custom-label", "StringValue": "x"},
    "empty.bin": {"DataType": "Binary", "BinaryValue": b"\x00"},
}


# -- MD5s and attributes ---------------------------------------------------------------


@pytest.mark.parametrize(("attributes", "digest"), [
    # Vectors published with AWS SDK implementations of the same algorithm.
    ({"test_attribute_name_2": {"DataType": "String", "StringValue": "test_attribute_value_2"},
      "test_attribute_name_1": {"DataType": "String", "StringValue": "test_attribute_value_1"}},
     "d53f3b558fe951154770f25cb63dbba9"),
    ({"test_attribute_name": {"DataType": "Binary", "BinaryValue": b"test_attribute_value"}},
     "23f6bd27ea87aab7dfeadcc9aebee495"),
    ({"customNumberTypeAttrib": {"DataType": "Number.float",
                                 "StringValue": "4563442423554324324264524243.32543234"}},
     "9fe1b90bbd9965bdf77bac517c7d2495"),
    ({"timestamp": {"DataType": "Number", "StringValue": "1493147359900"}},
     "235c5c510d26fb653d073faed50ae77c"),
])
def test_md5_of_message_attributes_helper_matches_known_vectors(attributes, digest) -> None:
    assert md5_of_message_attributes(attributes) == digest


def test_send_message_md5s_and_round_trip(sqs, request) -> None:
    url = make_queue(sqs, request.node.name)
    body = "héllo wörld ✓ 𝄞 \t\n\r end"
    resp = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=ATTRIBUTES)
    assert resp["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert resp["MD5OfMessageAttributes"] == md5_of_message_attributes(ATTRIBUTES)
    assert resp["MessageId"]

    m = receive_one(sqs, url, MessageAttributeNames=["All"])
    assert m["MessageId"] == resp["MessageId"]
    assert m["Body"] == body
    assert m["MD5OfBody"] == resp["MD5OfMessageBody"]
    assert m["MD5OfMessageAttributes"] == resp["MD5OfMessageAttributes"]
    assert m["MessageAttributes"] == ATTRIBUTES
    assert isinstance(m["MessageAttributes"]["blob"]["BinaryValue"], bytes)


def test_send_without_attributes_has_no_attribute_md5(sqs, request) -> None:
    url = make_queue(sqs, request.node.name)
    resp = sqs.send_message(QueueUrl=url, MessageBody="plain")
    assert resp["MD5OfMessageBody"] == md5_hex("plain")
    assert "MD5OfMessageAttributes" not in resp
    m = receive_one(sqs, url, MessageAttributeNames=["All"])
    assert "MessageAttributes" not in m
    assert "MD5OfMessageAttributes" not in m


def test_message_system_attribute_aws_trace_header(sqs, request) -> None:
    url = make_queue(sqs, request.node.name)
    trace = {"AWSTraceHeader": {"DataType": "String",
                                "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}}
    resp = sqs.send_message(QueueUrl=url, MessageBody="traced", MessageSystemAttributes=trace)
    assert resp["MD5OfMessageSystemAttributes"] == md5_of_message_attributes(trace)
    m = receive_one(sqs, url, MessageSystemAttributeNames=["AWSTraceHeader"])
    assert m["Attributes"] == {"AWSTraceHeader": trace["AWSTraceHeader"]["StringValue"]}


# Whether "a.*" also matches "ab" (prefix "a") or only "a.<...>" (prefix "a.") is not
# settled by AWS's docs ("attributes starting with a prefix, for example bar.*"); the
# names here give the same answer either way.
@pytest.mark.parametrize(("names", "expected"), [
    (["All"], {"a.x", "a.y", "b", "ba"}),
    ([".*"], {"a.x", "a.y", "b", "ba"}),
    (["a.*"], {"a.x", "a.y"}),
    (["b"], {"b"}),
    (["b", "a.y", "missing"], {"b", "a.y"}),
    (None, set()),
])
def test_message_attribute_names_filter(sqs, request, names, expected) -> None:
    url = make_queue(sqs, request.node.name)
    attrs = {n: {"DataType": "String", "StringValue": n.upper()} for n in ("a.x", "a.y", "b",
                                                                           "ba")}
    sqs.send_message(QueueUrl=url, MessageBody="filtered", MessageAttributes=attrs)
    kwargs = {} if names is None else {"MessageAttributeNames": names}
    m = receive_one(sqs, url, **kwargs)
    assert set(m.get("MessageAttributes", {})) == expected
    for name in expected:
        assert m["MessageAttributes"][name] == attrs[name]


# -- batches ---------------------------------------------------------------------------


def test_send_message_batch_reports_successful_and_failed(sqs, request) -> None:
    url = make_queue(sqs, request.node.name)
    entries = [
        {"Id": "ok-1", "MessageBody": "one"},
        {"Id": "ok_2", "MessageBody": "two", "MessageAttributes": {
            "k": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "bad", "MessageBody": "nul \x00 is not allowed"},
        {"Id": "ok3", "MessageBody": "three", "DelaySeconds": 5},
    ]
    resp = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    ok = {e["Id"]: e for e in resp["Successful"]}
    assert set(ok) == {"ok-1", "ok_2", "ok3"}
    assert ok["ok-1"]["MD5OfMessageBody"] == md5_hex("one")
    assert ok["ok_2"]["MD5OfMessageAttributes"] == md5_of_message_attributes(
        entries[1]["MessageAttributes"])
    assert len({e["MessageId"] for e in ok.values()}) == 3
    [failed] = resp["Failed"]
    assert failed["Id"] == "bad"
    assert failed["SenderFault"] is True
    assert failed["Code"] == INVALID_MESSAGE_CONTENTS
    assert failed.get("Message")

    got = receive_n(sqs, url, 2)
    assert {m["MessageId"] for m in got} == {ok["ok-1"]["MessageId"], ok["ok_2"]["MessageId"]}
    assert counts(sqs, url) == (0, 2, 1)  # ok3 is delayed


def test_delete_message_batch_reports_successful_and_failed(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name)
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    msgs = receive_n(sqs, url, 3)
    resp = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "d0", "ReceiptHandle": msgs[0]["ReceiptHandle"]},
        {"Id": "d1", "ReceiptHandle": msgs[1]["ReceiptHandle"]},
        {"Id": "junk", "ReceiptHandle": "not-a-receipt-handle"},
    ])
    assert {e["Id"] for e in resp["Successful"]} == {"d0", "d1"}
    [failed] = resp["Failed"]
    assert failed["Id"] == "junk"
    assert failed["Code"] == RECEIPT_HANDLE_IS_INVALID
    assert failed["SenderFault"] is True

    sqs_server.advance(31)
    [again] = receive_n(sqs, url, 1)
    assert again["MessageId"] == msgs[2]["MessageId"]
    assert_nothing_to_receive(sqs, url)


# -- receive ---------------------------------------------------------------------------


def test_receive_system_attributes(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name)
    sent_at = sqs_server.now()
    msg_id = sqs.send_message(QueueUrl=url, MessageBody="attrs")["MessageId"]
    sqs_server.advance(5)

    first = receive_one(sqs, url, AttributeNames=["All"])
    assert first["MessageId"] == msg_id
    a = first["Attributes"]
    assert a["ApproximateReceiveCount"] == "1"
    sent_ms = int(a["SentTimestamp"])
    assert abs(sent_ms - sent_at * 1000) <= 1000  # epoch milliseconds, engine clock
    assert int(a["ApproximateFirstReceiveTimestamp"]) - sent_ms == pytest.approx(5000, abs=50)
    assert "SequenceNumber" not in a and "MessageGroupId" not in a  # FIFO only

    sqs_server.advance(31)
    second = receive_one(sqs, url, MessageSystemAttributeNames=["All"])
    b = second["Attributes"]
    assert second["MessageId"] == msg_id
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert b["ApproximateReceiveCount"] == "2"
    assert b["SentTimestamp"] == a["SentTimestamp"]
    assert b["ApproximateFirstReceiveTimestamp"] == a["ApproximateFirstReceiveTimestamp"]

    sqs_server.advance(31)
    third = receive_one(sqs, url, MessageSystemAttributeNames=["ApproximateReceiveCount",
                                                               "SentTimestamp"])
    assert third["Attributes"] == {"ApproximateReceiveCount": "3",
                                   "SentTimestamp": a["SentTimestamp"]}
    sqs_server.advance(31)
    fourth = receive_one(sqs, url)
    assert "Attributes" not in fourth


def test_max_number_of_messages(sqs, request) -> None:
    url = make_queue(sqs, request.node.name)
    for start in (0, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": f"e{i}", "MessageBody": f"m{i}"} for i in range(start, start + 10)])
    one = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert len(one) == 1  # the default is 1
    seen = {one[0]["MessageId"]}
    sizes: list[int] = []
    deadline = time.monotonic() + 15
    while len(seen) < 20 and time.monotonic() < deadline:
        batch = receive(sqs, url, wait=1, max_messages=10)
        sizes.append(len(batch))
        seen.update(m["MessageId"] for m in batch)
    assert len(seen) == 20
    assert max(sizes) <= 10
    assert max(sizes) > 1, f"never more than one message per receive: {sizes}"
    two = make_queue(sqs, request.node.name + "-2")
    for i in range(5):
        sqs.send_message(QueueUrl=two, MessageBody=str(i))
    got: set[str] = set()
    while len(got) < 5:
        batch = receive(sqs, two, wait=1, max_messages=2)
        assert 1 <= len(batch) <= 2
        got.update(m["Body"] for m in batch)


# -- visibility ------------------------------------------------------------------------


def test_visibility_timeout_hides_then_redelivers_with_new_handle(sqs, sqs_server,
                                                                  request) -> None:
    url = make_queue(sqs, request.node.name)
    msg_id = sqs.send_message(QueueUrl=url, MessageBody="vis")["MessageId"]
    first = receive_one(sqs, url)
    assert_nothing_to_receive(sqs, url)
    sqs_server.advance(29)
    assert counts(sqs, url) == (0, 1, 0)
    sqs_server.advance(2)
    second = receive_one(sqs, url, AttributeNames=["ApproximateReceiveCount"])
    assert second["MessageId"] == msg_id
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"


def test_receive_visibility_timeout_overrides_the_queues(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name, VisibilityTimeout=600)
    sqs.send_message(QueueUrl=url, MessageBody="short")
    sqs.send_message(QueueUrl=url, MessageBody="zero")
    hidden_5s = receive_one(sqs, url, max_messages=1, VisibilityTimeout=5)
    not_hidden = receive_one(sqs, url, max_messages=1, VisibilityTimeout=0)
    assert not_hidden["MessageId"] != hidden_5s["MessageId"]
    # VisibilityTimeout=0: visible again at once (then hidden for the queue's 600 s).
    again = receive_one(sqs, url, max_messages=1)
    assert again["MessageId"] == not_hidden["MessageId"]
    sqs_server.advance(6)
    assert receive_one(sqs, url)["MessageId"] == hidden_5s["MessageId"]


def test_change_message_visibility_extends_and_zero_makes_visible(sqs, sqs_server,
                                                                  request) -> None:
    url = make_queue(sqs, request.node.name)
    sqs.send_message(QueueUrl=url, MessageBody="extend")
    m = receive_one(sqs, url)
    sqs_server.advance(20)
    # Counted from now: hidden until 20 + 100.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                  VisibilityTimeout=100)
    sqs_server.advance(90)
    assert counts(sqs, url) == (0, 1, 0)
    sqs_server.advance(11)
    assert counts(sqs, url) == (1, 0, 0)

    m2 = receive_one(sqs, url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"],
                                  VisibilityTimeout=0)
    m3 = receive_one(sqs, url)
    assert m3["MessageId"] == m2["MessageId"]
    # The changed timeout is not remembered: the next receive uses the queue's 30 s.
    sqs_server.advance(31)
    assert counts(sqs, url) == (1, 0, 0)


def test_change_message_visibility_beyond_12_hours_from_receive_is_rejected(
        sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name)
    sqs.send_message(QueueUrl=url, MessageBody="12h")
    m = receive_one(sqs, url, VisibilityTimeout=7200)
    sqs_server.advance(3600)  # still in flight
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                  VisibilityTimeout=39600)  # ends exactly 12 h after receive
    with pytest.raises(ClientError) as info:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                      VisibilityTimeout=39601)
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)


def test_change_message_visibility_batch(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name)
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    msgs = receive_n(sqs, url, 3)
    resp = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "now", "ReceiptHandle": msgs[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "later", "ReceiptHandle": msgs[1]["ReceiptHandle"], "VisibilityTimeout": 300},
        {"Id": "junk", "ReceiptHandle": "junk-handle", "VisibilityTimeout": 0},
    ])
    assert {e["Id"] for e in resp["Successful"]} == {"now", "later"}
    [failed] = resp["Failed"]
    assert failed["Id"] == "junk"
    assert failed["Code"] == RECEIPT_HANDLE_IS_INVALID
    assert failed["SenderFault"] is True

    assert counts(sqs, url) == (1, 2, 0)
    sqs_server.advance(31)  # msgs[2] is back; msgs[1] stays hidden until 300 s
    assert counts(sqs, url) == (2, 1, 0)
    sqs_server.advance(270)
    assert counts(sqs, url) == (3, 0, 0)


def test_change_visibility_of_message_not_in_flight(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name)
    sqs.send_message(QueueUrl=url, MessageBody="expired")
    m = receive_one(sqs, url, VisibilityTimeout=10)
    sqs_server.advance(11)  # visible again: the handle's receive is over
    with pytest.raises(sqs.exceptions.MessageNotInflight) as info:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                      VisibilityTimeout=300)
    assert_sqs_error(info, MESSAGE_NOT_INFLIGHT)
    # Whatever the answer, the stale handle did not hide the message again.
    assert receive_one(sqs, url)["MessageId"] == m["MessageId"]


@pytest.mark.parametrize("handle", ["garbage", "AQEB" + "A" * 200])
def test_invalid_receipt_handles(sqs, request, handle: str) -> None:
    url = make_queue(sqs, request.node.name)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as info:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    assert_sqs_error(info, RECEIPT_HANDLE_IS_INVALID)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as info:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=1)
    assert_sqs_error(info, RECEIPT_HANDLE_IS_INVALID)


def test_receipt_handle_of_another_queue_is_invalid(sqs, request) -> None:
    a = make_queue(sqs, request.node.name + "-a")
    b = make_queue(sqs, request.node.name + "-b")
    sqs.send_message(QueueUrl=a, MessageBody="in a")
    m = receive_one(sqs, a)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=b, ReceiptHandle=m["ReceiptHandle"])
    assert counts(sqs, a) == (0, 1, 0)


# -- delete ----------------------------------------------------------------------------


def test_deleted_message_is_never_received_again(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name)
    sqs.send_message(QueueUrl=url, MessageBody="bye")
    m = receive_one(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)
    sqs_server.advance(31)
    assert_nothing_to_receive(sqs, url)
    # Deleting again with the same handle is not an error (SQS: the request succeeds).
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_delete_works_while_the_message_is_in_flight_with_latest_handle(sqs, sqs_server,
                                                                        request) -> None:
    url = make_queue(sqs, request.node.name)
    sqs.send_message(QueueUrl=url, MessageBody="twice")
    receive_one(sqs, url, VisibilityTimeout=1)
    sqs_server.advance(2)
    latest = receive_one(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=latest["ReceiptHandle"])
    sqs_server.advance(31)
    assert counts(sqs, url) == (0, 0, 0)


# -- delays and retention --------------------------------------------------------------


def test_per_message_delay(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name)
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=10)
    assert counts(sqs, url) == (0, 0, 1)
    assert_nothing_to_receive(sqs, url)
    sqs_server.advance(9)
    assert counts(sqs, url) == (0, 0, 1)
    sqs_server.advance(1)
    assert receive_one(sqs, url)["Body"] == "delayed"


def test_queue_delay_applies_unless_the_message_sets_its_own(sqs, sqs_server,
                                                            request) -> None:
    url = make_queue(sqs, request.node.name, DelaySeconds=20)
    sqs.send_message(QueueUrl=url, MessageBody="queue default")
    sqs.send_message(QueueUrl=url, MessageBody="explicit zero", DelaySeconds=0)
    sqs.send_message(QueueUrl=url, MessageBody="explicit 40", DelaySeconds=40)
    assert counts(sqs, url) == (1, 0, 2)
    for after, body in ((0, "explicit zero"), (20, "queue default"), (20, "explicit 40")):
        sqs_server.advance(after)
        m = receive_one(sqs, url)
        assert m["Body"] == body
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_messages_older_than_retention_period_disappear(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name, MessageRetentionPeriod=60)
    sqs.send_message(QueueUrl=url, MessageBody="old")
    sqs.send_message(QueueUrl=url, MessageBody="old, in flight")
    sqs_server.advance(30)
    sqs.send_message(QueueUrl=url, MessageBody="young")
    inflight = receive_n(sqs, url, 3, VisibilityTimeout=600)
    for m in inflight:
        if m["Body"] != "old, in flight":
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                          VisibilityTimeout=0)
    sqs_server.advance(31)  # the first two are 61 s old, "young" 31 s
    assert counts(sqs, url) == (1, 0, 0)
    assert [m["Body"] for m in receive_n(sqs, url, 1)] == ["young"]
    sqs_server.advance(30)
    assert counts(sqs, url) == (0, 0, 0)


# -- long and short polling ------------------------------------------------------------


def test_long_poll_returns_as_soon_as_a_message_is_sent(sqs, request) -> None:
    url = make_queue(sqs, request.node.name)
    result: dict[str, Any] = {}

    def wait() -> None:
        start = time.monotonic()
        resp = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)
        result["at"] = time.monotonic()
        result["took"] = result["at"] - start
        result["messages"] = resp.get("Messages", [])

    receiver = threading.Thread(target=wait)
    receiver.start()
    time.sleep(0.5)
    sent_at = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    acked_at = time.monotonic()
    receiver.join(25)
    assert not receiver.is_alive()
    latency = result["at"] - sent_at
    print(f"long-poll wake-up: {latency * 1000:.1f} ms after the send started "
          f"(send took {(acked_at - sent_at) * 1000:.1f} ms; receive took "
          f"{result['took']:.2f} s)")
    assert [m["Body"] for m in result["messages"]] == ["wake up"]
    assert latency < 1.0, f"woke {latency:.3f}s after the send"


def test_concurrent_long_polls_share_messages_without_duplicates(sqs, request) -> None:
    url = make_queue(sqs, request.node.name)
    got: list[list[str]] = []
    lock = threading.Lock()

    def wait() -> None:
        resp = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3, MaxNumberOfMessages=10)
        with lock:
            got.append([m["Body"] for m in resp.get("Messages", [])])

    receivers = [threading.Thread(target=wait) for _ in range(5)]
    for r in receivers:
        r.start()
    time.sleep(0.3)
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"c{i}")
    for r in receivers:
        r.join(10)
    bodies = [b for batch in got for b in batch]
    assert sorted(bodies) == [f"c{i}" for i in range(5)], got  # each exactly once
    assert counts(sqs, url) == (0, 5, 0)


def test_long_poll_on_empty_queue_returns_after_the_wait(sqs, request) -> None:
    url = make_queue(sqs, request.node.name)
    start = time.monotonic()
    resp = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10)
    took = time.monotonic() - start
    print(f"empty long poll of 1 s took {took:.3f} s")
    assert "Messages" not in resp
    assert 0.9 <= took < 2.5


def test_queue_receive_wait_time_is_the_default_wait(sqs, request) -> None:
    url = make_queue(sqs, request.node.name, ReceiveMessageWaitTimeSeconds=1)
    start = time.monotonic()
    resp = sqs.receive_message(QueueUrl=url)
    took = time.monotonic() - start
    assert "Messages" not in resp
    assert 0.9 <= took < 2.5
    # An explicit WaitTimeSeconds=0 is a short poll on that queue.
    start = time.monotonic()
    sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert time.monotonic() - start < 0.5


def test_long_poll_does_not_busy_loop(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name)
    proc = psutil.Process(sqs_server.pid)
    before = proc.cpu_times()
    start = time.monotonic()
    resp = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)
    took = time.monotonic() - start
    after = proc.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    print(f"server CPU during a 5 s empty long poll: {used:.3f} s (wall {took:.2f} s)")
    assert "Messages" not in resp
    assert took >= 4.9
    assert used < 0.5, f"server used {used:.2f}s CPU while one receiver waited 5s"


@pytest.mark.parametrize("cause", ["delay", "visibility"])
def test_long_poll_wakes_when_the_clock_makes_a_message_visible(sqs, sqs_server, request,
                                                                cause: str) -> None:
    url = make_queue(sqs, request.node.name)
    if cause == "delay":
        sqs.send_message(QueueUrl=url, MessageBody="due", DelaySeconds=30)
    else:
        sqs.send_message(QueueUrl=url, MessageBody="due")
        receive_one(sqs, url)  # in flight for 30 s
    result: dict[str, Any] = {}

    def wait() -> None:
        resp = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
        result["at"] = time.monotonic()
        result["messages"] = resp.get("Messages", [])

    receiver = threading.Thread(target=wait)
    receiver.start()
    time.sleep(0.5)
    advanced_at = time.monotonic()
    sqs_server.advance(31)
    receiver.join(15)
    assert not receiver.is_alive()
    latency = result["at"] - advanced_at
    print(f"long poll woke {latency * 1000:.1f} ms after the clock moved ({cause})")
    assert [m["Body"] for m in result["messages"]] == ["due"]
    assert latency < 1.0


def test_short_polls_eventually_return_every_message(sqs, request) -> None:
    url = make_queue(sqs, request.node.name)
    sent = {f"m{i}" for i in range(30)}
    for chunk in range(3):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"m{chunk * 10 + i}"} for i in range(10)])
    seen: set[str] = set()
    polls = 0
    empty = 0
    while seen != sent and polls < 500:
        polls += 1
        start = time.monotonic()
        batch = receive(sqs, url, wait=0, max_messages=10)
        assert time.monotonic() - start < 1.0, "a short poll must not wait"
        empty += not batch
        for m in batch:
            seen.add(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    print(f"short polls: {polls} calls ({empty} empty) to see all {len(sent)} messages")
    assert seen == sent


# -- dead-letter queues ----------------------------------------------------------------


def test_message_moves_to_dead_letter_queue_after_max_receive_count(sqs, sqs_server,
                                                                    request) -> None:
    dlq = make_queue(sqs, request.node.name + "-dlq")
    src = make_queue(sqs, request.node.name, RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": 2}))
    attrs = {"k": {"DataType": "String", "StringValue": "v"}}
    msg_id = sqs.send_message(QueueUrl=src, MessageBody="poison",
                              MessageAttributes=attrs)["MessageId"]
    sqs_server.advance(3)
    first = receive_one(sqs, src, AttributeNames=["All"])
    sent_ts = first["Attributes"]["SentTimestamp"]
    sqs_server.advance(31)
    second = receive_one(sqs, src, AttributeNames=["ApproximateReceiveCount"])
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    sqs_server.advance(31)

    assert_nothing_to_receive(sqs, src)  # the 3rd receive moves it instead
    assert counts(sqs, src) == (0, 0, 0)
    moved = receive_one(sqs, dlq, AttributeNames=["All"], MessageAttributeNames=["All"])
    assert moved["MessageId"] == msg_id
    assert moved["Body"] == "poison"
    assert moved["MessageAttributes"] == attrs
    assert moved["Attributes"]["SentTimestamp"] == sent_ts


def test_dead_letter_queue_sources_are_listed(sqs, request) -> None:
    dlq = make_queue(sqs, request.node.name + "-dlq")
    src = make_queue(sqs, request.node.name, RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": "1"}))
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]


@pytest.mark.parametrize(("source_fifo", "dlq_fifo"), [(False, True), (True, False)])
def test_dead_letter_queue_must_be_the_same_type(sqs, request, source_fifo: bool,
                                                 dlq_fifo: bool) -> None:
    dlq = make_queue(sqs, request.node.name + "-dlq", fifo=dlq_fifo)
    policy = json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": 2})
    with pytest.raises(ClientError) as info:
        make_queue(sqs, request.node.name, fifo=source_fifo, RedrivePolicy=policy)
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)
    src = make_queue(sqs, request.node.name, fifo=source_fifo)
    with pytest.raises(ClientError) as info:
        sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": policy})
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)


def test_second_client_sees_the_same_queue(sqs_server, sqs, request) -> None:
    url = make_queue(sqs, request.node.name)
    sqs.send_message(QueueUrl=url, MessageBody="shared")
    other = client("sqs", endpoint=sqs_server.endpoint)
    try:
        assert receive_one(other, url)["Body"] == "shared"
    finally:
        other.close()
