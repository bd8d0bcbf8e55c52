"""Helpers of the S3 REST tests: boto3 clients pointed at a node's HTTP endpoint, raw
signed requests built with botocore's own signer, and a bucket per test."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.client import Config
from botocore.credentials import Credentials
from credentials import REGION, ROOT_KEY_ID, ROOT_SECRET

ROOT = Credentials(ROOT_KEY_ID, ROOT_SECRET)
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def s3_client(endpoint_url: str, *, key: str = ROOT_KEY_ID, secret: str = ROOT_SECRET,
              region: str = REGION, verify: str | bool | None = None, **config: object):
    """A boto3 S3 client as a user makes one: path style, no retries (a test wants the
    first answer), the rest of ``config`` as given."""
    s3 = dict(config.pop("s3", {}) or {})  # type: ignore[call-overload]
    s3.setdefault("addressing_style", "path")
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region,
                        aws_access_key_id=key, aws_secret_access_key=secret, verify=verify,
                        config=Config(s3=s3, retries={"max_attempts": 1}, **config))


def bucket_name(hint: str = "b") -> str:
    return f"{hint[:20].lower().replace('_', '-')}-{uuid.uuid4().hex[:10]}"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def send(url: str, method: str, headers: Iterable[tuple[str, str]] = (),
         body: bytes | None = None, *, path: str | None = None) -> Answer:
    """One HTTP request with exactly these headers and this path (unlike urllib, nothing
    is re-encoded or added but Host, unless given, and, with a body, Content-Length);
    sent to the URL's address whatever Host says."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        target = path if path is not None else (parts.path or "/") + (
            f"?{parts.query}" if parts.query else "")
        headers = list(headers)
        sent = {name.lower() for name, _ in headers}
        conn.putrequest(method, target, skip_host="host" in sent, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None and "content-length" not in sent and \
                "transfer-encoding" not in sent:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                      response.read())
    finally:
        conn.close()


def signed_headers(method: str, url: str, payload_hash: str,
                   headers: dict[str, str] | None = None,
                   credentials: Credentials = ROOT, region: str = REGION) -> dict[str, str]:
    """The headers botocore's S3 SigV4 signer gives this request (X-Amz-Date,
    x-amz-content-sha256 = ``payload_hash``, Authorization), plus ``headers`` and the
    Host it signed."""
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}))
    _DeclaredPayload(credentials, "s3", region, payload_hash).add_auth(request)
    return {"Host": urlsplit(url).netloc, **dict(request.headers.items())}


class _DeclaredPayload(S3SigV4Auth):
    """botocore's S3 signer with the x-amz-content-sha256 the test declares."""

    def __init__(self, credentials: Credentials, service: str, region: str,
                 payload_hash: str) -> None:
        super().__init__(credentials, service, region)
        self.payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self.payload_hash


def seed_signature(headers: dict[str, str]) -> str:
    return headers["Authorization"].rpartition("Signature=")[2]


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str = REGION) -> bytes:
    key = _hmac(("AWS4" + secret).encode(), date)
    return _hmac(_hmac(_hmac(key, region), "s3"), "aws4_request")


def aws_chunked(chunks: list[bytes], headers: dict[str, str], *, secret: str = ROOT_SECRET,
                trailers: list[tuple[str, str]] | None = None) -> bytes:
    """An aws-chunked body signed chunk by chunk as AWS's "Signature Calculations for
    the Authorization Header: Transferring Payload in Multiple Chunks" describes, from
    the seed signature botocore computed for the headers (written out here, not with
    the engine's encoder, so the two are checked against each other)."""
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    key = signing_key(secret, amz_date[:8])
    previous = seed_signature(headers)
    empty = hashlib.sha256(b"").hexdigest()
    out = b""
    for data in [*chunks, b""]:
        to_sign = "\n".join(("AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, empty,
                             hashlib.sha256(data).hexdigest()))
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        out += f"{len(data):x};chunk-signature={previous}\r\n".encode() + data + b"\r\n"
    if trailers is not None:
        out = out[:-2]  # the final chunk's CRLF comes after the trailers
        canonical = "".join(f"{n}:{v}\n" for n, v in trailers)
        to_sign = "\n".join(("AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous,
                             hashlib.sha256(canonical.encode()).hexdigest()))
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        out += "".join(f"{n}:{v}\r\n" for n, v in trailers).encode()
        out += f"x-amz-trailer-signature:{signature}\r\n\r\n".encode()
    return out


def raw_exchange(url: str, request: bytes, *, half_close: bool = False,
                 timeout: float = 15.0) -> bytes:
    """Send raw bytes on a fresh connection; what came back until it closed."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return received
