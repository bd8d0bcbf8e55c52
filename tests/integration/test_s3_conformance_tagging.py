"""S3 conformance, tagging: Put/Get/DeleteObjectTagging, the x-amz-tagging header of
PutObject and CreateMultipartUpload, x-amz-tagging-count, and Put/Get/DeleteBucketTagging
with S3's documented limits (10 object tags, 50 bucket tags, keys of 128 and values of
256 characters, the allowed characters, no duplicates, no aws: prefix)."""

from __future__ import annotations

from urllib.parse import urlencode

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
def bucket(s3) -> str:
    name = bucket_name("tags")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"tagged")
    return name


def tag_set(tags: dict[str, str]) -> dict:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def as_dict(response: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in response["TagSet"]}


def put_error(s3, bucket: str, tags: dict[str, str]):
    with pytest.raises(ClientError) as exc:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(tags))
    return failure(exc)


# -- object tags ----------------------------------------------------------------------------


def test_an_untagged_object_has_an_empty_tag_set(s3, node, bucket):
    answer = node.request("GET", f"/{bucket}/k?tagging")
    assert answer.status == 200
    doc = xml_of(answer.body)
    assert doc.tag.endswith("Tagging") and find(doc, "TagSet") and not find(doc, "TagSet/Tag")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "x-amz-tagging-count" not in node.request("HEAD", f"/{bucket}/k").headers


def test_tags_are_put_read_and_counted(s3, node, bucket):
    tags = {"project": "blue", "empty": "", "unicode-é": "値 + - = . _ : / @"}
    put = s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(tags))
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == tags
    assert node.request("HEAD", f"/{bucket}/k").headers["x-amz-tagging-count"] == "3"
    doc = xml_of(node.request("GET", f"/{bucket}/k?tagging").body)
    assert {text(t, "Key"): text(t, "Value") for t in find(doc, "TagSet/Tag")} == tags


def test_a_put_replaces_the_whole_tag_set(s3, bucket):
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set({"a": "1", "b": "2"}))
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set({"c": "3"}))
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"c": "3"}


def test_delete_is_204_and_leaves_an_empty_set(s3, node, bucket):
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set({"a": "1"}))
    answer = node.request("DELETE", f"/{bucket}/k?tagging")
    assert answer.status == 204 and answer.body == b""
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"tagged"


def test_ten_tags_with_the_longest_keys_and_values_are_accepted(s3, bucket):
    tags = {f"{i}".ljust(128, "k"): "v" * 256 for i in range(10)}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(tags))
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == tags


def test_eleven_tags_are_refused(s3, bucket):
    got = put_error(s3, bucket, {f"k{i}": "v" for i in range(11)})
    assert (got.status, got.code) == (400, "BadRequest")
    assert got.message == "Object tags cannot be greater than 10"


@pytest.mark.parametrize(("tags", "message"), [
    ({"k" * 129: "v"}, "The TagKey you have provided is too long, max 128"),
    ({"k": "v" * 257}, "The TagValue you have provided is too long, max 256"),
    ({"aws:owner": "me"}, "Your TagKey cannot be prefixed with aws:"),
    ({"star*": "v"}, "The TagKey or TagValue you have provided has invalid characters"),
    ({"k": "semi;colon"}, "The TagKey or TagValue you have provided has invalid characters"),
], ids=["key-129", "value-257", "aws-prefix", "key-char", "value-char"])
def test_invalid_tags_are_invalid_tag(s3, bucket, tags, message):
    got = put_error(s3, bucket, tags)
    assert (got.status, got.code, got.message) == (400, "InvalidTag", message)


def test_an_empty_key_is_invalid_tag(node, bucket):
    body = b"<Tagging><TagSet><Tag><Key></Key><Value>v</Value></Tag></TagSet></Tagging>"
    answer = node.request("PUT", f"/{bucket}/k?tagging", body=body)
    assert answer.status == 400
    assert error_of(answer) == ("InvalidTag", "The TagKey you have provided is invalid")


def test_a_repeated_key_is_invalid_tag(node, bucket):
    body = (b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag>"
            b"<Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>")
    answer = node.request("PUT", f"/{bucket}/k?tagging", body=body)
    assert answer.status == 400
    assert error_of(answer) == ("InvalidTag", "Cannot provide multiple Tags with the same key")


@pytest.mark.parametrize("body", [b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>",
                                  b"<Tagging>", b"<Other/>", b"<Tagging></Tagging>"],
                         ids=["no-value", "truncated", "wrong-root", "no-tag-set"])
def test_a_malformed_tagging_document_is_malformed_xml(node, bucket, body):
    answer = node.request("PUT", f"/{bucket}/k?tagging", body=body)
    assert answer.status == 400 and error_of(answer)[0] == "MalformedXML"


def test_tagging_a_missing_key_is_no_such_key(s3, bucket):
    for call in (lambda: s3.get_object_tagging(Bucket=bucket, Key="nope"),
                 lambda: s3.put_object_tagging(Bucket=bucket, Key="nope",
                                               Tagging=tag_set({"a": "1"})),
                 lambda: s3.delete_object_tagging(Bucket=bucket, Key="nope")):
        with pytest.raises(ClientError) as exc:
            call()
        got = failure(exc)
        assert (got.status, got.code) == (404, "NoSuchKey")


def test_tags_belong_to_a_version(s3, node, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="v", Body=b"1", Tagging="gen=1")["VersionId"]
    new = s3.put_object(Bucket=bucket, Key="v", Body=b"2", Tagging="gen=2")["VersionId"]
    got = node.request("GET", f"/{bucket}/v?tagging&versionId={old}")
    assert got.headers["x-amz-version-id"] == old
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="v")) == {"gen": "2"}
    put = s3.put_object_tagging(Bucket=bucket, Key="v", VersionId=old,
                                Tagging=tag_set({"gen": "one"}))
    assert put["VersionId"] == old
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="v", VersionId=old)) == {
        "gen": "one"}
    assert s3.get_object_tagging(Bucket=bucket, Key="v")["VersionId"] == new


# -- x-amz-tagging on writes ----------------------------------------------------------------


def test_the_tagging_header_tags_a_new_object(s3, node, bucket):
    header = urlencode({"a b": "c+d", "x": "", "é": "日"})
    answer = node.request("PUT", f"/{bucket}/hdr", {"x-amz-tagging": header}, b"x")
    assert answer.status == 200
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="hdr")) == {
        "a b": "c+d", "x": "", "é": "日"}


def test_the_tagging_header_obeys_the_same_limits(node, bucket):
    many = urlencode({f"k{i}": "v" for i in range(11)})
    answer = node.request("PUT", f"/{bucket}/hdr-many", {"x-amz-tagging": many}, b"x")
    assert answer.status == 400 and error_of(answer)[0] == "BadRequest"
    long_key = urlencode({"k" * 129: "v"})
    answer = node.request("PUT", f"/{bucket}/hdr-long", {"x-amz-tagging": long_key}, b"x")
    assert answer.status == 400 and error_of(answer)[0] == "InvalidTag"


@pytest.mark.parametrize("header", ["a=1&a=2", "="])
def test_a_tagging_header_that_is_not_one_tag_set_is_invalid_argument(s3, node, bucket,
                                                                      header):
    answer = node.request("PUT", f"/{bucket}/hdr-dup", {"x-amz-tagging": header}, b"x")
    assert answer.status == 400
    assert error_of(answer) == (
        "InvalidArgument", "The header 'x-amz-tagging' shall be encoded as UTF-8 then "
        "URLEncoded URL query parameters without tag name duplicates.")
    assert node.request("HEAD", f"/{bucket}/hdr-dup").status == 404


def test_an_upload_is_tagged_from_its_creation(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="from=create")[
        "UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1,
                          Body=b"p")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="mp")) == {"from": "create"}


# -- bucket tags ----------------------------------------------------------------------------


def test_bucket_tags_round_trip(s3, node, bucket):
    tags = {f"t{i}": str(i) for i in range(50)}
    put = s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(tags))
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert as_dict(s3.get_bucket_tagging(Bucket=bucket)) == tags
    answer = node.request("DELETE", f"/{bucket}?tagging")
    assert answer.status == 204
    got = node.request("GET", f"/{bucket}?tagging")
    assert got.status == 404
    assert error_of(got) == ("NoSuchTagSet", "The TagSet does not exist")


def test_a_bucket_without_tags_is_no_such_tag_set(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket)
    got = failure(exc)
    assert (got.status, got.code) == (404, "NoSuchTagSet")


def test_bucket_tag_limits(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set({f"t{i}": "v" for i in range(51)}))
    assert (failure(exc).status, failure(exc).code) == (400, "BadRequest")
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set({"k" * 129: "v"}))
    assert failure(exc).code == "InvalidTag"


def test_bucket_tagging_of_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket_name("gone"))
    assert failure(exc).code == "NoSuchBucket"
