"""S3 conformance, POST Object (browser form uploads) as AWS's "POST Object" and
"Browser-based uploads using POST" pages document them: the signed policy and its
conditions (checked before anything is stored), success_action_status and
success_action_redirect, ${filename}, content-length-range, and the bucket always the
URL's. Forms come from botocore's own generate_presigned_post."""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import parse_qs, urlsplit

import botocore.signers
import pytest
from helpers_s3_conformance import Node, error_of, xml_of
from helpers_s3_http import bucket_name, s3_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

FILE = b"uploaded from a browser form"
BOUNDARY = "----conformance-boundary"


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url, signature_version="s3v4")


@pytest.fixture(scope="module")
def node(shared_server) -> Node:
    return Node(shared_server.http_url)


@pytest.fixture(scope="module")
def bucket(s3) -> str:
    name = bucket_name("post")
    s3.create_bucket(Bucket=name)
    return name


def form(fields: dict[str, str], file: bytes | None = FILE,
         filename: str = "photo.jpg") -> tuple[dict[str, str], bytes]:
    """multipart/form-data as a browser sends it: the fields, then the file."""
    out = b"".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   f"{value}\r\n".encode() for name, value in fields.items())
    if file is not None:
        out += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n').encode()
        out += file + b"\r\n"
    out += f"--{BOUNDARY}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, out


def post(node: Node, bucket: str, fields: dict[str, str], **kwargs: object):
    headers, body = form(fields, **kwargs)  # type: ignore[arg-type]
    return node.request("POST", f"/{bucket}", headers, body, sign=False)


def presigned(s3, bucket: str, key: str, fields: dict | None = None,
              conditions: list | None = None) -> dict[str, str]:
    return s3.generate_presigned_post(bucket, key, Fields=fields, Conditions=conditions,
                                      ExpiresIn=600)["fields"]


def test_a_form_upload_is_204_and_stores_the_file(s3, node, bucket):
    answer = post(node, bucket, presigned(s3, bucket, "plain"))
    assert answer.status == 204 and answer.body == b""
    assert answer.headers["etag"] == f'"{hashlib.md5(FILE).hexdigest()}"'
    assert answer.headers["location"].endswith(f"/{bucket}/plain")
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == FILE


def test_form_fields_become_the_objects_headers_and_metadata(s3, node, bucket):
    fields = {"Content-Type": "text/plain", "x-amz-meta-origin": "form",
              "Cache-Control": "no-cache"}
    conditions = [{k: v} for k, v in fields.items()]
    post(node, bucket, presigned(s3, bucket, "with-fields", fields, conditions))
    head = s3.head_object(Bucket=bucket, Key="with-fields")
    assert head["ContentType"] == "text/plain" and head["CacheControl"] == "no-cache"
    assert head["Metadata"] == {"origin": "form"}


def test_success_action_status_201_answers_a_post_response(s3, node, bucket):
    fields = {"success_action_status": "201"}
    answer = post(node, bucket, presigned(s3, bucket, "created", fields, [fields]))
    assert answer.status == 201
    doc = xml_of(answer.body)
    assert doc.tag.rpartition("}")[2] == "PostResponse"
    found = {child.tag.rpartition("}")[2]: child.text for child in doc}
    assert found["Bucket"] == bucket and found["Key"] == "created"
    assert found["ETag"] == f'"{hashlib.md5(FILE).hexdigest()}"'
    assert found["Location"].endswith(f"/{bucket}/created")


def test_success_action_status_200_answers_an_empty_200(s3, node, bucket):
    fields = {"success_action_status": "200"}
    answer = post(node, bucket, presigned(s3, bucket, "ok", fields, [fields]))
    assert answer.status == 200 and answer.body == b""


def test_success_action_redirect_is_a_303_naming_the_object(s3, node, bucket):
    fields = {"success_action_redirect": "https://example.com/done"}
    answer = post(node, bucket, presigned(s3, bucket, "redirected", fields, [fields]))
    assert answer.status == 303
    location = urlsplit(answer.headers["location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https", "example.com", "/done")
    query = parse_qs(location.query)
    assert query["bucket"] == [bucket] and query["key"] == ["redirected"]
    assert query["etag"] == [f'"{hashlib.md5(FILE).hexdigest()}"']


def test_filename_is_substituted_into_the_key(s3, node, bucket):
    fields = presigned(s3, bucket, "uploads/${filename}",
                       conditions=[["starts-with", "$key", "uploads/"]])
    assert post(node, bucket, fields, filename="cat.jpg").status == 204
    assert s3.get_object(Bucket=bucket, Key="uploads/cat.jpg")["Body"].read() == FILE


# -- refused before anything is stored ------------------------------------------------------


def absent(node: Node, bucket: str, key: str) -> bool:
    return node.request("HEAD", f"/{bucket}/{key}").status == 404


def test_a_field_the_policy_does_not_cover_is_refused(s3, node, bucket):
    fields = {**presigned(s3, bucket, "extra"), "x-amz-meta-sneaky": "1"}
    answer = post(node, bucket, fields)
    assert answer.status == 403
    assert error_of(answer) == ("AccessDenied", "Invalid according to Policy: Extra input "
                                "fields: x-amz-meta-sneaky")
    assert absent(node, bucket, "extra")


def test_a_key_outside_the_policys_prefix_is_refused(s3, node, bucket):
    fields = presigned(s3, bucket, "uploads/ok", conditions=[["starts-with", "$key",
                                                              "uploads/"]])
    answer = post(node, bucket, {**fields, "key": "elsewhere/x"})
    assert answer.status == 403 and error_of(answer)[0] == "AccessDenied"
    assert "Policy Condition failed" in error_of(answer)[1]
    assert absent(node, bucket, "elsewhere/x")


def test_a_file_outside_content_length_range_is_refused(s3, node, bucket):
    fields = presigned(s3, bucket, "too-big", conditions=[["content-length-range", 1, 10]])
    answer = post(node, bucket, fields)
    assert answer.status == 400 and error_of(answer)[0] == "EntityTooLarge"
    assert absent(node, bucket, "too-big")
    small = presigned(s3, bucket, "too-small",
                      conditions=[["content-length-range", 1000, 2000]])
    answer = post(node, bucket, small)
    assert answer.status == 400 and error_of(answer)[0] == "EntityTooSmall"


def test_an_expired_policy_is_refused(s3, node, bucket, monkeypatch):
    two_hours_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=2)
    monkeypatch.setattr(botocore.signers, "get_current_datetime",
                        lambda remove_tzinfo=True: two_hours_ago)
    fields = s3.generate_presigned_post(bucket, "expired", ExpiresIn=60)["fields"]
    answer = post(node, bucket, fields)
    assert answer.status == 403
    assert error_of(answer) == ("AccessDenied", "Invalid according to Policy: Policy expired.")
    assert absent(node, bucket, "expired")


def test_a_tampered_policy_is_signature_does_not_match(s3, node, bucket):
    fields = presigned(s3, bucket, "tampered")
    fields["x-amz-signature"] = "0" * 64
    answer = post(node, bucket, fields)
    assert answer.status == 403 and error_of(answer)[0] == "SignatureDoesNotMatch"
    assert absent(node, bucket, "tampered")


def test_the_bucket_is_the_urls_never_the_forms(s3, node, bucket):
    other = bucket_name("post-other")
    s3.create_bucket(Bucket=other)
    fields = presigned(s3, other, "crossed")  # a policy for the other bucket
    answer = post(node, bucket, {**fields, "bucket": other})
    assert answer.status == 403 and error_of(answer)[0] == "AccessDenied"
    assert absent(node, bucket, "crossed") and absent(node, other, "crossed")


def test_a_form_without_a_file_is_refused(s3, node, bucket):
    answer = post(node, bucket, presigned(s3, bucket, "no-file"), file=None)
    assert answer.status == 400
    assert error_of(answer)[0] == "IncorrectNumberOfFilesInPostRequest"


def test_an_unsigned_form_to_a_private_bucket_is_access_denied(node, bucket):
    answer = post(node, bucket, {"key": "anonymous"})
    assert answer.status == 403 and error_of(answer)[0] == "AccessDenied"
    assert absent(node, bucket, "anonymous")

