"""The checks header and query (presigned) SigV4 share: the credential scope, the
signature itself and the rule that every x-amz-* header sent is signed.

Only the wording of a bad credential differs between the two forms (S3 answers
AuthorizationHeaderMalformed for one, AuthorizationQueryParametersError for the other),
so the caller passes the error factory.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection
from dataclasses import dataclass

from engine.errors import EngineError
from engine.iam.signature_errors import headers_not_signed, signature_mismatch
from engine.iam.signature_types import HttpRequest
from engine.sigv4.canonical import (
    TERMINATOR,
    canonical_headers,
    canonical_query,
    canonical_request,
    canonical_uri,
    credential_scope,
    string_to_sign,
)
from engine.sigv4.keys import sign, signing_key

Malformed = Callable[..., EngineError]
"""(reason, **details) -> the error for a malformed credential, in the form's words."""

CREDENTIAL_FORMAT = (
    'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
)


@dataclass(frozen=True)
class Credential:
    """AKID/YYYYMMDD/region/service/aws4_request, split."""

    access_key_id: str
    date: str
    region: str
    service: str
    terminal: str


def parse_credential(value: str, malformed: Malformed) -> Credential:
    parts = value.strip().rsplit("/", 4)
    if len(parts) != 5:
        raise malformed(CREDENTIAL_FORMAT)
    if not parts[0]:
        raise malformed("a non-empty Access Key (AKID) must be provided in the credential.")
    return Credential(*parts)


def check_credential(
    credential: Credential, *, region: str, service: str, amz_date: str, malformed: Malformed
) -> None:
    """The scope must name this node's region and this endpoint's service, and the day
    the request was signed."""
    if credential.region != region:
        raise malformed(
            f"the region '{credential.region}' is wrong; expecting '{region}'", Region=region)
    if credential.service != service:
        raise malformed(
            f'incorrect service "{credential.service}". This endpoint belongs to "{service}".')
    if credential.terminal != TERMINATOR:
        raise malformed(
            f'incorrect terminal "{credential.terminal}". This endpoint uses "{TERMINATOR}".')
    if credential.date != amz_date[:8]:
        raise malformed(
            f'Invalid credential date "{credential.date}". This date is not the same as '
            f'X-Amz-Date: "{amz_date[:8]}".')


def check_signature(
    request: HttpRequest,
    *,
    credential: Credential,
    secret: str,
    amz_date: str,
    signed_headers: list[str],
    payload_hash: str,
    provided: str,
    exclude_query: frozenset[str] = frozenset(),
) -> bytes:
    """Recompute the signature over the request as received; return the signing key."""
    creq = canonical_request(
        request.method,
        canonical_uri(request.raw_path, credential.service),
        canonical_query(request.raw_query, exclude=exclude_query),
        canonical_headers(request.headers, signed_headers),
        ";".join(signed_headers),
        payload_hash,
    )
    scope = credential_scope(credential.date, credential.region, credential.service)
    sts = string_to_sign(amz_date, scope, creq)
    key = signing_key(secret, credential.date, credential.region, credential.service)
    expected = sign(key, sts)
    if not hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace")):
        raise signature_mismatch(credential.access_key_id, sts, provided, creq)
    return key


def check_all_signed(
    request: HttpRequest, signed_headers: Collection[str], exempt: Collection[str] = ()
) -> None:
    """S3 refuses x-amz-* headers the signature does not cover: they change what a
    request does (x-amz-copy-source, x-amz-acl), so an unsigned one could be injected."""
    unsigned = sorted(
        name for name in request.headers
        if name.startswith("x-amz-") and name not in signed_headers and name not in exempt
    )
    if unsigned:
        raise headers_not_signed(unsigned)
