"""The errors S3 answers a badly authenticated request with, word for word.

Clients branch on these codes (botocore corrects its clock on RequestTimeTooSkewed and
retries in the right region on AuthorizationHeaderMalformed's Region), and people debug
with the details (S3 returns the StringToSign and CanonicalRequest it computed), so
both are S3's. Nothing here ever carries a secret or a signing key.
"""

from __future__ import annotations

from engine.errors import EngineError
from engine.sigv4.canonical import format_iso_date

MAX_SKEW_SECONDS = 15 * 60

_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
_SUPPORTED_MODES = (
    "UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
)


def header_malformed(reason: str, **details: str) -> EngineError:
    return EngineError(
        "AuthorizationHeaderMalformed", f"The authorization header is malformed; {reason}",
        **details)


def query_malformed(message: str, **details: str) -> EngineError:
    return EngineError("AuthorizationQueryParametersError", message, **details)


def invalid_access_key(access_key_id: str) -> EngineError:
    return EngineError(
        "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
        AWSAccessKeyId=access_key_id)


def _hex_bytes(text: str) -> str:
    return " ".join(f"{b:02x}" for b in text.encode("utf-8", errors="surrogateescape"))


def signature_mismatch(
    access_key_id: str,
    string_to_sign: str,
    provided: str,
    canonical_request: str | None = None,
) -> EngineError:
    """S3's SignatureDoesNotMatch with what the server signed, so a client author can diff
    it with their own; SigV2 has no canonical request."""
    details = {
        "AWSAccessKeyId": access_key_id,
        "StringToSign": string_to_sign,
        "SignatureProvided": provided,
        "StringToSignBytes": _hex_bytes(string_to_sign),
    }
    if canonical_request is not None:
        details["CanonicalRequest"] = canonical_request
        details["CanonicalRequestBytes"] = _hex_bytes(canonical_request)
    return EngineError("SignatureDoesNotMatch", _SIGNATURE_MISMATCH, **details)


def too_skewed(request_time: str, now: float) -> EngineError:
    return EngineError(
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
        RequestTime=request_time, ServerTime=format_iso_date(now),
        MaxAllowedSkewMilliseconds=str(MAX_SKEW_SECONDS * 1000))


def expired(expires_at: float, now: float, x_amz_expires: str | None = None) -> EngineError:
    details = {"Expires": format_iso_date(expires_at), "ServerTime": format_iso_date(now)}
    if x_amz_expires is not None:
        details = {"X-Amz-Expires": x_amz_expires, **details}
    return EngineError("AccessDenied", "Request has expired", **details)


def not_yet_valid(signed_at: float, expires_at: float, now: float) -> EngineError:
    """S3 reports X-Amz-Date in epoch milliseconds here (and only here)."""
    return EngineError(
        "AccessDenied", "Request is not yet valid",
        **{"X-Amz-Date": str(int(signed_at) * 1000), "Expires": format_iso_date(expires_at),
           "ServerTime": format_iso_date(now)})


def missing_date() -> EngineError:
    return EngineError(
        "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")


def headers_not_signed(names: list[str]) -> EngineError:
    return EngineError(
        "AccessDenied", "There were headers present in the request which were not signed",
        HeadersNotSigned=", ".join(names))


def missing_content_sha256() -> EngineError:
    return EngineError(
        "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")


def content_sha256_not_signed() -> EngineError:
    return EngineError(
        "InvalidRequest", "header 'x-amz-content-sha256' must be included in signature")


def invalid_content_sha256(value: str) -> EngineError:
    return EngineError(
        "InvalidArgument",
        f"x-amz-content-sha256 must be {_SUPPORTED_MODES}, or a valid sha256 value.",
        ArgumentName="x-amz-content-sha256", ArgumentValue=value)


def content_sha256_mismatch(client: str, computed: str) -> EngineError:
    return EngineError(
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ClientComputedContentSHA256=client, S3ComputedContentSHA256=computed)


def unsupported_mechanism() -> EngineError:
    return EngineError(
        "InvalidRequest",
        "The authorization mechanism you have provided is not supported. Please use "
        "AWS4-HMAC-SHA256.")


def unsupported_authorization_type(value: str) -> EngineError:
    return EngineError(
        "InvalidArgument", "Unsupported Authorization Type",
        ArgumentName="Authorization", ArgumentValue=value)


def several_mechanisms() -> EngineError:
    return EngineError(
        "InvalidArgument",
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature "
        "query string parameter or the Authorization header should be specified",
        ArgumentName="Authorization")
