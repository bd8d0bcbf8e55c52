"""POST policy documents: parsing the shapes AWS documents and judging a form by them,
with S3's words for each refusal."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from engine.api.s3.post_policy import parse_policy
from engine.errors import EngineError

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# The example policy of AWS's "Browser-based upload using HTTP POST" page (SigV4).
AWS_EXAMPLE = {
    "expiration": "2026-12-30T12:00:00.000Z",
    "conditions": [
        {"bucket": "sigv4examplebucket"},
        ["starts-with", "$key", "user/user1/"],
        {"acl": "public-read"},
        {"success_action_redirect": "http://sigv4examplebucket.s3.amazonaws.com/"
                                    "successful_upload.html"},
        ["starts-with", "$Content-Type", "image/"],
        {"x-amz-meta-uuid": "14365123651274"},
        {"x-amz-server-side-encryption": "AES256"},
        ["starts-with", "$x-amz-meta-tag", ""],
        {"x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},
        {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
        {"x-amz-date": "20151229T000000Z"},
    ],
}
FORM = {
    "key": "user/user1/photo.jpg", "acl": "public-read",
    "success_action_redirect": "http://sigv4examplebucket.s3.amazonaws.com/"
                               "successful_upload.html",
    "content-type": "image/jpeg", "x-amz-meta-uuid": "14365123651274",
    "x-amz-server-side-encryption": "AES256", "x-amz-meta-tag": "",
    "x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request",
    "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-date": "20151229T000000Z",
    "policy": "...", "x-amz-signature": "...",
}


def encoded(document: object) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def refusal(call) -> tuple[str, str]:
    with pytest.raises(EngineError) as exc:
        call()
    return exc.value.code, exc.value.message


def test_awss_example_form_meets_its_policy():
    parse_policy(encoded(AWS_EXAMPLE)).check(FORM, "sigv4examplebucket", NOW)


@pytest.mark.parametrize(("change", "message"), [
    ({"key": "user/user2/photo.jpg"},
     'Policy Condition failed: ["starts-with", "$key", "user/user1/"]'),
    ({"acl": "private"}, 'Policy Condition failed: ["eq", "$acl", "public-read"]'),
    ({"content-type": "text/html"},
     'Policy Condition failed: ["starts-with", "$Content-Type", "image/"]'),
    ({"x-amz-meta-extra": "1"}, "Extra input fields: x-amz-meta-extra"),
])
def test_a_form_outside_the_policy_is_access_denied(change, message):
    policy = parse_policy(encoded(AWS_EXAMPLE))
    assert refusal(lambda: policy.check({**FORM, **change}, "sigv4examplebucket", NOW)) == (
        "AccessDenied", f"Invalid according to Policy: {message}")


def test_the_bucket_condition_is_matched_against_the_url():
    policy = parse_policy(encoded(AWS_EXAMPLE))
    form = {**FORM, "bucket": "otherbucket"}
    policy.check({**FORM, "bucket": "otherbucket"}, "sigv4examplebucket", NOW)
    assert refusal(lambda: policy.check(form, "otherbucket", NOW))[1].endswith(
        '["eq", "$bucket", "sigv4examplebucket"]')


def test_expiry_and_length_range():
    policy = parse_policy(encoded({"expiration": "2026-01-01T00:00:00Z", "conditions": [
        ["content-length-range", 2, 4]]}))
    assert refusal(lambda: policy.check({}, "b", NOW)) == (
        "AccessDenied", "Invalid according to Policy: Policy expired.")
    policy.check_size(4, final=True)
    assert refusal(lambda: policy.check_size(5, final=False))[0] == "EntityTooLarge"
    policy.check_size(1, final=False)  # more may come
    assert refusal(lambda: policy.check_size(1, final=True))[0] == "EntityTooSmall"


@pytest.mark.parametrize("document", [
    "not base64 json", encoded([1, 2]), encoded({"conditions": []}),
    encoded({"expiration": "tomorrow", "conditions": []}),
    encoded({"expiration": "2030-01-01T00:00:00Z"}),
    encoded({"expiration": "2030-01-01T00:00:00Z", "conditions": [["between", 1, 2]]}),
    encoded({"expiration": "2030-01-01T00:00:00Z",
             "conditions": [["content-length-range", "1", 2]]}),
])
def test_documents_that_are_not_policies(document):
    code, message = refusal(lambda: parse_policy(document))
    assert code == "InvalidPolicyDocument" and message.startswith("Invalid Policy: ")
