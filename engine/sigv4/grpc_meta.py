"""SigV4 over gRPC: how the SDK signs every call and what the server checks.

A call is signed exactly as an HTTP request would be, so one verifier serves both:

- method ``POST``, path the gRPC method path (``/engine.v1.Objects/PutObject``), empty
  query;
- signed headers, sent as metadata (lower-case keys, as gRPC requires):

  ``host``                  the authority the client dialled (``127.0.0.1:50051``). A gRPC
                            server (grpcio's included) does not show handlers the
                            ``:authority`` pseudo-header, so the client sends it again; the
                            value equals ``:authority``, as RFC 9113 8.3.1 asks.
  ``x-amz-date``            ``20150830T123600Z``; the server allows 15 minutes of skew.
  ``x-amz-content-sha256``  hex SHA-256 of the serialized request message for a unary call;
                            ``UNSIGNED-PAYLOAD`` for a streaming call, whose messages do
                            not exist yet when the call starts.
  ``x-amz-security-token``  only with temporary (STS) credentials.

- ``authorization``: ``AWS4-HMAC-SHA256 Credential=AKID/YYYYMMDD/region/service/
  aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=<hex>``.

The secret never travels, only the access key id and an HMAC that binds the method,
host, time and message. As with AWS, a captured call can be replayed until its date is
15 minutes old; TLS is what keeps calls from being captured.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from functools import lru_cache

from engine.sigv4.canonical import ALGORITHM, TERMINATOR, UNSIGNED_PAYLOAD, format_amz_date
from engine.sigv4.keys import Credentials, signing_key
from engine.sigv4.signer import sign_headers

GRPC_METHOD = "POST"


SIGNED_HEADERS = "host;x-amz-content-sha256;x-amz-date"
# A path and host the canonical form leaves as they are: nothing to encode, no empty,
# "." or ".." segment to normalize away (non-S3 services), nothing to trim.
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)+")
_PLAIN_HOST = re.compile(r"[A-Za-z0-9.:\[\]_-]+")


@lru_cache(maxsize=1024)
def _plain(method_path: str, host: str) -> bool:
    """A client calls a few methods of one host: the checks run once per pair."""
    return (_PLAIN_PATH.fullmatch(method_path) is not None
            and _PLAIN_HOST.fullmatch(host) is not None)


def plain_signature(method_path: str, host: str, amz_date: str, payload: str,
                    key: bytes, scope: str) -> str | None:
    """The signature of the usual call (no session token, plain path and host), written
    out: what :func:`sign_headers` computes through the general canonical form, at a
    fraction of the cost on both sides of every call. None: not such a call; the general
    form applies (a test holds the two equal)."""
    if not _plain(method_path, host):
        return None
    canonical = (f"{GRPC_METHOD}\n{method_path}\n\nhost:{host}\nx-amz-content-sha256:"
                 f"{payload}\nx-amz-date:{amz_date}\n\n{SIGNED_HEADERS}\n{payload}")
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.digest(key, f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}".encode(),
                       "sha256").hex()


def sign_grpc(
    method_path: str,
    authority: str,
    message_bytes: bytes | None,
    credentials: Credentials,
    region: str,
    service: str,
    now: float,
) -> list[tuple[str, str]]:
    """The metadata to send with one call; ``message_bytes`` is the serialized request of
    a unary call, None for a streaming one."""
    if message_bytes is None:
        payload = UNSIGNED_PAYLOAD
    else:
        payload = hashlib.sha256(message_bytes).hexdigest()
    amz_date = format_amz_date(now)
    if not credentials.session_token:
        day = amz_date[:8]
        scope = f"{day}/{region}/{service}/{TERMINATOR}"
        key = signing_key(credentials.secret_access_key, day, region, service)
        signature = plain_signature(method_path, authority, amz_date, payload, key, scope)
        if signature is not None:
            return [("host", authority), ("x-amz-date", amz_date),
                    ("x-amz-content-sha256", payload),
                    ("authorization", f"{ALGORITHM} Credential={credentials.access_key_id}/"
                                      f"{scope}, SignedHeaders={SIGNED_HEADERS}, "
                                      f"Signature={signature}")]
    metadata = [("host", authority), ("x-amz-date", amz_date), ("x-amz-content-sha256", payload)]
    if credentials.session_token:
        metadata.append(("x-amz-security-token", credentials.session_token))
    signed = sign_headers(
        GRPC_METHOD, method_path, "", {name: [value] for name, value in metadata}, payload,
        credentials, region, service, amz_date,
    )
    return metadata + signed.headers


def text_metadata(metadata: Iterable[tuple[str, str | bytes]]) -> list[tuple[str, str]]:
    """The text entries of received metadata as headers; binary (-bin) values carry no
    signed data and are left out."""
    return [(key, value) for key, value in metadata if isinstance(value, str)]
