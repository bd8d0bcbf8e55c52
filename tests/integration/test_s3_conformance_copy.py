"""S3 conformance, copies: CopyObject and UploadPartCopy as AWS's API reference documents
them: the CopyObjectResult document, metadata and tagging directives, copying onto
itself, URL-encoded sources with versions, the x-amz-copy-source-if-* conditions and
their precedence, copy-source ranges, and the errors of a bad source."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from helpers_s3_conformance import Node, error_of, failure, text, xml_of
from helpers_s3_http import bucket_name, s3_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

BODY = b"copy me, all of me" * 10
SELF_COPY = ("This copy request is illegal because it is trying to copy an object to itself "
             "without changing the object's metadata, storage class, website redirect "
             "location or encryption attributes.")


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture(scope="module")
def node(shared_server) -> Node:
    return Node(shared_server.http_url)


@pytest.fixture(scope="module")
def bucket(s3) -> str:
    name = bucket_name("copy")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="src", Body=BODY, ContentType="text/plain",
                  CacheControl="max-age=5", Metadata={"origin": "src"}, Tagging="t=1")
    return name


@pytest.fixture(scope="module")
def source_etag(s3, bucket) -> str:
    return s3.head_object(Bucket=bucket, Key="src")["ETag"]


def http_date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)


def copy_error(s3, **params: object):
    with pytest.raises(ClientError) as exc:
        s3.copy_object(**params)
    return failure(exc)


# -- CopyObject -----------------------------------------------------------------------------


def test_copy_answers_s3s_result_document(node, bucket, source_etag):
    answer = node.request("PUT", f"/{bucket}/doc-copy", {"x-amz-copy-source": f"/{bucket}/src"})
    assert answer.status == 200
    doc = xml_of(answer.body)
    assert doc.tag.endswith("CopyObjectResult")
    assert text(doc, "ETag") == source_etag
    modified = text(doc, "LastModified") or ""
    assert dt.datetime.strptime(modified, "%Y-%m-%dT%H:%M:%S.%fZ").year >= 2025


def test_a_copy_keeps_body_headers_metadata_and_tags(s3, bucket, source_etag):
    s3.copy_object(Bucket=bucket, Key="kept", CopySource={"Bucket": bucket, "Key": "src"})
    got = s3.get_object(Bucket=bucket, Key="kept")
    assert got["Body"].read() == BODY and got["ETag"] == source_etag
    assert got["ContentType"] == "text/plain" and got["CacheControl"] == "max-age=5"
    assert got["Metadata"] == {"origin": "src"}
    assert s3.get_object_tagging(Bucket=bucket, Key="kept")["TagSet"] == [
        {"Key": "t", "Value": "1"}]


def test_a_copy_to_another_bucket(s3, bucket):
    other = bucket_name("copy-dest")
    s3.create_bucket(Bucket=other)
    s3.copy_object(Bucket=other, Key="there", CopySource=f"{bucket}/src")
    assert s3.get_object(Bucket=other, Key="there")["Body"].read() == BODY


def test_a_zero_byte_copy(s3, bucket):
    s3.put_object(Bucket=bucket, Key="zero", Body=b"")
    s3.copy_object(Bucket=bucket, Key="zero-copy", CopySource=f"{bucket}/zero")
    got = s3.get_object(Bucket=bucket, Key="zero-copy")
    assert got["ContentLength"] == 0 and got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


def test_copy_directive_ignores_the_requests_metadata(s3, bucket):
    s3.copy_object(Bucket=bucket, Key="copy-dir", CopySource=f"{bucket}/src",
                   Metadata={"new": "1"}, ContentType="image/png")
    head = s3.head_object(Bucket=bucket, Key="copy-dir")
    assert head["Metadata"] == {"origin": "src"} and head["ContentType"] == "text/plain"


def test_replace_directive_takes_only_the_requests_metadata(s3, bucket):
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource=f"{bucket}/src",
                   MetadataDirective="REPLACE", Metadata={"new": "1"},
                   ContentType="image/png")
    head = s3.head_object(Bucket=bucket, Key="replaced")
    assert head["Metadata"] == {"new": "1"} and head["ContentType"] == "image/png"
    assert "CacheControl" not in head


def test_tagging_directive_replace_takes_the_requests_tags(s3, bucket):
    s3.copy_object(Bucket=bucket, Key="retagged", CopySource=f"{bucket}/src",
                   TaggingDirective="REPLACE", Tagging="new=2&other=3")
    tags = s3.get_object_tagging(Bucket=bucket, Key="retagged")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("new", "2"), ("other", "3")]


@pytest.mark.parametrize("header", ["x-amz-metadata-directive", "x-amz-tagging-directive"])
def test_an_unknown_directive_is_invalid_argument(node, bucket, header):
    answer = node.request("PUT", f"/{bucket}/bad-directive",
                          {"x-amz-copy-source": f"/{bucket}/src", header: "MERGE"})
    assert answer.status == 400 and error_of(answer)[0] == "InvalidArgument"


def test_a_copy_onto_itself_without_a_change_is_invalid_request(s3, bucket):
    got = copy_error(s3, Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert (got.status, got.code, got.message) == (400, "InvalidRequest", SELF_COPY)


def test_a_copy_onto_itself_replacing_metadata_or_class_is_allowed(s3, bucket):
    s3.put_object(Bucket=bucket, Key="self", Body=b"self", Metadata={"v": "1"})
    s3.copy_object(Bucket=bucket, Key="self", CopySource=f"{bucket}/self",
                   MetadataDirective="REPLACE", Metadata={"v": "2"})
    assert s3.head_object(Bucket=bucket, Key="self")["Metadata"] == {"v": "2"}
    s3.copy_object(Bucket=bucket, Key="self", CopySource=f"{bucket}/self",
                   StorageClass="STANDARD_IA")
    head = s3.head_object(Bucket=bucket, Key="self")
    assert head["StorageClass"] == "STANDARD_IA" and head["Metadata"] == {"v": "2"}


@pytest.mark.parametrize("key", ["a b+c", "日本/語", "x%2Fy", "q?v=1", "../up", "tab\tkey"])
def test_url_encoded_sources_name_exactly_their_key(s3, node, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for source in (f"/{bucket}/{quote(key, safe='/')}", f"{bucket}/{quote(key, safe='')}"):
        answer = node.request("PUT", f"/{bucket}/enc-copy", {"x-amz-copy-source": source})
        assert answer.status == 200, (source, answer.body)
        assert s3.get_object(Bucket=bucket, Key="enc-copy")["Body"].read() == key.encode()


def test_a_missing_source_bucket_or_key(s3, bucket):
    got = copy_error(s3, Bucket=bucket, Key="d", CopySource=f"{bucket_name('none')}/src")
    assert (got.status, got.code) == (404, "NoSuchBucket")
    got = copy_error(s3, Bucket=bucket, Key="d", CopySource=f"{bucket}/no-such-key")
    assert (got.status, got.code) == (404, "NoSuchKey")


def test_a_missing_target_bucket_is_no_such_bucket(s3, bucket):
    got = copy_error(s3, Bucket=bucket_name("none"), Key="d", CopySource=f"{bucket}/src")
    assert (got.status, got.code) == (404, "NoSuchBucket")


@pytest.mark.parametrize("source", ["", "/", "just-a-bucket", f"/{'b' * 5}/", "%FF/key"])
def test_a_source_without_bucket_and_key_is_invalid_argument(node, bucket, source):
    answer = node.request("PUT", f"/{bucket}/bad-source", {"x-amz-copy-source": source})
    assert answer.status == 400 and error_of(answer)[0] == "InvalidArgument", answer.body


def test_a_version_of_the_source_is_copied(s3, node):
    name = bucket_name("copy-ver")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=name, Key="v", Body=b"old")["VersionId"]
    s3.put_object(Bucket=name, Key="v", Body=b"new")
    answer = node.request("PUT", f"/{name}/from-old",
                          {"x-amz-copy-source": f"/{name}/v?versionId={old}"})
    assert answer.status == 200
    assert answer.headers["x-amz-copy-source-version-id"] == old
    assert answer.headers["x-amz-version-id"]
    assert s3.get_object(Bucket=name, Key="from-old")["Body"].read() == b"old"
    got = copy_error(s3, Bucket=name, Key="x", CopySource={"Bucket": name, "Key": "v",
                                                           "VersionId": "no-such-version"})
    assert (got.status, got.code, got.message) == (400, "InvalidArgument",
                                                  "Invalid version id specified")


# -- x-amz-copy-source-if-* -----------------------------------------------------------------


def test_copy_conditions_that_hold(s3, bucket, source_etag):
    modified = s3.head_object(Bucket=bucket, Key="src")["LastModified"]
    holds = [{"CopySourceIfMatch": source_etag},
             {"CopySourceIfNoneMatch": '"other"'},
             {"CopySourceIfModifiedSince": modified - dt.timedelta(days=1)},
             {"CopySourceIfUnmodifiedSince": modified + dt.timedelta(days=1)}]
    for condition in holds:
        s3.copy_object(Bucket=bucket, Key="cond", CopySource=f"{bucket}/src", **condition)


@pytest.mark.parametrize(("header", "value", "named"), [
    ("x-amz-copy-source-if-match", '"other"', "x-amz-copy-source-If-Match"),
    ("x-amz-copy-source-if-none-match", "ETAG", "x-amz-copy-source-If-None-Match"),
    ("x-amz-copy-source-if-modified-since", "LATER", "x-amz-copy-source-If-Modified-Since"),
    ("x-amz-copy-source-if-unmodified-since", "EARLIER",
     "x-amz-copy-source-If-Unmodified-Since"),
])
def test_a_copy_condition_that_fails_is_412_naming_it(s3, node, bucket, source_etag, header,
                                                       value, named):
    modified = s3.head_object(Bucket=bucket, Key="src")["LastModified"]
    value = {"ETAG": source_etag, "LATER": http_date(modified + dt.timedelta(days=1)),
             "EARLIER": http_date(modified - dt.timedelta(days=1))}.get(value, value)
    answer = node.request("PUT", f"/{bucket}/cond-fail",
                          {"x-amz-copy-source": f"/{bucket}/src", header: value})
    assert answer.status == 412
    assert error_of(answer)[0] == "PreconditionFailed"
    assert xml_of(answer.body).findtext("Condition") == named


def test_copy_if_match_true_makes_if_unmodified_since_irrelevant(s3, bucket, source_etag):
    """AWS CopyObject: if-match true and if-unmodified-since false copies (200)."""
    modified = s3.head_object(Bucket=bucket, Key="src")["LastModified"]
    s3.copy_object(Bucket=bucket, Key="cond-both", CopySource=f"{bucket}/src",
                   CopySourceIfMatch=source_etag,
                   CopySourceIfUnmodifiedSince=modified - dt.timedelta(days=1))


def test_copy_if_none_match_false_fails_whatever_if_modified_since(s3, bucket, source_etag):
    """AWS CopyObject: if-none-match false and if-modified-since true is 412."""
    modified = s3.head_object(Bucket=bucket, Key="src")["LastModified"]
    got = copy_error(s3, Bucket=bucket, Key="cond-both", CopySource=f"{bucket}/src",
                     CopySourceIfNoneMatch=source_etag,
                     CopySourceIfModifiedSince=modified - dt.timedelta(days=1))
    assert (got.status, got.code) == (412, "PreconditionFailed")


# -- UploadPartCopy -------------------------------------------------------------------------


@pytest.fixture
def upload_id(s3, bucket) -> str:
    return s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]


def test_part_copies_whole_and_ranged(s3, node, bucket, upload_id):
    whole = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload_id,
                                PartNumber=1, CopySource=f"{bucket}/src")
    assert whole["CopyPartResult"]["ETag"] == f'"{hashlib.md5(BODY).hexdigest()}"'
    answer = node.request(
        "PUT", f"/{bucket}/assembled?partNumber=2&uploadId={upload_id}",
        {"x-amz-copy-source": f"/{bucket}/src", "x-amz-copy-source-range": "bytes=0-4"})
    assert answer.status == 200
    doc = xml_of(answer.body)
    assert doc.tag.endswith("CopyPartResult")
    assert text(doc, "ETag") == f'"{hashlib.md5(BODY[:5]).hexdigest()}"'
    parts = s3.list_parts(Bucket=bucket, Key="assembled", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(BODY)), (2, 5)]


FORM = ("The x-amz-copy-source-range value must be of the form bytes=first-last where first "
        "and last are the zero-based offsets of the first and last bytes to copy")
BEYOND = f"Range specified is not valid for source object of size: {len(BODY)}"


@pytest.mark.parametrize(("value", "message"), [
    ("bytes=0-1000", BEYOND), ("bytes=500-600", BEYOND),
    ("bytes=0-", FORM), ("bytes=-4", FORM), ("0-4", FORM),
    ("bytes=0-1,3-4", FORM),
])
def test_a_bad_copy_source_range_is_invalid_argument(node, bucket, upload_id, value,
                                                     message):
    answer = node.request(
        "PUT", f"/{bucket}/assembled?partNumber=1&uploadId={upload_id}",
        {"x-amz-copy-source": f"/{bucket}/src", "x-amz-copy-source-range": value})
    assert answer.status == 400
    assert error_of(answer) == ("InvalidArgument", message)


def test_a_part_copy_into_an_unknown_upload_is_no_such_upload(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId="nope", PartNumber=1,
                            CopySource=f"{bucket}/src")
    got = failure(exc)
    assert (got.status, got.code) == (404, "NoSuchUpload")


def test_a_part_copy_condition_that_fails_is_412(s3, bucket, upload_id):
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=1,
                            CopySource=f"{bucket}/src", CopySourceIfMatch='"other"')
    got = failure(exc)
    assert (got.status, got.code) == (412, "PreconditionFailed")
