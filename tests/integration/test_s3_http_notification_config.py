"""Bucket notification configuration over the S3 REST endpoint with boto3: the round
trip, S3's refusals (rules, destinations, documents, headers), and who may set it.

Rule checks run with SkipDestinationValidation, as S3 applies them before it looks at
any queue. The round trip through a real queue whose policy lets the bucket send needs
the node's event sink (engine/objects/notifications/sink.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from helpers_iam_http import Keys, client
from helpers_s3_http import S3_NS, bucket_name, s3_client, send, signed_headers
from helpers_sqs_http import queue_name, sqs_client
from s3_events import queue_for

from engine.objects.notifications import rules

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

ARN = "arn:aws:sqs:us-east-1:123456789012:jobs"
AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name("notify")
    s3.create_bucket(Bucket=name)
    return name


def put(s3, bucket: str, *queues: dict, skip: bool = True) -> dict:
    return s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": list(queues)},
        SkipDestinationValidation=skip)


def queue(*events: str, prefix: str = "", suffix: str = "", arn: str = ARN, **extra) -> dict:
    entry = {"QueueArn": arn, "Events": list(events), **extra}
    filter_rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix))
                    if v]
    if filter_rules:
        entry["Filter"] = {"Key": {"FilterRules": filter_rules}}
    return entry


def refused(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return response["Error"]


def test_a_new_bucket_has_no_configuration(s3, bucket):
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert set(got) == {"ResponseMetadata"}


def test_round_trip_with_generated_ids_and_s3s_filter_names(s3, bucket):
    put(s3, bucket,
        queue("s3:ObjectCreated:*", prefix="images/", suffix=".jpg", Id="images"),
        queue("s3:ObjectRemoved:Delete", "s3:LifecycleTransition"))
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert got[0] == {"Id": "images", "QueueArn": ARN, "Events": ["s3:ObjectCreated:*"],
                      "Filter": {"Key": {"FilterRules": [
                          {"Name": "Prefix", "Value": "images/"},
                          {"Name": "Suffix", "Value": ".jpg"}]}}}
    assert got[1]["Events"] == ["s3:ObjectRemoved:Delete", "s3:LifecycleTransition"]
    assert "Filter" not in got[1]
    generated = got[1]["Id"]
    assert generated and len(generated) <= 255
    again = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert again[1]["Id"] == generated  # stored, not made up per GET


def test_a_new_configuration_replaces_the_old_and_an_empty_one_turns_it_off(s3, bucket):
    put(s3, bucket, queue("s3:ObjectCreated:*", Id="first"))
    put(s3, bucket, queue("s3:ObjectRemoved:*", Id="second"))
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert [q["Id"] for q in got] == ["second"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


@pytest.mark.parametrize("queues, message, argument", [
    ([queue("s3:ObjectCreated:Get")], "The event is not supported for notifications",
     ("Event", "s3:ObjectCreated:Get")),
    ([queue("s3:ObjectCreated:*"), queue("s3:ObjectCreated:*", prefix="images")],
     rules.AMBIGUOUS, ("Event", "s3:ObjectCreated:*")),
    ([queue("s3:ObjectCreated:*", suffix="jpg"), queue("s3:ObjectCreated:Put", suffix="pg")],
     rules.AMBIGUOUS, ("Event", "s3:ObjectCreated:Put")),
    ([queue("s3:ObjectCreated:Put"), queue("s3:ObjectCreated:*", arn=ARN + "2")],
     rules.OVERLAP, ("Event", "s3:ObjectCreated:*")),
    ([queue("s3:ObjectCreated:*", arn="arn:aws:sns:us-east-1:123456789012:topic")],
     "The ARN is not well formed", ("Queue", "arn:aws:sns:us-east-1:123456789012:topic")),
    ([queue("s3:ObjectCreated:*", arn=ARN + ".fifo")], "FIFO SQS queues are not supported.",
     ("Queue", ARN + ".fifo")),
    ([queue("s3:ObjectCreated:*", Id="a"), queue("s3:ObjectRemoved:*", Id="a")],
     "Same ID used for multiple configurations. IDs must be unique.", ("Id", "a")),
    ([queue("s3:ObjectCreated:*", Id="i" * 256)], "ID length exceeded allowed limit of 255",
     ("Id", "i" * 256)),
    ([queue("s3:ObjectCreated:*", prefix="p" * 1025)],
     "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation",
     ("FilterRule.Value (prefix)", "p" * 1025)),
])
def test_rule_refusals_leave_the_configuration_as_it_was(s3, bucket, queues, message, argument):
    put(s3, bucket, queue("s3:ObjectTagging:*", Id="kept"))
    error = refused(
        s3.put_bucket_notification_configuration, Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": queues},
        SkipDestinationValidation=True)
    assert (error["Code"], error["Message"]) == ("InvalidArgument", message)
    assert error["ArgumentName"] == argument[0]
    assert error["ArgumentValue"].startswith(argument[1][:200])  # long echoes are clipped
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert [q["Id"] for q in got] == ["kept"]


@pytest.mark.parametrize("filter_rules, message", [
    ([{"Name": "prefix", "Value": "a"}, {"Name": "Prefix", "Value": "b"}],
     "Cannot specify more than one prefix rule in a filter."),
    ([{"Name": "suffix", "Value": "a"}, {"Name": "suffix", "Value": "b"}],
     "Cannot specify more than one suffix rule in a filter."),
])
def test_filter_rule_refusals(s3, bucket, filter_rules, message):
    entry = {"QueueArn": ARN, "Events": ["s3:ObjectCreated:*"],
             "Filter": {"Key": {"FilterRules": filter_rules}}}
    error = refused(s3.put_bucket_notification_configuration, Bucket=bucket,
                    NotificationConfiguration={"QueueConfigurations": [entry]},
                    SkipDestinationValidation=True)
    assert (error["Code"], error["Message"]) == ("InvalidArgument", message)


def test_filter_rule_names_are_taken_in_any_case(s3, bucket):
    entry = {"QueueArn": ARN, "Events": ["s3:ObjectCreated:*"],
             "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "in/"},
                                                {"Name": "SUFFIX", "Value": ".csv"}]}}}
    put(s3, bucket, entry)
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"][0]
    assert got["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "in/"},
                                                   {"Name": "Suffix", "Value": ".csv"}]


@pytest.mark.parametrize("config, element", [
    ({"TopicConfigurations": [{"TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                               "Events": ["s3:ObjectCreated:*"]}]}, "TopicConfiguration"),
    ({"LambdaFunctionConfigurations": [{
        "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "Events": ["s3:ObjectCreated:*"]}]}, "CloudFunctionConfiguration"),
    ({"EventBridgeConfiguration": {}}, "EventBridgeConfiguration"),
])
def test_other_destination_types_are_refused_by_name(s3, bucket, config, element):
    error = refused(s3.put_bucket_notification_configuration, Bucket=bucket,
                    NotificationConfiguration=config, SkipDestinationValidation=True)
    assert error["Code"] == "InvalidArgument"
    assert f"({element}) are not supported by this server" in error["Message"]
    assert error["ArgumentName"] == element


def test_a_queue_that_does_not_exist_fails_destination_validation(s3, bucket):
    missing = f"arn:aws:sqs:us-east-1:123456789012:{queue_name('missing')}"
    error = refused(
        s3.put_bucket_notification_configuration, Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [queue("s3:ObjectCreated:*",
                                                                 arn=missing)]})
    assert (error["Code"], error["Message"]) == (
        "InvalidArgument", "Unable to validate the following destination configurations")
    assert (error["ArgumentName1"], error["ArgumentValue1"]) == (
        missing, "The destination queue does not exist")
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


def test_round_trip_through_a_queue_the_bucket_may_send_to(shared_server, s3, bucket):
    sqs = sqs_client(shared_server.http_url)
    _, arn = queue_for(sqs, bucket, "notify")
    put(s3, bucket, queue("s3:ObjectCreated:*", arn=arn, Id="live"), skip=False)
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert got == [{"Id": "live", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]


# --- raw requests ---------------------------------------------------------------------------


def raw_put(server, bucket: str, body: bytes, headers: dict[str, str] | None = None):
    url = f"{server.http_url}/{bucket}?notification"
    signed = signed_headers("PUT", url, hashlib.sha256(body).hexdigest(), headers)
    return send(url, "PUT", list(signed.items()), body)


def error_code(answer) -> tuple[int, str, str]:
    doc = ET.fromstring(answer.body)
    return answer.status, doc.findtext("Code") or "", doc.findtext("Message") or ""


@pytest.mark.parametrize("body", [
    b"<NotificationConfiguration><QueueConfiguration>",
    b"<NotificationConfiguration><QueueConfiguration><Queue>" + ARN.encode() +
    b"</Queue></QueueConfiguration></NotificationConfiguration>",
    b"<LifecycleConfiguration/>",
])
def test_malformed_documents(shared_server, s3, bucket, body):
    answer = raw_put(shared_server, bucket, body,
                     {"x-amz-skip-destination-validation": "true"})
    assert error_code(answer)[:2] == (400, "MalformedXML")
    s3.head_bucket(Bucket=bucket)  # the node is unharmed


def test_an_invalid_skip_validation_header_is_refused(shared_server, bucket):
    answer = raw_put(shared_server, bucket, b"<NotificationConfiguration/>",
                     {"x-amz-skip-destination-validation": "maybe"})
    status, code, _ = error_code(answer)
    assert (status, code) == (400, "InvalidArgument")
    assert ET.fromstring(answer.body).findtext("ArgumentName") == \
        "x-amz-skip-destination-validation"


def test_get_answers_the_xml_s3_sends(shared_server, s3, bucket):
    put(s3, bucket, queue("s3:ObjectCreated:Put", prefix="a/", Id="x"))
    url = f"{shared_server.http_url}/{bucket}?notification"
    answer = send(url, "GET", list(signed_headers(
        "GET", url, hashlib.sha256(b"").hexdigest()).items()))
    assert answer.status == 200
    doc = ET.fromstring(answer.body)
    rule = doc.find(f"{S3_NS}QueueConfiguration")
    assert rule is not None
    assert [child.tag.removeprefix(S3_NS) for child in rule] == ["Id", "Queue", "Event",
                                                                 "Filter"]
    assert rule.findtext(f"{S3_NS}Filter/{S3_NS}S3Key/{S3_NS}FilterRule/{S3_NS}Name") == "Prefix"


def test_a_user_needs_the_notification_permissions(shared_server, s3, bucket):
    iam = client("iam", shared_server.http_url)
    name = f"notify-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    keys = Keys.of(iam.create_access_key(UserName=name)["AccessKey"])
    user = client("s3", shared_server.http_url, keys)
    for call, kwargs in ((user.get_bucket_notification_configuration, {}),
                         (user.put_bucket_notification_configuration,
                          {"NotificationConfiguration": {}})):
        with pytest.raises(ClientError) as caught:
            call(Bucket=bucket, **kwargs)
        assert caught.value.response["Error"]["Code"] == "AccessDenied"
    iam.put_user_policy(UserName=name, PolicyName="notify", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Resource": f"arn:aws:s3:::{bucket}",
            "Action": ["s3:PutBucketNotification", "s3:GetBucketNotification"]}]}))
    user.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
            queue("s3:ObjectCreated:*", Id="by-user")]}, SkipDestinationValidation=True)
    got = user.get_bucket_notification_configuration(Bucket=bucket)
    assert [q["Id"] for q in got["QueueConfigurations"]] == ["by-user"]


@pytest.mark.skipif(AWS is None, reason="aws-cli is not installed (dev extras)")
def test_aws_cli_sets_and_reads_the_configuration(shared_server, bucket):
    def aws(*args: str) -> str:
        assert AWS is not None
        done = subprocess.run([AWS, "--endpoint-url", shared_server.http_url, "s3api", *args],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "AWS_PAGER": ""})
        assert done.returncode == 0, done.stderr
        return done.stdout

    config = {"QueueConfigurations": [queue("s3:ObjectCreated:*", suffix=".csv", Id="csv")]}
    aws("put-bucket-notification-configuration", "--bucket", bucket,
        "--notification-configuration", json.dumps(config), "--skip-destination-validation")
    got = json.loads(aws("get-bucket-notification-configuration", "--bucket", bucket))
    assert got["QueueConfigurations"] == [{
        "Id": "csv", "QueueArn": ARN, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "Suffix", "Value": ".csv"}]}}}]

