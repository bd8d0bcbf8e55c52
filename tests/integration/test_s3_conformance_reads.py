"""S3 conformance, conditional and range reads: GetObject and HeadObject with Range
(closed, open, suffix, beyond the end, several, malformed), If-Match, If-None-Match,
If-Modified-Since and If-Unmodified-Since alone and together (RFC 7232's precedence as
S3 documents it), and the response-* overrides, checked on the wire."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import urllib.request

import pytest
from botocore.exceptions import ClientError
from helpers_s3_conformance import Node, error_of, lift_account_block, xml_of
from helpers_s3_http import bucket_name, s3_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

BODY = bytes(range(256)) * 4  # 1024 bytes
SIZE = len(BODY)


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture(scope="module")
def node(shared_server) -> Node:
    return Node(shared_server.http_url)


@pytest.fixture(scope="module")
def bucket(s3) -> str:
    name = bucket_name("reads")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=BODY)
    s3.put_object(Bucket=name, Key="empty", Body=b"")
    return name


@pytest.fixture(scope="module")
def etag(s3, bucket) -> str:
    return s3.head_object(Bucket=bucket, Key="k")["ETag"]


@pytest.fixture(scope="module")
def modified(s3, bucket) -> dt.datetime:
    return s3.head_object(Bucket=bucket, Key="k")["LastModified"]


def http_date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)


# -- Range ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-0", 0, 0),
    ("bytes=4-7", 4, 7),
    ("bytes=0-1023", 0, 1023),
    ("bytes=1000-", 1000, 1023),
    ("bytes=1023-", 1023, 1023),
    ("bytes=-1", 1023, 1023),
    ("bytes=-24", 1000, 1023),
    ("bytes=-5000", 0, 1023),
    ("bytes=1000-99999", 1000, 1023),
])
def test_satisfiable_ranges_are_206_with_content_range(node, bucket, header, first, last):
    answer = node.request("GET", f"/{bucket}/k", {"Range": header})
    assert answer.status == 206
    assert answer.body == BODY[first:last + 1]
    assert answer.headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert answer.headers["content-length"] == str(last - first + 1)
    assert answer.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=1024-2000", "bytes=5000-6000",
                                    "bytes=-0"])
def test_unsatisfiable_ranges_are_416_invalid_range(node, bucket, header):
    answer = node.request("GET", f"/{bucket}/k", {"Range": header})
    assert answer.status == 416
    assert error_of(answer) == ("InvalidRange", "The requested range is not satisfiable")
    assert answer.headers["content-range"] == f"bytes */{SIZE}"
    doc = xml_of(answer.body)
    assert doc.findtext("RangeRequested") == header
    assert doc.findtext("ActualObjectSize") == str(SIZE)


def test_any_range_of_an_empty_object_is_416(node, bucket):
    answer = node.request("GET", f"/{bucket}/empty", {"Range": "bytes=40-50"})
    assert answer.status == 416 and error_of(answer)[0] == "InvalidRange"
    assert answer.headers["content-range"] == "bytes */0"


@pytest.mark.parametrize("header", ["bytes=0-1,3-4", "bytes=0-0,-1", "bytes=9-2",
                                    "bytes=abc", "bits=0-1", "bytes=-", "0-10"])
def test_several_or_malformed_ranges_return_the_whole_object(node, bucket, header):
    answer = node.request("GET", f"/{bucket}/k", {"Range": header})
    assert answer.status == 200 and answer.body == BODY
    assert "content-range" not in answer.headers


def test_head_with_a_range_answers_the_range_without_a_body(node, bucket):
    answer = node.request("HEAD", f"/{bucket}/k", {"Range": "bytes=10-19"})
    assert answer.status == 206 and answer.body == b""
    assert answer.headers["content-range"] == f"bytes 10-19/{SIZE}"
    assert answer.headers["content-length"] == "10"
    wire = node.raw_head(f"/{bucket}/k", {"Range": "bytes=2000-"})
    assert wire.startswith(b"HTTP/1.1 416") and wire.endswith(b"\r\n\r\n")


def test_boto3_ranged_get(s3, bucket):
    got = s3.get_object(Bucket=bucket, Key="k", Range="bytes=-4")
    assert got["ContentRange"] == f"bytes 1020-1023/{SIZE}"
    assert got["Body"].read() == BODY[-4:]
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206


# -- conditional requests -------------------------------------------------------------------


def test_if_match_forms_that_match(node, bucket, etag):
    for value in (etag, etag.strip('"'), "*", f'"nope", {etag}'):
        answer = node.request("GET", f"/{bucket}/k", {"If-Match": value})
        assert answer.status == 200 and answer.body == BODY, value


def test_if_match_that_fails_is_412(node, bucket):
    answer = node.request("GET", f"/{bucket}/k", {"If-Match": '"0123456789abcdef"'})
    assert answer.status == 412
    assert error_of(answer) == ("PreconditionFailed",
                                "At least one of the pre-conditions you specified did not hold")
    assert xml_of(answer.body).findtext("Condition") == "If-Match"


def test_if_none_match_that_matches_is_a_bare_304(node, bucket, etag):
    for value in (etag, "*"):
        answer = node.request("GET", f"/{bucket}/k", {"If-None-Match": value})
        assert answer.status == 304 and answer.body == b"", value
        assert answer.headers["x-amz-request-id"]


def test_a_304_carries_the_etag_and_last_modified(node, bucket, etag):
    answer = node.request("GET", f"/{bucket}/k", {"If-None-Match": etag})
    assert answer.status == 304
    assert answer.headers.get("etag") == etag
    assert "last-modified" in answer.headers


def test_if_none_match_that_does_not_match_is_200(node, bucket):
    answer = node.request("GET", f"/{bucket}/k", {"If-None-Match": '"other"'})
    assert answer.status == 200 and answer.body == BODY


def test_if_modified_since(node, bucket, modified):
    before = node.request("GET", f"/{bucket}/k",
                          {"If-Modified-Since": http_date(modified - dt.timedelta(days=1))})
    assert before.status == 200 and before.body == BODY
    for when in (modified, modified + dt.timedelta(days=1)):
        answer = node.request("GET", f"/{bucket}/k", {"If-Modified-Since": http_date(when)})
        assert answer.status == 304 and answer.body == b""


def test_if_unmodified_since(node, bucket, modified):
    for when in (modified, modified + dt.timedelta(days=1)):
        answer = node.request("GET", f"/{bucket}/k", {"If-Unmodified-Since": http_date(when)})
        assert answer.status == 200
    before = node.request("GET", f"/{bucket}/k",
                          {"If-Unmodified-Since": http_date(modified - dt.timedelta(days=1))})
    assert before.status == 412 and error_of(before)[0] == "PreconditionFailed"
    assert xml_of(before.body).findtext("Condition") == "If-Unmodified-Since"


def test_if_match_true_makes_if_unmodified_since_irrelevant(node, bucket, etag, modified):
    """AWS GetObject: If-Match true and If-Unmodified-Since false is 200."""
    answer = node.request("GET", f"/{bucket}/k", {
        "If-Match": etag, "If-Unmodified-Since": http_date(modified - dt.timedelta(days=1))})
    assert answer.status == 200 and answer.body == BODY


def test_if_none_match_false_wins_over_if_modified_since_true(node, bucket, etag, modified):
    """AWS GetObject: If-None-Match false and If-Modified-Since true is 304."""
    answer = node.request("GET", f"/{bucket}/k", {
        "If-None-Match": etag, "If-Modified-Since": http_date(modified - dt.timedelta(days=1))})
    assert answer.status == 304


def test_if_none_match_true_makes_if_modified_since_irrelevant(node, bucket, modified):
    """RFC 7232 3.3: If-Modified-Since is ignored when If-None-Match is present."""
    answer = node.request("GET", f"/{bucket}/k", {
        "If-None-Match": '"other"', "If-Modified-Since": http_date(modified)})
    assert answer.status == 200


def test_if_match_is_checked_before_if_none_match(node, bucket, etag):
    answer = node.request("GET", f"/{bucket}/k", {"If-Match": '"other"',
                                                  "If-None-Match": etag})
    assert answer.status == 412


def test_if_unmodified_since_false_is_412_before_if_none_match(node, bucket, etag, modified):
    answer = node.request("GET", f"/{bucket}/k", {
        "If-Unmodified-Since": http_date(modified - dt.timedelta(days=1)),
        "If-None-Match": etag})
    assert answer.status == 412


@pytest.mark.parametrize("name", ["If-Modified-Since", "If-Unmodified-Since"])
def test_an_unreadable_date_is_ignored(node, bucket, name):
    answer = node.request("GET", f"/{bucket}/k", {name: "not a date"})
    assert answer.status == 200 and answer.body == BODY


def test_head_conditions_answer_without_a_body(node, bucket, etag):
    not_modified = node.request("HEAD", f"/{bucket}/k", {"If-None-Match": etag})
    assert not_modified.status == 304 and not_modified.body == b""
    failed = node.request("HEAD", f"/{bucket}/k", {"If-Match": '"other"'})
    assert failed.status == 412 and failed.body == b""
    wire = node.raw_head(f"/{bucket}/k", {"If-Match": '"other"'})
    assert wire.startswith(b"HTTP/1.1 412") and wire.endswith(b"\r\n\r\n")


def test_a_condition_that_holds_keeps_the_range(node, bucket, etag):
    answer = node.request("GET", f"/{bucket}/k", {"If-Match": etag, "Range": "bytes=0-3"})
    assert answer.status == 206 and answer.body == BODY[:4]


def test_boto3_conditions(s3, bucket, etag):
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == BODY
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=etag)
    assert exc.value.response["Error"]["Code"] == "304"
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k", IfMatch='"x"')
    assert exc.value.response["Error"]["Code"] == "412"


# -- response-* overrides -------------------------------------------------------------------


OVERRIDES = [
    ("response-content-type", "content-type", "text/x-override"),
    ("response-content-language", "content-language", "fr"),
    ("response-expires", "expires", "Thu, 01 Dec 2044 16:00:00 GMT"),
    ("response-cache-control", "cache-control", "no-store"),
    ("response-content-disposition", "content-disposition", "attachment; filename=x.bin"),
    ("response-content-encoding", "content-encoding", "identity"),
]


@pytest.mark.parametrize(("param", "header", "value"), OVERRIDES)
def test_a_signed_get_takes_response_overrides(s3, bucket, param, header, value):
    name = "Response" + "".join(p.title() for p in param.split("-")[1:])
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k",
                                                          name: value})
    with urllib.request.urlopen(url) as answer:
        assert answer.headers[header] == value
        assert answer.read() == BODY


def test_a_head_takes_response_overrides_too(node, bucket):
    answer = node.request("HEAD", f"/{bucket}/k?response-content-type=text%2Fplain")
    assert answer.status == 200 and answer.headers["content-type"] == "text/plain"


def test_an_anonymous_get_may_not_override_headers(shared_server, s3, node):
    lift_account_block(shared_server.endpoint)
    name = bucket_name("public")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=BODY)
    s3.delete_public_access_block(Bucket=name)
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{name}/*"}]}))
    plain = node.request("GET", f"/{name}/k", sign=False)
    assert plain.status == 200 and plain.body == BODY
    answer = node.request("GET", f"/{name}/k?response-content-type=text%2Fplain", sign=False)
    assert answer.status == 400
    assert error_of(answer) == ("InvalidRequest", "Request specific response headers cannot "
                                "be used for anonymous GET requests.")


# -- conditional writes (PutObject If-None-Match / If-Match) --------------------------------


def test_put_if_none_match_star_writes_only_a_new_key(node, bucket):
    first = node.request("PUT", f"/{bucket}/once", {"If-None-Match": "*"}, b"first")
    assert first.status == 200
    again = node.request("PUT", f"/{bucket}/once", {"If-None-Match": "*"}, b"second")
    assert again.status == 412
    assert error_of(again)[0] == "PreconditionFailed"
    assert xml_of(again.body).findtext("Condition") == "If-None-Match"
    assert node.request("GET", f"/{bucket}/once").body == b"first"


def test_put_if_match_writes_only_over_that_etag(node, bucket):
    etag = node.request("PUT", f"/{bucket}/cas", body=b"v1").headers["etag"]
    stale = node.request("PUT", f"/{bucket}/cas", {"If-Match": '"0123"'}, b"lost")
    assert stale.status == 412 and error_of(stale)[0] == "PreconditionFailed"
    won = node.request("PUT", f"/{bucket}/cas", {"If-Match": etag}, b"v2")
    assert won.status == 200
    assert node.request("GET", f"/{bucket}/cas").body == b"v2"


def test_put_if_match_on_a_missing_key_is_no_such_key(node, bucket):
    answer = node.request("PUT", f"/{bucket}/cas-missing", {"If-Match": '"0123"'}, b"x")
    assert answer.status == 404 and error_of(answer)[0] == "NoSuchKey"
    assert node.request("HEAD", f"/{bucket}/cas-missing").status == 404
