"""S3 conformance, multipart uploads: CreateMultipartUpload, UploadPart,
CompleteMultipartUpload, AbortMultipartUpload, ListParts and ListMultipartUploads as
AWS's API reference documents them: the multipart ETag (``md5-of-md5s-N``), part size
and order rules, part numbers, what an aborted upload answers, paging, and reading a
completed object part by part."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError
from helpers_s3_conformance import Node, error_of, failure, find, text, xml_of
from helpers_s3_http import bucket_name, s3_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

MIB = 1024 * 1024
PART1 = b"\x01" * (5 * MIB)  # the smallest part but the last
PART2 = b"tail part"


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture(scope="module")
def node(shared_server) -> Node:
    return Node(shared_server.http_url)


@pytest.fixture(scope="module")
def bucket(s3) -> str:
    name = bucket_name("multipart")
    s3.create_bucket(Bucket=name)
    return name


def multipart_etag(*parts: bytes) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def upload(s3, bucket: str, key: str, *parts: bytes, **create: object) -> tuple[str, list]:
    """A new upload with ``parts`` uploaded as 1..N; (upload id, Parts for completion)."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    done = []
    for number, body in enumerate(parts, 1):
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                              Body=body)["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
    return upload_id, done


def complete(s3, bucket: str, key: str, upload_id: str, parts: list) -> dict:
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                        MultipartUpload={"Parts": parts})


def complete_error(s3, bucket: str, key: str, upload_id: str, parts: list):
    with pytest.raises(ClientError) as exc:
        complete(s3, bucket, key, upload_id, parts)
    return failure(exc)


# -- the happy path -------------------------------------------------------------------------


def test_create_answers_s3s_initiate_document(node, bucket):
    answer = node.request("POST", f"/{bucket}/init%20key?uploads", body=b"")
    assert answer.status == 200
    doc = xml_of(answer.body)
    assert doc.tag.endswith("InitiateMultipartUploadResult")
    assert text(doc, "Bucket") == bucket and text(doc, "Key") == "init key"
    assert text(doc, "UploadId")


def test_a_part_answers_its_quoted_md5(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="part-etag")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="part-etag", UploadId=upload_id, PartNumber=1,
                          Body=PART2)
    assert part["ETag"] == f'"{hashlib.md5(PART2).hexdigest()}"'


def test_a_completed_upload_is_one_object_with_the_multipart_etag(s3, node, bucket):
    upload_id, parts = upload(s3, bucket, "whole", PART1, PART2, ContentType="text/plain",
                              Metadata={"Origin": "parts"})
    done = complete(s3, bucket, "whole", upload_id, parts)
    etag = multipart_etag(PART1, PART2)
    assert done["ETag"] == etag and done["Bucket"] == bucket and done["Key"] == "whole"
    assert done["Location"].endswith(f"/{bucket}/whole")
    head = s3.head_object(Bucket=bucket, Key="whole")
    assert head["ETag"] == etag and head["ContentLength"] == len(PART1) + len(PART2)
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"origin": "parts"}
    body = node.request("GET", f"/{bucket}/whole").body
    assert body == PART1 + PART2
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="whole")["Contents"][0]
    assert listed["ETag"] == etag


def test_one_small_part_is_a_whole_upload(s3, bucket):
    upload_id, parts = upload(s3, bucket, "single", PART2)
    assert complete(s3, bucket, "single", upload_id, parts)["ETag"] == multipart_etag(PART2)
    assert s3.get_object(Bucket=bucket, Key="single")["Body"].read() == PART2


def test_a_part_sent_again_replaces_the_first(s3, bucket):
    upload_id, _ = upload(s3, bucket, "resend", b"first version")
    etag = s3.upload_part(Bucket=bucket, Key="resend", UploadId=upload_id, PartNumber=1,
                          Body=b"second")["ETag"]
    complete(s3, bucket, "resend", upload_id, [{"PartNumber": 1, "ETag": etag}])
    assert s3.get_object(Bucket=bucket, Key="resend")["Body"].read() == b"second"


def test_parts_need_not_be_numbered_contiguously(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="gaps")["UploadId"]
    parts = []
    for number, body in ((2, PART1), (7, PART2)):
        etag = s3.upload_part(Bucket=bucket, Key="gaps", UploadId=upload_id,
                              PartNumber=number, Body=body)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    complete(s3, bucket, "gaps", upload_id, parts)
    assert s3.head_object(Bucket=bucket, Key="gaps")["ContentLength"] == len(PART1 + PART2)


def test_a_completed_upload_replaces_an_existing_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="replaced", Body=b"old")
    upload_id, parts = upload(s3, bucket, "replaced", PART2)
    complete(s3, bucket, "replaced", upload_id, parts)
    assert s3.get_object(Bucket=bucket, Key="replaced")["Body"].read() == PART2


def test_parts_of_a_completed_object_are_read_by_number(s3, node, bucket):
    upload_id, parts = upload(s3, bucket, "by-part", PART1, PART2)
    complete(s3, bucket, "by-part", upload_id, parts)
    second = node.request("GET", f"/{bucket}/by-part?partNumber=2")
    assert second.status == 206 and second.body == PART2
    assert second.headers["x-amz-mp-parts-count"] == "2"
    total = len(PART1) + len(PART2)
    assert second.headers["content-range"] == f"bytes {len(PART1)}-{total - 1}/{total}"
    assert second.headers["etag"] == multipart_etag(PART1, PART2)
    head = node.request("HEAD", f"/{bucket}/by-part?partNumber=1")
    assert head.status == 206 and head.headers["content-length"] == str(len(PART1))
    beyond = node.request("GET", f"/{bucket}/by-part?partNumber=3")
    assert beyond.status == 416 and error_of(beyond)[0] == "InvalidPartNumber"
    both = node.request("GET", f"/{bucket}/by-part?partNumber=1", {"Range": "bytes=0-1"})
    assert both.status == 400 and error_of(both)[0] == "InvalidRequest"


# -- completion refused ---------------------------------------------------------------------


def test_completing_without_parts_is_malformed_xml(s3, node, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="no-parts")["UploadId"]
    body = b'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
    answer = node.request("POST", f"/{bucket}/no-parts?uploadId={upload_id}", body=body)
    assert answer.status == 400 and error_of(answer)[0] == "MalformedXML"


def test_a_part_under_5_mib_but_the_last_is_entity_too_small(s3, bucket):
    upload_id, parts = upload(s3, bucket, "small", b"tiny", PART2)
    got = complete_error(s3, bucket, "small", upload_id, parts)
    assert (got.status, got.code) == (400, "EntityTooSmall")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="small")


def test_a_part_never_uploaded_is_invalid_part(s3, bucket):
    upload_id, parts = upload(s3, bucket, "missing", PART2)
    got = complete_error(s3, bucket, "missing", upload_id,
                         [*parts, {"PartNumber": 9, "ETag": parts[0]["ETag"]}])
    assert (got.status, got.code) == (400, "InvalidPart")


def test_a_wrong_etag_is_invalid_part(s3, bucket):
    upload_id, _ = upload(s3, bucket, "wrong-etag", PART2)
    got = complete_error(s3, bucket, "wrong-etag", upload_id,
                         [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}])
    assert (got.status, got.code) == (400, "InvalidPart")


@pytest.mark.parametrize("order", [(2, 1), (1, 1)], ids=["descending", "repeated"])
def test_parts_not_in_ascending_order_are_invalid_part_order(s3, bucket, order):
    upload_id, parts = upload(s3, bucket, "order", PART1, PART2)
    listed = [parts[n - 1] for n in order]
    got = complete_error(s3, bucket, "order", upload_id, listed)
    assert (got.status, got.code) == (400, "InvalidPartOrder")


def test_a_malformed_completion_document_is_malformed_xml(s3, node, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="bad-doc")["UploadId"]
    answer = node.request("POST", f"/{bucket}/bad-doc?uploadId={upload_id}",
                          body=b"<CompleteMultipartUpload><Part>")
    assert answer.status == 400 and error_of(answer)[0] == "MalformedXML"


# -- part numbers and unknown uploads -------------------------------------------------------


@pytest.mark.parametrize("number", ["0", "10001", "-1", "abc"])
def test_a_part_number_outside_1_to_10000_is_invalid_argument(s3, node, bucket, number):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="numbers")["UploadId"]
    answer = node.request("PUT", f"/{bucket}/numbers?partNumber={number}&uploadId={upload_id}",
                          body=b"x")
    assert answer.status == 400 and error_of(answer)[0] == "InvalidArgument"


def test_part_10000_is_accepted(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="last-number")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="last-number", UploadId=upload_id, PartNumber=10000,
                   Body=b"x")
    parts = s3.list_parts(Bucket=bucket, Key="last-number", UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in parts] == [10000]


def test_an_unknown_upload_id_is_no_such_upload_everywhere(s3, bucket):
    calls = [
        lambda: s3.upload_part(Bucket=bucket, Key="k", UploadId="nope", PartNumber=1,
                               Body=b"x"),
        lambda: s3.list_parts(Bucket=bucket, Key="k", UploadId="nope"),
        lambda: s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId="nope"),
        lambda: complete(s3, bucket, "k", "nope", [{"PartNumber": 1, "ETag": '"x"'}]),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        got = failure(exc)
        assert (got.status, got.code) == (404, "NoSuchUpload")
        assert got.message.startswith("The specified multipart upload does not exist.")
        assert got.error["UploadId"] == "nope"


def test_an_upload_id_belongs_to_its_key(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mine")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="other", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert failure(exc).code == "NoSuchUpload"


# -- abort ----------------------------------------------------------------------------------


def test_abort_is_204_and_the_upload_is_gone(s3, node, bucket):
    upload_id, parts = upload(s3, bucket, "aborted", PART2)
    answer = node.request("DELETE", f"/{bucket}/aborted?uploadId={upload_id}")
    assert answer.status == 204 and answer.body == b""
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix="aborted").get("Uploads", [])
    assert uploads == []
    got = complete_error(s3, bucket, "aborted", upload_id, parts)
    assert (got.status, got.code) == (404, "NoSuchUpload")
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="aborted")
    assert failure(exc).status == 404


# -- ListParts ------------------------------------------------------------------------------


def test_list_parts_describes_each_part(s3, bucket):
    upload_id, parts = upload(s3, bucket, "listed", b"a" * 10, b"b" * 20, b"c" * 30,
                              StorageClass="STANDARD_IA")
    page = s3.list_parts(Bucket=bucket, Key="listed", UploadId=upload_id)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in page["Parts"]] == [
        (1, parts[0]["ETag"], 10), (2, parts[1]["ETag"], 20), (3, parts[2]["ETag"], 30)]
    assert all(p["LastModified"].year >= 2025 for p in page["Parts"])
    assert page["Bucket"] == bucket and page["Key"] == "listed"
    assert page["UploadId"] == upload_id and page["IsTruncated"] is False
    assert page["StorageClass"] == "STANDARD_IA" and page["MaxParts"] == 1000
    owner = s3.list_buckets()["Owner"]["ID"]
    assert page["Owner"]["ID"] == owner and page["Initiator"]["ID"]


def test_list_parts_pages_by_part_number_marker(s3, bucket):
    upload_id, _ = upload(s3, bucket, "paged-parts", b"1", b"2", b"3")
    first = s3.list_parts(Bucket=bucket, Key="paged-parts", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True and first["NextPartNumberMarker"] == 2
    rest = s3.list_parts(Bucket=bucket, Key="paged-parts", UploadId=upload_id,
                         PartNumberMarker=first["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in rest["Parts"]] == [3] and rest["IsTruncated"] is False
    assert rest["PartNumberMarker"] == 2


# -- ListMultipartUploads -------------------------------------------------------------------


def test_list_uploads_shows_uploads_in_progress_only(s3, node, filled_uploads):
    bucket, ids = filled_uploads
    page = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in page["Uploads"]] == sorted(ids)
    assert all(u["Initiated"].year >= 2025 for u in page["Uploads"])
    assert all(u["StorageClass"] == "STANDARD" for u in page["Uploads"])
    doc = xml_of(node.request("GET", f"/{bucket}?uploads").body)
    assert doc.tag.endswith("ListMultipartUploadsResult")
    assert text(doc, "Bucket") == bucket and text(doc, "MaxUploads") == "1000"
    assert len(find(doc, "Upload")) == 4


def test_list_uploads_with_prefix_and_delimiter(s3, filled_uploads):
    bucket, _ = filled_uploads
    page = s3.list_multipart_uploads(Bucket=bucket, Prefix="dir/")
    assert [u["Key"] for u in page["Uploads"]] == ["dir/a", "dir/sub/b"]
    rolled = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in rolled.get("Uploads", [])] == ["top", "top"]
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["dir/"]


def test_list_uploads_pages_by_key_and_upload_id_marker(s3, filled_uploads):
    bucket, ids = filled_uploads
    seen = []
    for page in s3.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 3}):
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
    assert seen == sorted(ids)
    first = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=3)
    assert first["IsTruncated"] is True
    assert (first["NextKeyMarker"], first["NextUploadIdMarker"]) == sorted(ids)[2]


@pytest.fixture
def filled_uploads(s3):
    """A bucket with four uploads in progress (two of one key) and one completed."""
    name = bucket_name("uploads")
    s3.create_bucket(Bucket=name)
    ids = []
    for key in ("dir/a", "dir/sub/b", "top", "top"):
        ids.append((key, s3.create_multipart_upload(Bucket=name, Key=key)["UploadId"]))
    upload_id, parts = upload(s3, name, "done", PART2)
    complete(s3, name, "done", upload_id, parts)
    return name, ids
