"""Browser-form uploads (POST Object) against a real node: forms signed by botocore's
``generate_presigned_post`` and sent as multipart/form-data by ``requests``, as a web
page's form would be; policy conditions, expiry, forged signatures, the bucket of the
URL, success answers and anonymous forms."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.exceptions import ClientError
from credentials import ROOT_KEY_ID, ROOT_SECRET
from helpers_s3_http import S3_NS, bucket_name, s3_client

from engine.client import client as engine_client


@pytest.fixture(scope="module")
def s3(shared_server):
    """SigV4 forms (x-amz-signature): for a custom endpoint botocore signs forms with
    SigV2 unless told s3v4 (test_sigv2_forms_are_checked_too has those)."""
    return s3_client(shared_server.http_url, signature_version="s3v4")


@pytest.fixture
def bucket(s3):
    name = bucket_name("post")
    s3.create_bucket(Bucket=name)
    return name


def post(form: dict, file: bytes, *, filename: str = "photo.jpg",
         after: dict | None = None) -> requests.Response:
    """The form as a browser posts it: its fields in order, the file last (and any
    ``after`` fields behind it)."""
    fields = [(name, (None, value)) for name, value in form["fields"].items()]
    fields.append(("file", (filename, file, "image/jpeg")))
    fields += [(name, (None, value)) for name, value in (after or {}).items()]
    return requests.post(form["url"], files=fields, allow_redirects=False, timeout=30)


def error(answer: requests.Response) -> tuple[int, str, str]:
    doc = ET.fromstring(answer.content)
    return answer.status_code, doc.findtext("Code") or "", doc.findtext("Message") or ""


def keys(s3, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_a_signed_form_uploads_with_its_fields(s3, bucket):
    form = s3.generate_presigned_post(
        bucket, "uploads/${filename}",
        Fields={"Content-Type": "image/jpeg", "x-amz-meta-album": "summer",
                "success_action_status": "201"},
        Conditions=[{"Content-Type": "image/jpeg"}, {"x-amz-meta-album": "summer"},
                    {"success_action_status": "201"},
                    ["starts-with", "$key", "uploads/"],
                    ["content-length-range", 1, 1024]])
    assert form["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    answer = post(form, b"jpeg bytes", after={"ignored": "after the file"})
    assert answer.status_code == 201, answer.text
    doc = ET.fromstring(answer.content)
    assert doc.tag == f"{S3_NS}PostResponse"
    etag = '"' + hashlib.md5(b"jpeg bytes").hexdigest() + '"'
    assert doc.findtext(f"{S3_NS}Key") == "uploads/photo.jpg"
    assert doc.findtext(f"{S3_NS}Bucket") == bucket
    assert doc.findtext(f"{S3_NS}ETag") == etag
    got = s3.get_object(Bucket=bucket, Key="uploads/photo.jpg")
    assert got["Body"].read() == b"jpeg bytes"
    assert got["ContentType"] == "image/jpeg"
    assert got["Metadata"] == {"album": "summer"}


def test_default_answer_is_204_and_redirect_is_303(s3, bucket):
    plain = s3.generate_presigned_post(bucket, "plain")
    answer = post(plain, b"x")
    assert answer.status_code == 204 and answer.content == b""
    assert answer.headers["ETag"] == '"' + hashlib.md5(b"x").hexdigest() + '"'
    target = "https://example.com/done?from=form"
    redirected = s3.generate_presigned_post(
        bucket, "redirected", Fields={"success_action_redirect": target},
        Conditions=[{"success_action_redirect": target}])
    answer = post(redirected, b"y")
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert location.startswith(target + "&") and f"bucket={bucket}" in location
    assert "key=redirected" in location
    assert sorted(keys(s3, bucket)) == ["plain", "redirected"]


@pytest.mark.parametrize(("fields", "code", "message"), [
    ({"Content-Type": "text/html"}, "AccessDenied",
     'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", '
     '"image/jpeg"]'),
    ({"Content-Type": "image/jpeg", "acl": "public-read"}, "AccessDenied",
     "Invalid according to Policy: Extra input fields: acl"),
])
def test_a_form_outside_its_policy_stores_nothing(s3, bucket, fields, code, message):
    form = s3.generate_presigned_post(bucket, "guarded",
                                      Conditions=[{"Content-Type": "image/jpeg"}])
    form["fields"].update(fields)
    # the signature still covers the policy: only the fields changed
    assert error(post(form, b"data")) == (403, code, message)
    assert keys(s3, bucket) == []


def test_content_length_range_bounds_the_file(s3, bucket):
    form = s3.generate_presigned_post(bucket, "sized",
                                      Conditions=[["content-length-range", 10, 100]])
    too_big = post(form, b"x" * 101)
    assert error(too_big)[:2] == (400, "EntityTooLarge")
    too_small = post(form, b"x" * 9)
    assert error(too_small)[:2] == (400, "EntityTooSmall")
    assert keys(s3, bucket) == []
    assert post(form, b"x" * 100).status_code == 204
    assert keys(s3, bucket) == ["sized"]


def test_an_expired_policy_is_refused(s3, bucket):
    form = s3.generate_presigned_post(bucket, "late", ExpiresIn=-60)
    assert error(post(form, b"x")) == (403, "AccessDenied",
                                       "Invalid according to Policy: Policy expired.")
    assert keys(s3, bucket) == []


def test_a_forged_signature_or_policy_is_refused(s3, bucket):
    form = s3.generate_presigned_post(bucket, "forged")
    forged = dict(form, fields=dict(form["fields"]))
    forged["fields"]["x-amz-signature"] = "0" * 64
    assert error(post(forged, b"x"))[:2] == (403, "SignatureDoesNotMatch")
    # a wider policy under the original signature
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    policy["conditions"] = [c for c in policy["conditions"]
                            if not (isinstance(c, dict) and "key" in c)]
    widened = dict(form, fields=dict(form["fields"], key="elsewhere"))
    widened["fields"]["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()
    assert error(post(widened, b"x"))[:2] == (403, "SignatureDoesNotMatch")
    garbage = dict(form, fields=dict(form["fields"], policy="bm90IGpzb24="))
    assert error(post(garbage, b"x"))[:2] in ((403, "SignatureDoesNotMatch"),
                                             (400, "InvalidPolicyDocument"))
    assert keys(s3, bucket) == []


def test_the_bucket_is_the_urls_never_the_forms(s3, bucket):
    other = bucket_name("post-other")
    s3.create_bucket(Bucket=other)
    # a form signed for `other`, posted to `bucket`'s URL, naming `other` in a field
    form = s3.generate_presigned_post(other, "moved")
    aimed = dict(form, url=form["url"].replace(other, bucket),
                 fields=dict(form["fields"], bucket=other))
    assert error(post(aimed, b"x")) == (
        403, "AccessDenied",
        f'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "{other}"]')
    assert keys(s3, bucket) == [] and keys(s3, other) == []
    # a form for `bucket` naming `other` in a field still lands in `bucket`
    mine = s3.generate_presigned_post(bucket, "stays")
    mine["fields"]["bucket"] = other
    assert post(mine, b"x").status_code == 204
    assert keys(s3, bucket) == ["stays"] and keys(s3, other) == []


def test_sigv2_forms_are_checked_too(shared_server, s3, bucket):
    policy = base64.b64encode(json.dumps({
        "expiration": "2100-01-01T00:00:00Z",
        "conditions": [{"bucket": bucket}, {"key": "v2"}],
    }).encode()).decode()
    signature = base64.b64encode(hmac.new(ROOT_SECRET.encode(), policy.encode(),
                                          hashlib.sha1).digest()).decode()
    form = {"url": f"{shared_server.http_url}/{bucket}",
            "fields": {"key": "v2", "AWSAccessKeyId": ROOT_KEY_ID, "policy": policy,
                       "signature": signature}}
    assert post(form, b"v2 body").status_code == 204
    assert s3.get_object(Bucket=bucket, Key="v2")["Body"].read() == b"v2 body"
    form["fields"]["signature"] = base64.b64encode(b"\0" * 20).decode()
    assert error(post(form, b"x"))[:2] == (403, "SignatureDoesNotMatch")


def test_the_signer_needs_s3_put_object(shared_server, s3, bucket):
    with engine_client("iam", endpoint=shared_server.endpoint) as iam:
        user = f"poster-{bucket[-6:]}"
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        iam.put_user_policy(UserName=user, PolicyName="put", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/allowed/*"}]}))
    signer = s3_client(shared_server.http_url, key=key["AccessKeyId"],
                       secret=key["SecretAccessKey"], signature_version="s3v4")
    assert post(signer.generate_presigned_post(bucket, "allowed/a"), b"a").status_code == 204
    refused = post(signer.generate_presigned_post(bucket, "private/b"), b"b")
    assert error(refused)[:2] == (403, "AccessDenied")
    assert keys(s3, bucket) == ["allowed/a"]


def test_anonymous_forms_need_a_bucket_policy(shared_server, s3, bucket):
    url = f"{shared_server.http_url}/{bucket}"
    form = {"url": url, "fields": {"key": "drop/${filename}"}}
    assert error(post(form, b"x"))[:2] == (403, "AccessDenied")
    with engine_client("sts", endpoint=shared_server.endpoint) as sts, \
            engine_client("s3control", endpoint=shared_server.endpoint) as control:
        control.delete_public_access_block(AccountId=sts.get_caller_identity()["Account"])
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{bucket}/drop/*"}]}))
    assert post(form, b"anon", filename="note.txt").status_code == 204
    assert s3.get_object(Bucket=bucket, Key="drop/note.txt")["Body"].read() == b"anon"


def test_malformed_forms_get_s3s_errors(shared_server, s3, bucket):
    url = f"{shared_server.http_url}/{bucket}"
    not_a_form = requests.post(url, data=b"key=x", timeout=30,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert error(not_a_form)[:2] == (412, "PreconditionFailed")
    no_key = s3.generate_presigned_post(bucket, "k")
    del no_key["fields"]["key"]
    assert error(post(no_key, b"x"))[:2] == (400, "InvalidArgument")
    no_file = requests.post(url, files=[("key", (None, "k"))], timeout=30)
    assert error(no_file)[:2] == (400, "IncorrectNumberOfFilesInPostRequest")
    huge = s3.generate_presigned_post(bucket, "k")
    huge["fields"]["x-ignore-padding"] = "p" * (21 * 1024)
    assert error(post(huge, b"x"))[:2] == (400, "MaxPostPreDataLengthExceeded")
    assert keys(s3, bucket) == []
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")
