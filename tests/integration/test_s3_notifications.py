"""S3 event notifications into SQS queues, end to end on a real node: boto3's S3 client
sets the configuration and changes objects, boto3's SQS client reads what arrives.

A node with ``--day-seconds 0.5`` so lifecycle rules and restores run in a second.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import bucket_name, s3_client
from helpers_sqs_http import queue_name, sqs_client
from s3_events import queue_for


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory("--day-seconds", "0.5")


@pytest.fixture(scope="module")
def s3(node):
    return s3_client(node.http_url)


@pytest.fixture(scope="module")
def sqs(node):
    return sqs_client(node.http_url)


def drain(sqs: Any, url: str, until: Any, timeout: float = 30.0) -> list[dict]:
    """Messages' bodies (parsed) as they arrive, deleted, until ``until(bodies)``; at
    least one receive (a long poll of 1 s) is made."""
    bodies: list[dict] = []
    deadline = time.monotonic() + timeout
    first = True
    while first or not until(bodies):
        first = False
        assert time.monotonic() < deadline, f"waited {timeout} s; got {bodies}"
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in got.get("Messages", []):
            bodies.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def records(bodies: list[dict]) -> list[dict]:
    return [r for b in bodies for r in b.get("Records", [])]


def names(bodies: list[dict]) -> list[tuple[str, str]]:
    return [(r["eventName"], r["s3"]["object"]["key"]) for r in records(bodies)]


def configure(s3: Any, bucket: str, arn: str, events: list[str], prefix: str = "",
              suffix: str = "", rule_id: str = "to-queue") -> None:
    rule: dict[str, Any] = {"Id": rule_id, "QueueArn": arn, "Events": events}
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v]
    if rules:
        rule["Filter"] = {"Key": {"FilterRules": rules}}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [rule]})


def test_a_put_arrives_as_aws_writes_it(s3, sqs):
    bucket = bucket_name("put")
    s3.create_bucket(Bucket=bucket)
    url, arn = queue_for(sqs, bucket)
    configure(s3, bucket, arn, ["s3:ObjectCreated:*"])
    test_event = drain(sqs, url, lambda b: len(b) >= 1)[0]
    assert test_event["Event"] == "s3:TestEvent"
    assert test_event["Service"] == "Amazon S3"
    assert test_event["Bucket"] == bucket
    put = s3.put_object(Bucket=bucket, Key="photos/summer 2024+.jpg", Body=b"hello")
    (record,) = records(drain(sqs, url, lambda b: len(b) >= 1))
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["eventTime"].endswith("Z") and len(record["eventTime"]) == 24
    assert record["userIdentity"]["principalId"]  # the root account's id
    assert record["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert record["responseElements"]["x-amz-request-id"] == \
        put["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    s3_part = record["s3"]
    assert s3_part["configurationId"] == "to-queue"
    assert s3_part["bucket"]["name"] == bucket
    assert s3_part["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    obj = s3_part["object"]
    assert obj["key"] == "photos/summer+2024%2B.jpg"  # form-encoded, as S3 does
    assert obj["size"] == 5
    assert obj["eTag"] == put["ETag"].strip('"')
    assert len(obj["sequencer"]) == 18
    assert "versionId" not in obj  # an unversioned bucket


def test_filters_pick_the_keys(s3, sqs):
    bucket = bucket_name("filters")
    s3.create_bucket(Bucket=bucket)
    url, arn = queue_for(sqs, bucket)
    configure(s3, bucket, arn, ["s3:ObjectCreated:Put", "s3:ObjectRemoved:*"],
              prefix="in/", suffix=".csv")
    drain(sqs, url, lambda b: len(b) >= 1)  # the TestEvent
    for key in ("in/a.txt", "out/b.csv", "in.csv", "in/c.csv"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.copy_object(Bucket=bucket, Key="in/d.csv", CopySource={"Bucket": bucket,
                                                               "Key": "in/c.csv"})
    s3.delete_object(Bucket=bucket, Key="in/c.csv")
    s3.delete_object(Bucket=bucket, Key="in/never.csv")  # nothing removed, no event
    s3.put_object(Bucket=bucket, Key="in/last.csv", Body=b"x")
    wanted = [("ObjectCreated:Put", "in/c.csv"), ("ObjectCreated:Put", "in/last.csv"),
              ("ObjectRemoved:Delete", "in/c.csv")]
    got = drain(sqs, url, lambda b: set(wanted) <= set(names(b)))
    got += drain(sqs, url, lambda b: True)  # and nothing else arrives
    assert sorted(names(got)) == wanted  # a standard queue need not keep their order
    c = sorted((r["s3"]["object"]["sequencer"], r["eventName"]) for r in records(got)
               if r["s3"]["object"]["key"] == "in/c.csv")
    assert [name for _, name in c] == ["ObjectCreated:Put", "ObjectRemoved:Delete"]


def test_every_event_family_on_a_versioned_bucket(s3, sqs):
    bucket = bucket_name("families")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    url, arn = queue_for(sqs, bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [
            {"QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*",
                                         "s3:ObjectTagging:*", "s3:ObjectRestore:*"]},
            {"QueueArn": arn, "Events": ["s3:LifecycleExpiration:*",
                                         "s3:LifecycleTransition"]}]})
    drain(sqs, url, lambda b: len(b) >= 1)
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi")
    part = s3.upload_part(Bucket=bucket, Key="multi", UploadId=upload["UploadId"],
                          PartNumber=1, Body=b"p" * 100)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="multi", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.put_object_tagging(Bucket=bucket, Key="k",
                          Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    marker = s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_object(Bucket=bucket, Key="k", VersionId=first["VersionId"])
    s3.upload_fileobj(io.BytesIO(b"cold"), bucket, "cold",
                      ExtraArgs={"StorageClass": "GLACIER"})
    s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={
        "Days": 1, "GlacierJobParameters": {"Tier": "Expedited"}})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "exp/"},
         "Expiration": {"Days": 1}},
        {"ID": "freeze", "Status": "Enabled", "Filter": {"Prefix": "thaw/"},
         "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}]})
    s3.put_object(Bucket=bucket, Key="exp/old", Body=b"x")
    s3.put_object(Bucket=bucket, Key="thaw/warm", Body=b"x")
    wanted = {
        ("ObjectCreated:Put", "k"), ("ObjectCreated:Copy", "copy"),
        ("ObjectCreated:CompleteMultipartUpload", "multi"), ("ObjectTagging:Put", "k"),
        ("ObjectTagging:Delete", "k"), ("ObjectRemoved:DeleteMarkerCreated", "k"),
        ("ObjectRemoved:Delete", "k"), ("ObjectRestore:Post", "cold"),
        ("ObjectRestore:Completed", "cold"), ("ObjectRestore:Delete", "cold"),
        ("LifecycleExpiration:DeleteMarkerCreated", "exp/old"),
        ("LifecycleTransition", "thaw/warm"),
    }
    got = drain(sqs, url, lambda b: wanted <= set(names(b)), timeout=60)
    by_name = {(r["eventName"], r["s3"]["object"]["key"]): r for r in records(got)}
    assert by_name[("ObjectRemoved:DeleteMarkerCreated", "k")]["s3"]["object"][
        "versionId"] == marker["VersionId"]
    assert by_name[("ObjectRemoved:Delete", "k")]["s3"]["object"]["versionId"] == \
        first["VersionId"]
    assert by_name[("LifecycleTransition", "thaw/warm")]["lifecycleEventData"] == {
        "transitionEventData": {"destinationStorageClass": "GLACIER"}}
    assert by_name[("LifecycleExpiration:DeleteMarkerCreated", "exp/old")][
        "userIdentity"]["principalId"] == "s3.amazonaws.com"
    assert "glacierEventData" in by_name[("ObjectRestore:Completed", "cold")]
    ordered = [r["s3"]["object"]["sequencer"] for r in records(got)
               if r["s3"]["object"]["key"] == "k"]
    assert sorted(ordered) == sorted(set(ordered))  # distinct per change of one key


def test_destinations_are_checked_before_anything_is_stored(s3, sqs):
    bucket = bucket_name("dest")
    s3.create_bucket(Bucket=bucket)
    missing = "arn:aws:sqs:us-east-1:" + sqs.get_queue_attributes(
        QueueUrl=queue_for(sqs, bucket)[0], AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"].split(":")[4] + ":no-such-queue"
    bare = sqs.create_queue(QueueName=queue_name("nopolicy"))["QueueUrl"]
    bare_arn = sqs.get_queue_attributes(QueueUrl=bare, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    for arn, reason in ((missing, "does not exist"), (bare_arn, "do not allow S3")):
        with pytest.raises(ClientError) as info:
            configure(s3, bucket, arn, ["s3:ObjectCreated:*"])
        error = info.value.response["Error"]
        assert error["Code"] == "InvalidArgument"
        assert error["Message"] == \
            "Unable to validate the following destination configurations"
        assert error["ArgumentName1"] == arn
        assert reason in error["ArgumentValue1"]
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get(
        "QueueConfigurations", []) == []
    # A policy naming another bucket does not let this one send either.
    other_url, other_arn = queue_for(sqs, "some-other-bucket")
    with pytest.raises(ClientError):
        configure(s3, bucket, other_arn, ["s3:ObjectCreated:*"])
    assert sqs.receive_message(QueueUrl=other_url, WaitTimeSeconds=0).get("Messages") is None
