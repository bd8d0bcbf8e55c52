"""Verifying SigV4 query-string authentication: presigned URLs (X-Amz-Signature).

A presigned URL is a bearer credential anyone holding it can use, so it carries its own
lifetime: X-Amz-Date plus X-Amz-Expires (at most a week), checked against the engine
clock rather than the 15-minute skew window of header authentication.
"""

from __future__ import annotations

from engine.errors import EngineError
from engine.iam.signature_check import (
    check_all_signed,
    check_credential,
    check_signature,
    parse_credential,
)
from engine.iam.signature_errors import (
    MAX_SKEW_SECONDS,
    expired,
    headers_not_signed,
    invalid_access_key,
    invalid_content_sha256,
    not_yet_valid,
    query_malformed,
)
from engine.iam.signature_types import HttpRequest, Lookup, VerifiedRequest
from engine.sigv4.canonical import (
    ALGORITHM,
    PAYLOAD_MODES,
    UNSIGNED_PAYLOAD,
    is_s3,
    is_sha256_hex,
    parse_amz_date,
)
from engine.sigv4.signer import MAX_EXPIRES

QUERY_AUTH_PARAMS = (
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
    "X-Amz-SignedHeaders", "X-Amz-Expires",
)
_EXCLUDED = frozenset({"X-Amz-Signature"})


def _credential_error(reason: str, **details: str) -> EngineError:
    return query_malformed(f"Error parsing the X-Amz-Credential parameter; {reason}", **details)


def parse_expires(value: str) -> int:
    try:
        expires = int(value)
    except ValueError:
        raise query_malformed("X-Amz-Expires should be a number") from None
    if expires < 0:
        raise query_malformed("X-Amz-Expires must be non-negative")
    if expires > MAX_EXPIRES:
        raise query_malformed(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given "
            f"X-Amz-Expires must be less than {MAX_EXPIRES} seconds")
    return expires


def verify_presigned(
    request: HttpRequest,
    params: dict[str, str],
    *,
    service: str,
    region: str,
    now: float,
    lookup: Lookup,
    body_sha256: str | None,
) -> VerifiedRequest:
    if any(name not in params for name in QUERY_AUTH_PARAMS):
        raise query_malformed(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters.")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise query_malformed(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    amz_date = params["X-Amz-Date"]
    signed_at = parse_amz_date(amz_date)
    if signed_at is None:
        raise query_malformed(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    expires = parse_expires(params["X-Amz-Expires"])
    credential = parse_credential(params["X-Amz-Credential"], _credential_error)
    check_credential(
        credential, region=region, service=service, amz_date=amz_date,
        malformed=_credential_error)
    signed = [n.strip().lower() for n in params["X-Amz-SignedHeaders"].split(";") if n.strip()]
    if "host" not in signed:
        raise headers_not_signed(["host"])
    expires_at = signed_at + expires
    if signed_at - now > MAX_SKEW_SECONDS:
        raise not_yet_valid(signed_at, expires_at, now)
    if now > expires_at:
        raise expired(expires_at, now, params["X-Amz-Expires"])
    payload_hash = _payload(params, service, body_sha256)
    secret = lookup(credential.access_key_id)
    if secret is None:
        raise invalid_access_key(credential.access_key_id)
    key = check_signature(
        request, credential=credential, secret=secret, amz_date=amz_date,
        signed_headers=signed, payload_hash=payload_hash,
        provided=params["X-Amz-Signature"], exclude_query=_EXCLUDED)
    check_all_signed(request, signed, exempt=("x-amz-content-sha256",))
    return VerifiedRequest(
        access_key_id=credential.access_key_id, region=region, service=service,
        amz_date=amz_date, signed_at=signed_at,
        security_token=params.get("X-Amz-Security-Token"), payload_hash=payload_hash,
        seed_signature=params["X-Amz-Signature"], signing_key=key, presigned=True,
        expires_at=expires_at)


def _payload(params: dict[str, str], service: str, body_sha256: str | None) -> str:
    """S3 links are for any body (UNSIGNED-PAYLOAD) unless the URL itself pins a digest
    in X-Amz-Content-Sha256; other services sign the body, as botocore's presigner does."""
    pinned = params.get("X-Amz-Content-Sha256")
    if pinned is not None:
        if pinned not in PAYLOAD_MODES and not is_sha256_hex(pinned):
            raise invalid_content_sha256(pinned)
        return pinned
    if is_s3(service):
        return UNSIGNED_PAYLOAD
    if body_sha256 is None:
        raise ValueError(f"payload_hash is required to verify {service} requests")
    return body_sha256
