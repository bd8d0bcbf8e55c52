"""What the SigV4/SigV2 verifier takes in and gives back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine.sigv4.canonical import Headers, collect_headers, credential_scope
from engine.sigv4.chunk_signing import ChunkSigning

Lookup = Callable[[str], str | None]
"""The identity store's answer to "what is the secret of this access key id?"."""


@dataclass(frozen=True)
class HttpRequest:
    """A request as received: method, path and query exactly as on the wire, headers by
    lower-case name with every value."""

    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, list[str]]

    @classmethod
    def of(cls, method: str, raw_path: str, raw_query: str, headers: Headers) -> HttpRequest:
        return cls(method.upper(), raw_path, raw_query.lstrip("?"), collect_headers(headers))

    def header(self, name: str) -> str | None:
        """The header's values joined as one (None when absent)."""
        values = self.headers.get(name)
        return None if values is None else ",".join(v.strip() for v in values)


@dataclass(frozen=True)
class VerifiedRequest:
    """Who signed a request and how. The signing key and seed signature let an
    aws-chunked body be verified chunk by chunk after the headers were.

    ``payload_hash`` is what was signed for the body: a hex digest, UNSIGNED-PAYLOAD or a
    STREAMING-* mode. A SigV2 link (``signature_version`` 2) has no signing time or key:
    ``amz_date`` and ``signing_key`` are empty and ``signed_at`` is when it was checked.
    """

    access_key_id: str
    region: str
    service: str
    amz_date: str
    signed_at: float
    security_token: str | None
    payload_hash: str
    seed_signature: str
    signing_key: bytes = field(repr=False)
    presigned: bool = False
    expires_at: float | None = None
    signature_version: int = 4

    @property
    def scope(self) -> str:
        return credential_scope(self.amz_date[:8], self.region, self.service)

    def chunk_signing(self) -> ChunkSigning:
        return ChunkSigning(self.signing_key, self.amz_date, self.scope, self.seed_signature)
