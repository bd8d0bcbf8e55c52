"""S3 conformance, listings: ListObjects (v1) and ListObjectsV2 as AWS's API reference
documents them and as the s3-tests suite probes them: prefixes and delimiters (one
character, several, unusual ones, none, absent), max-keys (0, 1, default, invalid),
markers, start-after and continuation tokens, owners, encoding-type=url, key order and
the listing document's own elements."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, unquote_plus

import pytest
from botocore.exceptions import ClientError
from helpers_s3_conformance import Node, error_of, failure, find, text, xml_of
from helpers_s3_http import bucket_name, s3_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture(scope="module")
def node(shared_server) -> Node:
    return Node(shared_server.http_url)


@pytest.fixture
def filled(s3):
    """A bucket holding ``keys`` (empty objects)."""

    def make(*keys: str) -> str:
        name = bucket_name("list")
        s3.create_bucket(Bucket=name)
        for key in keys:
            s3.put_object(Bucket=name, Key=key, Body=b"")
        return name

    return make


def keys_of(page: dict) -> list[str]:
    return [o["Key"] for o in page.get("Contents", [])]


def prefixes_of(page: dict) -> list[str]:
    return [p["Prefix"] for p in page.get("CommonPrefixes", [])]


def both(s3, bucket: str, **params: object) -> list[dict]:
    """The same listing through ListObjects and ListObjectsV2."""
    return [s3.list_objects(Bucket=bucket, **params),
            s3.list_objects_v2(Bucket=bucket, **params)]


# -- empty and basic ------------------------------------------------------------------------


def test_an_empty_bucket_lists_nothing(s3, filled):
    bucket = filled()
    v1, v2 = both(s3, bucket)
    for page in (v1, v2):
        assert keys_of(page) == [] and page["IsTruncated"] is False
        assert page["Name"] == bucket and page["MaxKeys"] == 1000
    assert v2["KeyCount"] == 0


def test_listing_returns_each_objects_data(s3, node, filled):
    bucket = filled()
    s3.put_object(Bucket=bucket, Key="data", Body=b"0123456789")
    answer = node.request("GET", f"/{bucket}?list-type=2")
    doc = xml_of(answer.body)
    assert doc.tag.endswith("ListBucketResult")
    [entry] = find(doc, "Contents")
    assert text(entry, "Key") == "data"
    assert text(entry, "ETag") == '"781e5e245d69b566979b86e28d23f2c7"'
    assert text(entry, "Size") == "10"
    assert text(entry, "StorageClass") == "STANDARD"
    modified = text(entry, "LastModified") or ""
    parsed = dt.datetime.strptime(modified, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs((dt.datetime.now(dt.UTC).replace(tzinfo=None) - parsed).total_seconds()) < 600
    assert text(doc, "KeyCount") == "1" and text(doc, "IsTruncated") == "false"


def test_buckets_list_only_their_own_keys(s3, filled):
    first, second = filled("a", "b"), filled("c")
    assert keys_of(s3.list_objects_v2(Bucket=first)) == ["a", "b"]
    assert keys_of(s3.list_objects_v2(Bucket=second)) == ["c"]


def test_keys_come_in_utf8_binary_order(s3, filled):
    keys = ["z", "A", "a", "é", "日本", "\U0001F600", "0", "_", "~"]
    bucket = filled(*keys)
    expected = sorted(keys, key=lambda k: k.encode())
    for page in both(s3, bucket):
        assert keys_of(page) == expected


# -- delimiter ------------------------------------------------------------------------------


@pytest.mark.parametrize(("keys", "delimiter", "contents", "prefixes"), [
    (["foo/bar", "foo/bar/xyzzy", "quux/thud", "asdf"], "/", ["asdf"], ["foo/", "quux/"]),
    (["bar", "baz", "cab", "foo"], "a", ["foo"], ["ba", "ca"]),
    (["a--b", "a--c--d", "e", "x-y"], "--", ["e", "x-y"], ["a--"]),
    (["b%ar", "b%az", "c%ab", "foo"], "%", ["foo"], ["b%", "c%"]),
    (["b ar", "b az", "c ab", "foo"], " ", ["foo"], ["b ", "c "]),
    (["b.ar", "b.az", "c.ab", "foo"], ".", ["foo"], ["b.", "c."]),
    (["bar", "baz", "cab", "foo"], "\n", ["bar", "baz", "cab", "foo"], []),
    (["bar", "baz", "cab", "foo"], "/", ["bar", "baz", "cab", "foo"], []),
    (["0/1", "0/2", "1999", "1999#", "1999+", "2000"], "/",
     ["1999", "1999#", "1999+", "2000"], ["0/"]),
], ids=["slash", "letter", "two-chars", "percent", "space", "dot", "newline", "absent",
        "special-chars-not-skipped"])
def test_delimiters_roll_keys_into_common_prefixes(s3, filled, keys, delimiter, contents,
                                                  prefixes):
    bucket = filled(*keys)
    for page in both(s3, bucket, Delimiter=delimiter):
        assert keys_of(page) == contents
        assert prefixes_of(page) == prefixes
        assert page["Delimiter"] == delimiter
    assert s3.list_objects_v2(Bucket=bucket, Delimiter=delimiter)["KeyCount"] == \
        len(contents) + len(prefixes)


def test_an_empty_delimiter_is_no_delimiter(s3, node, filled):
    bucket = filled("a/b", "c")
    for page in both(s3, bucket, Delimiter=""):
        assert keys_of(page) == ["a/b", "c"] and prefixes_of(page) == []
    doc = xml_of(node.request("GET", f"/{bucket}?delimiter=").body)
    assert text(doc, "Delimiter") is None


# -- prefix ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("keys", "prefix", "contents"), [
    (["foo/bar", "foo/baz", "quux"], "foo/", ["foo/bar", "foo/baz"]),
    (["bar", "baz", "foo"], "ba", ["bar", "baz"]),
    (["bar", "baz", "foo"], "", ["bar", "baz", "foo"]),
    (["bar", "baz", "foo"], "d", []),
    (["bar", "baz", "foo"], "\n", []),
    (["_bla/1", "_bla/2", "_bla/3", "abcd"], "_bla/", ["_bla/1", "_bla/2", "_bla/3"]),
    (["bar", "baz"], "bar", ["bar"]),
], ids=["slash", "letters", "empty", "not-there", "newline", "underscore", "whole-key"])
def test_prefixes_select_keys(s3, filled, keys, prefix, contents):
    bucket = filled(*keys)
    for page in both(s3, bucket, Prefix=prefix):
        assert keys_of(page) == contents
        assert unquote_plus(page["Prefix"]) == prefix  # botocore decodes only v2's Prefix


@pytest.mark.parametrize(("keys", "prefix", "delimiter", "contents", "prefixes"), [
    (["foo/bar", "foo/baz/xyzzy", "quux/thud", "boo/bar"], "foo/", "/",
     ["foo/bar"], ["foo/baz/"]),
    (["bar", "bazar", "cab", "foo"], "ba", "a", ["bar"], ["baza"]),
    (["b/a/r", "b/a/c", "b/a/g", "g"], "d", "/", [], []),
    (["b/a/r", "b/a/c", "b/a/g", "g"], "b", "z", ["b/a/c", "b/a/g", "b/a/r"], []),
    (["b/a/r", "b/a/c", "b/a/g", "g"], "y", "z", [], []),
    (["asdf/"], "asdf/", "/", ["asdf/"], []),
    (["dir/", "dir/a", "dir/sub/b"], "dir/", "/", ["dir/", "dir/a"], ["dir/sub/"]),
], ids=["basic", "letters", "prefix-absent", "delimiter-absent", "both-absent",
        "prefix-ends-with-delimiter", "folder-marker"])
def test_prefix_and_delimiter_together(s3, filled, keys, prefix, delimiter, contents,
                                       prefixes):
    bucket = filled(*keys)
    for page in both(s3, bucket, Prefix=prefix, Delimiter=delimiter):
        assert keys_of(page) == contents
        assert prefixes_of(page) == prefixes


# -- max-keys -------------------------------------------------------------------------------


def test_max_keys_one_truncates(s3, filled):
    bucket = filled("bar", "baz", "foo", "quxx")
    v1, v2 = both(s3, bucket, MaxKeys=1)
    for page in (v1, v2):
        assert keys_of(page) == ["bar"] and page["IsTruncated"] is True
        assert page["MaxKeys"] == 1
    rest = s3.list_objects_v2(Bucket=bucket, ContinuationToken=v2["NextContinuationToken"])
    assert keys_of(rest) == ["baz", "foo", "quxx"] and rest["IsTruncated"] is False
    assert rest["ContinuationToken"] == v2["NextContinuationToken"]
    assert "NextContinuationToken" not in rest


def test_max_keys_zero_lists_nothing_and_is_not_truncated(s3, filled):
    bucket = filled("bar", "baz")
    for page in both(s3, bucket, MaxKeys=0):
        assert keys_of(page) == [] and page["IsTruncated"] is False
        assert page["MaxKeys"] == 0


@pytest.mark.parametrize("value", ["blah", "-6", "1.5", "0x10"])
def test_an_invalid_max_keys_is_invalid_argument(node, filled, value):
    bucket = filled("a")
    for query in (f"max-keys={value}", f"list-type=2&max-keys={value}"):
        answer = node.request("GET", f"/{bucket}?{query}")
        assert answer.status == 400, query
        assert error_of(answer)[0] == "InvalidArgument"
        assert xml_of(answer.body).findtext("ArgumentName") == "max-keys"


# -- v1 markers -----------------------------------------------------------------------------


@pytest.mark.parametrize(("marker", "contents"), [
    ("", ["bar", "baz", "foo", "quxx"]),
    ("blah", ["foo", "quxx"]),
    ("baz", ["foo", "quxx"]),
    ("zzz", []),
    ("\n", ["bar", "baz", "foo", "quxx"]),
], ids=["empty", "not-a-key", "a-key", "after-every-key", "newline"])
def test_v1_lists_after_the_marker(s3, filled, marker, contents):
    bucket = filled("bar", "baz", "foo", "quxx")
    page = s3.list_objects(Bucket=bucket, Marker=marker)
    assert keys_of(page) == contents and page["IsTruncated"] is False
    assert page["Marker"] == marker


def test_v1_next_marker_only_with_a_delimiter(s3, node, filled):
    bucket = filled("a/1", "a/2", "b/1", "c")
    plain = xml_of(node.request("GET", f"/{bucket}?max-keys=1").body)
    assert text(plain, "IsTruncated") == "true" and text(plain, "NextMarker") is None
    assert text(plain, "Marker") == ""
    first = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert prefixes_of(first) == ["a/"] and first["NextMarker"] == "a/"
    second = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1,
                             Marker=first["NextMarker"])
    assert prefixes_of(second) == ["b/"] and second["NextMarker"] == "b/"
    third = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1,
                            Marker=second["NextMarker"])
    assert keys_of(third) == ["c"] and third["IsTruncated"] is False
    assert "NextMarker" not in third


def test_v1_paginator_walks_every_key(s3, filled):
    keys = [f"k{i:02d}" for i in range(7)]
    bucket = filled(*keys)
    pages = list(s3.get_paginator("list_objects").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 2}))
    assert [k for p in pages for k in keys_of(p)] == keys and len(pages) == 4


def test_v1_owners_are_always_listed(s3, filled):
    bucket = filled("a")
    owner = s3.list_objects(Bucket=bucket)["Contents"][0]["Owner"]
    assert owner["ID"] == s3.list_buckets()["Owner"]["ID"]


# -- v2 tokens, start-after, fetch-owner ----------------------------------------------------


def test_v2_start_after(s3, filled):
    bucket = filled("bar", "baz", "foo", "quxx")
    page = s3.list_objects_v2(Bucket=bucket, StartAfter="baz")
    assert keys_of(page) == ["foo", "quxx"] and page["StartAfter"] == "baz"
    assert keys_of(s3.list_objects_v2(Bucket=bucket, StartAfter="zzz")) == []


def test_v2_a_continuation_token_wins_over_start_after(s3, filled):
    bucket = filled("bar", "baz", "foo", "quxx")
    first = s3.list_objects_v2(Bucket=bucket, MaxKeys=2)
    rest = s3.list_objects_v2(Bucket=bucket, StartAfter="a",
                              ContinuationToken=first["NextContinuationToken"])
    assert keys_of(rest) == ["foo", "quxx"]


def test_v2_paging_through_common_prefixes(s3, filled):
    bucket = filled("a/1", "a/2", "b/1", "c")
    seen: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}):
        assert page["KeyCount"] == 1
        seen += prefixes_of(page) + keys_of(page)
    assert seen == ["a/", "b/", "c"]


def test_v2_owners_only_with_fetch_owner(s3, filled):
    bucket = filled("a")
    assert "Owner" not in s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert "Owner" not in s3.list_objects_v2(Bucket=bucket, FetchOwner=False)["Contents"][0]
    owner = s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]["Owner"]
    assert owner["ID"] == s3.list_buckets()["Owner"]["ID"]


def test_v2_an_invalid_continuation_token_is_invalid_argument(s3, filled):
    bucket = filled("a")
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="not-a-token")
    got = failure(exc)
    assert (got.status, got.code) == (400, "InvalidArgument")
    assert got.message == "The continuation token provided is incorrect"


def test_v2_document_echoes_only_what_was_sent(node, filled):
    bucket = filled("a")
    doc = xml_of(node.request("GET", f"/{bucket}?list-type=2").body)
    for absent in ("StartAfter", "ContinuationToken", "NextContinuationToken", "Delimiter",
                   "EncodingType"):
        assert text(doc, absent) is None, absent
    assert text(doc, "Prefix") == "" and text(doc, "MaxKeys") == "1000"


# -- encoding-type=url ----------------------------------------------------------------------


def test_encoding_type_url_encodes_keys_prefixes_and_the_delimiter(node, filled):
    bucket = filled("a b+c", "dir\x01/x", "日本/y")
    answer = node.request("GET", f"/{bucket}?list-type=2&encoding-type=url&delimiter=%2F")
    doc = xml_of(answer.body)
    assert text(doc, "EncodingType") == "url"
    assert [text(c, "Key") for c in find(doc, "Contents")] == ["a+b%2Bc"]
    assert [text(p, "Prefix") for p in find(doc, "CommonPrefixes")] == [
        "dir%01/", quote("日本") + "/"]
    assert text(doc, "Delimiter") == "/"


def test_boto3_decodes_what_it_asked_to_be_encoded(s3, filled):
    keys = ["ctl\x01\x02", "a b+c", "amp&lt;", "x\ty"]
    bucket = filled(*keys)
    for page in both(s3, bucket):
        assert keys_of(page) == sorted(keys)


def test_an_unknown_encoding_type_is_invalid_argument(node, filled):
    bucket = filled("a")
    answer = node.request("GET", f"/{bucket}?encoding-type=xml")
    assert answer.status == 400
    assert error_of(answer) == ("InvalidArgument", "Invalid Encoding Method specified in Request")


# -- long keys and access -------------------------------------------------------------------


def test_a_1024_byte_key_is_listed(s3, filled):
    key = "d/" + "x" * 1022
    bucket = filled(key)
    assert keys_of(s3.list_objects_v2(Bucket=bucket)) == [key]


def test_an_unsigned_listing_of_a_private_bucket_is_access_denied(node, filled):
    bucket = filled("a")
    for query in ("", "?list-type=2"):
        answer = node.request("GET", f"/{bucket}{query}", sign=False)
        assert answer.status == 403 and error_of(answer)[0] == "AccessDenied"
