"""Request authentication: who signed this request, or the AWS error saying why not.

One entry point per transport. ``verify_request`` takes an HTTP request as received (S3
REST, SQS, IAM, STS) and picks the form its signature came in: the Authorization header,
a SigV4 presigned URL, or an S3 SigV2 presigned URL. ``verify_grpc`` takes a call's
metadata, signed as engine.sigv4.grpc_meta describes. Both return None when the request
carries no credentials at all, so the caller decides whether anonymous access is allowed,
and a VerifiedRequest otherwise. Session tokens are returned, not checked: the identity
store that knows them does that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from engine.iam.signature_errors import (
    content_sha256_mismatch,
    missing_content_sha256,
    several_mechanisms,
    unsupported_authorization_type,
    unsupported_mechanism,
)
from engine.iam.signature_grpc import accept_plain
from engine.iam.signature_header import verify_authorization
from engine.iam.signature_query import verify_presigned
from engine.iam.signature_types import HttpRequest, Lookup, VerifiedRequest
from engine.iam.signature_v2 import verify_presigned_v2
from engine.sigv4.canonical import ALGORITHM, Headers, is_s3, is_sha256_hex, query_pairs
from engine.sigv4.grpc_meta import GRPC_METHOD, text_metadata

__all__ = [
    "HttpRequest",
    "Lookup",
    "VerifiedRequest",
    "check_payload_hash",
    "verify_grpc",
    "verify_request",
]

_V4_QUERY = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_V2_QUERY = ("AWSAccessKeyId", "Signature")


def verify_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    *,
    service: str,
    region: str,
    now: float,
    lookup: Lookup,
    payload_hash: str | None = None,
    resource_path: str | None = None,
) -> VerifiedRequest | None:
    """Verify an HTTP request's signature.

    ``raw_path`` and ``raw_query`` are exactly as received (still percent-encoded);
    ``headers`` may repeat names. ``payload_hash`` is the body's hex SHA-256 when the
    caller has it: services whose clients send no x-amz-content-sha256 (all but S3)
    need it, and when given a different declared digest is XAmzContentSHA256Mismatch.
    A streamed S3 body is checked afterwards with ``check_payload_hash``.
    ``resource_path`` (/bucket/key) is for SigV2 links to virtual-hosted buckets.
    """
    request = HttpRequest.of(method, raw_path, raw_query, headers)
    params: dict[str, str] = {}
    for name, value in query_pairs(request.raw_query):
        params.setdefault(name, value)
    authorization = request.header("authorization")
    in_query_v4 = any(name in params for name in _V4_QUERY)
    in_query_v2 = is_s3(service) and any(name in params for name in _V2_QUERY)
    if authorization is not None:
        if in_query_v4 or in_query_v2:
            raise several_mechanisms()
        if authorization.startswith(ALGORITHM + " "):
            verified = verify_authorization(
                request, authorization, service=service, region=region, now=now,
                lookup=lookup, body_sha256=payload_hash)
        elif authorization.startswith("AWS "):
            raise unsupported_mechanism()
        else:
            raise unsupported_authorization_type(authorization)
    elif in_query_v4:
        verified = verify_presigned(
            request, params, service=service, region=region, now=now, lookup=lookup,
            body_sha256=payload_hash)
    elif in_query_v2:
        verified = verify_presigned_v2(
            request, params, region=region, now=now, lookup=lookup, resource_path=resource_path)
    elif not is_s3(service) and any(name in params for name in _V2_QUERY):
        raise unsupported_mechanism()
    else:
        return None
    if payload_hash is not None:
        check_payload_hash(verified, payload_hash)
    return verified


def verify_grpc(
    method_path: str,
    metadata: Iterable[tuple[str, str | bytes]],
    *,
    service: str,
    region: str,
    now: float,
    lookup: Lookup,
    message: bytes | None = None,
    authority: str | None = None,
) -> VerifiedRequest | None:
    """Verify a gRPC call signed by ``engine.sigv4.sign_grpc``.

    ``message`` is the serialized request exactly as received, for a unary call; its
    digest must match x-amz-content-sha256 (re-serializing a parsed message is not
    guaranteed to give the same bytes, so pass the received ones). ``authority``, when
    the server knows the name it was reached by, replaces the host the client claims.
    """
    if authority is None:
        accepted = accept_plain(method_path, metadata, service=service, region=region,
                                now=now, lookup=lookup, message=message)
        if accepted is not None:
            return accepted
    headers = text_metadata(metadata)
    if authority is not None:
        headers = [(k, v) for k, v in headers if k.lower() != "host"] + [("host", authority)]
    names = {key.lower() for key, _ in headers}
    if "authorization" not in names:
        return None
    if "x-amz-content-sha256" not in names:
        raise missing_content_sha256()
    body_sha256 = None if message is None else hashlib.sha256(message).hexdigest()
    return verify_request(
        GRPC_METHOD, method_path, "", headers, service=service, region=region, now=now,
        lookup=lookup, payload_hash=body_sha256)


def check_payload_hash(verified: VerifiedRequest, body_sha256: str) -> None:
    """Raise XAmzContentSHA256Mismatch when the request declared (and signed) a body
    digest other than the body's; UNSIGNED-PAYLOAD and streaming modes declare none."""
    declared = verified.payload_hash
    if is_sha256_hex(declared) and declared.lower() != body_sha256.lower():
        raise content_sha256_mismatch(declared, body_sha256)
