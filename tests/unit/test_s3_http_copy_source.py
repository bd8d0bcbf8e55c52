"""x-amz-copy-source as botocore writes it, read back into the source the copy names."""

from __future__ import annotations

import pytest
from botocore.handlers import handle_copy_source_param
from multidict import CIMultiDict

from engine.api.s3.copy_source import name_condition, parse_copy_source
from engine.errors import EngineError


def header_of(source: str | dict[str, str]) -> str:
    """The header value botocore sends for a CopySource parameter."""
    params: dict[str, object] = {"CopySource": source}
    handle_copy_source_param(params)
    return str(params["CopySource"])


def parse(value: str, **extra: str):
    return parse_copy_source(CIMultiDict({"x-amz-copy-source": value, **extra}))


@pytest.mark.parametrize("key", ["plain", "dir/a b+c", "pct%2Fkey", "q?u&e=s#t", "unicodé/日本",
                                 "../x", "versionId=1", "ctl\x01"])
def test_botocores_encoding_round_trips(key: str) -> None:
    for source in ({"Bucket": "photos", "Key": key},
                   {"Bucket": "photos", "Key": key, "VersionId": "3HL4kqtJvjVBH40Nrjfkd"}):
        got = parse(header_of(source))
        assert (got.bucket, got.key) == ("photos", key)
        assert got.version_id == source.get("VersionId", "")


def test_a_leading_slash_is_optional() -> None:
    assert parse("/photos/cat.jpg").key == parse("photos/cat.jpg").key == "cat.jpg"


@pytest.mark.parametrize("value", ["photos", "photos/", "/", "", "/photos", "photos/k?x=1"])
def test_a_source_must_name_bucket_and_key(value: str) -> None:
    with pytest.raises(EngineError) as exc:
        parse(value)
    assert exc.value.code == "InvalidArgument"
    assert exc.value.message == ("Copy Source must mention the source bucket and key: "
                                 "sourcebucket/sourcekey")
    assert exc.value.details["ArgumentName"] == "x-amz-copy-source"


def test_bad_encodings_empty_versions_and_access_points_are_refused() -> None:
    for value, code in (("photos/%FF", "InvalidArgument"),
                        ("photos/k?versionId=", "InvalidArgument"),
                        ("arn:aws:s3:us-east-1:1:accesspoint/ap/object/k", "NotImplemented")):
        with pytest.raises(EngineError) as exc:
            parse(value)
        assert exc.value.code == code, value


def test_conditions_become_the_grpc_message() -> None:
    got = parse("photos/k", **{
        "x-amz-copy-source-if-match": '"abc"',
        "x-amz-copy-source-if-none-match": '"def"',
        "x-amz-copy-source-if-modified-since": "Wed, 12 Oct 2009 17:50:00 GMT",
        "x-amz-copy-source-if-unmodified-since": "not a date"})
    c = got.conditions
    assert c.if_match == '"abc"' and c.if_none_match == '"def"'
    assert c.if_modified_since.seconds == 1255369800
    assert not c.HasField("if_unmodified_since")  # unreadable dates are ignored
    assert not parse("photos/k").conditions.HasField("if_match")


def test_a_failed_condition_is_named_by_its_copy_header() -> None:
    err = EngineError("PreconditionFailed", Condition="If-None-Match")
    name_condition(err)
    assert err.details["Condition"] == "x-amz-copy-source-If-None-Match"
    other = EngineError("NoSuchKey", Key="k")
    name_condition(other)
    assert other.details == {"Key": "k"}
