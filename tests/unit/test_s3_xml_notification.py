"""NotificationConfiguration documents (engine/api/s3/xml/notification.py): AWS's
documented examples, botocore both ways, the GET's "Prefix"/"Suffix" names, refused
destinations and malformed documents."""

from __future__ import annotations

import pytest
from helpers_s3_xml import answer, sent_body, tree

from engine.api.s3.xml.notification import notification_result, parse_notification
from engine.errors import EngineError
from engine.objects.notifications import rules
from engine.v1.records_pb2 import NotificationConfigurationRecord, QueueNotificationRecord

# The S3 User Guide's first two examples ("Examples of valid notification configurations
# with object key name filtering"), as published.
AWS_PREFIX_AND_SUFFIX = b"""<NotificationConfiguration>
  <QueueConfiguration>
      <Id>1</Id>
      <Filter>
          <S3Key>
              <FilterRule>
                  <Name>prefix</Name>
                  <Value>images/</Value>
              </FilterRule>
              <FilterRule>
                  <Name>suffix</Name>
                  <Value>jpg</Value>
              </FilterRule>
          </S3Key>
     </Filter>
     <Queue>arn:aws:sqs:us-west-2:444455556666:s3notificationqueue</Queue>
     <Event>s3:ObjectCreated:Put</Event>
  </QueueConfiguration>
</NotificationConfiguration>"""

AWS_TWO_PREFIXES = b"""<NotificationConfiguration>
  <QueueConfiguration>
     <Id>1</Id>
     <Filter>
            <S3Key>
                <FilterRule>
                    <Name>prefix</Name>
                    <Value>images/</Value>
                </FilterRule>
            </S3Key>
     </Filter>
     <Queue>arn:aws:sqs:us-west-2:444455556666:sqs-queue-A</Queue>
     <Event>s3:ObjectCreated:Put</Event>
  </QueueConfiguration>
  <QueueConfiguration>
     <Id>2</Id>
     <Filter>
            <S3Key>
                <FilterRule>
                    <Name>prefix</Name>
                    <Value>logs/</Value>
                </FilterRule>
            </S3Key>
     </Filter>
     <Queue>arn:aws:sqs:us-west-2:444455556666:sqs-queue-B</Queue>
     <Event>s3:ObjectCreated:Put</Event>
  </QueueConfiguration>
</NotificationConfiguration>"""

# The guide's invalid example "overlapping prefixes and suffixes", its SNS topics made
# queues (the overlap rule is the same for every destination).
AWS_OVERLAPPING_PREFIX_AND_SUFFIX = b"""<NotificationConfiguration>
     <QueueConfiguration>
         <Queue>arn:aws:sqs:us-west-2:444455556666:sns-topic-one</Queue>
         <Event>s3:ObjectCreated:*</Event>
         <Filter>
             <S3Key>
                 <FilterRule>
                     <Name>prefix</Name>
                     <Value>images</Value>
                 </FilterRule>
                 <FilterRule>
                     <Name>suffix</Name>
                     <Value>jpg</Value>
                 </FilterRule>
            </S3Key>
        </Filter>
    </QueueConfiguration>
    <QueueConfiguration>
         <Queue>arn:aws:sqs:us-west-2:444455556666:sns-topic-two</Queue>
         <Event>s3:ObjectCreated:Put</Event>
         <Filter>
             <S3Key>
                 <FilterRule>
                     <Name>suffix</Name>
                     <Value>jpg</Value>
                 </FilterRule>
            </S3Key>
        </Filter>
    </QueueConfiguration>
</NotificationConfiguration>"""

NS = b' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def refusal(body: bytes) -> EngineError:
    with pytest.raises(EngineError) as caught:
        rules.check_configuration(parse_notification(body))
    return caught.value


def test_aws_examples_parse_into_their_rules():
    one = rules.check_configuration(parse_notification(AWS_PREFIX_AND_SUFFIX))
    assert list(one.queues) == [QueueNotificationRecord(
        id="1", queue_arn="arn:aws:sqs:us-west-2:444455556666:s3notificationqueue",
        events=["s3:ObjectCreated:Put"], prefix="images/", suffix="jpg")]
    two = rules.check_configuration(parse_notification(AWS_TWO_PREFIXES))
    assert [(q.id, q.queue_arn.rsplit(":", 1)[1], q.prefix) for q in two.queues] == [
        ("1", "sqs-queue-A", "images/"), ("2", "sqs-queue-B", "logs/")]


def test_aws_overlapping_example_is_refused():
    err = refusal(AWS_OVERLAPPING_PREFIX_AND_SUFFIX)
    assert (err.code, err.message) == ("InvalidArgument", rules.AMBIGUOUS)


def test_get_renders_rules_as_s3_does():
    config = parse_notification(AWS_PREFIX_AND_SUFFIX)
    assert tree(notification_result(config)) == tree(AWS_PREFIX_AND_SUFFIX.replace(
        b"<NotificationConfiguration>", b"<NotificationConfiguration" + NS + b">").replace(
        b"<Name>prefix</Name>", b"<Name>Prefix</Name>").replace(
        b"<Name>suffix</Name>", b"<Name>Suffix</Name>"))
    empty = notification_result(NotificationConfigurationRecord())
    assert empty.endswith(b'<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/'
                          b'2006-03-01/"></NotificationConfiguration>')


def test_botocore_both_ways():
    queue = {"Id": "jpgs", "QueueArn": "arn:aws:sqs:us-east-1:123456789012:q",
             "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"],
             "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"},
                                                {"Name": "prefix", "Value": "a&b/<c>"}]}}}
    config = parse_notification(sent_body(
        "put_bucket_notification_configuration", Bucket="b",
        NotificationConfiguration={"QueueConfigurations": [queue]}))
    assert list(config.queues) == [QueueNotificationRecord(
        id="jpgs", queue_arn=queue["QueueArn"], events=queue["Events"], prefix="a&b/<c>",
        suffix=".jpg")]
    got = answer("get_bucket_notification_configuration", lambda _: notification_result(config),
                 Bucket="b")
    assert got == {"QueueConfigurations": [{
        **queue, "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "a&b/<c>"},
                                                    {"Name": "Suffix", "Value": ".jpg"}]}}}]}
    none = answer("get_bucket_notification_configuration",
                  lambda _: notification_result(NotificationConfigurationRecord()), Bucket="b")
    assert none == {}


def test_an_empty_document_turns_notifications_off():
    assert parse_notification(sent_body("put_bucket_notification_configuration", Bucket="b",
                                         NotificationConfiguration={})) == \
        NotificationConfigurationRecord()


@pytest.mark.parametrize("member, entry, element, arn", [
    ("TopicConfigurations", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                             "Events": ["s3:ObjectCreated:*"]},
     "TopicConfiguration", "arn:aws:sns:us-east-1:123456789012:t"),
    ("LambdaFunctionConfigurations",
     {"LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
      "Events": ["s3:ObjectCreated:*"]},
     "CloudFunctionConfiguration", "arn:aws:lambda:us-east-1:123456789012:function:f"),
    ("EventBridgeConfiguration", {}, "EventBridgeConfiguration", ""),
])
def test_other_destinations_are_refused_by_name(member, entry, element, arn):
    body = sent_body("put_bucket_notification_configuration", Bucket="b",
                     NotificationConfiguration={member: entry if member.startswith("Event")
                                                else [entry]})
    with pytest.raises(EngineError) as caught:
        parse_notification(body)
    err = caught.value
    assert err.code == "InvalidArgument"
    assert err.message.endswith(f"destinations ({element}) are not supported by this server; "
                                "only SQS queues (QueueConfiguration) are.")
    assert err.details == {"ArgumentName": element, "ArgumentValue": arn}


QUEUE = "<Queue>arn:aws:sqs:us-east-1:123456789012:q</Queue>"
EVENT = "<Event>s3:ObjectCreated:*</Event>"


@pytest.mark.parametrize("inner", [
    f"<QueueConfiguration>{EVENT}</QueueConfiguration>",  # no Queue
    f"<QueueConfiguration>{QUEUE}</QueueConfiguration>",  # no Event
    f"<QueueConfiguration>{QUEUE}{QUEUE}{EVENT}</QueueConfiguration>",
    f"<QueueConfiguration>{QUEUE}{EVENT}<Filter></Filter></QueueConfiguration>",
    f"<QueueConfiguration>{QUEUE}{EVENT}<Filter><S3Key></S3Key></Filter></QueueConfiguration>",
    f"<QueueConfiguration>{QUEUE}{EVENT}<Filter><S3Key><FilterRule><Name>prefix</Name>"
    "</FilterRule></S3Key></Filter></QueueConfiguration>",
])
def test_malformed_documents(inner):
    with pytest.raises(EngineError) as caught:
        parse_notification(f"<NotificationConfiguration>{inner}</NotificationConfiguration>"
                           .encode())
    assert caught.value.code == "MalformedXML"


@pytest.mark.parametrize("body", [b"<NotificationConfiguration>", b"<Other/>", b"not xml"])
def test_not_a_notification_document(body):
    with pytest.raises(EngineError) as caught:
        parse_notification(body)
    assert caught.value.code == "MalformedXML"


def test_filter_rule_names_in_any_case_and_refusals():
    def doc(*pairs: tuple[str, str]) -> bytes:
        rules_xml = "".join(f"<FilterRule><Name>{n}</Name><Value>{v}</Value></FilterRule>"
                            for n, v in pairs)
        return (f"<NotificationConfiguration><QueueConfiguration>{QUEUE}{EVENT}<Filter><S3Key>"
                f"{rules_xml}</S3Key></Filter></QueueConfiguration></NotificationConfiguration>"
                ).encode()

    parsed = parse_notification(doc(("Prefix", "a/"), ("SUFFIX", ".x")))
    assert (parsed.queues[0].prefix, parsed.queues[0].suffix) == ("a/", ".x")
    for pairs, message in [
        ((("prefix", "a"), ("prefix", "b")), "Cannot specify more than one prefix rule in a "
                                             "filter."),
        ((("name", "a"),), "filter rule name must be either prefix or suffix"),
    ]:
        with pytest.raises(EngineError) as caught:
            parse_notification(doc(*pairs))
        assert (caught.value.code, caught.value.message) == ("InvalidArgument", message)
