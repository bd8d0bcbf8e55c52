"""Multipart uploads over the S3 REST endpoint with boto3: create, upload (in each
payload mode a part can come in), copy parts from other objects, complete, abort, list
parts and uploads page by page, boto3's managed transfer, and the errors S3 gives
(NoSuchUpload, InvalidPart, InvalidPartOrder, EntityTooSmall, PreconditionFailed)."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from helpers_s3_http import aws_chunked, bucket_name, s3_client, send, signed_headers

from engine.client import client as engine_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

MIB = 1024 * 1024
PART = hashlib.sha256(b"part").digest() * (5 * MIB // 32)  # exactly 5 MiB, S3's minimum
TAIL = b"the last part may be small"


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name("mpu")
    s3.create_bucket(Bucket=name)
    return name


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def start(s3, bucket: str, key: str = "big", **extra) -> str:
    return s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]


def put_part(s3, bucket: str, upload: str, number: int, body: bytes, key: str = "big") -> dict:
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                          Body=body)["ETag"]
    return {"PartNumber": number, "ETag": etag}


def complete(s3, bucket: str, upload: str, parts: list[dict], key: str = "big") -> dict:
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                        MultipartUpload={"Parts": parts})


def multipart_etag(*bodies: bytes) -> str:
    digest = hashlib.md5(b"".join(hashlib.md5(b).digest() for b in bodies)).hexdigest()
    return f'"{digest}-{len(bodies)}"'


def test_an_upload_is_assembled_from_its_parts(s3, bucket):
    upload = start(s3, bucket, ContentType="video/mp4", Metadata={"owner": "ana"},
                   Tagging="kind=video")
    parts = [put_part(s3, bucket, upload, 1, PART), put_part(s3, bucket, upload, 2, TAIL)]
    assert parts[0]["ETag"] == f'"{hashlib.md5(PART).hexdigest()}"'
    done = complete(s3, bucket, upload, parts)
    assert done["ETag"] == multipart_etag(PART, TAIL)
    assert done["Bucket"] == bucket and done["Key"] == "big"
    assert done["Location"].endswith(f"/{bucket}/big")
    got = s3.get_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert got["Body"].read() == PART + TAIL
    assert got["ContentType"] == "video/mp4" and got["Metadata"] == {"owner": "ana"}
    assert got["TagCount"] == 1 and got["ETag"] == done["ETag"]
    assert got["ChecksumCRC32C"] == done["ChecksumCRC32C"]  # the parts' CRC32Cs combined
    second = s3.get_object(Bucket=bucket, Key="big", PartNumber=2)
    assert second["Body"].read() == TAIL and second["PartsCount"] == 2
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_parts_list_page_by_page(s3, bucket):
    upload = start(s3, bucket)
    for number in (1, 2, 3, 5):
        put_part(s3, bucket, upload, number, f"part {number}".encode())
    first = s3.list_parts(Bucket=bucket, Key="big", UploadId=upload, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] and first["NextPartNumberMarker"] == 2
    assert first["Parts"][0]["Size"] == 6 and first["Parts"][0]["ETag"] == \
        f'"{hashlib.md5(b"part 1").hexdigest()}"'
    assert first["Initiator"]["ID"] == first["Owner"]["ID"]
    assert first["StorageClass"] == "STANDARD"
    pages = s3.get_paginator("list_parts").paginate(
        Bucket=bucket, Key="big", UploadId=upload, PaginationConfig={"PageSize": 3})
    assert [p["PartNumber"] for page in pages for p in page["Parts"]] == [1, 2, 3, 5]
    rest = s3.list_parts(Bucket=bucket, Key="big", UploadId=upload, PartNumberMarker=3)
    assert [p["PartNumber"] for p in rest["Parts"]] == [5] and not rest["IsTruncated"]
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="big", UploadId=upload, MaxParts=-1)
    assert error(exc)[0] == "InvalidArgument"


def test_uploads_list_page_by_page_with_prefixes(s3, bucket):
    started = sorted((key, start(s3, bucket, key)) for key in ("a/1", "a/2", "b", "c", "c"))
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == started
    assert listed["Uploads"][0]["Initiator"]["ID"] and listed["Uploads"][0]["Owner"]["ID"]
    pages = list(s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 2}))
    assert [len(p["Uploads"]) for p in pages] == [2, 2, 1]
    assert pages[0]["NextKeyMarker"] == "a/2" and pages[1]["KeyMarker"] == "a/2"
    assert [(u["Key"], u["UploadId"]) for p in pages for u in p["Uploads"]] == started
    rolled = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["a/"]
    assert [u["Key"] for u in rolled["Uploads"]] == ["b", "c", "c"]
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")[
        "Uploads"]] == ["a/1", "a/2"]


def test_an_aborted_upload_is_gone(s3, bucket):
    upload = start(s3, bucket)
    put_part(s3, bucket, upload, 1, b"x")
    assert s3.abort_multipart_upload(Bucket=bucket, Key="big", UploadId=upload)[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    message = ("The specified multipart upload does not exist. The upload ID might be "
               "invalid, or the multipart upload might have been aborted or completed.")
    calls = [lambda: put_part(s3, bucket, upload, 2, b"y"),
             lambda: s3.list_parts(Bucket=bucket, Key="big", UploadId=upload),
             lambda: complete(s3, bucket, upload, [{"PartNumber": 1, "ETag": '"x"'}]),
             lambda: s3.abort_multipart_upload(Bucket=bucket, Key="big", UploadId=upload),
             lambda: s3.list_parts(Bucket=bucket, Key="big", UploadId="not-an-upload")]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == ("NoSuchUpload", message)
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_completion_refuses_bad_part_lists(s3, bucket):
    upload = start(s3, bucket)
    small = [put_part(s3, bucket, upload, 1, b"tiny"), put_part(s3, bucket, upload, 2, TAIL)]
    with pytest.raises(ClientError) as exc:
        complete(s3, bucket, upload, small)
    assert error(exc) == ("EntityTooSmall",
                          "Your proposed upload is smaller than the minimum allowed object size.")
    with pytest.raises(ClientError) as exc:
        complete(s3, bucket, upload, [small[0], {"PartNumber": 2, "ETag": '"0123abcd"'}])
    code, message = error(exc)
    assert code == "InvalidPart" and message.startswith("One or more of the specified parts")
    with pytest.raises(ClientError) as exc:
        complete(s3, bucket, upload, [small[1], small[0]])
    assert error(exc)[0] == "InvalidPartOrder"
    with pytest.raises(ClientError) as exc:
        complete(s3, bucket, upload, [])
    assert error(exc)[0] == "MalformedXML"
    done = complete(s3, bucket, upload, [small[1]])  # one small last part is fine
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == TAIL
    assert done["ETag"] == multipart_etag(TAIL)


def test_parts_copied_from_objects_and_ranges(s3, bucket):
    s3.put_object(Bucket=bucket, Key="source", Body=PART + TAIL)
    etag = s3.head_object(Bucket=bucket, Key="source")["ETag"]
    upload = start(s3, bucket)
    source = {"Bucket": bucket, "Key": "source"}
    first = s3.upload_part_copy(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1,
                                CopySource=source, CopySourceRange=f"bytes=0-{len(PART) - 1}",
                                CopySourceIfMatch=etag)["CopyPartResult"]
    assert first["ETag"] == f'"{hashlib.md5(PART).hexdigest()}"'
    assert first["LastModified"].year >= 2025
    second = s3.upload_part_copy(Bucket=bucket, Key="big", UploadId=upload, PartNumber=2,
                                 CopySource=source,
                                 CopySourceRange=f"bytes={len(PART)}-{len(PART + TAIL) - 1}")
    complete(s3, bucket, upload, [{"PartNumber": 1, "ETag": first["ETag"]},
                                  {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}])
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == PART + TAIL


def test_part_copy_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="source", Body=TAIL)
    upload = start(s3, bucket)
    source = {"Bucket": bucket, "Key": "source"}

    def copy(**extra):
        return s3.upload_part_copy(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1,
                                   **{"CopySource": source, **extra})

    with pytest.raises(ClientError) as exc:
        copy(CopySourceIfNoneMatch=s3.head_object(Bucket=bucket, Key="source")["ETag"])
    assert error(exc)[0] == "PreconditionFailed"
    assert exc.value.response["Error"]["Condition"] == "x-amz-copy-source-If-None-Match"
    with pytest.raises(ClientError) as exc:
        copy(CopySourceRange=f"bytes=0-{len(TAIL)}")
    assert error(exc) == ("InvalidArgument",
                          f"Range specified is not valid for source object of size: {len(TAIL)}")
    with pytest.raises(ClientError) as exc:
        copy(CopySource={"Bucket": bucket, "Key": "missing"})
    assert error(exc)[0] == "NoSuchKey"
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(Bucket=bucket, Key="big", UploadId="0" * 32, PartNumber=1,
                            CopySource=source)
    assert error(exc)[0] == "NoSuchUpload"
    assert "Parts" not in s3.list_parts(Bucket=bucket, Key="big", UploadId=upload)


def test_boto3_managed_transfer_goes_multipart_both_ways(s3, bucket, tmp_path):
    """upload_file splits the file, each part with boto3's default CRC32 checksum (which
    the engine verifies and echoes, so boto3 puts it in the completion too)."""
    source = tmp_path / "video.bin"
    source.write_bytes(PART * 2 + TAIL)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB,
                            max_concurrency=2)
    s3.upload_file(str(source), bucket, "video.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="video.bin")
    assert head["ETag"] == multipart_etag(PART, PART, TAIL)
    copy = tmp_path / "copy.bin"
    s3.download_file(bucket, "video.bin", str(copy), Config=config)
    assert copy.read_bytes() == source.read_bytes()


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_a_part_comes_in_any_payload_mode(shared_server, s3, bucket):
    upload = start(s3, bucket)
    base = f"{shared_server.http_url}/{bucket}/big?partNumber={{}}&uploadId={upload}"
    url = base.format(1)
    unsigned = send(url, "PUT", signed_headers("PUT", url, "UNSIGNED-PAYLOAD").items(), PART)
    assert unsigned.status == 200, unsigned.body
    url = base.format(2)
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    headers = signed_headers("PUT", url, mode, {
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(TAIL)),
        "x-amz-trailer": "x-amz-checksum-crc32"})
    body = aws_chunked([TAIL], headers, trailers=[("x-amz-checksum-crc32", crc32_b64(TAIL))])
    chunked = send(url, "PUT", headers.items(), body)
    assert chunked.status == 200, chunked.body
    assert chunked.headers["x-amz-checksum-crc32"] == crc32_b64(TAIL)
    url = base.format(3)
    headers = signed_headers("PUT", url, hashlib.sha256(TAIL).hexdigest(),
                             {"Content-MD5": base64.b64encode(hashlib.md5(b"x").digest())
                              .decode()})
    assert send(url, "PUT", headers.items(), TAIL).status == 400  # BadDigest, not stored
    parts = s3.list_parts(Bucket=bucket, Key="big", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(PART)), (2, len(TAIL))]
    complete(s3, bucket, upload, [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]}
                                  for p in parts])
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == PART + TAIL


def test_checksums_of_parts_are_verified_and_echoed(s3, bucket):
    created = s3.create_multipart_upload(Bucket=bucket, Key="big", ChecksumAlgorithm="CRC32")
    assert created["ChecksumAlgorithm"] == "CRC32"
    upload = created["UploadId"]
    sent = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=TAIL,
                          ChecksumAlgorithm="CRC32")
    assert sent["ChecksumCRC32"] == crc32_b64(TAIL)
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=2, Body=TAIL,
                       ChecksumCRC32=crc32_b64(b"other"))
    assert error(exc)[0] == "BadDigest"
    done = complete(s3, bucket, upload, [{"PartNumber": 1, "ETag": sent["ETag"],
                                          "ChecksumCRC32": sent["ChecksumCRC32"]}])
    assert done["ETag"] == multipart_etag(TAIL)
    crc64 = s3.create_multipart_upload(Bucket=bucket, Key="big", ChecksumAlgorithm="CRC64NVME")
    assert (crc64["ChecksumAlgorithm"], crc64["ChecksumType"]) == ("CRC64NVME", "FULL_OBJECT")
    with pytest.raises(ClientError) as exc:  # S3 keeps CRC64NVME only as FULL_OBJECT
        s3.create_multipart_upload(Bucket=bucket, Key="big", ChecksumAlgorithm="CRC64NVME",
                                   ChecksumType="COMPOSITE")
    assert error(exc)[0] == "InvalidRequest"


def test_each_step_is_authorized_as_over_grpc(shared_server, s3, bucket):
    upload = start(s3, bucket)
    with engine_client("iam", endpoint=shared_server.endpoint) as iam:
        user = f"uploader-{bucket[-6:]}"
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        iam.put_user_policy(UserName=user, PolicyName="put", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    app = s3_client(shared_server.http_url, key=key["AccessKeyId"],
                    secret=key["SecretAccessKey"])
    part = put_part(app, bucket, upload, 1, TAIL)
    for call, action in (
            (lambda: app.list_parts(Bucket=bucket, Key="big", UploadId=upload),
             "s3:ListMultipartUploadParts"),
            (lambda: app.list_multipart_uploads(Bucket=bucket),
             "s3:ListBucketMultipartUploads"),
            (lambda: app.abort_multipart_upload(Bucket=bucket, Key="big", UploadId=upload),
             "s3:AbortMultipartUpload")):
        with pytest.raises(ClientError) as exc:
            call()
        code, message = error(exc)
        assert code == "AccessDenied" and action in message
    complete(app, bucket, upload, [part])
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == TAIL
