"""Multipart uploads through the SDK against a real `engine serve`: S3's rules for parts,
completion, aborts, part copies, listings and PartNumber reads."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from helpers_s3 import KIB, MIB, PART, error_code, md5_etag, multipart_etag, unique_name

from engine.client import ClientError, ParamValidationError


@pytest.fixture(scope="module")
def big_part() -> bytes:
    return os.urandom(PART)


def upload_parts(s3, bucket: str, key: str, upload_id: str, *bodies: bytes
                 ) -> list[dict[str, object]]:
    parts = []
    for number, data in enumerate(bodies, 1):
        resp = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                              Body=data)
        assert resp["ETag"] == md5_etag(data)
        parts.append({"ETag": resp["ETag"], "PartNumber": number})
    return parts


def test_round_trip_etag_parts_and_part_reads(s3, bucket, big_part):
    tail = b"tail" * 300
    created = s3.create_multipart_upload(Bucket=bucket, Key="obj", ContentType="text/plain",
                                         Metadata={"Owner": "ana"}, Tagging="team=blue")
    assert (created["Bucket"], created["Key"]) == (bucket, "obj") and created["UploadId"]
    upload = created["UploadId"]
    parts = upload_parts(s3, bucket, "obj", upload, big_part, tail)

    listed = s3.list_parts(Bucket=bucket, Key="obj", UploadId=upload)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed["Parts"]] == [
        (1, PART, md5_etag(big_part)), (2, len(tail), md5_etag(tail))]
    assert listed["IsTruncated"] is False and listed["UploadId"] == upload
    assert listed["StorageClass"] == "STANDARD" and listed["PartNumberMarker"] == 0
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [
        upload]

    done = s3.complete_multipart_upload(Bucket=bucket, Key="obj", UploadId=upload,
                                        MultipartUpload={"Parts": parts})
    assert done["ETag"] == multipart_etag(big_part, tail)
    assert (done["Bucket"], done["Key"]) == (bucket, "obj") and "VersionId" not in done
    obj = s3.get_object(Bucket=bucket, Key="obj")
    assert hashlib.sha256(obj["Body"].read()).digest() == \
        hashlib.sha256(big_part + tail).digest()
    assert obj["ETag"] == done["ETag"] and obj["ContentLength"] == PART + len(tail)
    assert obj["ContentType"] == "text/plain" and obj["Metadata"] == {"owner": "ana"}
    assert obj["TagCount"] == 1 and "PartsCount" not in obj

    head = s3.head_object(Bucket=bucket, Key="obj", PartNumber=1)
    assert head["PartsCount"] == 2 and head["ContentLength"] == PART
    assert head["ContentRange"] == f"bytes 0-{PART - 1}/{PART + len(tail)}"
    second = s3.get_object(Bucket=bucket, Key="obj", PartNumber=2)
    assert second["PartsCount"] == 2 and second["Body"].read() == tail
    assert second["ResponseMetadata"]["HTTPStatusCode"] == 206
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="obj", PartNumber=3)
    assert error_code(exc) == "InvalidPartNumber"

    # The upload is gone once completed.
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.list_parts(Bucket=bucket, Key="obj", UploadId=upload)
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.upload_part(Bucket=bucket, Key="obj", UploadId=upload, PartNumber=3, Body=b"x")
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.complete_multipart_upload(Bucket=bucket, Key="obj", UploadId=upload,
                                     MultipartUpload={"Parts": parts})


def test_part_number_read_of_a_plain_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="plain", Body=b"abc")
    head = s3.head_object(Bucket=bucket, Key="plain", PartNumber=1)
    assert head["PartsCount"] == 1 and head["ContentLength"] == 3
    assert s3.get_object(Bucket=bucket, Key="plain", PartNumber=1)["Body"].read() == b"abc"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="plain", PartNumber=2)
    assert error_code(exc) == "InvalidPartNumber"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="plain", PartNumber=1, Range="bytes=0-1")
    assert error_code(exc) == "InvalidRequest"


def test_completion_errors_leave_the_upload_usable(s3, bucket, big_part):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    small = upload_parts(s3, bucket, "k", upload, b"a" * KIB, b"b" * KIB)

    def complete(parts):
        return s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload,
                                            MultipartUpload={"Parts": parts})

    with pytest.raises(ClientError) as exc:  # every part but the last must be >= 5 MiB
        complete(small)
    assert error_code(exc) == "EntityTooSmall"
    with pytest.raises(ClientError) as exc:
        complete([{"ETag": md5_etag(b"other"), "PartNumber": 1}])
    assert error_code(exc) == "InvalidPart"
    with pytest.raises(ClientError) as exc:
        complete([{"ETag": md5_etag(b"x"), "PartNumber": 7}])  # never uploaded
    assert error_code(exc) == "InvalidPart"
    with pytest.raises(ClientError) as exc:
        complete(list(reversed(small)))
    assert error_code(exc) == "InvalidPartOrder"
    with pytest.raises(ClientError) as exc:
        complete([])
    assert error_code(exc) == "MalformedXML"
    with pytest.raises(ParamValidationError):
        complete([{"ETag": small[0]["ETag"], "PartNumber": "1"}])
    with pytest.raises(ParamValidationError):
        complete([{"Etag": small[0]["ETag"], "PartNumber": 1}])

    for number in (0, 10001):
        with pytest.raises(ClientError) as exc:
            s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=number, Body=b"x")
        assert error_code(exc) == "InvalidArgument"

    # Replacing part 1 with a big one makes the same upload completable; unquoted ETags
    # are accepted as S3 accepts them.
    first = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1,
                           Body=big_part)["ETag"]
    done = complete([{"ETag": first.strip('"'), "PartNumber": 1}, small[1]])
    assert done["ETag"] == multipart_etag(big_part, b"b" * KIB)
    got = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    assert got == big_part + b"b" * KIB


def test_abort(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    upload_parts(s3, bucket, "k", upload, b"data")
    resp = s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(s3.exceptions.NoSuchUpload) as exc:
        s3.list_parts(Bucket=bucket, Key="k", UploadId=upload)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=b"x")
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload)
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId="not-an-upload")
    other = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    with pytest.raises(s3.exceptions.NoSuchUpload):  # an upload belongs to its key
        s3.list_parts(Bucket=bucket, Key="other-key", UploadId=other)
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=other)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="k")
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.create_multipart_upload(Bucket=unique_name("missing"), Key="k")


def test_upload_part_copy_with_ranges(s3, bucket):
    source = os.urandom(PART + 100 * KIB)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    first = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=1,
                                CopySource=f"{bucket}/src",
                                CopySourceRange=f"bytes=0-{PART - 1}")
    assert first["CopyPartResult"]["ETag"] == md5_etag(source[:PART])
    assert first["CopyPartResult"]["LastModified"].tzinfo is not None
    second = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=2,
                                 CopySource={"Bucket": bucket, "Key": "src"},
                                 CopySourceRange=f"bytes={PART}-{len(source) - 1}",
                                 CopySourceIfMatch=md5_etag(source))
    assert second["CopyPartResult"]["ETag"] == md5_etag(source[PART:])
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=3,
                            CopySource=f"{bucket}/src", CopySourceRange=f"bytes=0-{len(source)}")
    assert error_code(exc) == "InvalidArgument"
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=3,
                            CopySource=f"{bucket}/src", CopySourceIfMatch='"nope"')
    assert error_code(exc) == "PreconditionFailed"
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=3,
                            CopySource=f"{bucket}/absent")
    whole = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload, PartNumber=3,
                                CopySource=f"{bucket}/src")  # no range: the whole object
    assert whole["CopyPartResult"]["ETag"] == md5_etag(source)
    parts = [{"ETag": r["CopyPartResult"]["ETag"], "PartNumber": n}
             for n, r in ((1, first), (2, second))]
    with pytest.raises(ClientError) as exc:  # part 2 (100 KiB) is not the last
        s3.complete_multipart_upload(
            Bucket=bucket, Key="dst", UploadId=upload,
            MultipartUpload={"Parts": [*parts, {"ETag": whole["CopyPartResult"]["ETag"],
                                                "PartNumber": 3}]})
    assert error_code(exc) == "EntityTooSmall"
    done = s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload,
                                        MultipartUpload={"Parts": parts})
    assert done["ETag"] == multipart_etag(source[:PART], source[PART:])
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == source


def test_list_parts_pagination(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    upload_parts(s3, bucket, "k", upload, *(bytes([i]) * (i + 1) for i in range(5)))
    first = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True and first["NextPartNumberMarker"] == 2
    assert first["MaxParts"] == 2
    rest = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload, PartNumberMarker=2)
    assert [p["PartNumber"] for p in rest["Parts"]] == [3, 4, 5]
    assert rest["IsTruncated"] is False and rest["PartNumberMarker"] == 2
    pages = list(s3.get_paginator("list_parts").paginate(
        Bucket=bucket, Key="k", UploadId=upload, PaginationConfig={"PageSize": 2}))
    assert [[p["PartNumber"] for p in page["Parts"]] for page in pages] == [[1, 2], [3, 4], [5]]
    assert [p["Size"] for page in pages for p in page["Parts"]] == [1, 2, 3, 4, 5]
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload)


def test_list_multipart_uploads_pagination(s3, bucket):
    made = sorted(
        (key, s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"])
        for key in ("a", "a", "b", "dir/x", "dir/y")
    )
    seen: list[tuple[str, str]] = []
    kw: dict[str, str] = {}
    for _ in range(10):
        resp = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2, **kw)
        assert resp["MaxUploads"] == 2
        seen += [(u["Key"], u["UploadId"]) for u in resp.get("Uploads", [])]
        if not resp["IsTruncated"]:
            break
        kw = {"KeyMarker": resp["NextKeyMarker"], "UploadIdMarker": resp["NextUploadIdMarker"]}
        assert (kw["KeyMarker"], kw["UploadIdMarker"]) == seen[-1]
    assert seen == made
    first = s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]
    assert first["StorageClass"] == "STANDARD" and first["Initiated"].tzinfo is not None

    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir/"]
    assert [u["Key"] for u in grouped["Uploads"]] == ["a", "a", "b"]
    inside = s3.list_multipart_uploads(Bucket=bucket, Prefix="dir/")
    assert [u["Key"] for u in inside["Uploads"]] == ["dir/x", "dir/y"]
    after_a = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a")
    assert [u["Key"] for u in after_a["Uploads"]] == ["b", "dir/x", "dir/y"]

    pages = list(s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 2}))
    assert [(u["Key"], u["UploadId"]) for p in pages for u in p.get("Uploads", [])] == made
    for key, upload_id in made:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_upload_part_checks_digests(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    good = base64.b64encode(hashlib.md5(b"data").digest()).decode()
    assert s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=b"data",
                          ContentMD5=good)["ETag"] == md5_etag(b"data")
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=2, Body=b"data",
                       ContentMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
    assert error_code(exc) == "BadDigest"
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=2, Body=b"data",
                       ContentLength=10)
    assert error_code(exc) == "IncompleteBody"
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="k",
                                                   UploadId=upload)["Parts"]] == [1]
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload)


def test_big_parts_stream(s3, bucket):
    """A part larger than one message streams in chunks like a PUT body."""
    data = os.urandom(3 * MIB + 7)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1,
                          Body=data)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload,
                                 MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})
    assert s3.get_object(Bucket=bucket, Key="k", Range="bytes=1048570-1048580")["Body"].read() \
        == data[1048570:1048581]
