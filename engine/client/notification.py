"""Notification configurations: boto3's ``{"QueueConfigurations": [...]}`` dicts <->
NotificationConfigurationRecord.

The record holds a rule's filter as a prefix and a suffix, so the FilterRule list is
read here, with the server's answers for what the record cannot carry (a name that is
neither prefix nor suffix, one named twice) and for destinations the engine does not
serve (topics, Lambda functions, EventBridge): the same InvalidArgument a boto3 user
gets from the REST endpoint, raised before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.client.errors import S3_EXCEPTIONS, ClientError, response_metadata
from engine.client.shapes import ListOf, Struct, validate
from engine.errors import EngineError
from engine.v1.records_pb2 import NotificationConfigurationRecord

OPERATION = "PutBucketNotificationConfiguration"

_FILTER = Struct({"Key": Struct({"FilterRules": ListOf(Struct({"Name": str, "Value": str}))})})


def _destination(arn_member: str) -> Struct:
    return Struct({"Id": str, arn_member: str, "Events": ListOf(str), "Filter": _FILTER},
                  required=(arn_member, "Events"))


CONFIGURATION = Struct({
    "TopicConfigurations": ListOf(_destination("TopicArn")),
    "QueueConfigurations": ListOf(_destination("QueueArn")),
    "LambdaFunctionConfigurations": ListOf(_destination("LambdaFunctionArn")),
    "EventBridgeConfiguration": Struct({}),
})

# boto3 member -> (the REST element it is sent as, its ARN member, what it names).
_UNSUPPORTED = {
    "TopicConfigurations": ("TopicConfiguration", "TopicArn", "SNS topic"),
    "LambdaFunctionConfigurations": ("CloudFunctionConfiguration", "LambdaFunctionArn",
                                     "Lambda function"),
}


def _refused(message: str, name: str, value: str) -> ClientError:
    err = EngineError("InvalidArgument", message, ArgumentName=name, ArgumentValue=value)
    return S3_EXCEPTIONS.from_code(err.code)(
        {"Error": S3_EXCEPTIONS.error_fields(err), "ResponseMetadata": response_metadata(400)},
        OPERATION)


def unsupported(element: str, what: str, arn: str) -> ClientError:
    return _refused(f"{what} destinations ({element}) are not supported by this server; "
                    "only SQS queues (QueueConfiguration) are.", element, arn)


def _key_filter(rules: list[Mapping[str, str]]) -> tuple[str, str]:
    found: dict[str, str] = {}
    for rule in rules:
        name = rule.get("Name", "")
        kind = name.lower()
        if kind not in ("prefix", "suffix"):
            raise _refused("filter rule name must be either prefix or suffix",
                           "FilterRule.Name", name)
        if kind in found:
            raise _refused(f"Cannot specify more than one {kind} rule in a filter.",
                           "FilterRule.Name", name)
        found[kind] = rule.get("Value", "")
    return found.get("prefix", ""), found.get("suffix", "")


def to_proto(config: Mapping[str, Any], name: str = "NotificationConfiguration"
             ) -> NotificationConfigurationRecord:
    """Validate as botocore does, refuse what the server refuses, build the record."""
    validate(config, CONFIGURATION, name)
    for member, (element, arn_member, what) in _UNSUPPORTED.items():
        for entry in config.get(member) or ():
            raise unsupported(element, what, entry[arn_member])
    if "EventBridgeConfiguration" in config:
        raise unsupported("EventBridgeConfiguration", "EventBridge", "")
    record = NotificationConfigurationRecord()
    for entry in config.get("QueueConfigurations") or ():
        rules = entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        prefix, suffix = _key_filter(list(rules))
        record.queues.add(id=entry.get("Id", ""), queue_arn=entry["QueueArn"],
                          events=list(entry["Events"]), prefix=prefix, suffix=suffix)
    return record


def to_dict(config: NotificationConfigurationRecord) -> dict[str, Any]:
    """The members of a GetBucketNotificationConfiguration response: none when no rule is
    set; filter rule names "Prefix" / "Suffix", as S3 returns them."""
    queues = []
    for rule in config.queues:
        entry: dict[str, Any] = {"Id": rule.id, "QueueArn": rule.queue_arn,
                                 "Events": list(rule.events)}
        rules = [{"Name": name, "Value": value}
                 for name, value in (("Prefix", rule.prefix), ("Suffix", rule.suffix)) if value]
        if rules:
            entry["Filter"] = {"Key": {"FilterRules": rules}}
        queues.append(entry)
    return {"QueueConfigurations": queues} if queues else {}
