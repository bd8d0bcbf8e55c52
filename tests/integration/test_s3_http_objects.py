"""The S3 REST endpoint's core operations with boto3, as a user points it at a node:
buckets, objects with their headers and metadata, keys with odd characters, and the
ids and error documents every answer carries."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import S3_NS, bucket_name, s3_client, send

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

KEYS = ["a/../b", "with space", "plus+sign", "pct%2Fslash", "unicodé/日本", "trailing/",
        "..", "tab\there", "quote\"and'apos", "x" * 1000, "?query#hash&amp"]


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    return name


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_buckets_are_created_listed_located_and_deleted(s3):
    name = bucket_name("life")
    created = s3.create_bucket(Bucket=name)
    assert created["Location"] == f"/{name}"
    listed = s3.list_buckets()
    assert name in [b["Name"] for b in listed["Buckets"]]
    assert listed["Owner"]["ID"]
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert exc.value.response["Error"]["Code"] == "404"
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert code_of(exc) == "NoSuchBucket"


def test_list_buckets_pages_with_prefix(s3):
    stem = bucket_name("page")
    names = sorted(f"{stem}-{i}" for i in range(3))
    for name in names:
        s3.create_bucket(Bucket=name)
    first = s3.list_buckets(Prefix=stem, MaxBuckets=2)
    assert [b["Name"] for b in first["Buckets"]] == names[:2]
    rest = s3.list_buckets(Prefix=stem, MaxBuckets=2,
                           ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == names[2:]
    assert "ContinuationToken" not in rest


def test_location_constraint_must_match_the_region(s3):
    name = bucket_name("loc")
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name,
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert code_of(exc) == "IllegalLocationConstraintException"
    assert "eu-west-1" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name,
                         CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert code_of(exc) == "InvalidLocationConstraint"


def test_bucket_errors_carry_s3_codes(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket="Not_A_Valid_Name")
    assert code_of(exc) == "InvalidBucketName"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert code_of(exc) == "BucketNotEmpty"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_object_round_trip_with_headers_and_metadata(s3, bucket):
    body = b"hello s3 " * 1000
    put = s3.put_object(Bucket=bucket, Key="doc.txt", Body=body, ContentType="text/plain",
                        CacheControl="max-age=60", ContentDisposition="inline",
                        ContentLanguage="en", Metadata={"Owner": "ana", "n": "1"},
                        StorageClass="STANDARD_IA", Tagging="a=1&b=2")
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ETag"] == etag
    got = s3.get_object(Bucket=bucket, Key="doc.txt")
    assert got["Body"].read() == body
    assert got["ETag"] == etag and got["ContentLength"] == len(body)
    assert got["ContentType"] == "text/plain" and got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "inline" and got["ContentLanguage"] == "en"
    assert got["Metadata"] == {"owner": "ana", "n": "1"}
    assert got["StorageClass"] == "STANDARD_IA" and got["TagCount"] == 2
    assert got["AcceptRanges"] == "bytes" and got["LastModified"].year >= 2025
    head = s3.head_object(Bucket=bucket, Key="doc.txt")
    assert head["ContentLength"] == len(body) and head["ETag"] == etag
    assert head["Metadata"] == {"owner": "ana", "n": "1"}
    assert s3.delete_object(Bucket=bucket, Key="doc.txt")[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="doc.txt")
    assert code_of(exc) == "NoSuchKey"


def test_a_large_object_streams_through(s3, bucket):
    body = hashlib.sha256(b"seed").digest() * (5 * 1024 * 1024 // 32 + 7)
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    got = s3.get_object(Bucket=bucket, Key="big")["Body"]
    assert hashlib.md5(got.read()).digest() == hashlib.md5(body).digest()


def test_default_content_type_and_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b"" and got["ContentType"] == "binary/octet-stream"
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


@pytest.mark.parametrize("key", KEYS)
def test_odd_keys_round_trip_exactly(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(key.encode())
    s3.delete_object(Bucket=bucket, Key=key)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key=key)


def test_keys_are_not_normalised(s3, bucket):
    """"a/../b" and "b" are two keys, as in S3; "%2F" is not "/"."""
    s3.put_object(Bucket=bucket, Key="a/../b", Body=b"dotted")
    s3.put_object(Bucket=bucket, Key="b", Body=b"plain")
    s3.put_object(Bucket=bucket, Key="x%2Fy", Body=b"percent")
    assert s3.get_object(Bucket=bucket, Key="a/../b")["Body"].read() == b"dotted"
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"plain"
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="x/y")


def test_every_answer_has_request_ids_and_errors_are_s3_xml(shared_server, s3, bucket):
    ok = s3.list_buckets()["ResponseMetadata"]
    assert len(ok["RequestId"]) == 16 and ok["HostId"]
    missing = send(f"{shared_server.http_url}/{bucket}/nope", "GET")
    assert missing.status == 403  # unsigned: anonymous, and nothing is public
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="nope")
    meta = exc.value.response["ResponseMetadata"]
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"
    assert exc.value.response["Error"]["Key"] == "nope"
    assert meta["HTTPStatusCode"] == 404
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amz-request-id"]
    assert meta["HostId"] == meta["HTTPHeaders"]["x-amz-id-2"]
    root = ET.fromstring(missing.body)
    assert root.tag == "Error" and root.findtext("Code") == "AccessDenied"
    assert root.findtext("RequestId") == missing.headers["x-amz-request-id"]
    assert root.findtext("Resource") == f"/{bucket}/nope"


def test_head_errors_have_no_body(shared_server, s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="nope")
    assert exc.value.response["Error"]["Code"] == "404"
    answer = send(f"{shared_server.http_url}/{bucket}/nope", "HEAD")
    assert answer.status == 403 and answer.body == b""
    assert answer.headers["x-amz-request-id"]


def test_location_document_is_s3s(shared_server, s3, bucket):
    url = s3.generate_presigned_url("get_bucket_location", Params={"Bucket": bucket})
    answer = send(url, "GET")
    assert answer.status == 200
    root = ET.fromstring(answer.body)
    assert root.tag == f"{S3_NS}LocationConstraint" and not root.text


def test_unsupported_operations_say_not_implemented(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_logging(Bucket=bucket)
    assert code_of(exc) == "NotImplemented"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_unknown_query_parameters_are_ignored(shared_server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    answer = send(url + "&cache-buster=123", "GET")
    assert answer.status == 200 and answer.body == b"v"


def test_expected_bucket_owner_is_checked(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="999999999999")
    assert code_of(exc) == "AccessDenied"


def test_method_not_allowed(shared_server):
    answer = send(f"{shared_server.http_url}/", "DELETE")
    assert answer.status == 405
    assert ET.fromstring(answer.body).findtext("Code") == "MethodNotAllowed"


def test_virtual_hosted_style(server_factory):
    from helpers_s3_http import signed_headers

    server = server_factory("--s3-domain", "s3.localhost").start()
    s3 = s3_client(server.http_url)
    name = bucket_name("vhost")
    s3.create_bucket(Bucket=name)
    host = f"{name}.s3.localhost:{server.http_port}"
    url = f"http://{host}/dir/k%2B1"
    headers = signed_headers("PUT", url, "UNSIGNED-PAYLOAD")
    put = send(server.http_url, "PUT", list(headers.items()), b"virtual", path="/dir/k%2B1")
    assert put.status == 200, put.body
    assert s3.get_object(Bucket=name, Key="dir/k+1")["Body"].read() == b"virtual"
    headers = signed_headers("GET", url, "UNSIGNED-PAYLOAD")
    got = send(server.http_url, "GET", list(headers.items()), path="/dir/k%2B1")
    assert got.status == 200 and got.body == b"virtual"
    s3v2 = s3_client(f"http://s3.localhost:{server.http_port}", signature_version="s3",
                     s3={"addressing_style": "virtual"})
    link = s3v2.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "dir/k+1"})
    parts = link.split("/", 3)
    assert parts[2] == host
    got = send(server.http_url, "GET", [("Host", host)], path="/" + parts[3])
    assert got.status == 200 and got.body == b"virtual"
