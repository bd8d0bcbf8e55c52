"""SQS queue management through the SDK against a real `engine serve --manual-clock`:
CreateQueue (idempotence, names), GetQueueAttributes defaults and counters, Set, List
(prefix, paging), GetQueueUrl, DeleteQueue (QueueDeletedRecently), PurgeQueue
(PurgeQueueInProgress), tags and ListDeadLetterSourceQueues. Expectations are AWS's.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from helpers_sqs import (
    INVALID_PARAMETER_VALUE,
    NON_EXISTENT_QUEUE,
    PURGE_QUEUE_IN_PROGRESS,
    QUEUE_ALREADY_EXISTS,
    QUEUE_DELETED_RECENTLY,
    assert_nothing_to_receive,
    assert_sqs_error,
    counts,
    make_queue,
    queue_arn,
    queue_attributes,
    queue_name_of,
    receive_n,
    sqs_fixture,  # noqa: F401  (fixture "sqs")
    sqs_server_fixture,  # noqa: F401  (fixture "sqs_server")
    unique_queue_name,
)

from engine.client import ClientError, client


def test_create_queue_returns_url_that_get_queue_url_finds(sqs, request) -> None:
    name = unique_queue_name(request.node.name)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert url.endswith(f"/{name}")
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url


def test_create_is_idempotent_with_same_attributes(sqs, request) -> None:
    name = unique_queue_name(request.node.name)
    attrs = {"VisibilityTimeout": "45", "DelaySeconds": "3"}
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    assert sqs.create_queue(QueueName=name, Attributes=dict(attrs))["QueueUrl"] == url
    # A value equal to the queue's current one matches too.
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})[
        "QueueUrl"] == url


def test_create_with_different_attributes_is_queue_already_exists(sqs, request) -> None:
    name = unique_queue_name(request.node.name)
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    with pytest.raises(sqs.exceptions.QueueNameExists) as info:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})
    assert_sqs_error(info, QUEUE_ALREADY_EXISTS)
    # The existing queue is untouched.
    assert queue_attributes(sqs, url, "VisibilityTimeout") == {"VisibilityTimeout": "45"}


def test_same_name_different_default_attribute_is_queue_already_exists(sqs, request) -> None:
    name = unique_queue_name(request.node.name)
    sqs.create_queue(QueueName=name)
    with pytest.raises(ClientError) as info:
        sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "5"})
    assert_sqs_error(info, QUEUE_ALREADY_EXISTS)


@pytest.mark.parametrize("name", [
    "a" * 80,
    "A-z_0-9",
    "x",
    "7" * 79 + "-",
])
def test_valid_standard_queue_names(sqs, name: str) -> None:
    # The module's server is fresh, so these fixed names are free.
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert queue_name_of(url) == name
    sqs.delete_queue(QueueUrl=url)


def test_fifo_name_may_be_80_characters_including_suffix(sqs) -> None:
    name = "f" * 75 + ".fifo"
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    assert queue_name_of(url) == name
    assert queue_attributes(sqs, url, "FifoQueue") == {"FifoQueue": "true"}
    sqs.delete_queue(QueueUrl=url)


@pytest.mark.parametrize(("name", "attributes"), [
    ("b" * 81, {}),
    ("bad.name", {}),
    ("bad name", {}),
    ("bad/name", {}),
    ("bad!name", {}),
    ("bäd", {}),
    ("ends-with.fifo", {}),  # .fifo names are FIFO queues only
    ("no-suffix", {"FifoQueue": "true"}),  # FIFO queues need the suffix
    ("g" * 76 + ".fifo", {"FifoQueue": "true"}),  # 81 with the suffix
    ("two.dots.fifo", {"FifoQueue": "true"}),
])
def test_invalid_queue_names_are_invalid_parameter_value(sqs, name: str,
                                                         attributes: dict[str, str]) -> None:
    with pytest.raises(ClientError) as info:
        sqs.create_queue(QueueName=name, Attributes=attributes)
    assert_sqs_error(info, INVALID_PARAMETER_VALUE)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)


def test_get_queue_attributes_all_has_defaults_arn_and_timestamps(sqs, sqs_server,
                                                                  request) -> None:
    name = unique_queue_name(request.node.name)
    now = sqs_server.now()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    attrs = queue_attributes(sqs, url)
    expected = {
        "DelaySeconds": "0",
        "MaximumMessageSize": str(1024 * 1024),
        "MessageRetentionPeriod": str(4 * 24 * 3600),
        "ReceiveMessageWaitTimeSeconds": "0",
        "VisibilityTimeout": "30",
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
        "ApproximateNumberOfMessagesDelayed": "0",
    }
    assert {k: attrs.get(k) for k in expected} == expected
    arn = attrs["QueueArn"]
    match = re.fullmatch(r"arn:aws:sqs:([a-z0-9-]+):(\d{12}):(.+)", arn)
    assert match, arn
    assert match.group(3) == name
    # The account and region are the node's: the ones its policies and STS name.
    with client("sts", endpoint=sqs_server.endpoint) as sts:
        assert match.group(2) == sts.get_caller_identity()["Account"]
    assert match.group(1) == "us-east-1"
    # The URL's path is /<account>/<name>, as SQS's.
    assert url.rstrip("/").split("/")[-2] == match.group(2)
    # Epoch seconds on the engine clock.
    assert abs(int(attrs["CreatedTimestamp"]) - now) <= 2
    assert int(attrs["LastModifiedTimestamp"]) == int(attrs["CreatedTimestamp"])
    assert "RedrivePolicy" not in attrs


def test_get_queue_attributes_returns_only_the_names_asked(sqs, request) -> None:
    url = make_queue(sqs, request.node.name, VisibilityTimeout=31)
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout",
                                                                  "DelaySeconds"])
    assert got["Attributes"] == {"VisibilityTimeout": "31", "DelaySeconds": "0"}
    # Without AttributeNames SQS returns no attributes at all.
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)


def test_create_queue_attributes_are_stored(sqs, request) -> None:
    url = make_queue(sqs, request.node.name, DelaySeconds=900, MaximumMessageSize=1024,
                     MessageRetentionPeriod=60, ReceiveMessageWaitTimeSeconds=20,
                     VisibilityTimeout=43200)
    attrs = queue_attributes(sqs, url)
    assert attrs["DelaySeconds"] == "900"
    assert attrs["MaximumMessageSize"] == "1024"
    assert attrs["MessageRetentionPeriod"] == "60"
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "20"
    assert attrs["VisibilityTimeout"] == "43200"
    url2 = make_queue(sqs, request.node.name, MaximumMessageSize=1024 * 1024,
                      MessageRetentionPeriod=14 * 24 * 3600, VisibilityTimeout=0)
    attrs2 = queue_attributes(sqs, url2)
    assert attrs2["MaximumMessageSize"] == str(1024 * 1024)
    assert attrs2["MessageRetentionPeriod"] == str(1209600)
    assert attrs2["VisibilityTimeout"] == "0"


def test_approximate_counts_follow_messages(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name)
    sqs.send_message(QueueUrl=url, MessageBody="a")
    sqs.send_message(QueueUrl=url, MessageBody="b")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=10)
    assert counts(sqs, url) == (2, 0, 1)

    received = receive_n(sqs, url, 2)
    assert sorted(m["Body"] for m in received) == ["a", "b"]
    assert counts(sqs, url) == (0, 2, 1)

    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    assert counts(sqs, url) == (0, 1, 1)

    sqs_server.advance(11)  # the delayed message is due; the other is still in flight
    assert counts(sqs, url) == (1, 1, 0)

    sqs_server.advance(20)  # 31 s after the receive: visible again
    assert counts(sqs, url) == (2, 0, 0)


def test_set_queue_attributes_changes_values_and_last_modified(sqs, sqs_server,
                                                               request) -> None:
    url = make_queue(sqs, request.node.name)
    created = int(queue_attributes(sqs, url, "CreatedTimestamp")["CreatedTimestamp"])
    sqs_server.advance(10)
    new = {"VisibilityTimeout": "60", "DelaySeconds": "5", "MaximumMessageSize": "2048",
           "MessageRetentionPeriod": "120", "ReceiveMessageWaitTimeSeconds": "3"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes=new)
    attrs = queue_attributes(sqs, url)
    assert {k: attrs[k] for k in new} == new
    assert int(attrs["CreatedTimestamp"]) == created
    assert int(attrs["LastModifiedTimestamp"]) >= created + 10
    # Creating again with the new values is now the idempotent case.
    assert sqs.create_queue(QueueName=queue_name_of(url), Attributes=new)["QueueUrl"] == url


def test_set_visibility_timeout_applies_to_later_receives(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "100"})
    sqs.send_message(QueueUrl=url, MessageBody="x")
    receive_n(sqs, url, 1)
    sqs_server.advance(40)  # past the old 30 s default
    assert counts(sqs, url) == (0, 1, 0)
    sqs_server.advance(61)
    assert counts(sqs, url) == (1, 0, 0)


def _list_all_pages(sqs: Any, **kwargs: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        args = dict(kwargs)
        if token:
            args["NextToken"] = token
        resp = sqs.list_queues(**args)
        pages.append(list(resp.get("QueueUrls", [])))
        token = resp.get("NextToken")
        if not token:
            return pages
        assert len(pages) < 20, "NextToken never ends"


def test_list_queues_by_prefix_and_pages(sqs, request) -> None:
    prefix = unique_queue_name(request.node.name)[-20:].lstrip("-_") + "-"
    urls = {sqs.create_queue(QueueName=f"{prefix}{i}")["QueueUrl"] for i in range(5)}
    other = sqs.create_queue(QueueName=unique_queue_name("other"))["QueueUrl"]

    resp = sqs.list_queues(QueueNamePrefix=prefix)
    assert set(resp["QueueUrls"]) == urls
    assert "NextToken" not in resp

    pages = _list_all_pages(sqs, QueueNamePrefix=prefix, MaxResults=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    flat = [u for p in pages for u in p]
    assert len(flat) == len(set(flat))
    assert set(flat) == urls

    everything = sqs.list_queues()["QueueUrls"]
    assert urls <= set(everything)
    assert other in everything
    assert sqs.list_queues(QueueNamePrefix=prefix + "nomatch").get("QueueUrls", []) == []


def test_list_queues_paginator(sqs, request) -> None:
    prefix = unique_queue_name(request.node.name)[-20:].lstrip("-_") + "-"
    urls = {sqs.create_queue(QueueName=f"{prefix}{i}")["QueueUrl"] for i in range(3)}
    paginator = sqs.get_paginator("list_queues")
    pages = list(paginator.paginate(QueueNamePrefix=prefix, PaginationConfig={"PageSize": 2}))
    assert [len(p["QueueUrls"]) for p in pages] == [2, 1]
    full = paginator.paginate(QueueNamePrefix=prefix,
                              PaginationConfig={"PageSize": 1}).build_full_result()
    assert sorted(full["QueueUrls"]) == sorted(urls)


def test_list_queues_prefix_is_case_sensitive(sqs, request) -> None:
    name = "Case" + unique_queue_name(request.node.name)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert sqs.list_queues(QueueNamePrefix=name[:12])["QueueUrls"] == [url]
    assert sqs.list_queues(QueueNamePrefix=name[:12].lower()).get("QueueUrls", []) == []


def test_get_queue_url_of_unknown_queue_is_non_existent_queue(sqs, request) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as info:
        sqs.get_queue_url(QueueName=unique_queue_name(request.node.name))
    assert_sqs_error(info, NON_EXISTENT_QUEUE)


def test_delete_queue_then_gone_and_deleted_recently_for_60s(sqs, sqs_server,
                                                             request) -> None:
    name = unique_queue_name(request.node.name)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="from the old queue")
    sqs.delete_queue(QueueUrl=url)

    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as info:
        sqs.get_queue_url(QueueName=name)
    assert_sqs_error(info, NON_EXISTENT_QUEUE)
    with pytest.raises(ClientError) as info:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    assert_sqs_error(info, NON_EXISTENT_QUEUE)
    assert url not in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])

    with pytest.raises(sqs.exceptions.QueueDeletedRecently) as info:
        sqs.create_queue(QueueName=name)
    assert_sqs_error(info, QUEUE_DELETED_RECENTLY)
    sqs_server.advance(50)
    with pytest.raises(sqs.exceptions.QueueDeletedRecently):
        sqs.create_queue(QueueName=name)

    sqs_server.advance(11)  # 61 s after the delete
    new_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert new_url == url
    # A new queue: nothing of the old one comes back.
    assert counts(sqs, new_url) == (0, 0, 0)
    assert_nothing_to_receive(sqs, new_url)


def test_purge_queue_empties_it_and_is_in_progress_for_60s(sqs, sqs_server, request) -> None:
    url = make_queue(sqs, request.node.name)
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=30)
    receive_n(sqs, url, 3)
    sqs.send_message(QueueUrl=url, MessageBody="visible")
    assert counts(sqs, url) == (1, 3, 1)

    sqs.purge_queue(QueueUrl=url)
    assert counts(sqs, url) == (0, 0, 0)

    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as info:
        sqs.purge_queue(QueueUrl=url)
    assert_sqs_error(info, PURGE_QUEUE_IN_PROGRESS, status=403)

    sqs_server.advance(31)  # the in-flight and delayed ones would be visible by now
    assert_nothing_to_receive(sqs, url)
    assert counts(sqs, url) == (0, 0, 0)

    sqs_server.advance(30)  # 61 s after the purge
    sqs.send_message(QueueUrl=url, MessageBody="after")
    sqs.purge_queue(QueueUrl=url)
    assert counts(sqs, url) == (0, 0, 0)


def test_tag_untag_and_list_queue_tags(sqs, request) -> None:
    name = unique_queue_name(request.node.name)
    url = sqs.create_queue(QueueName=name, tags={"team": "core", "env": "test"})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core", "env": "test"}

    sqs.tag_queue(QueueUrl=url, Tags={"env": "prod", "cost": "42"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {
        "team": "core", "env": "prod", "cost": "42"}

    sqs.untag_queue(QueueUrl=url, TagKeys=["team", "absent"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "prod", "cost": "42"}

    sqs.untag_queue(QueueUrl=url, TagKeys=["env", "cost"])
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}


def test_tags_do_not_make_create_queue_fail(sqs, request) -> None:
    # Tags are not attributes: re-creating with other tags returns the same queue.
    name = unique_queue_name(request.node.name)
    url = sqs.create_queue(QueueName=name, tags={"a": "1"})["QueueUrl"]
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url


def test_redrive_policies_round_trip_and_list_dead_letter_source_queues(sqs,
                                                                        request) -> None:
    dlq = make_queue(sqs, request.node.name + "-dlq")
    dlq_arn = queue_arn(sqs, dlq)
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}
    src1 = make_queue(sqs, request.node.name + "-s1", RedrivePolicy=json.dumps(policy))
    src2 = make_queue(sqs, request.node.name + "-s2")
    sqs.set_queue_attributes(QueueUrl=src2, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})
    make_queue(sqs, request.node.name + "-unrelated")

    got = json.loads(queue_attributes(sqs, src1, "RedrivePolicy")["RedrivePolicy"])
    assert got["deadLetterTargetArn"] == dlq_arn
    assert int(got["maxReceiveCount"]) == 5
    got2 = json.loads(queue_attributes(sqs, src2, "RedrivePolicy")["RedrivePolicy"])
    assert int(got2["maxReceiveCount"]) == 3

    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq)
    assert set(sources["queueUrls"]) == {src1, src2}  # sic: boto3's lower-case key
    assert sqs.list_dead_letter_source_queues(QueueUrl=src1)["queueUrls"] == []

    allow = {"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn(sqs, src1)]}
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy":
                                                        json.dumps(allow)})
    got_allow = json.loads(queue_attributes(sqs, dlq, "RedriveAllowPolicy")[
        "RedriveAllowPolicy"])
    assert got_allow == allow


def test_operations_on_a_deleted_queue_url_are_non_existent_queue(sqs, request) -> None:
    url = make_queue(sqs, request.node.name)
    sqs.delete_queue(QueueUrl=url)
    calls = [
        lambda: sqs.send_message(QueueUrl=url, MessageBody="x"),
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0),
        lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "1"}),
        lambda: sqs.purge_queue(QueueUrl=url),
        lambda: sqs.list_queue_tags(QueueUrl=url),
    ]
    for call in calls:
        with pytest.raises(sqs.exceptions.QueueDoesNotExist) as info:
            call()
        assert_sqs_error(info, NON_EXISTENT_QUEUE)
