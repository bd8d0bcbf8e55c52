"""``NotificationConfiguration`` (Put/GetBucketNotificationConfiguration): the document
<-> the bucket's NotificationConfigurationRecord.

Only the XML's own shape is judged here (MalformedXML: a QueueConfiguration without a
Queue or an Event, a Filter without S3Key rules, a FilterRule without Name or Value);
what the values mean is judged by engine.objects.notifications.rules, so gRPC callers get
the same answers. A GET writes filter rule names as S3 does, "Prefix" and "Suffix", whatever case
they were sent in.

Destinations other than SQS queues (TopicConfiguration, CloudFunctionConfiguration /
LambdaFunctionConfiguration, EventBridgeConfiguration) are refused with InvalidArgument
naming the element: S3 itself answers a destination it cannot use with InvalidArgument,
so tools (Terraform, CDK, aws-cli) report it as a configuration the user must change,
which it is here; NotImplemented would read as a server fault and name no element.
Accepting and ignoring them would silently drop the user's events.
"""

from __future__ import annotations

from engine.api.s3.xml.base import CONFIG_BODY, Node, add, add_all, parse, render, root
from engine.errors import EngineError
from engine.objects.notifications.rules import key_filter
from engine.v1.records_pb2 import NotificationConfigurationRecord

# Element -> (the element naming its destination, what that is); none of them is served.
UNSUPPORTED = {"TopicConfiguration": ("Topic", "SNS topic"),
               "CloudFunctionConfiguration": ("CloudFunction", "Lambda function"),
               "LambdaFunctionConfiguration": ("LambdaFunction", "Lambda function"),
               "EventBridgeConfiguration": ("", "EventBridge")}


def unsupported_destination(element: str, what: str, arn: str) -> EngineError:
    return EngineError(
        "InvalidArgument", f"{what} destinations ({element}) are not supported by this "
        "server; only SQS queues (QueueConfiguration) are.", ArgumentName=element,
        ArgumentValue=arn)


def _filter(node: Node) -> tuple[str, str]:
    s3_key = node.require("S3Key")
    rules = s3_key.children("FilterRule")
    if not rules:
        raise node.fail()
    pairs = []
    for rule in rules:
        name, value = rule.string("Name"), rule.string("Value")
        if name is None or value is None:
            raise rule.fail()
        pairs.append((name.strip(), value))
    return key_filter(pairs)


def parse_notification(body: bytes) -> NotificationConfigurationRecord:
    """The document as a record (Ids as given, "" when absent); an empty
    NotificationConfiguration is valid and turns notifications off."""
    doc = parse(body, "NotificationConfiguration", CONFIG_BODY)
    for element, (arn_element, what) in UNSUPPORTED.items():
        for node in doc.children(element):
            arn = (node.token(arn_element) or "") if arn_element else ""
            raise unsupported_destination(element, what, arn)
    config = NotificationConfigurationRecord()
    for node in doc.children("QueueConfiguration"):
        queue = node.token("Queue")
        events = [event.text.strip() for event in node.children("Event")]
        if queue is None or not events:
            raise node.fail()
        found = node.child("Filter")
        prefix, suffix = _filter(found) if found is not None else ("", "")
        config.queues.add(id=node.token("Id") or "", queue_arn=queue, events=events,
                          prefix=prefix, suffix=suffix)
    return config


def notification_result(config: NotificationConfigurationRecord) -> bytes:
    doc = root("NotificationConfiguration")
    for rule in config.queues:
        node = add(doc, "QueueConfiguration")
        add(node, "Id", rule.id)
        add(node, "Queue", rule.queue_arn)
        add_all(node, "Event", rule.events)
        if rule.prefix or rule.suffix:
            s3_key = add(add(node, "Filter"), "S3Key")
            for name, value in (("Prefix", rule.prefix), ("Suffix", rule.suffix)):
                if value:
                    filter_rule = add(s3_key, "FilterRule")
                    add(filter_rule, "Name", name)
                    add(filter_rule, "Value", value)
    return render(doc)
