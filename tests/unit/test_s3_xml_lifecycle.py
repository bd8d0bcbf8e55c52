"""LifecycleConfiguration: AWS's examples, botocore's bodies both ways, S3's refusals."""

from __future__ import annotations

from typing import Any

import pytest
from helpers_s3_xml import answer, sent_body, tree

from engine.api.s3.xml.lifecycle import lifecycle_result, parse_lifecycle
from engine.errors import EngineError
from engine.v1 import lifecycle_pb2 as lc

PUT_EXAMPLE = b"""<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Rule>
    <ID>id1</ID>
    <Filter>
       <Prefix>documents/</Prefix>
    </Filter>
    <Status>Enabled</Status>
    <Transition>
      <Days>30</Days>
      <StorageClass>GLACIER</StorageClass>
    </Transition>
  </Rule>
  <Rule>
    <ID>id2</ID>
    <Filter>
       <Prefix>logs/</Prefix>
    </Filter>
    <Status>Enabled</Status>
    <Expiration>
      <Days>365</Days>
    </Expiration>
  </Rule>
</LifecycleConfiguration>"""

GET_EXAMPLE = b"""<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Rule>
    <ID>Archive and then delete rule</ID>
    <Prefix>projectdocs/</Prefix>
    <Status>Enabled</Status>
    <Transition>
      <Days>30</Days>
      <StorageClass>STANDARD_IA</StorageClass>
    </Transition>
    <Transition>
      <Days>365</Days>
      <StorageClass>GLACIER</StorageClass>
    </Transition>
    <Expiration>
      <Days>3650</Days>
    </Expiration>
  </Rule>
</LifecycleConfiguration>"""


def test_put_example() -> None:
    config = parse_lifecycle(PUT_EXAMPLE)
    first, second = config.rules
    assert (first.id, first.status, first.filter.prefix) == ("id1", "Enabled", "documents/")
    assert [(t.days, t.storage_class) for t in first.transitions] == [(30, "GLACIER")]
    assert not first.HasField("expiration") and not first.HasField("prefix")
    assert second.expiration.days == 365 and second.filter.HasField("prefix")
    assert tree(lifecycle_result(config)) == tree(PUT_EXAMPLE)


def test_get_example_with_the_deprecated_rule_prefix() -> None:
    config = parse_lifecycle(GET_EXAMPLE)
    rule = config.rules[0]
    assert rule.HasField("prefix") and not rule.HasField("filter")
    assert tree(lifecycle_result(config)) == tree(GET_EXAMPLE)


RULES: list[dict[str, Any]] = [
    {"ID": "archive", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
     "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
     "NoncurrentVersionExpiration": {"NoncurrentDays": 90}},
    {"ID": "tagged", "Status": "Disabled", "Filter": {"And": {
        "Prefix": "data/", "Tags": [{"Key": "k1", "Value": "v1"}, {"Key": "k2", "Value": ""}],
        "ObjectSizeGreaterThan": 1024, "ObjectSizeLessThan": 2**40}},
     "Expiration": {"Days": 400},
     "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"},
                     {"Days": 60, "StorageClass": "ONEZONE_IA"}],
     "NoncurrentVersionTransitions": [{"NoncurrentDays": 0, "StorageClass": "GLACIER",
                                       "NewerNoncurrentVersions": 3}]},
    {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": ""},
     "Expiration": {"ExpiredObjectDeleteMarker": True},
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
     "NoncurrentVersionExpiration": {"NoncurrentDays": 30, "NewerNoncurrentVersions": 2}},
    {"ID": "one-tag", "Status": "Enabled", "Filter": {"Tag": {"Key": "t", "Value": "v"}},
     "Expiration": {"Days": 1}},
    {"ID": "small", "Status": "Enabled", "Filter": {"ObjectSizeLessThan": 100},
     "Expiration": {"Days": 2}},
    {"ID": "everything", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 3}},
]


def test_botocore_configuration_round_trips_through_both_codecs() -> None:
    body = sent_body("put_bucket_lifecycle_configuration", Bucket="b",
                     LifecycleConfiguration={"Rules": RULES})
    config = parse_lifecycle(body)
    conj = getattr(config.rules[1].filter, "and")
    assert (conj.prefix, conj.object_size_less_than, len(conj.tags)) == ("data/", 2**40, 2)
    assert config.rules[1].noncurrent_version_transitions[0].HasField("noncurrent_days")
    assert config.rules[2].filter.HasField("prefix") and config.rules[2].filter.prefix == ""
    assert config.rules[5].HasField("filter")
    got = answer("get_bucket_lifecycle_configuration", lambda _: lifecycle_result(config),
                 Bucket="b")
    assert got["Rules"] == RULES


def refusal(body: bytes) -> EngineError:
    with pytest.raises(EngineError) as caught:
        parse_lifecycle(body)
    return caught.value


def rule(inner: str) -> bytes:
    return f"<LifecycleConfiguration><Rule>{inner}</Rule></LifecycleConfiguration>".encode()


@pytest.mark.parametrize(("body", "code"), [
    (b"<LifecycleConfiguration/>", "MalformedXML"),
    (rule("<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"), "MalformedXML"),
    (rule("<Filter/><Status>On</Status><Expiration><Days>1</Days></Expiration>"), "MalformedXML"),
    (rule("<Filter/><Status>Enabled</Status><Expiration><Days>x</Days></Expiration>"),
     "MalformedXML"),
    (rule("<Filter/><Status>Enabled</Status><Expiration><Days>99999999999</Days></Expiration>"),
     "MalformedXML"),
    (rule("<Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"
          "<Expiration><Days>2</Days></Expiration>"), "MalformedXML"),
    (rule("<Filter/><Status>Enabled</Status>"), "InvalidRequest"),
    (rule("<Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>"),
     "InvalidArgument"),
    (rule(f"<Filter><Tag><Key>{'k' * 129}</Key><Value>v</Value></Tag></Filter>"
          "<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"), "InvalidTag"),
    (rule("<Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"
          "<Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"), "MalformedXML"),
    (rule("<Filter/><Status>Enabled</Status>"
          "<Transition><Days>10</Days><StorageClass>STANDARD_IA</StorageClass></Transition>"),
     "InvalidArgument"),
    (rule("<Filter/><Status>Enabled</Status>"
          "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration>"), "NotImplemented"),
])
def test_s3s_refusals(body: bytes, code: str) -> None:
    assert refusal(body).code == code


def test_duplicate_rule_ids_are_refused_by_name() -> None:
    body = sent_body("put_bucket_lifecycle_configuration", Bucket="b",
                     LifecycleConfiguration={"Rules": [RULES[3], RULES[3]]})
    e = refusal(body)
    assert (e.code, e.message) == (
        "InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule")


def test_proto_keeps_absent_apart_from_zero() -> None:
    config = parse_lifecycle(rule("<Filter><Prefix></Prefix></Filter><Status>Enabled</Status>"
                                  "<Transition><Days>0</Days><StorageClass>GLACIER</StorageClass>"
                                  "</Transition>"))
    assert config.rules[0].transitions[0].HasField("days")
    assert config.rules[0].transitions[0].days == 0
    assert isinstance(config, lc.LifecycleConfiguration)
