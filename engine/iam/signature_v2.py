"""Verifying S3's legacy SigV2 query-string authentication (AWSAccessKeyId, Expires,
Signature).

boto3 still produces these links when told ``signature_version="s3"`` and old tools
share them, so a GET of such a link must work. The string to sign is S3's:

    METHOD \\n Content-MD5 \\n Content-Type \\n Expires \\n
    x-amz-*:values \\n ...  (sorted, lower-case names)
    /bucket/key?sub-resources (only those S3 lists, sorted, values decoded)

signed with HMAC-SHA1 and base64. x-amz-* query parameters count as headers, since a
presigner moves them (the session token, say) into the URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import unquote

from engine.errors import EngineError
from engine.iam.signature_errors import expired, invalid_access_key, signature_mismatch
from engine.iam.signature_types import HttpRequest, Lookup, VerifiedRequest
from engine.sigv4.canonical import UNSIGNED_PAYLOAD, query_pairs

SUBRESOURCES = frozenset({
    "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
    "lifecycle", "location", "logging", "metrics", "notification", "object-lock",
    "partNumber", "policy", "replication", "requestPayment", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "response-content-language",
    "response-content-type", "response-expires", "restore", "select", "select-type",
    "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
    "versions", "website",
})
"""The query parameters S3 folds into the signed resource (the documented
sub-resources and response overrides, as botocore signs them)."""

V2_PARAMS = ("AWSAccessKeyId", "Signature", "Expires")


def canonical_resource(raw_path: str, raw_query: str) -> str:
    """The path as sent, then the sub-resources: name, or name=decoded-value when the
    URL had an '='."""
    found = []
    for item in raw_query.split("&"):
        name, equals, value = item.partition("=")
        name = unquote(name)
        if name in SUBRESOURCES:
            found.append(name + (f"={unquote(value)}" if equals else ""))
    found.sort(key=lambda entry: entry.partition("=")[0])
    return raw_path + ("?" + "&".join(found) if found else "")


def string_to_sign_v2(request: HttpRequest, expires: str, resource: str) -> str:
    query = query_pairs(request.raw_query)
    amz: dict[str, list[str]] = {}
    for name, values in request.headers.items():
        if name.startswith("x-amz-"):
            amz.setdefault(name, []).extend(values)
    for name, value in query:
        if name.lower().startswith("x-amz-"):
            amz.setdefault(name.lower(), []).append(value)
    lowered = {name.lower(): value for name, value in query}
    lines = [
        request.method,
        _standard(request, lowered, "content-md5"),
        _standard(request, lowered, "content-type"),
        expires,
    ]
    lines += [f"{name}:{','.join(v.strip() for v in amz[name])}" for name in sorted(amz)]
    lines.append(resource)
    return "\n".join(lines)


def _standard(request: HttpRequest, query: dict[str, str], name: str) -> str:
    value = request.header(name)
    return (value if value is not None else query.get(name, "")).strip()


def sign_v2(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_presigned_v2(
    request: HttpRequest,
    params: dict[str, str],
    *,
    region: str,
    now: float,
    lookup: Lookup,
    resource_path: str | None = None,
) -> VerifiedRequest:
    """``resource_path`` is /bucket/key when the bucket came in the Host (virtual-hosted
    style), since SigV2 signs the bucket either way."""
    if any(name not in params for name in V2_PARAMS):
        raise EngineError(
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId "
            "parameters")
    try:
        expires_at = int(params["Expires"])
    except ValueError:
        raise EngineError(
            "AccessDenied",
            f"Invalid date (should be seconds since epoch): {params['Expires']}") from None
    if now > expires_at:
        raise expired(expires_at, now)
    access_key_id = params["AWSAccessKeyId"]
    secret = lookup(access_key_id)
    if secret is None:
        raise invalid_access_key(access_key_id)
    resource = canonical_resource(resource_path or request.raw_path, request.raw_query)
    sts = string_to_sign_v2(request, params["Expires"], resource)
    provided = params["Signature"]
    if not hmac.compare_digest(sign_v2(secret, sts).encode(), provided.encode("utf-8", "replace")):
        raise signature_mismatch(access_key_id, sts, provided)
    token = request.header("x-amz-security-token") or params.get("x-amz-security-token")
    return VerifiedRequest(
        access_key_id=access_key_id, region=region, service="s3", amz_date="",
        signed_at=now, security_token=token, payload_hash=UNSIGNED_PAYLOAD,
        seed_signature=provided, signing_key=b"", presigned=True,
        expires_at=float(expires_at), signature_version=2)
