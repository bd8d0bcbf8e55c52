"""The aws-chunked signature chain and the encoder a client frames a body with.

Chunk i is signed over the previous chunk's signature (the request's own signature for
the first: the seed), so a body cannot be cut, reordered or altered without the break
showing at that chunk. The -TRAILER modes end with trailing headers (x-amz-checksum-*)
after the zero-length chunk; STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER signs them with
x-amz-trailer-signature, chained to the last chunk's signature.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from engine.sigv4.canonical import (
    EMPTY_SHA256,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
)
from engine.sigv4.keys import sign

CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
TRAILER_ALGORITHM = "AWS4-HMAC-SHA256-TRAILER"
TRAILER_SIGNATURE = "x-amz-trailer-signature"
CHECKSUM_PREFIX = "x-amz-checksum-"


class Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


class Crc32:
    """CRC32 (zlib's polynomial, S3's "CRC32") as a hashlib-style object."""

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes | memoryview, /) -> None:
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


CHECKSUMS: Mapping[str, Callable[[], Hasher]] = {
    "crc32": Crc32, "sha1": hashlib.sha1, "sha256": hashlib.sha256,
}
"""The algorithms the standard library can check; a server adds crc32c (and any other)."""


@dataclass(frozen=True)
class ChunkSigning:
    """What the chain needs from the request's signature: its key, date, scope and the
    seed (the request's own signature)."""

    signing_key: bytes = field(repr=False)
    amz_date: str
    scope: str
    seed_signature: str


def chunk_signature(signing: ChunkSigning, previous: str, data_sha256: str) -> str:
    return sign(signing.signing_key, "\n".join(
        (CHUNK_ALGORITHM, signing.amz_date, signing.scope, previous, EMPTY_SHA256, data_sha256)
    ))


def canonical_trailers(trailers: Sequence[tuple[str, str]]) -> str:
    return "".join(f"{name}:{value}\n" for name, value in trailers)


def trailer_signature(
    signing: ChunkSigning, previous: str, trailers: Sequence[tuple[str, str]]
) -> str:
    digest = hashlib.sha256(canonical_trailers(trailers).encode()).hexdigest()
    return sign(signing.signing_key, "\n".join(
        (TRAILER_ALGORITHM, signing.amz_date, signing.scope, previous, digest)
    ))


def checksum_trailer(
    algorithm: str,
    chunks: Iterable[bytes],
    checksums: Mapping[str, Callable[[], Hasher]] = CHECKSUMS,
) -> tuple[str, str]:
    """("x-amz-checksum-<algorithm>", base64 digest) of the payload."""
    hasher = checksums[algorithm]()
    for chunk in chunks:
        hasher.update(chunk)
    return CHECKSUM_PREFIX + algorithm, base64.b64encode(hasher.digest()).decode()


def require_signing(mode: str, signing: ChunkSigning | None) -> ChunkSigning | None:
    if mode not in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER):
        raise ValueError(f"not an aws-chunked mode: {mode}")
    if mode != STREAMING_UNSIGNED_TRAILER and signing is None:
        raise ValueError(f"{mode} needs the request's signing context")
    return signing if mode != STREAMING_UNSIGNED_TRAILER else None


class ChunkedEncoder:
    """Frames a payload as aws-chunked: ``chunk()`` per piece, ``finish()`` once."""

    def __init__(self, mode: str, signing: ChunkSigning | None = None) -> None:
        self._mode = mode
        self._signing = require_signing(mode, signing)
        self._previous = signing.seed_signature if self._signing and signing else ""

    def chunk(self, data: bytes) -> bytes:
        if not data:
            raise ValueError("an empty chunk ends the body: call finish()")
        return self._header(len(data), data) + data + b"\r\n"

    def finish(self, trailers: Sequence[tuple[str, str]] = ()) -> bytes:
        if trailers and self._mode == STREAMING_SIGNED:
            raise ValueError(f"{STREAMING_SIGNED} carries no trailers")
        out = self._header(0, b"") + b"".join(f"{n}:{v}\r\n".encode() for n, v in trailers)
        if self._mode == STREAMING_SIGNED_TRAILER and self._signing:
            signature = trailer_signature(self._signing, self._previous, trailers)
            out += f"{TRAILER_SIGNATURE}:{signature}\r\n".encode()
        return out + b"\r\n"

    def _header(self, size: int, data: bytes) -> bytes:
        if self._signing is None:
            return f"{size:x}\r\n".encode()
        digest = hashlib.sha256(data).hexdigest()
        self._previous = chunk_signature(self._signing, self._previous, digest)
        return f"{size:x};chunk-signature={self._previous}\r\n".encode()
