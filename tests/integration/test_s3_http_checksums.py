"""Additional checksums end to end with boto3 against a real node: each algorithm on
PutObject kept with the object and given back with ``ChecksumMode="ENABLED"``,
multipart uploads with per-part checksums and COMPOSITE or FULL_OBJECT results, and
what ListParts, GetObjectAttributes and listings say of them. Digests of b"hello world"
are pinned as AWS's tools compute them."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import bucket_name, s3_client, send, signed_headers

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

BODY = b"hello world"
PINNED = {  # base64 digests of b"hello world"
    "CRC32": "DUoRhQ==",
    "CRC32C": "yZRlqg==",
    "CRC64NVME": "jSnVw/bqjr4=",
    "SHA1": "Kq5sNclPz7QV2+lfQIuc6R7oRu0=",
    "SHA256": "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
}
PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name("sums")
    s3.create_bucket(Bucket=name)
    return name


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.mark.parametrize("algorithm", sorted(PINNED))
def test_each_algorithm_is_verified_kept_and_returned(s3, bucket, algorithm):
    # the value as a client that computed it sends it (botocore computes CRC32C and
    # CRC64NVME only with awscrt, which the tests keep botocore from using)
    put = s3.put_object(Bucket=bucket, Key="k", Body=BODY,
                        **{f"Checksum{algorithm}": PINNED[algorithm]})
    assert put[f"Checksum{algorithm}"] == PINNED[algorithm]
    for read in (s3.get_object, s3.head_object):
        answer = read(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
        assert answer[f"Checksum{algorithm}"] == PINNED[algorithm]
        assert answer["ChecksumType"] == "FULL_OBJECT"
    plain = s3.head_object(Bucket=bucket, Key="k")
    assert not any(name.startswith("Checksum") for name in plain)
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert listed["ChecksumAlgorithm"] == [algorithm]
    versions = s3.list_object_versions(Bucket=bucket)["Versions"][0]
    assert versions["ChecksumAlgorithm"] == [algorithm]
    attrs = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"][f"Checksum{algorithm}"] == PINNED[algorithm]


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA1", "SHA256"])
def test_botocore_computed_checksums_are_kept(s3, bucket, algorithm):
    put = s3.put_object(Bucket=bucket, Key="c", Body=BODY, ChecksumAlgorithm=algorithm)
    assert put[f"Checksum{algorithm}"] == PINNED[algorithm]
    got = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == PINNED[algorithm]
    assert got["Body"].read() == BODY  # botocore checks the body against it


def test_a_checksum_that_does_not_match_is_bad_digest(s3, bucket):
    for algorithm in ("CRC32", "CRC64NVME", "SHA256"):
        wrong = b64(b"\0" * len(base64.b64decode(PINNED[algorithm])))
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket=bucket, Key="bad", Body=BODY,
                          **{f"Checksum{algorithm}": wrong})
        assert code_of(exc) == "BadDigest"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_two_checksums_on_one_body_are_refused(shared_server, bucket):
    url = f"{shared_server.http_url}/{bucket}/two"
    payload = hashlib.sha256(BODY).hexdigest()
    headers = signed_headers("PUT", url, payload, {
        "x-amz-checksum-crc32": PINNED["CRC32"], "x-amz-checksum-sha1": PINNED["SHA1"]})
    answer = send(url, "PUT", headers.items(), BODY)
    assert answer.status == 400 and b"<Code>InvalidRequest</Code>" in answer.body
    assert b"Multiple checksum Types are not allowed" in answer.body


def _upload(s3, bucket: str, key: str, parts: list[bytes], algorithm: str, **create):
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm,
                                        **create)
    done = []
    for number, data in enumerate(parts, 1):
        part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"],
                              PartNumber=number, Body=data, ChecksumAlgorithm=algorithm)
        done.append({"PartNumber": number, "ETag": part["ETag"],
                     f"Checksum{algorithm}": part[f"Checksum{algorithm}"]})
    return upload, done


def test_a_composite_multipart_checksum(s3, bucket):
    parts = [b"a" * PART, b"tail"]
    digests = [hashlib.sha256(p).digest() for p in parts]
    upload, done = _upload(s3, bucket, "composite", parts, "SHA256")
    assert upload["ChecksumAlgorithm"] == "SHA256"
    assert [d["ChecksumSHA256"] for d in done] == [b64(d) for d in digests]
    listed = s3.list_parts(Bucket=bucket, Key="composite", UploadId=upload["UploadId"])
    assert listed["ChecksumAlgorithm"] == "SHA256"
    assert [p["ChecksumSHA256"] for p in listed["Parts"]] == [b64(d) for d in digests]
    expected = b64(hashlib.sha256(b"".join(digests)).digest()) + "-2"
    completed = s3.complete_multipart_upload(
        Bucket=bucket, Key="composite", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": done})
    assert completed["ChecksumSHA256"] == expected
    assert completed["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="composite", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == expected and head["ChecksumType"] == "COMPOSITE"
    attrs = s3.get_object_attributes(Bucket=bucket, Key="composite",
                                     ObjectAttributes=["Checksum", "ObjectParts"])
    assert attrs["Checksum"]["ChecksumSHA256"] == expected
    assert [p["ChecksumSHA256"] for p in attrs["ObjectParts"]["Parts"]] == \
        [b64(d) for d in digests]
    for number, digest in enumerate(digests, 1):  # a part's GET answers its own
        got = s3.get_object(Bucket=bucket, Key="composite", PartNumber=number,
                            ChecksumMode="ENABLED")
        assert (got["ChecksumSHA256"], got["PartsCount"]) == (b64(digest), 2)
        assert got["Body"].read() == parts[number - 1]


def test_a_full_object_crc_over_parts(s3, bucket):
    parts = [b"x" * PART, b"yz"]
    upload, done = _upload(s3, bucket, "full", parts, "CRC32", ChecksumType="FULL_OBJECT")
    completed = s3.complete_multipart_upload(
        Bucket=bucket, Key="full", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": done})
    whole = b64(zlib.crc32(b"".join(parts)).to_bytes(4, "big"))
    assert completed["ChecksumCRC32"] == whole
    assert completed["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == whole
    assert got["Body"].read() == b"".join(parts)


def test_part_checksums_are_held_to_the_upload(s3, bucket):
    upload, done = _upload(s3, bucket, "held", [b"only part"], "SHA1")
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="held", UploadId=upload["UploadId"], PartNumber=2,
                       Body=b"other", ChecksumAlgorithm="SHA256")
    assert code_of(exc) == "InvalidRequest"
    done[0]["ChecksumSHA1"] = PINNED["SHA1"]  # not the part's
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="held", UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": done})
    assert code_of(exc) == "InvalidPart"
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket=bucket, Key="bad", ChecksumAlgorithm="SHA256",
                                   ChecksumType="FULL_OBJECT")
    assert code_of(exc) == "InvalidRequest"


@pytest.mark.parametrize(("algorithm", "kind"), [("SHA256", "COMPOSITE"),
                                               ("CRC32", "FULL_OBJECT")])
def test_parts_sent_without_the_checksum_get_it_from_the_server(shared_server, s3, bucket,
                                                                algorithm, kind):
    """A client that computes no checksums (boto3 told when_required sends none on
    UploadPart), and a part copied from another object: the server computes each part's
    checksum in the upload's algorithm, as S3 does, so the object still gets its own."""
    plain = s3_client(shared_server.http_url, request_checksum_calculation="when_required")
    s3.put_object(Bucket=bucket, Key="source", Body=b"copied tail")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="server", ChecksumAlgorithm=algorithm,
                                        ChecksumType=kind)
    first = plain.upload_part(Bucket=bucket, Key="server", UploadId=upload["UploadId"],
                              PartNumber=1, Body=b"p" * PART)
    second = s3.upload_part_copy(Bucket=bucket, Key="server", UploadId=upload["UploadId"],
                                 PartNumber=2, CopySource={"Bucket": bucket, "Key": "source"})
    parts = [b"p" * PART, b"copied tail"]
    if algorithm == "SHA256":
        sums = [b64(hashlib.sha256(p).digest()) for p in parts]
        whole = b64(hashlib.sha256(b"".join(hashlib.sha256(p).digest()
                                            for p in parts)).digest()) + "-2"
    else:
        sums = [b64(zlib.crc32(p).to_bytes(4, "big")) for p in parts]
        whole = b64(zlib.crc32(b"".join(parts)).to_bytes(4, "big"))
    listed = s3.list_parts(Bucket=bucket, Key="server", UploadId=upload["UploadId"])
    assert [p[f"Checksum{algorithm}"] for p in listed["Parts"]] == sums
    named = [{"PartNumber": 1, "ETag": first["ETag"]},
             {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]
    if kind == "COMPOSITE":  # made of the part checksums: the request names them
        for part, value in zip(named, sums, strict=True):
            part[f"Checksum{algorithm}"] = value
    completed = plain.complete_multipart_upload(
        Bucket=bucket, Key="server", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": named})
    assert completed[f"Checksum{algorithm}"] == whole
    assert completed["ChecksumType"] == kind
    head = s3.head_object(Bucket=bucket, Key="server", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == whole


def test_a_composite_completion_must_name_every_part_checksum(s3, bucket):
    upload, done = _upload(s3, bucket, "unnamed", [b"a" * PART, b"b"], "SHA1")
    del done[1]["ChecksumSHA1"]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="unnamed",
                                     UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": done})
    error = exc.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidRequest",
        "The upload was created using a sha1 checksum. The complete request "
                   "must include the checksum for each part. It was missing for part 2 in "
                   "the request.")


def test_a_whole_object_checksum_on_completion_is_compared(s3, bucket):
    parts = [b"x" * PART, b"end"]
    upload, done = _upload(s3, bucket, "whole", parts, "CRC32", ChecksumType="FULL_OBJECT")
    wrong = b64(zlib.crc32(b"other").to_bytes(4, "big"))
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="whole", UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": done}, ChecksumCRC32=wrong,
                                     ChecksumType="FULL_OBJECT")
    error = exc.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "BadDigest", "The CRC32 you specified did not match the calculated checksum.")
    right = b64(zlib.crc32(b"".join(parts)).to_bytes(4, "big"))
    completed = s3.complete_multipart_upload(
        Bucket=bucket, Key="whole", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": done}, ChecksumCRC32=right, ChecksumType="FULL_OBJECT")
    assert completed["ChecksumCRC32"] == right


def test_a_copy_keeps_the_checksum(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=BODY, ChecksumAlgorithm="SHA1")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src")
    head = s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert head["ChecksumSHA1"] == PINNED["SHA1"]
