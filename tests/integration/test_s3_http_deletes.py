"""DeleteObjects over the S3 REST endpoint: boto3's batch deletes, quiet mode, delete
markers, keys refused one by one as S3 refuses them, and the integrity header S3
requires of the request document."""

from __future__ import annotations

import base64
import hashlib
import json
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import S3_NS, bucket_name, s3_client, send, signed_headers

from engine.client import client as engine_client

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name("del")
    s3.create_bucket(Bucket=name)
    return name


def keys_in(s3, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def objects(*keys: str) -> dict:
    return {"Objects": [{"Key": key} for key in keys]}


def post_delete(url: str, body: bytes, headers: dict[str, str] | None = None):
    """POST ?delete signed as botocore signs it, with exactly ``headers`` beside."""
    target = f"{url}?delete"
    signed = signed_headers("POST", target, hashlib.sha256(body).hexdigest(), headers)
    return send(target, "POST", signed.items(), body)


def md5_of(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


DOCUMENT = b"<Delete><Object><Key>a</Key></Object></Delete>"


def test_a_batch_deletes_every_key_and_reports_each(s3, bucket):
    for key in ("a", "b/c", "d e"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete=objects("a", "b/c", "d e", "never"))
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "b/c", "d e", "never"]
    assert "Errors" not in result
    assert keys_in(s3, bucket) == ["kept"]


def test_quiet_mode_reports_nothing_that_went_well(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete={**objects("a"), "Quiet": True})
    assert "Deleted" not in result and "Errors" not in result
    assert keys_in(s3, bucket) == []


def test_versioned_deletes_leave_markers_or_remove_versions(shared_server, s3, bucket):
    with engine_client("s3", endpoint=shared_server.endpoint) as grpc_s3:
        grpc_s3.put_bucket_versioning(Bucket=bucket,
                                      VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="doc", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="doc", Body=b"2")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "doc"}, {"Key": "doc", "VersionId": old}]})
    by_version = {d.get("VersionId"): d for d in result["Deleted"]}
    assert by_version[old] == {"Key": "doc", "VersionId": old}
    marker = by_version[None]
    assert marker["DeleteMarker"] is True and marker["DeleteMarkerVersionId"]
    listed = s3.list_object_versions(Bucket=bucket)
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == \
        [marker["DeleteMarkerVersionId"]]
    assert old not in [v["VersionId"] for v in listed["Versions"]]


def test_each_key_is_authorized_on_its_own(shared_server, s3, bucket):
    for key in ("public/a", "private/b"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    with engine_client("iam", endpoint=shared_server.endpoint) as iam:
        user = f"cleaner-{bucket[-6:]}"
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        iam.put_user_policy(UserName=user, PolicyName="clean", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:DeleteObject",
                "Resource": f"arn:aws:s3:::{bucket}/public/*"}]}))
    app = s3_client(shared_server.http_url, key=key["AccessKeyId"],
                    secret=key["SecretAccessKey"])
    result = app.delete_objects(Bucket=bucket, Delete=objects("public/a", "private/b"))
    assert [d["Key"] for d in result["Deleted"]] == ["public/a"]
    assert result["Errors"] == [{"Key": "private/b", "Code": "AccessDenied",
                                 "Message": "Access Denied"}]
    only_refused = app.delete_objects(Bucket=bucket, Delete=objects("private/b"))
    assert [e["Code"] for e in only_refused["Errors"]] == ["AccessDenied"]
    assert keys_in(s3, bucket) == ["private/b"]


def test_the_document_needs_content_md5_or_a_checksum(shared_server, bucket):
    url = f"{shared_server.http_url}/{bucket}"
    bare = post_delete(url, DOCUMENT)
    doc = ET.fromstring(bare.body)
    assert bare.status == 400 and doc.findtext("Code") == "InvalidRequest"
    assert doc.findtext("Message") == \
        "Missing required header for this request: Content-MD5 OR x-amz-checksum-*"
    with_md5 = post_delete(url, DOCUMENT, {"Content-MD5": md5_of(DOCUMENT)})
    assert with_md5.status == 200, with_md5.body
    deleted = ET.fromstring(with_md5.body).find(f"{S3_NS}Deleted")
    assert deleted is not None and deleted.findtext(f"{S3_NS}Key") == "a"


def test_a_wrong_digest_is_bad_digest_and_deletes_nothing(shared_server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    url = f"{shared_server.http_url}/{bucket}"
    for header, value in (("Content-MD5", md5_of(b"other")),
                          ("x-amz-checksum-crc32c", "AAAAAA=="),
                          ("x-amz-checksum-sha256",
                           base64.b64encode(hashlib.sha256(b"other").digest()).decode())):
        answer = post_delete(url, DOCUMENT, {header: value})
        assert answer.status == 400, header
        assert ET.fromstring(answer.body).findtext("Code") == "BadDigest", header
    assert keys_in(s3, bucket) == ["a"]


def test_malformed_documents_are_malformed_xml(shared_server, s3, bucket):
    url = f"{shared_server.http_url}/{bucket}"
    for body in (b"<Delete></Delete>", b"<Delete><Object/></Delete>", b"not xml",
                 b'<!DOCTYPE d [<!ENTITY e "x">]><Delete><Object><Key>&e;</Key></Object>'
                 b"</Delete>"):
        answer = post_delete(url, body, {"Content-MD5": md5_of(body)})
        assert answer.status == 400, body
        assert ET.fromstring(answer.body).findtext("Code") == "MalformedXML", body
    with pytest.raises(ClientError) as exc:
        s3.delete_objects(Bucket=bucket, Delete=objects(*[f"k{i}" for i in range(1001)]))
    assert exc.value.response["Error"]["Code"] == "MalformedXML"


def test_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as exc:
        s3.delete_objects(Bucket=bucket_name("gone"), Delete=objects("a"))
    assert exc.value.response["Error"]["Code"] == "NoSuchBucket"
