"""Bucket notification configuration through the SDK (gRPC): boto3's shapes both ways,
the service's refusals as boto3's ClientError, and what the SDK refuses before sending
(what the record cannot carry) in the same words as the REST endpoint."""

from __future__ import annotations

import pytest

from engine.api.s3.xml.notification import UNSUPPORTED, unsupported_destination
from engine.client import ClientError, ParamValidationError
from engine.errors import EngineError
from engine.objects.notifications import rules

ARN = "arn:aws:sqs:us-east-1:123456789012:jobs"


def put(s3, bucket: str, config: dict, skip: bool = True) -> dict:
    return s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=config, SkipDestinationValidation=skip)


def refused(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.operation_name == "PutBucketNotificationConfiguration"
    return caught.value.response["Error"]


def test_round_trip_in_boto3s_shapes(s3, bucket):
    assert set(s3.get_bucket_notification_configuration(Bucket=bucket)) == {"ResponseMetadata"}
    put(s3, bucket, {"QueueConfigurations": [
        {"Id": "jpgs", "QueueArn": ARN, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"},
                                            {"Name": "prefix", "Value": "img/"}]}}},
        {"QueueArn": ARN, "Events": ["s3:ObjectRemoved:*", "s3:ObjectRestore:Completed"]},
    ]})
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["QueueConfigurations"][0] == {
        "Id": "jpgs", "QueueArn": ARN, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "img/"},
                                           {"Name": "Suffix", "Value": ".jpg"}]}}}
    second = got["QueueConfigurations"][1]
    assert second["Events"] == ["s3:ObjectRemoved:*", "s3:ObjectRestore:Completed"]
    assert second["Id"] and "Filter" not in second
    put(s3, bucket, {})
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


def test_service_refusals_arrive_as_s3_errors(s3, bucket):
    error = refused(put, s3=s3, bucket=bucket, config={"QueueConfigurations": [
        {"QueueArn": ARN, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": "jpg"}]}}},
        {"QueueArn": ARN, "Events": ["s3:ObjectCreated:Put"],
         "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": "pg"}]}}}]})
    assert error == {"Code": "InvalidArgument", "Message": rules.AMBIGUOUS,
                     "ArgumentName": "Event", "ArgumentValue": "s3:ObjectCreated:Put"}
    error = refused(put, s3=s3, bucket=bucket, config={"QueueConfigurations": [
        {"QueueArn": ARN, "Events": ["s3:ObjectAcl:Put"]}]})
    assert error["Code"] == "InvalidArgument"
    assert error["Message"].startswith("The event s3:ObjectAcl:Put is not supported")


def test_destination_validation_over_grpc(s3, bucket):
    missing = "arn:aws:sqs:us-east-1:123456789012:no-such-queue-here"
    error = refused(put, s3=s3, bucket=bucket, skip=False, config={"QueueConfigurations": [
        {"QueueArn": missing, "Events": ["s3:ObjectCreated:*"]}]})
    assert (error["Message"], error["ArgumentName1"], error["ArgumentValue1"]) == (
        "Unable to validate the following destination configurations", missing,
        "The destination queue does not exist")


@pytest.mark.parametrize("filter_rules, message", [
    ([{"Name": "prefix", "Value": "a"}, {"Name": "PREFIX", "Value": "b"}],
     "Cannot specify more than one prefix rule in a filter."),
    ([{"Name": "suffix", "Value": "a"}, {"Name": "suffix", "Value": "b"}],
     "Cannot specify more than one suffix rule in a filter."),
    ([{"Name": "regex", "Value": ".*"}], rules.BAD_FILTER_NAME),
])
def test_filter_rules_the_record_cannot_hold_are_refused_as_the_server_would(
        s3, bucket, filter_rules, message):
    error = refused(put, s3=s3, bucket=bucket, config={"QueueConfigurations": [
        {"QueueArn": ARN, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": filter_rules}}}]})
    with pytest.raises(EngineError) as server:
        rules.key_filter((r["Name"], r["Value"]) for r in filter_rules)
    assert (error["Code"], error["Message"]) == ("InvalidArgument", message)
    assert error["Message"] == server.value.message


@pytest.mark.parametrize("config, element, arn", [
    ({"TopicConfigurations": [{"TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                               "Events": ["s3:ObjectCreated:*"]}]},
     "TopicConfiguration", "arn:aws:sns:us-east-1:123456789012:t"),
    ({"LambdaFunctionConfigurations": [{
        "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "Events": ["s3:ObjectCreated:*"]}]},
     "CloudFunctionConfiguration", "arn:aws:lambda:us-east-1:123456789012:function:f"),
    ({"EventBridgeConfiguration": {}}, "EventBridgeConfiguration", ""),
])
def test_other_destinations_are_refused_as_the_rest_endpoint_does(s3, bucket, config, element,
                                                                   arn):
    error = refused(put, s3=s3, bucket=bucket, config=config)
    rest = unsupported_destination(element, UNSUPPORTED[element][1], arn)
    assert error == {"Code": "InvalidArgument", "Message": rest.message,
                     "ArgumentName": element, "ArgumentValue": arn}


def test_parameters_are_validated_as_botocore_does(s3, bucket):
    with pytest.raises(ParamValidationError, match="Missing required parameter"):
        put(s3, bucket, {"QueueConfigurations": [{"Events": ["s3:ObjectCreated:*"]}]})
    with pytest.raises(ParamValidationError, match="Unknown parameter"):
        put(s3, bucket, {"QueueConfiguration": []})
