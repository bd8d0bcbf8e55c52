"""SQS's rules: names, queue attributes, message attributes, MD5s, receipt handles, batches."""

from __future__ import annotations

import json

import grpc
import pytest
from google.rpc import error_details_pb2

from engine.errors import CATALOGUE, EngineError
from engine.queues import attributes as qa
from engine.queues import batches, message_attrs, names, receipts
from engine.v1.queues_pb2 import MessageAttributeValue as Value

C = grpc.StatusCode


def error(fn, *args, **kw) -> EngineError:
    with pytest.raises(EngineError) as info:
        fn(*args, **kw)
    return info.value


def code(fn, *args, **kw) -> str:
    return error(fn, *args, **kw).code


def text(value: str, data_type: str = "String") -> Value:
    return Value(data_type=data_type, string_value=value)


def binary(value: bytes, data_type: str = "Binary") -> Value:
    return Value(data_type=data_type, binary_value=value)


# -- error catalogue ---------------------------------------------------------------------

SQS_CODES = {
    "AWS.SimpleQueueService.NonExistentQueue": (400, C.NOT_FOUND),
    "QueueAlreadyExists": (400, C.ALREADY_EXISTS),
    "AWS.SimpleQueueService.QueueDeletedRecently": (400, C.FAILED_PRECONDITION),
    "AWS.SimpleQueueService.PurgeQueueInProgress": (403, C.FAILED_PRECONDITION),
    "InvalidParameterValue": (400, C.INVALID_ARGUMENT),
    "InvalidAttributeName": (400, C.INVALID_ARGUMENT),
    "InvalidAttributeValue": (400, C.INVALID_ARGUMENT),
    "MissingParameter": (400, C.INVALID_ARGUMENT),
    "InvalidMessageContents": (400, C.INVALID_ARGUMENT),
    "InvalidAddress": (400, C.INVALID_ARGUMENT),
    "AWS.SimpleQueueService.TooManyEntriesInBatchRequest": (400, C.INVALID_ARGUMENT),
    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct": (400, C.INVALID_ARGUMENT),
    "AWS.SimpleQueueService.EmptyBatchRequest": (400, C.INVALID_ARGUMENT),
    "AWS.SimpleQueueService.InvalidBatchEntryId": (400, C.INVALID_ARGUMENT),
    "AWS.SimpleQueueService.BatchRequestTooLong": (400, C.INVALID_ARGUMENT),
    "ReceiptHandleIsInvalid": (400, C.INVALID_ARGUMENT),
    "AWS.SimpleQueueService.MessageNotInflight": (400, C.FAILED_PRECONDITION),
    "AWS.SimpleQueueService.UnsupportedOperation": (400, C.INVALID_ARGUMENT),
    "OverLimit": (403, C.RESOURCE_EXHAUSTED),
}


@pytest.mark.parametrize(("sqs_code", "expected"), SQS_CODES.items())
def test_sqs_codes_round_trip_through_rpc_status(sqs_code: str, expected: tuple) -> None:
    http, grpc_code = expected
    assert CATALOGUE[sqs_code][:2] == (http, grpc_code)
    status = EngineError(sqs_code, QueueUrl="u").to_rpc_status()
    assert status.code == grpc_code.value[0]
    assert status.message == CATALOGUE[sqs_code][2]
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.reason == sqs_code
    assert dict(info.metadata) == {"http_status": str(http), "QueueUrl": "u"}


def test_the_well_known_sqs_messages() -> None:
    assert EngineError("AWS.SimpleQueueService.NonExistentQueue").message == (
        "The specified queue does not exist."
    )
    assert EngineError("AWS.SimpleQueueService.QueueDeletedRecently").message == (
        "You must wait 60 seconds after deleting a queue before you can create another "
        "queue with the same name."
    )


# -- names, URLs, ARNs -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "q" * 80, "Orders_2024-eu", "0"])
def test_valid_standard_names(name: str) -> None:
    names.validate_queue_name(name, fifo=False)


@pytest.mark.parametrize("name", ["", "q" * 81, "has space", "dot.name", "q.fifo", "ü", "a/b"])
def test_invalid_standard_names(name: str) -> None:
    err = error(names.validate_queue_name, name, False)
    assert err.code == "InvalidParameterValue"
    assert err.message == (
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
    )


@pytest.mark.parametrize("name", ["a.fifo", "q" * 75 + ".fifo", "x-y_z.fifo"])
def test_valid_fifo_names(name: str) -> None:
    names.validate_queue_name(name, fifo=True)


@pytest.mark.parametrize("name", [".fifo", "q" * 76 + ".fifo", "plain", "a.b.fifo", "a.FIFO"])
def test_invalid_fifo_names(name: str) -> None:
    err = error(names.validate_queue_name, name, True)
    assert err.code == "InvalidParameterValue"
    assert "must end with .fifo suffix" in err.message


def test_urls_and_arns() -> None:
    assert names.queue_url("h:1", "q") == "http://h:1/000000000000/q"
    assert names.queue_arn("q") == "arn:aws:sqs:us-east-1:000000000000:q"
    assert names.name_from_arn(names.queue_arn("q.fifo")) == "q.fifo"
    assert names.name_from_arn("arn:aws:sqs:us-east-1:123456789012:q") is None
    assert names.name_from_arn("arn:aws:sns:engine:000000000000:q") is None
    assert names.name_from_arn("dummy") is None


def test_urls_and_arns_carry_the_accounts_id_and_region() -> None:
    """Once the identity store knows the account, the queue's URL and ARN name it, so a
    queue policy or access table written with the ARN the queue reports matches."""
    try:
        names.set_scope("123456789012", "eu-west-1")
        assert names.queue_url("h:1", "q") == "http://h:1/123456789012/q"
        assert names.queue_arn("q") == "arn:aws:sqs:eu-west-1:123456789012:q"
        assert names.name_from_arn("arn:aws:sqs:eu-west-1:123456789012:q") == "q"
        assert names.name_from_arn("arn:aws:sqs:us-east-1:123456789012:q") is None
        assert names.name_from_arn("arn:aws:sqs:eu-west-1:000000000000:q") is None
    finally:
        names.set_scope("000000000000", "us-east-1")


@pytest.mark.parametrize("url", [
    "http://localhost:9324/000000000000/orders",
    "https://sqs.us-east-1.amazonaws.com/123456789012/orders",
    "http://10.0.0.1/000000000000/orders/",
    "http://h/000000000000/orders?x=1",
])
def test_name_from_url_accepts_any_host_and_scheme(url: str) -> None:
    assert names.name_from_url(url) == "orders"


def test_name_from_url_rejects_empty_and_malformed() -> None:
    err = error(names.name_from_url, "")
    assert (err.code, err.message) == (
        "MissingParameter", "The request must contain the parameter QueueUrl."
    )
    for url in ("orders", "http://h/orders", "http://h/a/b/c", "http://h//orders", "/0/q"):
        assert code(names.name_from_url, url) == "InvalidAddress", url


# -- queue attributes --------------------------------------------------------------------


def test_defaults_of_a_standard_queue() -> None:
    assert qa.create_attributes("q", {}) == {
        "DelaySeconds": "0",
        "MaximumMessageSize": "1048576",
        "MessageRetentionPeriod": "345600",
        "ReceiveMessageWaitTimeSeconds": "0",
        "VisibilityTimeout": "30",
        "SqsManagedSseEnabled": "true",
    }


def test_defaults_of_a_fifo_queue() -> None:
    stored = qa.create_attributes("q.fifo", {"FifoQueue": "true"})
    assert stored["FifoQueue"] == "true"
    assert stored["ContentBasedDeduplication"] == "false"
    assert stored["DeduplicationScope"] == "queue"
    assert stored["FifoThroughputLimit"] == "perQueue"
    assert qa.is_fifo(stored) and not qa.content_dedup(stored)


@pytest.mark.parametrize(("name", "low", "high"), [
    ("DelaySeconds", 0, 900),
    ("MaximumMessageSize", 1024, 1_048_576),
    ("MessageRetentionPeriod", 60, 1_209_600),
    ("ReceiveMessageWaitTimeSeconds", 0, 20),
    ("VisibilityTimeout", 0, 43_200),
    ("KmsDataKeyReusePeriodSeconds", 60, 86_400),
])
def test_integer_limits_on_both_sides(name: str, low: int, high: int) -> None:
    assert qa.create_attributes("q", {name: str(low)})[name] == str(low)
    assert qa.create_attributes("q", {name: str(high)})[name] == str(high)
    for bad in (str(low - 1), str(high + 1), "", "ten", "1.5", " 5", "1_0"):
        err = error(qa.create_attributes, "q", {name: bad})
        assert (err.code, err.message) == (
            "InvalidAttributeValue", f"Invalid value for the parameter {name}."
        ), bad


def test_values_are_normalized() -> None:
    stored = qa.create_attributes("q.fifo", {
        "FifoQueue": "TRUE", "ContentBasedDeduplication": "True", "DelaySeconds": "007",
    })
    assert (stored["FifoQueue"], stored["ContentBasedDeduplication"]) == ("true", "true")
    assert stored["DelaySeconds"] == "7"
    assert qa.delay_seconds(stored) == 7


@pytest.mark.parametrize("given", [
    {"Bogus": "1"}, {"QueueArn": "x"}, {"ApproximateNumberOfMessages": "1"},
    {"CreatedTimestamp": "1"},
])
def test_unknown_and_read_only_attributes(given: dict[str, str]) -> None:
    err = error(qa.create_attributes, "q", given)
    name = next(iter(given))
    assert (err.code, err.message) == ("InvalidAttributeName", f"Unknown Attribute {name}.")


def test_fifo_flag_and_name_must_agree() -> None:
    assert code(qa.create_attributes, "q.fifo", {}) == "InvalidParameterValue"
    assert code(qa.create_attributes, "q", {"FifoQueue": "true"}) == "InvalidParameterValue"
    assert code(qa.create_attributes, "q", {"FifoQueue": "yes"}) == "InvalidAttributeValue"
    # "false" is a documented value for a standard queue and is not stored
    assert "FifoQueue" not in qa.create_attributes("q", {"FifoQueue": "false"})


@pytest.mark.parametrize(("attribute", "value", "message"), [
    ("ContentBasedDeduplication", "true", "Unknown Attribute ContentBasedDeduplication."),
    ("DeduplicationScope", "queue",
     "You can specify the DeduplicationScope only when FifoQueue is set to true."),
    ("FifoThroughputLimit", "perQueue",
     "You can specify the FifoThroughputLimit only when FifoQueue is set to true."),
])
def test_fifo_only_attributes_on_a_standard_queue(attribute: str, value: str, message: str) -> None:
    err = error(qa.create_attributes, "q", {attribute: value})
    assert (err.code, err.message) == ("InvalidAttributeName", message)
    assert code(qa.updated_attributes, qa.create_attributes("q", {}), {attribute: value}) == (
        "InvalidAttributeName"
    )


def test_fifo_choices() -> None:
    fifo = {"FifoQueue": "true"}
    stored = qa.create_attributes("q.fifo", {
        **fifo, "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId",
    })
    assert stored["DeduplicationScope"] == "messageGroup"
    assert stored["FifoThroughputLimit"] == "perMessageGroupId"
    for attribute in ("DeduplicationScope", "FifoThroughputLimit"):
        assert code(qa.create_attributes, "q.fifo", {**fifo, attribute: "group"}) == (
            "InvalidAttributeValue"
        )


def redrive(arn: str = "arn:aws:sqs:us-east-1:000000000000:dlq", count: object = 5) -> str:
    return json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": count})


def test_redrive_policy_is_checked_and_stored_compactly() -> None:
    stored = qa.create_attributes("q", {"RedrivePolicy": redrive(count="1000")})
    assert stored["RedrivePolicy"] == (
        '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":1000}'
    )
    policy = qa.parse_redrive_policy(stored["RedrivePolicy"])
    assert policy == qa.RedrivePolicy("arn:aws:sqs:us-east-1:000000000000:dlq", 1000)
    assert policy is not None and policy.target_name == "dlq"
    assert qa.parse_redrive_policy(redrive(count=1)) is not None
    assert qa.parse_redrive_policy("") is None
    foreign = qa.parse_redrive_policy(redrive("arn:aws:sqs:us-east-1:123456789012:dlq"))
    assert foreign is not None and foreign.target_name is None


@pytest.mark.parametrize(("policy", "reason"), [
    (redrive(count=0), "Invalid value for maxReceiveCount: 0"),
    (redrive(count=1001), "Invalid value for maxReceiveCount: 1001"),
    (redrive(count="many"), "Invalid value for maxReceiveCount: many"),
    (redrive(count=True), "Invalid value for maxReceiveCount: True"),
    (redrive("dummy"), "Invalid value for deadLetterTargetArn."),
    (json.dumps({"maxReceiveCount": 3}), "does not contain mandatory attribute: deadLetter"),
    (json.dumps({"deadLetterTargetArn": "a"}), "does not contain mandatory attribute: maxRec"),
    (json.dumps({"deadLetterTargetArn": "a", "maxReceiveCount": 1, "x": 1}), "Only following"),
])
def test_bad_redrive_policies(policy: str, reason: str) -> None:
    err = error(qa.create_attributes, "q", {"RedrivePolicy": policy})
    assert err.code == "InvalidParameterValue"
    assert err.message.startswith(f"Value {policy} for parameter RedrivePolicy is invalid.")
    assert reason in err.message


def test_redrive_policy_that_is_not_a_map() -> None:
    for bad in ("[1]", "{", "5"):
        err = error(qa.create_attributes, "q", {"RedrivePolicy": bad})
        assert err.code == "InvalidAttributeValue"
        assert "Redrive policy is not a valid JSON map." in err.message


def allow(permission: str, arns: list[str] | None = None) -> str:
    body: dict[str, object] = {"redrivePermission": permission}
    if arns is not None:
        body["sourceQueueArns"] = arns
    return json.dumps(body)


def test_redrive_allow_policy() -> None:
    src = names.queue_arn("src")
    assert qa.redrive_allowed(None, src)
    assert qa.redrive_allowed(allow("allowAll"), src)
    assert not qa.redrive_allowed(allow("denyAll"), src)
    assert qa.redrive_allowed(allow("byQueue", [src]), src)
    assert not qa.redrive_allowed(allow("byQueue", [names.queue_arn("other")]), src)
    stored = qa.create_attributes("q", {"RedriveAllowPolicy": allow("byQueue", [src] * 10)})
    assert json.loads(stored["RedriveAllowPolicy"])["sourceQueueArns"] == [src] * 10


@pytest.mark.parametrize(("policy", "reason"), [
    (allow("byQueue"), "you must also specify one or more sourceQueueArns"),
    (allow("byQueue", []), "you must also specify one or more sourceQueueArns"),
    (allow("byQueue", ["a"] * 11), "The maximum number of source queue ARNs"),
    (allow("allowAll", ["a"]), "you must set redrivePermission to byQueue"),
    (allow("sometimes"), "unsupported format"),
    (json.dumps({"redrivePermission": "allowAll", "x": 1}), "unsupported format"),
    ("not json", "unsupported format"),
])
def test_bad_redrive_allow_policies(policy: str, reason: str) -> None:
    err = error(qa.create_attributes, "q", {"RedriveAllowPolicy": policy})
    assert err.code in ("InvalidParameterValue", "InvalidAttributeValue")
    assert reason in err.message


SEND_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/alice"},
    "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}]})


def test_policy_and_encryption_attributes_are_stored() -> None:
    stored = qa.create_attributes("q", {"Policy": SEND_POLICY,
                                        "KmsMasterKeyId": "alias/aws/sqs"})
    assert stored["Policy"] == SEND_POLICY  # kept as given
    assert stored["KmsMasterKeyId"] == "alias/aws/sqs"
    assert stored["KmsDataKeyReusePeriodSeconds"] == "300"
    assert stored["SqsManagedSseEnabled"] == "false"
    assert code(qa.create_attributes, "q", {"Policy": "[]"}) == "InvalidAttributeValue"
    assert code(qa.create_attributes, "q", {"SqsManagedSseEnabled": "maybe"}) == (
        "InvalidAttributeValue"
    )
    both = {"KmsMasterKeyId": "k", "SqsManagedSseEnabled": "true"}
    err = error(qa.create_attributes, "q", both)
    assert err.code == "InvalidAttributeName"
    assert "one type of server-side encryption" in err.message


def test_set_queue_attributes() -> None:
    current = qa.create_attributes("q", {"RedrivePolicy": redrive()})
    updated = qa.updated_attributes(current, {"VisibilityTimeout": "60", "RedrivePolicy": ""})
    assert updated["VisibilityTimeout"] == "60" and "RedrivePolicy" not in updated
    assert "RedrivePolicy" in current  # the input is not modified
    assert code(qa.updated_attributes, current, {"VisibilityTimeout": "43201"}) == (
        "InvalidAttributeValue"
    )
    fifo = qa.create_attributes("q.fifo", {"FifoQueue": "true"})
    for flag in ("true", "false"):
        err = error(qa.updated_attributes, fifo, {"FifoQueue": flag})
        assert (err.code, err.message) == ("InvalidAttributeName", "Unknown Attribute FifoQueue.")
    assert qa.updated_attributes(fifo, {"ContentBasedDeduplication": "true"})[
        "ContentBasedDeduplication"
    ] == "true"
    sse = qa.updated_attributes(
        qa.create_attributes("q", {"KmsMasterKeyId": "k"}), {"SqsManagedSseEnabled": "true"}
    )
    assert "KmsMasterKeyId" not in sse and sse["SqsManagedSseEnabled"] == "true"


def test_idempotent_create_compares_only_given_attributes() -> None:
    existing = qa.create_attributes("q", {"DelaySeconds": "1", "VisibilityTimeout": "20"})

    def same(given: dict[str, str]) -> bool:
        return qa.matches(existing, qa.create_attributes("q", given), given)

    assert same({})
    assert same({"DelaySeconds": "01"})
    assert same({"DelaySeconds": "1", "VisibilityTimeout": "20"})
    assert not same({"DelaySeconds": "2"})
    assert not same({"DelaySeconds": "1", "VisibilityTimeout": "30"})
    assert not same({"RedrivePolicy": redrive()})
    assert qa.mismatched_attribute(
        existing, qa.create_attributes("q", {"DelaySeconds": "2"}), ["DelaySeconds"]
    ) == "DelaySeconds"


def test_selected_names() -> None:
    standard = qa.selected_names(["All"], fifo=False)
    assert "QueueArn" in standard and "ApproximateNumberOfMessagesDelayed" in standard
    assert "FifoQueue" not in standard
    assert "FifoQueue" in qa.selected_names(["All"], fifo=True)
    assert qa.selected_names(["VisibilityTimeout", "QueueArn", "VisibilityTimeout"], False) == [
        "VisibilityTimeout", "QueueArn",
    ]
    assert qa.selected_names([], fifo=False) == []
    assert len(qa.selected_names(["All", "QueueArn"], fifo=False)) == len(standard)
    assert code(qa.selected_names, ["Nope"], False) == "InvalidAttributeName"
    assert code(qa.selected_names, ["FifoQueue"], False) == "InvalidAttributeName"


def test_partition_policy_and_accessors() -> None:
    stored = qa.create_attributes("q.fifo", {
        "FifoQueue": "true", "MessageRetentionPeriod": "60", "RedrivePolicy": redrive(
            "arn:aws:sqs:us-east-1:000000000000:dlq.fifo", 7),
        "ReceiveMessageWaitTimeSeconds": "20", "MaximumMessageSize": "2048",
    })
    policy = qa.partition_policy(stored)
    assert (policy.fifo, policy.retention_ns, policy.max_receive_count) == (
        True, 60_000_000_000, 7
    )
    assert qa.partition_policy(qa.create_attributes("q", {})).max_receive_count == 0
    assert qa.wait_time_seconds(stored) == 20
    assert qa.max_message_size(stored) == 2048
    assert qa.visibility_timeout(stored) == 30


# -- message bodies and attributes -------------------------------------------------------


def test_bodies() -> None:
    message_attrs.validate_body("x")
    message_attrs.validate_body("\t\n\r tab\ud7ff\ue000\ufffd\U00010000\U0010ffff é")
    err = error(message_attrs.validate_body, "")
    assert (err.code, err.message) == (
        "MissingParameter", "The request must contain the parameter MessageBody."
    )
    for bad in ("\x00", "a\x08b", "\x1f", "\ufffe", "\uffff"):
        assert code(message_attrs.validate_body, bad) == "InvalidMessageContents", repr(bad)


def test_at_most_ten_attributes() -> None:
    ten = {f"a{i}": text("v") for i in range(10)}
    message_attrs.validate_message_attributes(ten)
    err = error(message_attrs.validate_message_attributes, {**ten, "a10": text("v")})
    assert (err.code, err.message) == (
        "InvalidParameterValue",
        "Number of message attributes [11] exceeds the allowed maximum [10].",
    )


@pytest.mark.parametrize("name", [
    "a", "a" * 256, "Foo_Bar-1.2", "AWSfoo", "amazonfoo", "aws-trace", "trace.id",
])
def test_valid_attribute_names(name: str) -> None:
    message_attrs.validate_message_attributes({name: text("v")})


@pytest.mark.parametrize("name", [
    "", "a" * 257, "AWS.trace", "aws.trace", "AmAzOn.x", ".trace", "trace.", "trace..id",
    "trace id", "trace@id", "traceÀid",
])
def test_invalid_attribute_names(name: str) -> None:
    assert code(message_attrs.validate_message_attributes, {name: text("v")}) == (
        "InvalidParameterValue"
    )


@pytest.mark.parametrize("value", [
    text("v"), text("1", "Number"), binary(b"\x00"), text("{}", "String.json"),
    text("1", "Number.java.lang.Long"), binary(b"x", "Binary.gif"),
    text("v", "String." + "a" * 249),
])
def test_valid_attribute_types(value: Value) -> None:
    message_attrs.validate_message_attributes({"attr": value})


@pytest.mark.parametrize(("value", "fragment"), [
    (text("v", ""), "must contain non-empty message attribute type"),
    (text("v", "string"), "supported type prefixes: Binary, Number, String"),
    (text("v", "Str"), "supported type prefixes"),
    (text("v", "String."), "supported type prefixes"),
    (text("v", "String." + "a" * 250), "at most 256"),
    (text(""), "must contain a non-empty value of type 'String'"),
    (Value(data_type="String"), "must contain a non-empty value of type 'String'"),
    (Value(data_type="Number"), "must contain a non-empty value of type 'Number'"),
    (binary(b""), "must contain a non-empty value of type 'Binary'"),
    (Value(data_type="Binary", string_value="x"), "must use field 'Binary'"),
    (Value(data_type="String", binary_value=b"x"), "must use field 'String'"),
    (text("a\x00b"), "Invalid characters found"),
])
def test_invalid_attribute_values(value: Value, fragment: str) -> None:
    err = error(message_attrs.validate_message_attributes, {"attr": value})
    assert err.code == "InvalidParameterValue"
    assert fragment in err.message


@pytest.mark.parametrize("number", [
    "42", "-42", "+42", "3.14159", "007", "42.", ".5", "1e5", "1.5e-10", "0", "0.000",
    "9" * 38, "1" + "0" * 126, "-1" + "0" * 126, "1e126", "1e-128", "-1E-128",
    "1" + "0" * 30 + "1" + "0" * 90,  # 32 significant digits: trailing zeros do not count
])
def test_numbers_in_range(number: str) -> None:
    message_attrs.validate_message_attributes({"n": text(number, "Number")})


@pytest.mark.parametrize("number", [
    "9" * 39, "2" + "0" * 126, "1.1e126", "1e127", "-1e127", "9e-129", "1e999999999",
    "1." + "1" * 38,
])
def test_numbers_out_of_range(number: str) -> None:
    err = error(message_attrs.validate_message_attributes, {"n": text(number, "Number")})
    assert err.code == "InvalidParameterValue" and "range" in err.message


@pytest.mark.parametrize("number", [
    "abc", "-", ".", "1.2.3", "42abc", "4 2", "1,000", "0x1f", "1_000", "1e", "Inf", "NaN",
    " 1",
])
def test_numbers_that_are_not_numbers(number: str) -> None:
    err = error(message_attrs.validate_message_attributes, {"Age": text(number, "Number")})
    assert err.message == "Can't cast the value of message (user) attribute 'Age' to a number."


def test_system_attributes() -> None:
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    message_attrs.validate_system_attributes({"AWSTraceHeader": text(header)})
    message_attrs.validate_system_attributes({})
    for bad in (
        {"Other": text(header)},
        {"AWSTraceHeader": text(header, "Number")},
        {"AWSTraceHeader": binary(b"x")},
        {"AWSTraceHeader": text("")},
    ):
        assert code(message_attrs.validate_system_attributes, bad) == "InvalidParameterValue"


def test_message_size_counts_body_and_every_attribute_part() -> None:
    attrs = {"név": text("érték"), "b": binary(b"\x00\x01", "Binary.x")}
    expected = len("body é".encode()) + (4 + 6 + 7) + (1 + 8 + 2)
    assert message_attrs.message_size("body é", attrs) == expected
    message_attrs.check_message_size("body é", attrs, expected)
    err = error(message_attrs.check_message_size, "body é", attrs, expected - 1)
    assert (err.code, err.message) == (
        "InvalidParameterValue",
        f"One or more parameters are invalid. Reason: Message must be shorter than "
        f"{expected - 1} bytes.",
    )


# Vectors: AWS responses recorded by LocalStack's AWS-validated snapshots (the "Help.Me"
# family, "Foo" and the traceparent Binary), the example in SQS's developer guide
# ("SellerName" ...), and YDB's and aws-md5-of-message-attributes' test suites.
MD5_VECTORS = [
    ({"SellerName": text("Example Store")}, "cd28f3b68aeee4b2eac9c66f2f694b58"),
    ({"City": text("Any City"), "PostalCode": text("99065"), "Region": text("WA"),
      "SellerName": text("Example Store")}, "66d793da93becb551e41562575418975"),
    ({"City": text("Any City"), "PostalCode": text("99065"),
      "PricePerGallon": text("1.99", "Number"), "Region": text("WA"),
      "SellerName": text("Example Store")}, "10809b55e3d9b22c17220b7dbaf283ef"),
    ({"customNumberTypeAttrib": text("4563442423554324324264524243.32543234", "Number.float")},
     "9fe1b90bbd9965bdf77bac517c7d2495"),
    ({"binaryAttribute": binary(b"Hello binary world!")}, "31a92b15d92f8db860eda32aceb656c3"),
    ({"test_attribute_name_2": text("test_attribute_value_2"),
      "test_attribute_name_1": text("test_attribute_value_1")},
     "d53f3b558fe951154770f25cb63dbba9"),
    ({"test_attribute_name": binary(b"test_attribute_value")},
     "23f6bd27ea87aab7dfeadcc9aebee495"),
    ({"Help.Me": text("Me"), "Hello": text("There"), "General": text("Kenobi")},
     "4c360f3fdafd970e05fae2f149d997f5"),
    ({"General": text("Kenobi"), "Hello": text("There")}, "fca026605781cb4126a1e9044df24232"),
    ({"Hello": text("There")}, "a311262e065454b75da111d535b8dacd"),
    ({"Hello": text("There"), "Help.Me": text("Me")}, "83fee93c1bcd8b9a5a923ffacdc636c7"),
    ({"Foo": text("Bar")}, "ae7155c6026991b6d54b11589678bf9c"),
    ({"attr1": binary(b"traceparent\x1e00-774062d6c37081a5a0b9b5b88e30627c-2d2482211f6489da-01")},
     "8cbe4db156db8a94db8b801b7addb984"),
]


@pytest.mark.parametrize(("attrs", "digest"), MD5_VECTORS)
def test_md5_of_attributes_matches_sqs(attrs: dict[str, Value], digest: str) -> None:
    assert message_attrs.md5_of_attributes(attrs) == digest


def test_md5_of_body_and_of_nothing() -> None:
    assert message_attrs.md5_of_body("msg") == "6e2baaf3b97dbeef01c0043275f9a0e7"
    assert message_attrs.md5_of_body("test") == "098f6bcd4621d373cade4e832627b4f6"
    assert message_attrs.md5_of_attributes({}) == ""


def test_select_attributes() -> None:
    attrs = {"Help.Me": text("Me"), "Hello": text("There"), "General": text("Kenobi")}

    def chosen(*requested: str) -> set[str]:
        return set(message_attrs.select_attributes(attrs, requested))

    assert chosen() == set()
    assert chosen("All") == chosen(".*") == chosen("*") == set(attrs)
    assert chosen("Foo", "Help") == set()
    assert chosen("Hello", "General") == {"Hello", "General"}
    assert chosen("Foo", "Hello") == {"Hello"}
    assert chosen("Hel.*") == {"Hello", "Help.Me"}
    assert chosen("Help.*") == {"Help.Me"}
    assert chosen("AWS.", "..foo") == set()


# -- receipt handles ---------------------------------------------------------------------

B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
RECEIPT = receipts.Receipt("orders.fifo", "3f2a9c", 7, "0b5e6f0a-9d1c-4b7e-8a1d-2c3f4e5a6b7c", 3)


def test_receipt_round_trip() -> None:
    handle = receipts.encode(RECEIPT)
    assert len(handle) < 1024
    assert set(handle) <= set(B64_ALPHABET)
    assert receipts.decode(handle, "orders.fifo") == RECEIPT
    other = receipts.encode(receipts.Receipt("orders.fifo", "3f2a9c", 7, RECEIPT.message_id, 4))
    assert other != handle  # each receive gets its own handle


def test_longest_receipt_fits() -> None:
    big = receipts.Receipt("q" * 80, "i" * 64, 2**32 - 1, "m" * 100, 2**32 - 1)
    handle = receipts.encode(big)
    assert len(handle) < 1024 and receipts.decode(handle, "q" * 80) == big


@pytest.mark.parametrize("message_id", ["m", "mm", "mmm"])  # every length mod 3
def test_every_edited_character_is_detected(message_id: str) -> None:
    handle = receipts.encode(receipts.Receipt("q", "i", 0, message_id, 1))
    edits = [handle[:i] + c + handle[i + 1:] for i in range(len(handle) - 1) for c in "AB-"]
    # the last character also carries unused padding bits: try every character there
    edits += [handle[:-1] + c for c in B64_ALPHABET]
    for edited in edits:
        if edited != handle:
            assert code(receipts.decode, edited, "q") == "ReceiptHandleIsInvalid", edited


def test_tampered_and_foreign_handles_are_invalid() -> None:
    handle = receipts.encode(RECEIPT)
    for bad in (handle[:-1], handle[1:], handle + "A", handle + "!", "garbage", "AAAA", "é"):
        err = error(receipts.decode, bad, "orders.fifo")
        assert err.code == "ReceiptHandleIsInvalid", bad
        assert err.message == f'The input receipt handle "{bad}" is not a valid receipt handle.'
    assert code(receipts.decode, handle, "orders") == "ReceiptHandleIsInvalid"
    err = error(receipts.decode, "", "orders.fifo")
    assert (err.code, err.message) == (
        "MissingParameter", "The request must contain the parameter ReceiptHandle."
    )


# -- batches -----------------------------------------------------------------------------


def test_batch_entry_counts() -> None:
    batches.check_entry_ids(["a"])
    batches.check_entry_ids([str(i) for i in range(10)])
    err = error(batches.check_entry_ids, [])
    assert (err.code, err.message) == (
        "AWS.SimpleQueueService.EmptyBatchRequest",
        "There should be at least one SendMessageBatchRequestEntry in the request.",
    )
    err = error(batches.check_entry_ids, [], entry="DeleteMessageBatchRequestEntry")
    assert "DeleteMessageBatchRequestEntry" in err.message
    err = error(batches.check_entry_ids, [str(i) for i in range(11)])
    assert (err.code, err.message) == (
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "Maximum number of entries per request are 10. You have sent 11.",
    )


def test_batch_entry_ids() -> None:
    batches.check_entry_ids(["a" * 80, "A-b_9"])
    for bad in ("", "a" * 81, "has space", "colon:id", "dot.id", "é"):
        err = error(batches.check_entry_ids, ["ok", bad])
        assert err.code == "AWS.SimpleQueueService.InvalidBatchEntryId", bad
        assert err.message == (
            "A batch entry id can only contain alphanumeric characters, hyphens and "
            "underscores. It can be at most 80 letters long."
        )
    err = error(batches.check_entry_ids, ["a", "b", "a"])
    assert (err.code, err.message) == ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                                       "Id a repeated.")


def test_batch_size() -> None:
    batches.check_batch_size(262_144, 262_144)
    err = error(batches.check_batch_size, 262_145, 262_144)
    assert (err.code, err.message) == (
        "AWS.SimpleQueueService.BatchRequestTooLong",
        "Batch requests cannot be longer than 262144 bytes. You have sent 262145 bytes.",
    )
