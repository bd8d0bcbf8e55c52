"""Bucket CORS over the S3 REST endpoint: the configuration's round trip with boto3,
preflight OPTIONS requests from a plain HTTP client (no credentials, as a browser sends
them), and the Access-Control-* headers on actual requests whose Origin a rule allows."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError
from helpers_s3_http import bucket_name, s3_client, send, signed_headers

SHARES_RUN_SERVER = True  # shared_server: one server for every module that says so

SITE = "https://app.example.com"
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
RULES = [
    {"ID": "site", "AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["x-amz-*", "content-type"], "ExposeHeaders": ["ETag", "x-amz-version-id"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["HEAD"]},
]
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@pytest.fixture(scope="module")
def s3(shared_server):
    return s3_client(shared_server.http_url)


@pytest.fixture
def bucket(s3):
    name = bucket_name("cors")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def cors_bucket(s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    s3.put_object(Bucket=bucket, Key="key", Body=b"data")
    return bucket


def error_of(call, **kwargs) -> tuple[int, str]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def options(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """A preflight as a browser sends it: OPTIONS, no credentials."""
    request = urllib.request.Request(url, method="OPTIONS", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, \
                answer.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("access-control-") or k == "vary"}


def error_code(body: bytes) -> tuple[str, str]:
    root = ET.fromstring(body)
    return root.findtext("Code") or "", root.findtext("Message") or ""


def test_cors_configuration_round_trips_and_is_deleted(s3, bucket):
    assert error_of(s3.get_bucket_cors, Bucket=bucket) == (404, "NoSuchCORSConfiguration")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.get_bucket_cors, Bucket=bucket) == (404, "NoSuchCORSConfiguration")


def test_cors_configuration_errors(s3, bucket):
    assert error_of(s3.put_bucket_cors, Bucket=bucket,
                    CORSConfiguration={"CORSRules": []}) == (400, "MalformedXML")
    patch = [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]
    assert error_of(s3.put_bucket_cors, Bucket=bucket,
                    CORSConfiguration={"CORSRules": patch}) == (400, "InvalidRequest")
    assert error_of(s3.get_bucket_cors, Bucket=bucket_name("none")) == (404, "NoSuchBucket")


def test_a_preflight_gets_the_headers_of_the_rule_that_matches(shared_server, cors_bucket):
    url = f"{shared_server.http_url}/{cors_bucket}/key"
    status, headers, body = options(url, {"Origin": SITE, "Access-Control-Request-Method": "PUT",
                                          "Access-Control-Request-Headers":
                                          "Content-Type, X-Amz-Meta-Name"})
    assert (status, body) == (200, b"")
    assert cors_headers(headers) == {
        "access-control-allow-origin": SITE,
        "access-control-allow-methods": "GET, PUT",
        "access-control-allow-headers": "content-type, x-amz-meta-name",
        "access-control-expose-headers": "ETag, x-amz-version-id",
        "access-control-max-age": "600",
        "access-control-allow-credentials": "true",
        "vary": VARY,
    }
    status, headers, _ = options(f"{shared_server.http_url}/{cors_bucket}/no/such/key",
                                 {"Origin": "null", "Access-Control-Request-Method": "HEAD"})
    assert status == 200
    assert cors_headers(headers) == {"access-control-allow-origin": "*",
                                     "access-control-allow-methods": "HEAD", "vary": VARY}


@pytest.mark.parametrize(("origin", "method", "asked"), [
    (SITE, "DELETE", None),                   # a method no rule allows
    ("https://example.org", "GET", None),     # an origin no rule allows
    (SITE, "GET", "authorization"),           # a header no rule allows
])
def test_a_preflight_no_rule_allows_is_forbidden(shared_server, cors_bucket, origin, method,
                                                  asked):
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if asked:
        headers["Access-Control-Request-Headers"] = asked
    status, answer, body = options(f"{shared_server.http_url}/{cors_bucket}/key", headers)
    assert status == 403
    assert cors_headers(answer) == {}
    code, message = error_code(body)
    assert code == "AccessForbidden"
    assert message.startswith("CORSResponse: This CORS request is not allowed.")


def test_preflights_s3_refuses(shared_server, s3, bucket):
    base = shared_server.http_url
    status, _, body = options(f"{base}/{bucket}/key", {
        "Origin": SITE, "Access-Control-Request-Method": "GET"})
    assert (status, error_code(body)) == (
        403, ("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket."))
    status, _, body = options(f"{base}/{bucket_name('none')}/key", {
        "Origin": SITE, "Access-Control-Request-Method": "GET"})
    assert (status, error_code(body)) == (
        403, ("AccessForbidden", "CORSResponse: Bucket not found"))
    status, _, body = options(f"{base}/{bucket}/key", {"Access-Control-Request-Method": "GET"})
    assert (status, error_code(body)) == (
        400, ("BadRequest", "Insufficient information. Origin request header needed."))
    status, _, body = options(f"{base}/{bucket}/key", {"Origin": SITE})
    assert (status, error_code(body)) == (
        400, ("BadRequest", "Invalid Access-Control-Request-Method: null"))
    status, _, body = options(f"{base}/{bucket}/key", {
        "Origin": SITE, "Access-Control-Request-Method": "PATCH"})
    assert (status, error_code(body)) == (
        400, ("BadRequest", "Invalid Access-Control-Request-Method: PATCH"))


def test_actual_requests_get_the_headers_of_a_matching_rule(shared_server, cors_bucket):
    url = f"{shared_server.http_url}/{cors_bucket}/key"
    signed = signed_headers("GET", url, EMPTY_SHA256, {"Origin": SITE})
    answer = send(url, "GET", signed.items())
    assert (answer.status, answer.body) == (200, b"data")
    assert cors_headers(answer.headers) == {
        "access-control-allow-origin": SITE, "access-control-allow-methods": "GET, PUT",
        "access-control-expose-headers": "ETag, x-amz-version-id",
        "access-control-max-age": "600", "access-control-allow-credentials": "true",
        "vary": VARY}
    missing = f"{shared_server.http_url}/{cors_bucket}/missing"
    answer = send(missing, "GET", signed_headers("GET", missing, EMPTY_SHA256,
                                                 {"Origin": SITE}).items())
    assert answer.status == 404  # an error carries them too
    assert answer.headers["access-control-allow-origin"] == SITE
    other = signed_headers("GET", url, EMPTY_SHA256, {"Origin": "https://example.org"})
    assert cors_headers(send(url, "GET", other.items()).headers) == {}
    plain = signed_headers("GET", url, EMPTY_SHA256)
    assert cors_headers(send(url, "GET", plain.items()).headers) == {}


def test_an_anonymous_request_refused_still_says_what_cors_allows(shared_server, cors_bucket):
    url = f"{shared_server.http_url}/{cors_bucket}/key"
    answer = send(url, "HEAD", [("Origin", "https://example.org")])
    assert answer.status == 403
    assert cors_headers(answer.headers) == {"access-control-allow-origin": "*",
                                            "access-control-allow-methods": "HEAD",
                                            "vary": VARY}
