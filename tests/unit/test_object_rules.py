"""S3's rules for names, ranges and conditional requests."""

from __future__ import annotations

import pytest

from engine.errors import EngineError
from engine.objects.conditions import NS, Conditions, check
from engine.objects.names import (
    check_bucket_name,
    check_key,
    check_storage_class,
    normalize_metadata,
)
from engine.objects.ranges import ByteRange, parse_range


def code(fn, *args, **kw) -> str:
    with pytest.raises(EngineError) as info:
        fn(*args, **kw)
    return info.value.code


@pytest.mark.parametrize("name", ["abc", "a" * 63, "my.bucket-1", "1bucket", "a-b.c"])
def test_valid_bucket_names(name: str) -> None:
    check_bucket_name(name)


@pytest.mark.parametrize("name", [
    "ab", "a" * 64, "Upper", "-abc", "abc-", ".abc", "abc.", "a..b", "a.-b", "a-.b",
    "192.168.1.1", "under_score", "xn--abc", "sthree-x", "abc-s3alias", "abc--ol-s3", "",
    "spa ce", "ünï",
])
def test_invalid_bucket_names(name: str) -> None:
    assert code(check_bucket_name, name) == "InvalidBucketName"


def test_key_limits_are_bytes_not_characters() -> None:
    check_key("k" * 1024)
    check_key("é" * 512)
    assert code(check_key, "k" * 1025) == "KeyTooLongError"
    assert code(check_key, "é" * 513) == "KeyTooLongError"
    assert code(check_key, "") == "InvalidArgument"


def test_metadata_is_lowercased_and_bounded() -> None:
    assert normalize_metadata({"Color": "Blue"}) == {"color": "Blue"}
    assert code(normalize_metadata, {"k": "v" * 2048}) == "MetadataTooLarge"
    assert code(normalize_metadata, {"bad key": "v"}) == "InvalidArgument"


def test_storage_classes() -> None:
    assert check_storage_class("") == "STANDARD"
    assert check_storage_class("GLACIER") == "GLACIER"
    assert code(check_storage_class, "DEEP_FRIDGE") == "InvalidStorageClass"


@pytest.mark.parametrize(("header", "size", "expected"), [
    ("bytes=0-9", 100, ByteRange(0, 9)),
    ("bytes=90-200", 100, ByteRange(90, 99)),
    ("bytes=95-", 100, ByteRange(95, 99)),
    ("bytes=-10", 100, ByteRange(90, 99)),
    ("bytes=-500", 100, ByteRange(0, 99)),
    (None, 100, None),
    ("bytes=5-1", 100, None),  # malformed: ignored, as S3 does
    ("bytes=0-1,5-6", 100, None),  # multiple ranges: S3 serves the whole object
    ("items=0-1", 100, None),
    ("bytes=-", 100, None),
])
def test_ranges(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [
    ("bytes=100-", 100), ("bytes=100-200", 100), ("bytes=-0", 100), ("bytes=0-", 0),
    ("bytes=-5", 0),
])
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    assert code(parse_range, header, size) == "InvalidRange"


def test_content_range_header() -> None:
    assert ByteRange(10, 19).content_range(100) == "bytes 10-19/100"


T = 1_000 * NS  # object modified at t=1000s


@pytest.mark.parametrize(("conds", "outcome"), [
    (Conditions(if_match='"e1"'), None),
    (Conditions(if_match="e2"), "PreconditionFailed"),
    (Conditions(if_match='"e2", "e1"'), None),
    (Conditions(if_match="*"), None),
    (Conditions(if_none_match='"e1"'), "NotModified"),
    (Conditions(if_none_match='"e2"'), None),
    (Conditions(if_modified_since_ns=T), "NotModified"),
    (Conditions(if_modified_since_ns=T - NS), None),
    (Conditions(if_unmodified_since_ns=T), None),
    (Conditions(if_unmodified_since_ns=T - NS), "PreconditionFailed"),
    # RFC 7232 precedence, as S3 documents it
    (Conditions(if_match="e1", if_unmodified_since_ns=T - NS), None),
    (Conditions(if_none_match="e2", if_modified_since_ns=T), None),
    (Conditions(if_none_match="e1", if_modified_since_ns=T - NS), "NotModified"),
])
def test_conditions(conds: Conditions, outcome: str | None) -> None:
    mtime = T + 123_456  # sub-second part is ignored, as HTTP dates have none
    if outcome is None:
        check(conds, "e1", mtime)
    else:
        assert code(check, conds, "e1", mtime) == outcome


def test_copy_source_conditions_fail_with_412_only() -> None:
    assert code(check, Conditions(if_none_match="e1"), "e1", T, copy_source=True) \
        == "PreconditionFailed"
