"""Verifying SigV4 in the Authorization header (and in gRPC metadata, which is the same).

Checks run in S3's order, cheapest and most telling first: the header's shape, the
request time, the credential scope, the payload declaration, then the key and the
signature. The time is checked before the key so that a skewed client learns it is
skewed (botocore corrects its clock from RequestTimeTooSkewed) whatever its key.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from engine.iam.signature_check import (
    check_all_signed,
    check_credential,
    check_signature,
    parse_credential,
)
from engine.iam.signature_errors import (
    MAX_SKEW_SECONDS,
    content_sha256_not_signed,
    header_malformed,
    headers_not_signed,
    invalid_access_key,
    invalid_content_sha256,
    missing_content_sha256,
    missing_date,
    too_skewed,
)
from engine.iam.signature_types import HttpRequest, Lookup, VerifiedRequest
from engine.sigv4.canonical import (
    ALGORITHM,
    PAYLOAD_MODES,
    format_amz_date,
    is_s3,
    is_sha256_hex,
    parse_amz_date,
)

_COMPONENTS = ("Credential", "SignedHeaders", "Signature")
_THREE_COMPONENTS = (
    "the authorization header requires three components: Credential, SignedHeaders, and "
    "Signature."
)


def parse_authorization(value: str) -> dict[str, str]:
    """Credential, SignedHeaders and Signature of an ``AWS4-HMAC-SHA256 ...`` header;
    each exactly once, separated by commas (spaces optional)."""
    fields: dict[str, str] = {}
    for part in value.removeprefix(ALGORITHM).split(","):
        name, equals, field_value = part.strip().partition("=")
        if not equals or name not in _COMPONENTS or name in fields:
            raise header_malformed(_THREE_COMPONENTS)
        fields[name] = field_value.strip()
    if len(fields) != len(_COMPONENTS):
        raise header_malformed(_THREE_COMPONENTS)
    return fields


def request_time(request: HttpRequest) -> tuple[str, str, float]:
    """(the value as sent, its ISO 8601 basic form, epoch seconds) from x-amz-date, or
    from Date when x-amz-date is absent, as SigV4 allows."""
    amz = request.header("x-amz-date")
    if amz is not None:
        when = parse_amz_date(amz)
        if when is None:
            raise missing_date()
        return amz, amz, when
    date = request.header("date")
    if date:
        try:
            parsed = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            raise missing_date() from None
        if parsed.tzinfo is not None:
            when = parsed.timestamp()
            return date, format_amz_date(when), when
    raise missing_date()


def declared_payload(
    request: HttpRequest, signed: list[str], service: str, body_sha256: str | None
) -> str:
    """The payload hash to sign with: x-amz-content-sha256 when sent (S3 requires it;
    it must then be signed and well-formed), else the body's digest from the caller."""
    declared = request.header("x-amz-content-sha256")
    if declared is None:
        if is_s3(service):
            raise missing_content_sha256()
        if body_sha256 is None:
            raise ValueError(f"payload_hash is required to verify {service} requests")
        return body_sha256
    if declared not in PAYLOAD_MODES and not is_sha256_hex(declared):
        raise invalid_content_sha256(declared)
    if "x-amz-content-sha256" not in signed:
        raise content_sha256_not_signed()
    return declared


def verify_authorization(
    request: HttpRequest,
    authorization: str,
    *,
    service: str,
    region: str,
    now: float,
    lookup: Lookup,
    body_sha256: str | None,
) -> VerifiedRequest:
    fields = parse_authorization(authorization)
    credential = parse_credential(fields["Credential"], header_malformed)
    sent_time, amz_date, signed_at = request_time(request)
    if abs(now - signed_at) > MAX_SKEW_SECONDS:
        raise too_skewed(sent_time, now)
    check_credential(
        credential, region=region, service=service, amz_date=amz_date, malformed=header_malformed)
    signed = [name.strip().lower() for name in fields["SignedHeaders"].split(";") if name.strip()]
    if "host" not in signed:
        raise headers_not_signed(["host"])
    payload_hash = declared_payload(request, signed, service, body_sha256)
    secret = lookup(credential.access_key_id)
    if secret is None:
        raise invalid_access_key(credential.access_key_id)
    key = check_signature(
        request, credential=credential, secret=secret, amz_date=amz_date,
        signed_headers=signed, payload_hash=payload_hash, provided=fields["Signature"])
    check_all_signed(request, signed)
    return VerifiedRequest(
        access_key_id=credential.access_key_id, region=region, service=service,
        amz_date=amz_date, signed_at=signed_at,
        security_token=request.header("x-amz-security-token"), payload_hash=payload_hash,
        seed_signature=fields["Signature"], signing_key=key)
