"""Notification configuration rules (engine/objects/notifications/rules.py): AWS's
documented valid and invalid key-filter examples, every refusal with S3's code and
message, generated Ids, and which rules an event meets."""

from __future__ import annotations

import base64
import uuid

import pytest

from engine.errors import EngineError
from engine.objects.notifications import rules
from engine.v1.records_pb2 import NotificationConfigurationRecord, QueueNotificationRecord

QUEUE = "arn:aws:sqs:us-west-2:444455556666:s3notificationqueue"


def rule(*events: str, prefix: str = "", suffix: str = "", id: str = "",
         queue: str = QUEUE) -> QueueNotificationRecord:
    return QueueNotificationRecord(id=id, queue_arn=queue, events=list(events), prefix=prefix,
                                   suffix=suffix)


def config(*queues: QueueNotificationRecord) -> NotificationConfigurationRecord:
    return NotificationConfigurationRecord(queues=list(queues))


def refusal(*queues: QueueNotificationRecord) -> EngineError:
    with pytest.raises(EngineError) as caught:
        rules.check_configuration(config(*queues))
    return caught.value


# --- AWS's examples ("Configuring event notifications using object key name filtering",
# the S3 User Guide); their Lambda and SNS destinations are queues here: the rules do not
# depend on the destination. --------------------------------------------------------------

AWS_VALID = {
    "prefix-and-suffix": [rule("s3:ObjectCreated:Put", prefix="images/", suffix="jpg", id="1")],
    "non-overlapping-prefixes": [
        rule("s3:ObjectCreated:Put", prefix="images/", id="1"),
        rule("s3:ObjectCreated:Put", prefix="logs/", id="2")],
    "non-overlapping-suffixes": [
        rule("s3:ObjectCreated:Put", suffix=".jpg", id="1"),
        rule("s3:ObjectCreated:Put", suffix=".png", id="2")],
    "same-prefix-non-overlapping-suffixes": [
        rule("s3:ObjectCreated:Put", prefix="images", suffix=".jpg", id="1"),
        rule("s3:ObjectCreated:Put", prefix="images", suffix=".png", id="2")],
    "same-prefix-different-event-types": [
        rule("s3:ObjectCreated:Put", prefix="image/"),
        rule("s3:ObjectRemoved:*", prefix="image/")],
}

AWS_INVALID = {
    "root-prefix-overlaps-any-prefix": [
        rule("s3:ObjectCreated:*"), rule("s3:ObjectCreated:*", prefix="images")],
    "root-suffix-overlaps-any-suffix": [
        rule("s3:ObjectCreated:*"), rule("s3:ObjectCreated:*", suffix="jpg")],
    "overlapping-suffixes": [
        rule("s3:ObjectCreated:*", suffix="jpg"), rule("s3:ObjectCreated:Put", suffix="pg")],
    "overlapping-prefixes": [
        rule("s3:ObjectCreated:Put", prefix="images/"),
        rule("s3:ObjectCreated:Put", prefix="images/2024/")],
    "overlapping-prefix-and-suffix": [
        rule("s3:ObjectCreated:*", prefix="images", suffix="jpg"),
        rule("s3:ObjectCreated:Put", suffix="jpg")],
}


@pytest.mark.parametrize("name", AWS_VALID)
def test_aws_valid_examples_are_accepted(name):
    given = config(*AWS_VALID[name])
    checked = rules.check_configuration(given)
    assert [(r.queue_arn, list(r.events), r.prefix, r.suffix) for r in checked.queues] == \
        [(r.queue_arn, list(r.events), r.prefix, r.suffix) for r in given.queues]


@pytest.mark.parametrize("name", AWS_INVALID)
def test_aws_invalid_examples_are_refused_as_ambiguous(name):
    err = refusal(*AWS_INVALID[name])
    assert (err.code, err.http_status, err.message) == ("InvalidArgument", 400, rules.AMBIGUOUS)
    assert err.details["ArgumentName"] == "Event"


def test_two_unfiltered_rules_sharing_an_event_overlap():
    err = refusal(rule("s3:ObjectCreated:*"), rule("s3:ObjectCreated:Put", queue=QUEUE + "2"))
    assert (err.code, err.message) == ("InvalidArgument", rules.OVERLAP)
    assert err.message == ("Configurations overlap. Configurations on the same bucket cannot "
                           "share a common event type.")
    assert err.details == {"ArgumentName": "Event", "ArgumentValue": "s3:ObjectCreated:Put"}


@pytest.mark.parametrize("a, b", [
    ("s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"),
    ("s3:ObjectRemoved:*", "s3:ObjectCreated:*"),
    ("s3:ObjectRestore:Post", "s3:ObjectRestore:Completed"),
    ("s3:LifecycleTransition", "s3:LifecycleExpiration:*"),
    ("s3:ObjectTagging:Put", "s3:ObjectTagging:Delete"),
])
def test_unfiltered_rules_without_a_common_event_are_valid(a, b):
    assert len(rules.check_configuration(config(rule(a), rule(b))).queues) == 2


@pytest.mark.parametrize("wildcard, member", [
    (f"s3:{family}:*", f"s3:{family}:{member}")
    for family, members in rules.FAMILIES.items() for member in members])
def test_a_family_wildcard_covers_each_member(wildcard, member):
    assert refusal(rule(wildcard), rule(member)).message == rules.OVERLAP


# --- the other refusals ---------------------------------------------------------------------


@pytest.mark.parametrize("event", sorted(rules.SUPPORTED_EVENTS))
def test_every_supported_event_is_accepted(event):
    assert list(rules.check_configuration(config(rule(event))).queues[0].events) == [event]


@pytest.mark.parametrize("event", ["s3:ObjectCreated:Delete", "s3:ObjectCreated", "ObjectCreated:*",
                                   "s3:objectcreated:put", "s3:*", ""])
def test_an_unknown_event_is_refused(event):
    err = refusal(rule(event))
    assert (err.code, err.message) == ("InvalidArgument",
                                       "The event is not supported for notifications")
    assert err.details == {"ArgumentName": "Event", "ArgumentValue": event}


@pytest.mark.parametrize("event", ["s3:Replication:*", "s3:Replication:OperationFailedReplication",
                                   "s3:ReducedRedundancyLostObject", "s3:IntelligentTiering",
                                   "s3:ObjectAcl:Put", "s3:TestEvent"])
def test_an_s3_event_this_server_does_not_report_is_named_as_unsupported(event):
    err = refusal(rule(event))
    assert err.code == "InvalidArgument"
    assert err.message.startswith(f"The event {event} is not supported for notifications by "
                                  "this server; supported: s3:ObjectCreated:Put")


def test_a_configuration_needs_an_event():
    err = refusal(rule())
    assert (err.code, err.message) == (
        "InvalidArgument", "At least one event must be specified for a configuration")


@pytest.mark.parametrize("arn", [
    "", "arn:aws:sns:us-east-1:123456789012:topic", "arn:aws:sqs:us-east-1:1234:q",
    "arn:aws:sqs:us-east-1:123456789012:", "arn:aws:sqs:us-east-1:123456789012:bad/name",
    "arn:aws:sqs::123456789012:q", "arn:aws:sqs:us-east-1:123456789012:" + "q" * 81,
    "https://sqs.us-east-1.amazonaws.com/123456789012/q"])
def test_a_destination_that_is_not_a_queue_arn_is_refused(arn):
    err = refusal(rule("s3:ObjectCreated:*", queue=arn))
    assert (err.code, err.message) == ("InvalidArgument", "The ARN is not well formed")
    assert err.details == {"ArgumentName": "Queue", "ArgumentValue": arn}


def test_a_fifo_queue_is_refused():
    arn = "arn:aws:sqs:us-east-1:123456789012:jobs.fifo"
    err = refusal(rule("s3:ObjectCreated:*", queue=arn))
    assert (err.code, err.message) == ("InvalidArgument", "FIFO SQS queues are not supported.")


def test_filter_values_are_bounded_at_1024_utf8_bytes():
    rules.check_configuration(config(rule("s3:ObjectCreated:*", prefix="p" * 1024,
                                          suffix="é" * 512)))
    for field in ("prefix", "suffix"):
        err = refusal(rule("s3:ObjectCreated:*", **{field: "é" * 513}))
        assert (err.code, err.message) == (
            "InvalidArgument",
            "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation")
        assert err.details["ArgumentName"] == f"FilterRule.Value ({field})"


def test_ids_are_unique_and_at_most_255_characters():
    rules.check_configuration(config(rule("s3:ObjectCreated:*", id="x" * 255)))
    err = refusal(rule("s3:ObjectCreated:*", id="x" * 256))
    assert (err.code, err.message) == ("InvalidArgument",
                                       "ID length exceeded allowed limit of 255")
    err = refusal(rule("s3:ObjectCreated:*", id="same"), rule("s3:ObjectRemoved:*", id="same"))
    assert (err.code, err.message) == (
        "InvalidArgument", "Same ID used for multiple configurations. IDs must be unique.")
    assert err.details == {"ArgumentName": "Id", "ArgumentValue": "same"}


def test_at_most_100_configurations():
    many = [rule("s3:ObjectCreated:*", prefix=f"p{i:03d}/") for i in range(101)]
    assert len(rules.check_configuration(config(*many[:100])).queues) == 100
    err = refusal(*many)
    assert (err.code, err.message) == ("InvalidRequest", "Too many configurations submitted. "
                                       "The maximum number of configurations is 100")


def test_missing_ids_are_generated_as_s3_does_and_the_input_is_left_alone():
    given = config(rule("s3:ObjectCreated:*", prefix="a/"), rule("s3:ObjectCreated:*",
                                                               prefix="b/", id="mine"))
    checked = rules.check_configuration(given)
    generated = checked.queues[0].id
    assert uuid.UUID(base64.b64decode(generated).decode())  # base64 of a UUID's text
    assert checked.queues[1].id == "mine"
    assert given.queues[0].id == ""
    assert rules.check_configuration(given).queues[0].id != generated  # random, not derived


def test_an_empty_configuration_is_valid():
    assert rules.check_configuration(config()) == NotificationConfigurationRecord()


@pytest.mark.parametrize("rules_given, expected", [
    ([("prefix", "a/"), ("suffix", ".jpg")], ("a/", ".jpg")),
    ([("Prefix", "a/")], ("a/", "")),
    ([("SUFFIX", ".png")], ("", ".png")),
    ([], ("", "")),
])
def test_filter_rule_names_are_case_insensitive(rules_given, expected):
    assert rules.key_filter(rules_given) == expected


@pytest.mark.parametrize("given, message", [
    ([("prefix", "a"), ("Prefix", "b")], "Cannot specify more than one prefix rule in a filter."),
    ([("suffix", "a"), ("suffix", "b")], "Cannot specify more than one suffix rule in a filter."),
    ([("regex", ".*")], "filter rule name must be either prefix or suffix"),
])
def test_filter_rule_refusals(given, message):
    with pytest.raises(EngineError) as caught:
        rules.key_filter(given)
    assert (caught.value.code, caught.value.message) == ("InvalidArgument", message)
    assert caught.value.details["ArgumentName"] == "FilterRule.Name"


# --- matching --------------------------------------------------------------------------------


def test_matching_by_exact_name_family_wildcard_and_key_filter():
    images = rule("s3:ObjectCreated:*", prefix="images/", suffix=".jpg", id="images")
    deletes = rule("s3:ObjectRemoved:Delete", id="deletes")
    transitions = rule("s3:LifecycleTransition", prefix="logs/", id="transitions")
    c = config(images, deletes, transitions)

    def ids(event: str, key: str) -> list[str]:
        return [r.id for r in rules.matching(c, event, key)]

    assert ids("ObjectCreated:Put", "images/cat.jpg") == ["images"]
    assert ids("ObjectCreated:CompleteMultipartUpload", "images/cat.jpg") == ["images"]
    assert ids("ObjectCreated:Put", "images/cat.png") == []
    assert ids("ObjectCreated:Put", "docs/cat.jpg") == []
    assert ids("ObjectRemoved:Delete", "images/cat.jpg") == ["deletes"]
    assert ids("ObjectRemoved:DeleteMarkerCreated", "any") == []
    assert ids("LifecycleTransition", "logs/1") == ["transitions"]
    assert ids("LifecycleTransition", "images/cat.jpg") == []
    assert ids("ObjectRestore:Completed", "images/cat.jpg") == []
    assert rules.matching(config(), "ObjectCreated:Put", "k") == []
