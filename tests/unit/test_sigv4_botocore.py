"""botocore as the reference signer: what boto3 sends, the verifier accepts; change one
byte of what was signed and it refuses. Requests are captured just before they would go
on the wire (botocore's before-send event), so no server is involved."""

from __future__ import annotations

import datetime
import hashlib
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.auth
import pytest
from botocore.auth import (
    HmacV1QueryAuth,
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV4Auth,
    SigV4QueryAuth,
)
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials

from engine.errors import EngineError
from engine.iam.signature import verify_request
from engine.sigv4 import Credentials, presign_url, sign_request
from engine.sigv4.canonical import parse_amz_date

ENDPOINT = "http://127.0.0.1:9000"
HOST = "127.0.0.1:9000"
AKID, SECRET = "AKIAENGINETEST", "engine/secret+key=="
LOOKUP = {AKID: SECRET}.get
FIXED = datetime.datetime(2024, 2, 29, 23, 59, 30)
FIXED_EPOCH = 1709251170.0

KEYS = [
    "plain.txt",
    "with space.txt",
    "\u00fcn\u00efc\u00f8d\u00e9/\u043a\u043b\u044e\u0447/\u952e",
    "a+b=c&d",
    "tilde~key",
    "literal%2Fslash",
    "double//slash",
    "trailing/",
    "/leading",
    "empty//segments//x",
    "dots/./and/../x",
    "question?mark#hash",
    "*(!)'$@,;:",
]


class Captured(Exception):
    def __init__(self, request: object) -> None:
        super().__init__("captured")
        self.request = request


def _capture(request: object, **_: object) -> None:
    raise Captured(request)


def s3_client(config: Config | None = None, token: str | None = None):
    client = boto3.client(
        "s3", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id=AKID,
        aws_secret_access_key=SECRET, aws_session_token=token, config=config)
    client.meta.events.register("before-send.s3.*", _capture)
    return client


def sent(client, operation: str, **params):
    """(method, path, query, headers, body) of the request boto3 would send."""
    with pytest.raises(Captured) as info:
        getattr(client, operation)(**params)
    request = info.value.request
    parts = urlsplit(request.url)
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()]
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    return request.method, parts.path, parts.query, [("Host", HOST), *headers], body


def amz_time(headers) -> float:
    value = next(v for k, v in headers if k.lower() == "x-amz-date")
    return parse_amz_date(value)


def verify(method, path, query, headers, body=None, *, service="s3", now=None, **kwargs):
    return verify_request(
        method, path, query, headers, service=service, region="us-east-1",
        now=amz_time(headers) if now is None else now, lookup=LOOKUP,
        payload_hash=None if body is None else hashlib.sha256(body).hexdigest(), **kwargs)


def refused(method, path, query, headers, body=None, **kwargs) -> str:
    with pytest.raises(EngineError) as info:
        verify(method, path, query, headers, body, **kwargs)
    return info.value.code


def _flip(text: str, index: int) -> str:
    """Change one character to another of the same kind, so the encoding stays valid."""
    char = text[index]
    other = "b" if char == "a" else "a" if char.isalpha() else "1" if char != "1" else "2"
    return text[:index] + other + text[index + 1:]


def _alnum_index(text: str) -> int:
    return max(i for i, c in enumerate(text) if c.isalnum() and (i < 2 or text[i - 2] != "%"))


def _set(headers, name, transform):
    return [(k, transform(v) if k.lower() == name else v) for k, v in headers]


# --- Authorization header: real boto3 S3 requests

@pytest.mark.parametrize("key", KEYS)
def test_boto3_object_requests_verify_and_any_change_is_refused(key):
    client = s3_client()
    body = b"body of " + key.encode()
    method, path, query, headers, sent_body = sent(
        client, "put_object", Bucket="bucket", Key=key, Body=body,
        Metadata={"note": "  two   spaces  "}, ContentType="text/plain")
    assert sent_body == body
    verified = verify(method, path, query, headers, body)
    assert verified is not None and verified.payload_hash == hashlib.sha256(body).hexdigest()

    i = _alnum_index(path)
    assert refused(method, _flip(path, i), query, headers, body) == "SignatureDoesNotMatch"
    assert refused(method, path, "x-id=PutObject", headers, body) == "SignatureDoesNotMatch"
    assert refused("POST", path, query, headers, body) == "SignatureDoesNotMatch"
    assert refused(method, path, query, _set(headers, "x-amz-meta-note", lambda v: v + "!"),
                   body) == "SignatureDoesNotMatch"
    assert refused(method, path, query, _set(headers, "content-type", lambda v: "text/html"),
                   body) == "SignatureDoesNotMatch"
    plus_one = _set(headers, "x-amz-date", lambda v: v[:-3] + f"{(int(v[-3:-1]) + 1) % 60:02d}Z")
    assert refused(method, path, query, plus_one, body) == "SignatureDoesNotMatch"
    other_hash = _set(headers, "x-amz-content-sha256", lambda v: _flip(v, 0))
    assert refused(method, path, query, other_hash, body) == "SignatureDoesNotMatch"
    assert refused(method, path, query, headers, body + b"!") == "XAmzContentSHA256Mismatch"


@pytest.mark.parametrize("operation", ["get_object", "head_object", "delete_object",
                                       "get_object_acl", "get_object_tagging"])
@pytest.mark.parametrize("key", KEYS[:7])
def test_boto3_reads_and_subresources_verify(operation, key):
    request = sent(s3_client(), operation, Bucket="bucket", Key=key)
    assert verify(*request) is not None


def test_boto3_listing_with_empty_and_encoded_query_values():
    method, path, query, headers, body = sent(
        s3_client(), "list_objects_v2", Bucket="bucket", Prefix="", Delimiter="/",
        StartAfter="a b+c", MaxKeys=5)
    assert "prefix=&" in query
    assert verify(method, path, query, headers, body) is not None
    assert refused(method, path, query.replace("prefix=&", "prefix=x&"), headers) == (
        "SignatureDoesNotMatch")
    assert refused(method, path, query + "&extra=", headers) == "SignatureDoesNotMatch"


def test_boto3_session_token_is_signed_and_returned():
    request = sent(s3_client(token="session/token+=="), "get_object", Bucket="b", Key="k")
    verified = verify(*request)
    assert verified is not None and verified.security_token == "session/token+=="
    method, path, query, headers, _ = request
    forged = _set(headers, "x-amz-security-token", lambda v: v + "x")
    assert refused(method, path, query, forged) == "SignatureDoesNotMatch"


# --- botocore's signers called directly: repeated names, other services

BOTO_CREDS = BotoCredentials(AKID, SECRET)


def _as_received(request: AWSRequest):
    parts = urlsplit(request.url)
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()]
    return request.method, parts.path, parts.query, [("Host", HOST), *headers]


@pytest.mark.parametrize("query", [
    "a=1&a=0&b=&c", "z=%20&z=%2B&z=~&y=%2F", "list-type=2&prefix=&delimiter=%2F"])
def test_s3_sigv4_auth_with_repeated_and_empty_query_values(query):
    """botocore signs a URL's query as written; AWS (and the verifier) decode and
    re-encode it, so the two agree on queries in the encoded form botocore sends."""
    request = AWSRequest("GET", f"{ENDPOINT}/bucket/a%20b/%E2%98%83?{query}", headers={})
    S3SigV4Auth(BOTO_CREDS, "s3", "us-east-1").add_auth(request)
    method, path, raw_query, headers = _as_received(request)
    assert verify(method, path, raw_query, headers) is not None
    assert refused(method, path, raw_query + "&a=1", headers) == "SignatureDoesNotMatch"


@pytest.mark.parametrize("path", ["/", "/123456789012/queue-name", "/a%20b/./c/../d//e",
                                  "/%E2%98%83/x~y"])
def test_sigv4_auth_other_services_double_encode(path):
    body = b"Action=SendMessage&MessageBody=hello+world"
    request = AWSRequest("POST", f"{ENDPOINT}{path}?a=1&a=0&b=", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(BOTO_CREDS, "sqs", "us-east-1").add_auth(request)
    method, raw_path, query, headers = _as_received(request)
    assert verify(method, raw_path, query, headers, body, service="sqs") is not None
    assert refused(method, raw_path, query, headers, body + b"x", service="sqs") == (
        "SignatureDoesNotMatch")


# --- presigned URLs

def _presigned(url: str):
    parts = urlsplit(url)
    return "GET", parts.path, parts.query, [("Host", HOST)]


def _params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


@pytest.mark.parametrize("key", KEYS)
def test_generate_presigned_url_s3v4(key):
    client = s3_client(Config(signature_version="s3v4"))
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": "bucket", "Key": key,
                              "ResponseContentDisposition": 'attachment; filename="x y"'},
        ExpiresIn=600)
    signed_at = parse_amz_date(_params(url)["X-Amz-Date"])
    request = _presigned(url)
    verified = verify(*request, now=signed_at + 600)
    assert verified is not None and verified.presigned and verified.expires_at == signed_at + 600
    method, path, query, headers = request
    assert refused(method, _flip(path, _alnum_index(path)), query, headers, now=signed_at) == (
        "SignatureDoesNotMatch")
    assert refused(method, path, query.replace("attachment", "inline"), headers,
                   now=signed_at) == "SignatureDoesNotMatch"
    assert refused(method, path, query.replace("X-Amz-Expires=600", "X-Amz-Expires=601"),
                   headers, now=signed_at) == "SignatureDoesNotMatch"
    assert refused(*request, now=signed_at + 601) == "AccessDenied"


@pytest.mark.parametrize("config", [None, Config(signature_version="s3")],
                         ids=["default", "s3"])
@pytest.mark.parametrize("key", KEYS)
def test_generate_presigned_url_sigv2(config, key):
    """boto3's default for a custom endpoint is still SigV2 (AWSAccessKeyId/Signature)."""
    client = s3_client(config)
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": "bucket", "Key": key, "VersionId": "v 1"}, ExpiresIn=60)
    assert "AWSAccessKeyId=" in url and "X-Amz-" not in url
    expires = int(_params(url)["Expires"])
    request = _presigned(url)
    verified = verify(*request, now=expires - 60)
    assert verified is not None and verified.signature_version == 2
    method, path, query, headers = request
    assert refused(method, _flip(path, _alnum_index(path)), query, headers, now=expires) == (
        "SignatureDoesNotMatch")
    assert refused(method, path, query.replace("versionId=v%201", "versionId=v%202"), headers,
                   now=expires) == "SignatureDoesNotMatch"
    assert refused("PUT", path, query, headers, now=expires) == "SignatureDoesNotMatch"
    assert refused(*request, now=expires + 1) == "AccessDenied"


def test_sigv2_presigned_acl_and_session_token():
    client = s3_client(Config(signature_version="s3"), token="tok/en+")
    url = client.generate_presigned_url(
        "get_object_acl", Params={"Bucket": "bucket", "Key": "k"}, ExpiresIn=60)
    assert "?acl&" in url and "x-amz-security-token=" in url
    verified = verify(*_presigned(url), now=int(_params(url)["Expires"]))
    assert verified is not None and verified.security_token == "tok/en+"


def test_hmac_v1_query_auth_with_content_type():
    request = AWSRequest("PUT", f"{ENDPOINT}/bucket/up%20load", headers={
        "Content-Type": "text/plain", "x-amz-meta-a": "b"})
    HmacV1QueryAuth(BOTO_CREDS, expires=60).add_auth(request)
    expires = int(_params(request.url)["Expires"])
    parts = urlsplit(request.url)
    headers = [("Host", HOST), ("Content-Type", "text/plain")]
    assert verify("PUT", parts.path, parts.query, headers, now=expires) is not None
    assert refused("PUT", parts.path, parts.query, [("Host", HOST), ("Content-Type", "text/html")],
                   now=expires) == "SignatureDoesNotMatch"


def test_s3_sigv4_query_auth_with_token_and_signed_content_type():
    request = AWSRequest("PUT", f"{ENDPOINT}/bucket/k%2Bey", headers={"Content-Type": "text/csv"})
    S3SigV4QueryAuth(BotoCredentials(AKID, SECRET, "tkn"), "s3", "us-east-1", 300).add_auth(request)
    params = _params(request.url)
    assert params["X-Amz-SignedHeaders"] == "content-type;host"
    parts = urlsplit(request.url)
    headers = [("Host", HOST), ("Content-Type", "text/csv")]
    verified = verify("PUT", parts.path, parts.query, headers,
                      now=parse_amz_date(params["X-Amz-Date"]))
    assert verified is not None and verified.security_token == "tkn"


def test_sigv4_query_auth_for_another_service():
    request = AWSRequest("GET", f"{ENDPOINT}/?Action=ListUsers&Version=2010-05-08", headers={})
    SigV4QueryAuth(BOTO_CREDS, "iam", "us-east-1", 120).add_auth(request)
    method, path, query, _ = _as_received(request)
    now = parse_amz_date(_params(request.url)["X-Amz-Date"])
    assert verify(method, path, query, [("Host", HOST)], b"", service="iam", now=now)
    assert refused(method, path, query.replace("ListUsers", "ListRoles"), [("Host", HOST)], b"",
                   service="iam", now=now) == "SignatureDoesNotMatch"


# --- our signer agrees with botocore's, byte for byte

@pytest.fixture
def frozen_botocore(monkeypatch):
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: FIXED)


@pytest.mark.parametrize("key", KEYS)
def test_sign_request_matches_botocore_for_s3(frozen_botocore, key):
    method, path, query, headers, _ = sent(
        s3_client(), "put_object", Bucket="bucket", Key=key, Body=b"x",
        Metadata={"m": " a  b "})
    theirs = next(v for k, v in headers if k == "Authorization")
    signed = {"x-amz-meta-m", "content-md5", "x-amz-checksum-crc32",
              "x-amz-sdk-checksum-algorithm", "content-type"}
    ours = sign_request(
        method, f"{ENDPOINT}{path}" + (f"?{query}" if query else ""),
        [(k, v) for k, v in headers if k.lower() in signed], Credentials(AKID, SECRET),
        "us-east-1", "s3", FIXED_EPOCH, payload_hash=hashlib.sha256(b"x").hexdigest())
    assert dict(ours.headers)["authorization"] == theirs


@pytest.mark.parametrize("path", ["/a%20b/./c/../d//e", "/%E2%98%83/x~y"])
def test_sign_request_matches_botocore_for_other_services(frozen_botocore, path):
    request = AWSRequest("GET", f"{ENDPOINT}{path}?b=2&a=1&a=0", headers={})
    SigV4Auth(BOTO_CREDS, "sqs", "us-east-1").add_auth(request)
    ours = sign_request("GET", request.url, [], Credentials(AKID, SECRET), "us-east-1", "sqs",
                        FIXED_EPOCH)
    assert dict(ours.headers)["authorization"] == request.headers["Authorization"]


@pytest.mark.parametrize("key", KEYS)
def test_presign_url_matches_botocore(frozen_botocore, key):
    client = s3_client(Config(signature_version="s3v4"))
    theirs = client.generate_presigned_url(
        "get_object", Params={"Bucket": "bucket", "Key": key}, ExpiresIn=900)
    base = theirs.split("?X-Amz-Algorithm")[0]
    ours = presign_url("GET", base, Credentials(AKID, SECRET), "us-east-1", "s3", 900,
                       FIXED_EPOCH)
    assert ours == theirs
