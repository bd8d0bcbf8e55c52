"""The S3 SDK against a real `engine serve`: everything a boto3 user would notice.

Expectations are S3's documented behaviour (codes, omitted members, edge cases); a
server deviation is marked xfail(strict) with the reason, so fixing it flips the test.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import signal
import socket
import threading
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta

import google_crc32c
import pytest

from engine.client import ClientError, EndpointConnectionError, ReadTimeoutError, S3Client, client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

MIB = 1024 * 1024


def unique_name(hint: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-")[:40].strip("-")
    return f"{base}-{uuid.uuid4().hex[:8]}"


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def crc32c_b64(data: bytes) -> str:
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


def error_code(exc_info: pytest.ExceptionInfo[ClientError]) -> str:
    return exc_info.value.response["Error"]["Code"]


class Generated:
    """A read-only stream of ``size`` pseudo-random bytes made on the fly (no seek)."""

    def __init__(self, size: int, seed: bytes = b"seed") -> None:
        self.left = size
        self.block = hashlib.sha256(seed).digest() * 2048  # 64 KiB
        self.md5 = hashlib.md5()

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        reps = n // len(self.block) + 1
        data = (self.block * reps)[:n]
        self.left -= n
        self.md5.update(data)
        return data


# -- buckets -----------------------------------------------------------------------------


def test_bucket_lifecycle(s3):
    name = unique_name("lifecycle")
    created = s3.create_bucket(Bucket=name)
    assert created["Location"] == f"/{name}"
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
    head = s3.head_bucket(Bucket=name)
    assert head["BucketRegion"] and head["ResponseMetadata"]["HTTPStatusCode"] == 200
    listed = {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]}
    assert name in listed
    assert listed[name].tzinfo is not None
    assert abs(listed[name] - datetime.now(UTC)) < timedelta(minutes=5)
    owner = s3.list_buckets()["Owner"]
    assert set(owner) == {"DisplayName", "ID"}
    deleted = s3.delete_bucket(Bucket=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert error_code(exc) == "404"


def test_create_bucket_with_location_constraint(s3):
    name = unique_name("located")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.head_bucket(Bucket=name)["BucketRegion"] == "eu-west-1"


def test_create_existing_bucket_is_already_owned(s3, bucket):
    with pytest.raises(s3.exceptions.BucketAlreadyOwnedByYou) as exc:
        s3.create_bucket(Bucket=bucket)
    assert error_code(exc) == "BucketAlreadyOwnedByYou"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_missing_bucket_errors(s3):
    name = unique_name("never-made")
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.delete_bucket(Bucket=name)
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects_v2(Bucket=name)
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(s3.exceptions.NoSuchBucket) as exc:
        s3.get_object(Bucket=name, Key="k")
    assert exc.value.response["Error"]["BucketName"] == name
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=name, Key="k")
    assert error_code(exc) == "404"


def test_delete_non_empty_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert error_code(exc) == "BucketNotEmpty"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize(
    "name",
    ["ab", "UPPER", "192.168.1.1", "-abc", "abc-", "a..b", "a_b", "a" * 64, "xn--abc",
     "abc-s3alias", "a.-b"],
)
def test_invalid_bucket_names(s3, name):
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name)
    assert error_code(exc) == "InvalidBucketName"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_valid_edge_bucket_names(s3):
    for name in ("a" * 60 + uuid.uuid4().hex[:3], f"x.{uuid.uuid4().hex[:6]}-1"):
        s3.create_bucket(Bucket=name)
        s3.head_bucket(Bucket=name)


# -- put / get round trips ---------------------------------------------------------------


def test_bytes_round_trip_etag_and_checksum(s3, bucket):
    data = os.urandom(300_000)
    put = s3.put_object(Bucket=bucket, Key="bin", Body=data)
    assert put["ETag"] == md5_etag(data)
    assert put["ChecksumCRC32C"] == crc32c_b64(data)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = s3.get_object(Bucket=bucket, Key="bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data)
    assert got["ETag"] == md5_etag(data)
    assert got["ChecksumCRC32C"] == crc32c_b64(data)
    assert got["AcceptRanges"] == "bytes"
    assert got["ContentType"] == "binary/octet-stream"
    assert got["Metadata"] == {}
    assert "StorageClass" not in got  # STANDARD is not reported on GET/HEAD
    assert "ContentRange" not in got
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "ChecksumCRC32C" not in s3.get_object(Bucket=bucket, Key="bin")


def test_last_modified_is_aware_utc_whole_seconds(s3, bucket):
    before = datetime.now(UTC).replace(microsecond=0)
    s3.put_object(Bucket=bucket, Key="t", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="t")
    lm = head["LastModified"]
    assert lm.tzinfo is not None and lm.utcoffset() == timedelta(0)
    assert lm.microsecond == 0
    assert before - timedelta(seconds=5) <= lm <= datetime.now(UTC) + timedelta(seconds=5)
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]["LastModified"]
    assert listed.tzinfo is not None and listed.replace(microsecond=0) == lm


def test_str_body_is_utf8(s3, bucket):
    text = "héllo wörld — ✓ 日本語\n"
    put = s3.put_object(Bucket=bucket, Key="s", Body=text)
    assert put["ETag"] == md5_etag(text.encode())
    assert s3.get_object(Bucket=bucket, Key="s")["Body"].read().decode() == text


def test_file_bodies(s3, bucket, tmp_path):
    data = os.urandom(3 * MIB + 17)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    with open(path, "rb") as f:
        assert s3.put_object(Bucket=bucket, Key="file", Body=f)["ETag"] == md5_etag(data)
    with open(path, "rb") as f:
        f.seek(1000)  # uploads from where the file stands, as botocore does
        s3.put_object(Bucket=bucket, Key="tail", Body=f)
    assert s3.head_object(Bucket=bucket, Key="tail")["ContentLength"] == len(data) - 1000
    s3.put_object(Bucket=bucket, Key="bytesio", Body=io.BytesIO(data))
    assert s3.get_object(Bucket=bucket, Key="bytesio")["Body"].read() == data
    gen = Generated(2 * MIB + 3)  # unseekable: no length known up front
    put = s3.put_object(Bucket=bucket, Key="stream", Body=gen)
    assert put["ETag"] == f'"{gen.md5.hexdigest()}"'
    assert s3.head_object(Bucket=bucket, Key="stream")["ContentLength"] == 2 * MIB + 3


def test_empty_bodies(s3, bucket):
    for key, body in (("none", None), ("empty", b""), ("empty-str", "")):
        kw = {} if body is None else {"Body": body}
        put = s3.put_object(Bucket=bucket, Key=key, **kw)
        assert put["ETag"] == md5_etag(b"")
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["ContentLength"] == 0 and got["Body"].read() == b""


def test_overwrite_replaces_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first", Metadata={"v": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"second!")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second!" and got["Metadata"] == {}


def test_large_object_streams_with_bounded_memory(s3, bucket):
    size = 40 * MIB + 123
    gen = Generated(size, b"large")
    tracemalloc.start()
    try:
        put = s3.put_object(Bucket=bucket, Key="large", Body=gen)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        got = s3.get_object(Bucket=bucket, Key="large")
        digest = hashlib.md5()
        total = 0
        for chunk in got["Body"].iter_chunks():
            digest.update(chunk)
            total += len(chunk)
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert put["ETag"] == f'"{gen.md5.hexdigest()}"'
    assert got["ContentLength"] == size == total
    assert digest.hexdigest() == gen.md5.hexdigest()
    assert put_peak < 16 * MIB, put_peak
    assert get_peak < 16 * MIB, get_peak


def test_streaming_body_interfaces(s3, bucket):
    lines = [f"line {i} {'x' * (i % 50)}".encode() for i in range(20_000)]
    data = b"\n".join(lines) + b"\n"
    s3.put_object(Bucket=bucket, Key="lines", Body=data)
    assert list(s3.get_object(Bucket=bucket, Key="lines")["Body"].iter_lines()) == lines
    body = s3.get_object(Bucket=bucket, Key="lines")["Body"]
    assert b"".join(body) == data
    with s3.get_object(Bucket=bucket, Key="lines")["Body"] as body:
        assert body.read(3) == data[:3]
        assert body.readline() == data[3 : data.index(b"\n") + 1]
        assert body.readline() == lines[1] + b"\n"
    assert body.closed


def test_close_midstream_cancels_and_client_stays_usable(s3, bucket):
    data = os.urandom(12 * MIB)
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    for _ in range(5):
        body = s3.get_object(Bucket=bucket, Key="big")["Body"]
        assert body.read(1000) == data[:1000]
        body.close()
    dropped = s3.get_object(Bucket=bucket, Key="big")["Body"]
    dropped.read(1)
    del dropped  # garbage collection closes (cancels) too
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data


def test_concurrent_use_of_one_client(s3, bucket):
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            payload = os.urandom(200_000 + i)
            s3.put_object(Bucket=bucket, Key=f"c/{i}", Body=payload)
            assert s3.get_object(Bucket=bucket, Key=f"c/{i}")["Body"].read() == payload
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert s3.list_objects_v2(Bucket=bucket, Prefix="c/")["KeyCount"] == 8


# -- ranges ------------------------------------------------------------------------------

RANGE_DATA = bytes(range(100))


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=5-", 5, 99),
        ("bytes=-3", 97, 99),
        ("bytes=90-1000", 90, 99),  # past the end clamps
        ("bytes=-500", 0, 99),  # suffix longer than the object is the whole object
        ("bytes=42-42", 42, 42),
    ],
)
def test_ranges(s3, bucket, spec, start, end):
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_DATA)
    got = s3.get_object(Bucket=bucket, Key="r", Range=spec)
    assert got["Body"].read() == RANGE_DATA[start : end + 1]
    assert got["ContentLength"] == end - start + 1
    assert got["ContentRange"] == f"bytes {start}-{end}/100"
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    head = s3.head_object(Bucket=bucket, Key="r", Range=spec)
    assert head["ContentLength"] == end - start + 1
    assert head["ContentRange"] == f"bytes {start}-{end}/100"


def test_range_across_stripes(s3, bucket):
    data = os.urandom(3 * MIB + 5)
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    got = s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={MIB - 10}-{2 * MIB + 10}")
    assert got["Body"].read() == data[MIB - 10 : 2 * MIB + 11]


@pytest.mark.parametrize("spec", ["bytes=100-", "bytes=500-600"])
def test_unsatisfiable_range(s3, bucket, spec):
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_DATA)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", Range=spec)
    assert error_code(exc) == "InvalidRange"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="r", Range=spec)
    assert error_code(exc) == "416"


@pytest.mark.parametrize("spec", ["bytes=0-1,5-6", "junk", "bytes=9-3"])
def test_unparseable_range_is_ignored(s3, bucket, spec):
    s3.put_object(Bucket=bucket, Key="r", Body=RANGE_DATA)
    got = s3.get_object(Bucket=bucket, Key="r", Range=spec)
    assert got["Body"].read() == RANGE_DATA
    assert "ContentRange" not in got
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200


# -- metadata, headers, storage class ----------------------------------------------------


def test_metadata_and_content_headers_round_trip(s3, bucket):
    headers = {
        "ContentType": "text/csv; charset=utf-8",
        "CacheControl": "max-age=60, public",
        "ContentDisposition": 'attachment; filename="report.csv"',
        "ContentEncoding": "identity",
        "ContentLanguage": "en-GB",
    }
    s3.put_object(Bucket=bucket, Key="m", Body=b"a,b\n", Metadata={"Owner": "Ana", "x-y": "ü"},
                  **headers)
    for resp in (s3.get_object(Bucket=bucket, Key="m"), s3.head_object(Bucket=bucket, Key="m")):
        for name, value in headers.items():
            assert resp[name] == value, name
        assert resp["Metadata"] == {"owner": "Ana", "x-y": "ü"}  # keys come back lower-case


def test_unset_content_headers_are_omitted(s3, bucket):
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="plain")
    for name in ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage",
                 "VersionId", "StorageClass", "ContentRange"):
        assert name not in head, name


def test_metadata_too_large(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="m", Body=b"x", Metadata={"k": "v" * 2100})
    assert error_code(exc) == "MetadataTooLarge"


def test_storage_classes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ia", Body=b"x" * 1000, StorageClass="STANDARD_IA")
    s3.put_object(Bucket=bucket, Key="std", Body=b"y", StorageClass="STANDARD")
    assert s3.head_object(Bucket=bucket, Key="ia")["StorageClass"] == "STANDARD_IA"
    got = s3.get_object(Bucket=bucket, Key="ia")
    assert got["StorageClass"] == "STANDARD_IA" and got["Body"].read() == b"x" * 1000
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="std")
    listed = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed == {"ia": "STANDARD_IA", "std": "STANDARD"}
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"z", StorageClass="PLATINUM")
    assert error_code(exc) == "InvalidStorageClass"


def test_glacier_object_is_not_readable(s3, bucket):
    s3.put_object(Bucket=bucket, Key="cold", Body=b"x", StorageClass="GLACIER")
    assert s3.head_object(Bucket=bucket, Key="cold")["StorageClass"] == "GLACIER"
    with pytest.raises(s3.exceptions.InvalidObjectState):
        s3.get_object(Bucket=bucket, Key="cold")


# -- integrity parameters ----------------------------------------------------------------


def test_content_md5_and_crc32c(s3, bucket):
    data = b"integrity matters"
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    put = s3.put_object(Bucket=bucket, Key="ok", Body=data, ContentMD5=md5,
                        ChecksumCRC32C=crc32c_b64(data))
    assert put["ChecksumCRC32C"] == crc32c_b64(data)
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="bad", Body=data, ContentMD5=wrong_md5)
    assert error_code(exc) == "BadDigest"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="bad", Body=data, ContentMD5="not base64!")
    assert error_code(exc) == "InvalidDigest"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="bad", Body=data, ChecksumCRC32C=crc32c_b64(b"other"))
    assert error_code(exc) == "BadDigest"
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="bad")  # nothing was stored by the failed PUTs


def test_content_length_mismatch(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="short", Body=b"12345", ContentLength=10)
    assert error_code(exc) == "IncompleteBody"
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="long", Body=b"12345", ContentLength=2)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)  # nothing partial stored


# -- conditional requests ----------------------------------------------------------------


@pytest.fixture
def cond_obj(s3, bucket):
    s3.put_object(Bucket=bucket, Key="c", Body=b"conditional")
    head = s3.head_object(Bucket=bucket, Key="c")
    return bucket, head["ETag"], head["LastModified"]


@pytest.mark.parametrize(
    ("kind", "get_code", "head_code"),
    [
        ("if_match_wrong", "PreconditionFailed", "412"),
        ("if_none_match_same", "304", "304"),
        ("if_none_match_star", "304", "304"),
        ("if_modified_since_last_modified", "304", "304"),
        ("if_unmodified_since_past", "PreconditionFailed", "412"),
        ("if_none_match_fails_and_modified_since_holds", "304", "304"),
    ],
)
def test_conditional_get_head_fail(s3, cond_obj, kind, get_code, head_code):
    bucket, etag, lm = cond_obj
    params = {
        "if_match_wrong": {"IfMatch": '"0123"'},
        "if_none_match_same": {"IfNoneMatch": etag},
        "if_none_match_star": {"IfNoneMatch": "*"},
        "if_modified_since_last_modified": {"IfModifiedSince": lm},
        "if_unmodified_since_past": {"IfUnmodifiedSince": lm - timedelta(days=1)},
        "if_none_match_fails_and_modified_since_holds": {
            "IfNoneMatch": etag, "IfModifiedSince": lm - timedelta(days=1)},
    }[kind]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", **params)
    assert error_code(exc) == get_code
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="c", **params)
    assert error_code(exc) == head_code
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == int(head_code)


@pytest.mark.parametrize(
    "kind",
    ["if_match_same", "if_match_star", "if_none_match_other", "if_modified_since_past",
     "if_unmodified_since_last_modified", "if_match_holds_unmodified_since_fails",
     "if_none_match_holds_modified_since_fails", "iso_string_date"],
)
def test_conditional_get_head_pass(s3, cond_obj, kind):
    bucket, etag, lm = cond_obj
    params = {
        "if_match_same": {"IfMatch": etag},
        "if_match_star": {"IfMatch": "*"},
        "if_none_match_other": {"IfNoneMatch": '"0123"'},
        "if_modified_since_past": {"IfModifiedSince": lm - timedelta(days=1)},
        "if_unmodified_since_last_modified": {"IfUnmodifiedSince": lm},
        # S3: If-Match true + If-Unmodified-Since false -> 200
        "if_match_holds_unmodified_since_fails": {
            "IfMatch": etag, "IfUnmodifiedSince": lm - timedelta(days=1)},
        # S3: If-None-Match true + If-Modified-Since false -> 200
        "if_none_match_holds_modified_since_fails": {
            "IfNoneMatch": '"0123"', "IfModifiedSince": lm},
        "iso_string_date": {"IfUnmodifiedSince": (lm + timedelta(hours=1)).isoformat()},
    }[kind]
    assert s3.get_object(Bucket=bucket, Key="c", **params)["Body"].read() == b"conditional"
    assert s3.head_object(Bucket=bucket, Key="c", **params)["ETag"] == etag


def test_conditional_put(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="p", Body=b"one", IfNoneMatch="*")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="p", Body=b"two", IfNoneMatch="*")
    assert error_code(exc) == "PreconditionFailed"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="p", Body=b"two", IfMatch='"0123"')
    assert error_code(exc) == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="p", Body=b"three", IfMatch=first["ETag"])
    assert s3.get_object(Bucket=bucket, Key="p")["Body"].read() == b"three"


def test_conditional_put_if_match_missing_key(s3, bucket):
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch='"0123"')


# -- copy --------------------------------------------------------------------------------


def test_copy_with_copy_directive_keeps_metadata(s3, bucket):
    data = os.urandom(2 * MIB + 1)
    s3.put_object(Bucket=bucket, Key="src", Body=data, Metadata={"a": "1"},
                  ContentType="image/png", CacheControl="no-cache")
    resp = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src",
                          Metadata={"ignored": "yes"}, ContentType="text/plain")
    assert resp["CopyObjectResult"]["ETag"] == md5_etag(data)
    assert resp["CopyObjectResult"]["LastModified"].tzinfo is not None
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == data
    assert got["Metadata"] == {"a": "1"}
    assert got["ContentType"] == "image/png" and got["CacheControl"] == "no-cache"


def test_copy_with_replace_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"data", Metadata={"a": "1"},
                  ContentType="image/png")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="text/plain",
                   ContentLanguage="fr")
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"b": "2"}
    assert head["ContentType"] == "text/plain" and head["ContentLanguage"] == "fr"


def test_copy_across_buckets_and_storage_class(s3, bucket):
    other = unique_name("copy-target")
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=bucket, Key="dir/src", Body=b"payload")
    s3.copy_object(Bucket=other, Key="copied", CopySource=f"/{bucket}/dir/src",
                   StorageClass="STANDARD_IA")
    got = s3.get_object(Bucket=other, Key="copied")
    assert got["Body"].read() == b"payload" and got["StorageClass"] == "STANDARD_IA"


def test_copy_onto_itself(s3, bucket):
    s3.put_object(Bucket=bucket, Key="self", Body=b"x", Metadata={"a": "1"})
    with pytest.raises(s3.exceptions.InvalidRequest) as exc:
        s3.copy_object(Bucket=bucket, Key="self", CopySource=f"{bucket}/self")
    assert error_code(exc) == "InvalidRequest"
    s3.copy_object(Bucket=bucket, Key="self", CopySource=f"{bucket}/self",
                   MetadataDirective="REPLACE", Metadata={"a": "2"})
    assert s3.head_object(Bucket=bucket, Key="self")["Metadata"] == {"a": "2"}
    s3.copy_object(Bucket=bucket, Key="self", CopySource=f"{bucket}/self",
                   StorageClass="STANDARD_IA")
    assert s3.head_object(Bucket=bucket, Key="self")["StorageClass"] == "STANDARD_IA"


def test_copy_conditions(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="src")
    etag, lm = head["ETag"], head["LastModified"]
    src = f"{bucket}/src"
    failing = [
        {"CopySourceIfMatch": '"0123"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfUnmodifiedSince": lm - timedelta(days=1)},
        {"CopySourceIfModifiedSince": lm + timedelta(days=1)},
    ]
    for params in failing:
        with pytest.raises(ClientError) as exc:
            s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, **params)
        assert error_code(exc) == "PreconditionFailed", params
    passing = [
        {"CopySourceIfMatch": etag},
        {"CopySourceIfNoneMatch": '"0123"'},
        {"CopySourceIfUnmodifiedSince": lm + timedelta(days=1)},
        {"CopySourceIfModifiedSince": lm - timedelta(days=1)},
    ]
    for params in passing:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, **params)


def test_copy_missing_source(s3, bucket):
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/absent")
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{unique_name('nob')}/absent")


# -- delete ------------------------------------------------------------------------------


def test_delete_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="d", Body=b"x")
    resp = s3.delete_object(Bucket=bucket, Key="d")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "DeleteMarker" not in resp  # unversioned bucket
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="d")
    # deleting what is not there succeeds, as in S3
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_delete_objects_mixed_results(s3, bucket):
    for key in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    long_key = "k" * 1025
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a"}, {"Key": "b"}, {"Key": "never-existed"}, {"Key": long_key},
    ]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == ["a", "b", "never-existed"]
    assert [(e["Key"], e["Code"]) for e in resp["Errors"]] == [(long_key, "KeyTooLongError")]
    assert resp["Errors"][0]["Message"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_delete_objects_quiet_and_all_good(s3, bucket):
    s3.put_object(Bucket=bucket, Key="q", Body=b"x")
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "q"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    s3.put_object(Bucket=bucket, Key="q", Body=b"x")
    loud = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "q"}]})
    assert loud["Deleted"] == [{"Key": "q"}] and "Errors" not in loud


def test_delete_objects_limits(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": []})
    assert error_code(exc) == "MalformedXML"
    with pytest.raises(ClientError) as exc:
        s3.delete_objects(Bucket=bucket,
                          Delete={"Objects": [{"Key": str(i)} for i in range(1001)]})
    assert error_code(exc) == "MalformedXML"


# -- listing -----------------------------------------------------------------------------

TREE = ["a.txt", "b/1.txt", "b/2.txt", "b/c/3.txt", "d/4.txt", "e.txt", "f/", "f/5.txt"]


@pytest.fixture
def tree(s3, bucket):
    for i, key in enumerate(TREE):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * i)
    return bucket


def test_list_everything(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree)
    assert [o["Key"] for o in resp["Contents"]] == TREE
    assert resp["KeyCount"] == len(TREE) and resp["IsTruncated"] is False
    assert resp["Name"] == tree and resp["Prefix"] == "" and resp["MaxKeys"] == 1000
    for key in ("Delimiter", "CommonPrefixes", "NextContinuationToken", "ContinuationToken",
                "StartAfter"):
        assert key not in resp, key
    first = resp["Contents"][1]
    assert first["Size"] == 1 and first["ETag"] == md5_etag(b"x")
    assert first["StorageClass"] == "STANDARD" and first["LastModified"].tzinfo is not None


def test_list_fetch_owner(s3, tree):
    plain = s3.list_objects_v2(Bucket=tree, MaxKeys=1)["Contents"][0]
    owned = s3.list_objects_v2(Bucket=tree, MaxKeys=1, FetchOwner=True)["Contents"][0]
    assert "Owner" not in plain
    assert owned["Owner"]["ID"] and owned["Owner"]["DisplayName"]


def test_list_prefix_and_delimiter(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, Delimiter="/")
    assert [o["Key"] for o in resp["Contents"]] == ["a.txt", "e.txt"]
    assert resp["CommonPrefixes"] == [{"Prefix": "b/"}, {"Prefix": "d/"}, {"Prefix": "f/"}]
    assert resp["KeyCount"] == 5 and resp["Delimiter"] == "/"
    resp = s3.list_objects_v2(Bucket=tree, Prefix="b/", Delimiter="/")
    assert [o["Key"] for o in resp["Contents"]] == ["b/1.txt", "b/2.txt"]
    assert resp["CommonPrefixes"] == [{"Prefix": "b/c/"}]
    assert resp["Prefix"] == "b/"
    resp = s3.list_objects_v2(Bucket=tree, Prefix="b/")
    assert [o["Key"] for o in resp["Contents"]] == ["b/1.txt", "b/2.txt", "b/c/3.txt"]
    resp = s3.list_objects_v2(Bucket=tree, Prefix="zzz")
    assert "Contents" not in resp and resp["KeyCount"] == 0


def test_list_max_keys_and_continuation(s3, tree):
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kw = {"ContinuationToken": token} if token else {}
        resp = s3.list_objects_v2(Bucket=tree, MaxKeys=3, **kw)
        pages += 1
        assert resp["MaxKeys"] == 3 and resp["KeyCount"] == len(resp["Contents"]) <= 3
        if token:
            assert resp["ContinuationToken"] == token
        seen += [o["Key"] for o in resp["Contents"]]
        if not resp["IsTruncated"]:
            assert "NextContinuationToken" not in resp
            break
        token = resp["NextContinuationToken"]
    assert seen == TREE and pages == 3


def test_list_delimiter_pages_count_prefixes(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, Delimiter="/", MaxKeys=2)
    assert resp["KeyCount"] == 2 and resp["IsTruncated"] is True
    rest = s3.list_objects_v2(Bucket=tree, Delimiter="/",
                              ContinuationToken=resp["NextContinuationToken"])
    got = [o["Key"] for r in (resp, rest) for o in r.get("Contents", [])]
    prefixes = [p["Prefix"] for r in (resp, rest) for p in r.get("CommonPrefixes", [])]
    assert got == ["a.txt", "e.txt"] and prefixes == ["b/", "d/", "f/"]


def test_list_start_after_and_max_keys_zero(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, StartAfter="b/c/3.txt")
    assert [o["Key"] for o in resp["Contents"]] == TREE[4:]
    assert resp["StartAfter"] == "b/c/3.txt"
    zero = s3.list_objects_v2(Bucket=tree, MaxKeys=0)
    assert zero["KeyCount"] == 0 and "Contents" not in zero and zero["MaxKeys"] == 0
    owned = s3.list_objects_v2(Bucket=tree, FetchOwner=True)
    assert owned["KeyCount"] == len(TREE)


def test_list_bad_continuation_token(s3, tree):
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=tree, ContinuationToken="not-a-token")
    assert error_code(exc) == "InvalidArgument"


def test_paginator(s3, tree):
    paginator = s3.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=tree, PaginationConfig={"PageSize": 3}))
    assert [p["KeyCount"] for p in pages] == [3, 3, 2]
    assert [o["Key"] for p in pages for o in p["Contents"]] == TREE
    it = paginator.paginate(Bucket=tree, PaginationConfig={"PageSize": 3, "MaxItems": 4})
    first = [o["Key"] for p in it for o in p.get("Contents", [])]
    assert first == TREE[:4]
    rest = paginator.paginate(Bucket=tree,
                              PaginationConfig={"PageSize": 3, "StartingToken": it.resume_token})
    assert [o["Key"] for p in rest for o in p.get("Contents", [])] == TREE[4:]
    full = paginator.paginate(Bucket=tree, Delimiter="/",
                              PaginationConfig={"PageSize": 2}).build_full_result()
    assert [o["Key"] for o in full["Contents"]] == ["a.txt", "e.txt"]
    assert [p["Prefix"] for p in full["CommonPrefixes"]] == ["b/", "d/", "f/"]
    started = paginator.paginate(Bucket=tree, StartAfter="d/4.txt")
    assert [o["Key"] for p in started for o in p.get("Contents", [])] == TREE[5:]


# -- keys --------------------------------------------------------------------------------


def test_key_length_limit(s3, bucket):
    ok = "k" * 1024
    s3.put_object(Bucket=bucket, Key=ok, Body=b"x")
    assert s3.head_object(Bucket=bucket, Key=ok)["ContentLength"] == 1
    multibyte = "é" * 512  # 1024 bytes in UTF-8
    s3.put_object(Bucket=bucket, Key=multibyte, Body=b"y")
    for too_long in ("k" * 1025, "é" * 512 + "k"):
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket=bucket, Key=too_long, Body=b"x")
        assert error_code(exc) == "KeyTooLongError"
    assert {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]} == {ok, multibyte}


ODD_KEYS = ["../../etc/passwd", "/leading", "tab\tkey", "new\nline", "a//b", "trailing/",
            " spaced ", "100%25 encoded?x=1&y", "日本語/ключ/🙂", "..", ".", "back\\slash"]


def test_odd_keys_round_trip_and_list_faithfully(s3, bucket, shared_server):
    for i, key in enumerate(ODD_KEYS):
        s3.put_object(Bucket=bucket, Key=key, Body=f"body {i}".encode())
    for i, key in enumerate(ODD_KEYS):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == f"body {i}".encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(ODD_KEYS, key=lambda k: k.encode("utf-8"))  # UTF-8 byte order
    assert not (shared_server.data_dir.parent / "etc" / "passwd").exists()
    assert not (shared_server.data_dir.parent.parent / "etc" / "passwd").exists()


# -- modeled exceptions and transport ----------------------------------------------------


def test_modeled_exceptions_like_boto3(s3, bucket):
    try:
        s3.get_object(Bucket=bucket, Key="nope")
    except s3.exceptions.NoSuchKey as exc:
        assert exc.response["Error"]["Code"] == "NoSuchKey"
        assert exc.response["Error"]["Key"] == "nope"
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert exc.operation_name == "GetObject"
        assert str(exc) == ("An error occurred (NoSuchKey) when calling the GetObject "
                            "operation: The specified key does not exist.")
    else:
        pytest.fail("no NoSuchKey")
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="nope")
    assert not isinstance(exc.value, s3.exceptions.NoSuchKey)  # HEAD has no code, as boto3
    assert exc.value.response["Error"] == {"Code": "404", "Message": "Not Found"}


def test_unreachable_endpoint():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound but never listening: connections are refused
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with client("s3", endpoint_url=endpoint, timeout=5) as dead:
            with pytest.raises(EndpointConnectionError) as exc:
                dead.list_buckets()
            assert exc.value.response["Error"]["Code"] == "UNAVAILABLE"
            with pytest.raises(EndpointConnectionError):
                dead.put_object(Bucket="b", Key="k", Body=b"x" * (3 * MIB))
            with pytest.raises(EndpointConnectionError):
                dead.get_object(Bucket="b", Key="k")
            with pytest.raises(EndpointConnectionError):
                dead.head_object(Bucket="b", Key="k")


def test_endpoint_url_alias(shared_server):
    with client("s3", endpoint_url=f"http://{shared_server.endpoint}") as c:
        assert isinstance(c, S3Client)
        assert "Buckets" in c.list_buckets()


def test_timeout_on_stalled_server(server):
    """A server that stops answering fails calls after `timeout` of silence, streams too."""
    with client("s3", endpoint=server.endpoint, timeout=1.5) as s3:
        s3.create_bucket(Bucket="stalled")
        data = os.urandom(16 * MIB)
        s3.put_object(Bucket="stalled", Key="k", Body=data)
        body = s3.get_object(Bucket="stalled", Key="k")["Body"]
        assert body.read(10) == data[:10]
        os.kill(server.pid, signal.SIGSTOP)
        try:
            with pytest.raises(ReadTimeoutError):
                body.read()
            with pytest.raises(ReadTimeoutError):
                s3.put_object(Bucket="stalled", Key="k2", Body=Generated(16 * MIB))
            with pytest.raises(ReadTimeoutError):
                s3.head_object(Bucket="stalled", Key="k")
        finally:
            os.kill(server.pid, signal.SIGCONT)
        assert s3.get_object(Bucket="stalled", Key="k")["Body"].read() == data
        with pytest.raises(ClientError):  # the timed-out upload left nothing behind
            s3.head_object(Bucket="stalled", Key="k2")
