"""The usual signed gRPC call, accepted in a few microseconds.

Nearly every call the SDK makes has the same shape: ``host``, ``x-amz-date``,
``x-amz-content-sha256`` and ``authorization`` with exactly those signed headers, no
session token, a method path and host that the canonical form leaves untouched. For
those, :func:`accept_plain` checks what the general verifier checks (engine.iam.
signature_header: scope, date, skew, body digest, key, signature) with the canonical
request written out (engine.sigv4.grpc_meta.plain_signature) instead of built from parsed
parts, which cost more than the rest of authorization.

It only ever accepts. Anything else, a failure included, returns None and the caller
runs the general verifier, which decides again and names the error precisely; so the two
can differ in speed, never in what they let in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

from engine.iam.signature_errors import MAX_SKEW_SECONDS
from engine.iam.signature_types import Lookup, VerifiedRequest
from engine.sigv4.canonical import ALGORITHM, TERMINATOR, UNSIGNED_PAYLOAD, parse_amz_date
from engine.sigv4.grpc_meta import SIGNED_HEADERS, plain_signature
from engine.sigv4.keys import signing_key

_AUTHORIZATION = re.compile(
    rf"{ALGORITHM} Credential=([A-Za-z0-9]+)/(\d{{8}})/([a-z0-9-]+)/([a-z0-9-]+)/"
    rf"{TERMINATOR}, SignedHeaders={SIGNED_HEADERS}, Signature=([0-9a-f]{{64}})")

_SIGNED = frozenset({"authorization", "host", "x-amz-date", "x-amz-content-sha256"})
_PREFIX = "x-amz-"


def accept_plain(method_path: str, metadata: Sequence[tuple[str, str | bytes]], *,
                 service: str, region: str, now: float, lookup: Lookup,
                 message: bytes | None) -> VerifiedRequest | None:
    headers = dict(metadata)
    if len(headers) != len(metadata):
        return None  # a repeated entry: the general path joins them as HTTP does
    authorization = headers.get("authorization")
    host = headers.get("host")
    amz_date = headers.get("x-amz-date")
    payload = headers.get("x-amz-content-sha256")
    if not (isinstance(authorization, str) and isinstance(host, str)
            and isinstance(amz_date, str) and isinstance(payload, str)):
        return None
    for key in headers:
        if key.startswith(_PREFIX) and key not in _SIGNED:
            return None  # a session token, or anything the general path must weigh
    match = _AUTHORIZATION.fullmatch(authorization)
    if match is None:
        return None
    key_id, day, scope_region, scope_service, provided = match.groups()
    if scope_region != region or scope_service != service or day != amz_date[:8]:
        return None
    signed_at = parse_amz_date(amz_date)
    if signed_at is None or abs(now - signed_at) > MAX_SKEW_SECONDS:
        return None
    expected = UNSIGNED_PAYLOAD if message is None else hashlib.sha256(message).hexdigest()
    if payload != expected:
        return None
    secret = lookup(key_id)
    if secret is None:
        return None
    key = signing_key(secret, day, region, service)
    signature = plain_signature(method_path, host, amz_date, payload, key,
                                f"{day}/{region}/{service}/{TERMINATOR}")
    if signature is None or not hmac.compare_digest(signature, provided):
        return None
    return VerifiedRequest(
        access_key_id=key_id, region=region, service=service, amz_date=amz_date,
        signed_at=signed_at, security_token=None, payload_hash=payload,
        seed_signature=provided, signing_key=key)
