"""S3 conformance, objects: PutObject, GetObject, HeadObject and DeleteObject as AWS's
API reference documents them: ETag and date formats, the default Content-Type, the
content headers and x-amz-meta-* (case folded, 2 KB), key bytes (1024, KeyTooLongError),
odd keys on the wire, storage classes, and what a HEAD and a DELETE answer."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import re
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from helpers_s3_conformance import Node, error_of, failure, xml_of
from helpers_s3_http import bucket_name, s3_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

HTTP_DATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|"
                       r"Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture(scope="module")
def node(shared_server) -> Node:
    return Node(shared_server.http_url)


@pytest.fixture(scope="module")
def bucket(s3) -> str:
    """One bucket for the module: every test here uses keys of its own."""
    name = bucket_name("objects")
    s3.create_bucket(Bucket=name)
    return name


def md5_etag(body: bytes) -> str:
    return f'"{hashlib.md5(body).hexdigest()}"'


# -- PutObject ------------------------------------------------------------------------------


def test_put_answers_the_quoted_md5_etag_and_no_body(node, bucket):
    body = b"conformance body"
    answer = node.request("PUT", f"/{bucket}/put-etag", body=body)
    assert answer.status == 200 and answer.body == b""
    assert answer.headers["etag"] == md5_etag(body)
    assert "x-amz-version-id" not in answer.headers  # never-versioned bucket


def test_an_overwrite_replaces_body_headers_and_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="over", Body=b"one", ContentType="text/plain",
                  Metadata={"first": "1"})
    s3.put_object(Bucket=bucket, Key="over", Body=b"second")
    got = s3.get_object(Bucket=bucket, Key="over")
    assert got["Body"].read() == b"second"
    assert got["ContentType"] == "binary/octet-stream"
    assert got["Metadata"] == {}
    assert got["ETag"] == md5_etag(b"second")


def test_content_type_defaults_to_binary_octet_stream(node, bucket):
    node.request("PUT", f"/{bucket}/no-type", body=b"x")
    answer = node.request("GET", f"/{bucket}/no-type")
    assert answer.headers["content-type"] == "binary/octet-stream"


@pytest.mark.parametrize(("header", "value"), [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-cache, max-age=0"),
    ("Content-Disposition", 'attachment; filename="report.pdf"'),
    ("Content-Encoding", "gzip"),
    ("Content-Language", "de-CH"),
])
def test_content_headers_are_stored_and_answered(node, bucket, header, value):
    key = f"hdr-{header.lower()}"
    assert node.request("PUT", f"/{bucket}/{key}", {header: value}, b"body").status == 200
    got = node.request("GET", f"/{bucket}/{key}")
    head = node.request("HEAD", f"/{bucket}/{key}")
    assert got.headers[header.lower()] == value == head.headers[header.lower()]


def test_expires_is_stored_and_answered(node, bucket):
    value = "Thu, 01 Dec 2044 16:00:00 GMT"
    node.request("PUT", f"/{bucket}/expires", {"Expires": value}, b"body")
    assert node.request("GET", f"/{bucket}/expires").headers.get("expires") == value


def test_website_redirect_location_is_stored(s3, bucket):
    s3.put_object(Bucket=bucket, Key="redirect", Body=b"", WebsiteRedirectLocation="/other")
    assert s3.head_object(Bucket=bucket, Key="redirect").get(
        "WebsiteRedirectLocation") == "/other"


def test_metadata_names_are_folded_to_lower_case_values_kept(node, bucket):
    headers = {"X-Amz-Meta-MixedCase": "Value With Case", "x-amz-meta-lower": "v"}
    node.request("PUT", f"/{bucket}/meta", headers, b"x")
    got = node.request("HEAD", f"/{bucket}/meta")
    assert got.headers["x-amz-meta-mixedcase"] == "Value With Case"
    assert got.headers["x-amz-meta-lower"] == "v"


def test_metadata_round_trips_through_boto3(s3, bucket):
    s3.put_object(Bucket=bucket, Key="meta-sdk", Body=b"x",
                  Metadata={"Owner": "ana", "empty": "", "with-dash": "1"})
    assert s3.head_object(Bucket=bucket, Key="meta-sdk")["Metadata"] == {
        "owner": "ana", "empty": "", "with-dash": "1"}


def test_user_metadata_of_exactly_2_kb_is_stored(s3, bucket):
    value = "v" * (2048 - len("k"))
    s3.put_object(Bucket=bucket, Key="meta-2k", Body=b"x", Metadata={"k": value})
    assert s3.head_object(Bucket=bucket, Key="meta-2k")["Metadata"] == {"k": value}


def test_user_metadata_over_2_kb_is_metadata_too_large(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="meta-big", Body=b"x", Metadata={"k": "v" * 2048})
    got = failure(exc)
    assert (got.status, got.code) == (400, "MetadataTooLarge")
    assert got.error["MaxSizeAllowed"] == "2048"
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="meta-big")
    assert failure(exc).status == 404  # nothing stored


def test_metadata_sizes_count_utf8_bytes_of_names_and_values(s3, bucket):
    many = {f"m{i:02d}": "x" * 97 for i in range(21)}  # 21 * 100 bytes
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="meta-many", Body=b"x", Metadata=many)
    assert failure(exc).code == "MetadataTooLarge"


@pytest.mark.parametrize(("storage_class", "shown"), [
    ("STANDARD", None), ("REDUCED_REDUNDANCY", "REDUCED_REDUNDANCY"),
    ("STANDARD_IA", "STANDARD_IA"), ("ONEZONE_IA", "ONEZONE_IA"),
])
def test_storage_class_is_answered_unless_standard(s3, bucket, storage_class, shown):
    key = f"class-{storage_class}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x", StorageClass=storage_class)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-storage-class") == shown
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"][0]
    assert listed["StorageClass"] == storage_class


def test_an_unknown_storage_class_is_invalid_storage_class(node, bucket):
    answer = node.request("PUT", f"/{bucket}/class-bad", {"x-amz-storage-class": "FAST"}, b"x")
    assert answer.status == 400
    assert error_of(answer) == ("InvalidStorageClass",
                                "The storage class you specified is not valid")


# -- keys -----------------------------------------------------------------------------------


def test_a_key_of_1024_bytes_is_stored(s3, bucket):
    key = "k" * 1024
    s3.put_object(Bucket=bucket, Key=key, Body=b"long")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"long"
    multibyte = "é" * 512  # 1024 bytes of UTF-8
    s3.put_object(Bucket=bucket, Key=multibyte, Body=b"wide")
    assert s3.get_object(Bucket=bucket, Key=multibyte)["Body"].read() == b"wide"


@pytest.mark.parametrize("key", ["k" * 1025, "é" * 513], ids=["ascii-1025", "utf8-1026"])
def test_a_key_over_1024_bytes_is_key_too_long(node, bucket, key):
    answer = node.request("PUT", f"/{bucket}/{quote(key)}", body=b"x")
    assert answer.status == 400
    assert error_of(answer) == ("KeyTooLongError", "Your key is too long")


@pytest.mark.parametrize(("wire", "key"), [
    ("plus+sign", "plus+sign"),
    ("space%20here", "space here"),
    ("pct%252F", "pct%2F"),
    ("enc%2Fslash", "enc/slash"),
    ("a/../b", "a/../b"),
    ("./dot", "./dot"),
    ("%2Fleading", "/leading"),
    ("/double-slash", "/double-slash"),
    ("dir/", "dir/"),
    ("%E6%97%A5%E6%9C%AC%E8%AA%9E", "日本語"),
    ("q%3Fmark%23hash", "q?mark#hash"),
    ("tilde~star*", "tilde~star*"),
    ("ctl%01%1F", "ctl\x01\x1f"),
    ("amp%26eq%3D", "amp&eq="),
])
def test_keys_on_the_wire_are_decoded_once_and_kept_exactly(s3, node, bucket, wire, key):
    put = node.request("PUT", f"/{bucket}/{wire}", body=key.encode())
    assert put.status == 200, put.body
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key)  # botocore asks for url encoding
    assert key in [o["Key"] for o in listed.get("Contents", [])]


def test_an_invalid_utf8_key_is_invalid_uri(node, bucket):
    answer = node.request("PUT", f"/{bucket}/bad%FFkey", body=b"x")
    assert answer.status == 400 and error_of(answer)[0] == "InvalidURI"


# -- GetObject / HeadObject -----------------------------------------------------------------


def test_get_answers_entity_headers_in_s3s_formats(s3, node, bucket):
    body = b"entity headers"
    s3.put_object(Bucket=bucket, Key="entity", Body=body)
    answer = node.request("GET", f"/{bucket}/entity")
    h = answer.headers
    assert answer.status == 200 and answer.body == body
    assert h["etag"] == md5_etag(body)
    assert h["content-length"] == str(len(body))
    assert h["accept-ranges"] == "bytes"
    assert HTTP_DATE.match(h["last-modified"]), h["last-modified"]
    assert HTTP_DATE.match(h["date"]), h["date"]
    assert h["x-amz-request-id"] and h["x-amz-id-2"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="entity")["Contents"][0]
    assert email.utils.parsedate_to_datetime(h["last-modified"]) == \
        listed["LastModified"].replace(microsecond=0)


def test_head_answers_what_get_answers_without_a_body(s3, node, bucket):
    body = b"head me" * 10
    s3.put_object(Bucket=bucket, Key="head", Body=body, ContentType="text/plain",
                  Metadata={"a": "1"})
    get = node.request("GET", f"/{bucket}/head")
    head = node.request("HEAD", f"/{bucket}/head")
    assert head.status == 200
    for name in ("etag", "content-length", "content-type", "last-modified",
                 "accept-ranges", "x-amz-meta-a"):
        assert head.headers[name] == get.headers[name], name
    wire = node.raw_head(f"/{bucket}/head")
    assert wire.startswith(b"HTTP/1.1 200") and wire.endswith(b"\r\n\r\n")
    assert b"\r\nContent-Length: 70\r\n" in wire


def test_an_empty_object(s3, node, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = node.request("GET", f"/{bucket}/empty")
    assert got.status == 200 and got.body == b""
    assert got.headers["content-length"] == "0"
    assert got.headers["etag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert s3.head_object(Bucket=bucket, Key="empty")["ContentLength"] == 0


def test_a_missing_key_is_no_such_key_naming_it(node, bucket):
    answer = node.request("GET", f"/{bucket}/no/such%20key")
    assert answer.status == 404
    assert error_of(answer) == ("NoSuchKey", "The specified key does not exist.")
    doc = xml_of(answer.body)
    assert doc.findtext("Key") == "no/such key"
    assert doc.findtext("Resource") == f"/{bucket}/no/such key"
    assert doc.findtext("RequestId") == answer.headers["x-amz-request-id"]
    assert doc.findtext("HostId") == answer.headers["x-amz-id-2"]


def test_head_of_a_missing_key_is_a_bare_404(s3, node, bucket):
    answer = node.request("HEAD", f"/{bucket}/nothing")
    assert answer.status == 404 and answer.body == b""
    wire = node.raw_head(f"/{bucket}/nothing")
    assert wire.startswith(b"HTTP/1.1 404") and wire.endswith(b"\r\n\r\n")
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="nothing")
    assert failure(exc).code == "404"


CRC32C_123456789 = "4waSgw=="  # CRC-32C check value 0xE3069283 (RFC 3720, B.4)


def test_checksum_mode_answers_the_crc32c_sent(node, bucket):
    headers = {"x-amz-checksum-crc32c": CRC32C_123456789}
    put = node.request("PUT", f"/{bucket}/crc", headers, b"123456789")
    assert put.status == 200 and put.headers["x-amz-checksum-crc32c"] == CRC32C_123456789
    got = node.request("GET", f"/{bucket}/crc", {"x-amz-checksum-mode": "ENABLED"})
    assert got.headers["x-amz-checksum-crc32c"] == CRC32C_123456789
    assert "x-amz-checksum-crc32c" not in node.request("GET", f"/{bucket}/crc").headers


def test_a_wrong_crc32c_is_bad_digest_and_stores_nothing(s3, node, bucket):
    headers = {"x-amz-checksum-crc32c": CRC32C_123456789}
    put = node.request("PUT", f"/{bucket}/crc-bad", headers, b"123456780")
    assert put.status == 400 and error_of(put)[0] == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="crc-bad")


def test_checksum_mode_answers_the_sha256_sent(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="sha", Body=b"sha", ChecksumAlgorithm="SHA256")
    got = s3.get_object(Bucket=bucket, Key="sha", ChecksumMode="ENABLED")
    assert got.get("ChecksumSHA256") == put["ChecksumSHA256"]


def test_content_md5_matching_the_body_is_accepted(node, bucket):
    body = b"md5 checked"
    digest = base64.b64encode(hashlib.md5(body).digest()).decode()
    answer = node.request("PUT", f"/{bucket}/md5-ok", {"Content-MD5": digest}, body)
    assert answer.status == 200 and answer.headers["etag"] == md5_etag(body)


def test_get_of_a_part_number_of_a_simple_object_is_the_whole_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="one-part", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="one-part", PartNumber=1)
    assert got["Body"].read() == b"0123456789"
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["PartsCount"] == 1
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="one-part", PartNumber=2)
    got_err = failure(exc)
    assert (got_err.status, got_err.code) == (416, "InvalidPartNumber")


def test_an_archived_object_is_not_readable_until_restored(s3, node, bucket):
    s3.put_object(Bucket=bucket, Key="archived", Body=b"cold", StorageClass="GLACIER")
    answer = node.request("GET", f"/{bucket}/archived")
    assert answer.status == 403
    assert error_of(answer) == ("InvalidObjectState",
                                "The operation is not valid for the object's storage class.")
    assert xml_of(answer.body).findtext("StorageClass") == "GLACIER"
    head = node.request("HEAD", f"/{bucket}/archived")
    assert head.status == 200 and head.headers["x-amz-storage-class"] == "GLACIER"


def test_object_attributes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="attrs", Body=b"attributes", StorageClass="STANDARD_IA")
    got = s3.get_object_attributes(Bucket=bucket, Key="attrs",
                                   ObjectAttributes=["ETag", "ObjectSize", "StorageClass"])
    assert got["ETag"] == hashlib.md5(b"attributes").hexdigest()  # unquoted, as S3 has it
    assert got["ObjectSize"] == 10 and got["StorageClass"] == "STANDARD_IA"
    with pytest.raises(ClientError) as exc:
        s3.get_object_attributes(Bucket=bucket, Key="no-attrs", ObjectAttributes=["ETag"])
    assert (failure(exc).status, failure(exc).code) == (404, "NoSuchKey")


# -- DeleteObject ---------------------------------------------------------------------------


def test_delete_is_204_and_the_key_is_gone(s3, node, bucket):
    s3.put_object(Bucket=bucket, Key="del", Body=b"x")
    answer = node.request("DELETE", f"/{bucket}/del")
    assert answer.status == 204 and answer.body == b""
    assert "x-amz-delete-marker" not in answer.headers
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="del")
    assert failure(exc).code == "NoSuchKey"


def test_deleting_a_missing_key_is_204(node, bucket):
    answer = node.request("DELETE", f"/{bucket}/never-there")
    assert answer.status == 204 and answer.body == b""


def test_unsigned_object_requests_on_a_private_bucket_are_access_denied(s3, node, bucket):
    s3.put_object(Bucket=bucket, Key="private", Body=b"x")
    for method, body in (("GET", None), ("PUT", b"x"), ("DELETE", None)):
        answer = node.request(method, f"/{bucket}/private", body=body, sign=False)
        assert answer.status == 403 and error_of(answer) == ("AccessDenied", "Access Denied")
    assert s3.get_object(Bucket=bucket, Key="private")["Body"].read() == b"x"
