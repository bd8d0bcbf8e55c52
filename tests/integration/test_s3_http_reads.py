"""Reads over the S3 REST endpoint: byte ranges (closed, open, suffix, unsatisfiable),
conditional requests (304 and 412), named versions and response header overrides, as
boto3 and a browser following a presigned link see them."""

from __future__ import annotations

import base64
import datetime as dt
import urllib.error
import urllib.request
import zlib

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import bucket_name, s3_client

from engine.client import client as engine_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

BODY = bytes(range(100))


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=BODY)
    return name


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-9", 0, 9), ("bytes=90-", 90, 99), ("bytes=-5", 95, 99), ("bytes=95-200", 95, 99),
])
def test_ranges(s3, bucket, header, first, last):
    got = s3.get_object(Bucket=bucket, Key="k", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == BODY[first:last + 1]
    assert got["ContentRange"] == f"bytes {first}-{last}/100"
    assert got["ContentLength"] == last - first + 1


def test_an_unsatisfiable_range_is_416_with_the_size(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", Range="bytes=100-")
    response = exc.value.response
    assert response["Error"]["Code"] == "InvalidRange"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 416
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-range"] == "bytes */100"


def test_a_malformed_range_returns_the_whole_object(s3, bucket):
    got = s3.get_object(Bucket=bucket, Key="k", Range="bytes=9-2")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200 and got["Body"].read() == BODY


def test_conditional_gets(s3, bucket):
    etag = s3.head_object(Bucket=bucket, Key="k")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == BODY
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", IfNoneMatch=etag)
    meta = exc.value.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 304
    assert meta["HTTPHeaders"]["etag"] == etag and meta["HTTPHeaders"]["last-modified"]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", IfMatch='"0123"')
    assert exc.value.response["Error"]["Code"] == "PreconditionFailed"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=future)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=past)["Body"].read() == BODY
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", IfUnmodifiedSince=past)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k", IfNoneMatch=etag)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


def test_conditional_put(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"again", IfNoneMatch="*")
    assert exc.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == BODY


def test_versions_are_read_by_id(shared_server, s3, bucket):
    with engine_client("s3", endpoint=shared_server.endpoint) as sdk:
        sdk.put_bucket_versioning(Bucket=bucket,
                                  VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="v", Body=b"two")["VersionId"]
    assert first != second
    assert s3.get_object(Bucket=bucket, Key="v", VersionId=first)["Body"].read() == b"one"
    assert s3.get_object(Bucket=bucket, Key="v")["VersionId"] == second
    deleted = s3.delete_object(Bucket=bucket, Key="v")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="v")
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"
    assert s3.get_object(Bucket=bucket, Key="v", VersionId=second)["Body"].read() == b"two"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="v", VersionId="nosuchversion0")
    assert exc.value.response["Error"]["Code"] == "NoSuchVersion"


def test_response_header_overrides_in_a_link(shared_server, bucket):
    s3v4 = s3_client(shared_server.http_url, signature_version="s3v4")
    url = s3v4.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "k", "ResponseContentType": "image/png",
        "ResponseContentDisposition": 'attachment; filename="k.png"'})
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert answer.headers["Content-Type"] == "image/png"
        assert answer.headers["Content-Disposition"] == 'attachment; filename="k.png"'
        assert answer.read() == BODY


def test_part_number_of_a_simple_object(s3, bucket):
    got = s3.get_object(Bucket=bucket, Key="k", PartNumber=1)
    assert got["Body"].read() == BODY and got["PartsCount"] == 1
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", PartNumber=2)
    assert exc.value.response["Error"]["Code"] == "InvalidPartNumber"


def test_checksum_mode_returns_the_uploads_checksum(s3, bucket):
    # boto3 sends a CRC32 with every PutObject: the object keeps that one
    got = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == base64.b64encode(
        zlib.crc32(BODY).to_bytes(4, "big")).decode()
    assert got["ChecksumType"] == "FULL_OBJECT"


def test_urllib_follows_a_link_without_error(shared_server, bucket):
    s3v4 = s3_client(shared_server.http_url, signature_version="s3v4")
    url = s3v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "nope"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(url, timeout=30)
    assert exc.value.code == 404
    assert b"<Code>NoSuchKey</Code>" in exc.value.read()
