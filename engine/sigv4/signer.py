"""Signing a request: the Authorization header form and the presigned-URL form.

The URL passed in is the one that will be sent: its path and query already
percent-encoded (as botocore builds them; ``uri_encode(key, safe="/")`` encodes an S3
key), because the verifier sees only the wire form and S3 signs the path exactly as sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

from engine.sigv4.canonical import (
    ALGORITHM,
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    Headers,
    canonical_headers,
    canonical_query,
    canonical_request,
    canonical_uri,
    collect_headers,
    credential_scope,
    format_amz_date,
    is_s3,
    string_to_sign,
    uri_encode,
)
from engine.sigv4.keys import Credentials, sign, signing_key

MAX_EXPIRES = 7 * 24 * 3600
"""SigV4 presigned URLs live at most a week (604800 s)."""

UNSIGNABLE_HEADERS = frozenset({
    "authorization", "connection", "expect", "keep-alive", "proxy-authenticate",
    "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
    "x-amzn-trace-id",
})
"""Headers a proxy or HTTP library may add, drop or rewrite: signing them would make the
signature depend on the path the request takes (botocore leaves the same ones out)."""

_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


@dataclass(frozen=True)
class SignedRequest:
    """What signing produced. ``headers`` are the ones to add to the request (Host is not
    among them: the HTTP library sends it); the rest explains the signature and, with
    ``signing_key``, seeds an aws-chunked body's signature chain."""

    headers: list[tuple[str, str]]
    signature: str
    amz_date: str
    scope: str
    signed_headers: str
    canonical_request: str
    string_to_sign: str
    signing_key: bytes = field(repr=False)


def host_header(url: str | SplitResult) -> str:
    """The Host an HTTP client sends for ``url``: lower-case, no userinfo, no default
    port."""
    parts = urlsplit(url) if isinstance(url, str) else url
    host = parts.netloc.rpartition("@")[2].lower()
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    if default and host.endswith(default):
        host = host[: -len(default)]
    return host


def sign_headers(
    method: str,
    path: str,
    raw_query: str,
    headers: dict[str, list[str]],
    payload_hash: str,
    credentials: Credentials,
    region: str,
    service: str,
    amz_date: str,
) -> SignedRequest:
    """The core every form shares: sign ``headers`` (lower-case names, all of them
    signed) over a wire path and query. Returns an Authorization header only."""
    names = sorted(headers)
    scope = credential_scope(amz_date[:8], region, service)
    creq = canonical_request(
        method, canonical_uri(path, service), canonical_query(raw_query),
        canonical_headers(headers, names), ";".join(names), payload_hash,
    )
    sts = string_to_sign(amz_date, scope, creq)
    key = signing_key(credentials.secret_access_key, amz_date[:8], region, service)
    signature = sign(key, sts)
    authorization = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return SignedRequest(
        [("authorization", authorization)], signature, amz_date, scope, ";".join(names),
        creq, sts, key,
    )


def sign_request(
    method: str,
    url: str,
    headers: Headers,
    credentials: Credentials,
    region: str,
    service: str,
    now: float,
    *,
    payload_hash: str = EMPTY_SHA256,
) -> SignedRequest:
    """Sign with an Authorization header. Every header given is signed (but the
    unsignable ones); Host comes from the URL unless given. ``payload_hash`` is the
    body's hex SHA-256 or a mode (UNSIGNED-PAYLOAD, STREAMING-...). For S3 it is also
    sent as x-amz-content-sha256, which S3 requires; other services take it as is."""
    parts = urlsplit(url)
    signed = {
        name: values for name, values in collect_headers(headers).items()
        if name not in UNSIGNABLE_HEADERS
    }
    declared = signed.get("x-amz-content-sha256")
    if declared is not None and declared != [payload_hash]:
        raise ValueError("x-amz-content-sha256 differs from payload_hash")
    signed.setdefault("host", [host_header(parts)])
    amz_date = format_amz_date(now)
    added = [("x-amz-date", amz_date)]
    if is_s3(service) and declared is None:
        added.append(("x-amz-content-sha256", payload_hash))
    if credentials.session_token:
        added.append(("x-amz-security-token", credentials.session_token))
    for name, value in added:
        signed[name] = [value]
    result = sign_headers(
        method, parts.path, parts.query, signed, payload_hash, credentials, region,
        service, amz_date,
    )
    return SignedRequest(
        added + result.headers, result.signature, result.amz_date, result.scope,
        result.signed_headers, result.canonical_request, result.string_to_sign,
        result.signing_key,
    )


def presign_url(
    method: str,
    url: str,
    credentials: Credentials,
    region: str,
    service: str,
    expires: int,
    now: float,
    *,
    headers: Iterable[tuple[str, str]] = (),
    payload_hash: str | None = None,
) -> str:
    """A presigned URL (query-string authentication) valid ``expires`` seconds from
    ``now``, 1..604800. ``headers`` are ones the eventual request will carry and must
    match (Content-Type for an upload, say); Host is always signed. The payload is
    UNSIGNED-PAYLOAD for S3, whose links are for arbitrary bodies, and the empty body's
    hash elsewhere unless ``payload_hash`` says otherwise."""
    if isinstance(expires, bool) or not isinstance(expires, int):
        raise TypeError("expires must be an int number of seconds")
    if not 1 <= expires <= MAX_EXPIRES:
        raise ValueError(f"expires must be between 1 and {MAX_EXPIRES} seconds")
    parts = urlsplit(url)
    signed = {
        name: values for name, values in collect_headers(headers).items()
        if name not in UNSIGNABLE_HEADERS
    }
    signed.setdefault("host", [host_header(parts)])
    names = sorted(signed)
    amz_date = format_amz_date(now)
    scope = credential_scope(amz_date[:8], region, service)
    auth = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{credentials.access_key_id}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", ";".join(names)),
    ]
    if credentials.session_token:
        auth.append(("X-Amz-Security-Token", credentials.session_token))
    auth_query = "&".join(f"{name}={uri_encode(value)}" for name, value in auth)
    query = f"{parts.query}&{auth_query}" if parts.query else auth_query
    if payload_hash is None:
        payload_hash = UNSIGNED_PAYLOAD if is_s3(service) else EMPTY_SHA256
    creq = canonical_request(
        method, canonical_uri(parts.path, service), canonical_query(query),
        canonical_headers(signed, names), ";".join(names), payload_hash,
    )
    key = signing_key(credentials.secret_access_key, amz_date[:8], region, service)
    signature = sign(key, string_to_sign(amz_date, scope, creq))
    return urlunsplit(parts._replace(query=f"{query}&X-Amz-Signature={signature}"))


def body_sha256(body: bytes) -> str:
    """The hex digest a signed body declares in x-amz-content-sha256."""
    return hashlib.sha256(body).hexdigest()
