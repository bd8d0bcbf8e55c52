"""aws-chunked request bodies on the server.

The decoder itself lives in the shared engine.sigv4.chunked (which cannot import the
server's errors or its native CRC32C); this wraps it for the API layer: seeded from the
VerifiedRequest whose headers were checked, configured from the request headers, able to
check x-amz-checksum-crc32c with the engine's hot path, and raising EngineError.
"""

from __future__ import annotations

from awscrt.checksums import crc64nvme

from engine._hotpath import crc32c
from engine.errors import EngineError
from engine.iam.signature_types import VerifiedRequest
from engine.sigv4.canonical import (
    STREAMING_MODES,
    STREAMING_UNSIGNED_TRAILER,
    Headers,
    collect_headers,
)
from engine.sigv4.chunk_signing import CHECKSUMS
from engine.sigv4.chunked import ChunkedDecoder, ChunkedError


class Crc32c:
    """CRC32C (S3's "CRC32C") as a hashlib-style object, on the native hot path."""

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes | memoryview, /) -> None:
        self._value = crc32c(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


class Crc64Nvme:
    """CRC64NVME (S3's default checksum since 2025), awscrt's as botocore uses it."""

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes | memoryview, /) -> None:
        self._value = crc64nvme(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(8, "big")


SERVER_CHECKSUMS = {**CHECKSUMS, "crc32c": Crc32c, "crc64nvme": Crc64Nvme}


def _engine_error(exc: ChunkedError) -> EngineError:
    return EngineError(exc.code, exc.message, **exc.details)


class ChunkedBody:
    """Decodes one aws-chunked body: ``feed`` the bytes as they arrive and store what it
    returns; only once ``finish`` returns is every chunk signature, the trailer and its
    checksum known good."""

    def __init__(self, verified: VerifiedRequest, headers: Headers) -> None:
        mode = verified.payload_hash
        if mode not in STREAMING_MODES:
            raise ValueError(f"not an aws-chunked request: x-amz-content-sha256 is {mode}")
        by_name = collect_headers(headers)
        lengths = by_name.get("x-amz-decoded-content-length")
        if not lengths:
            raise EngineError(
                "MissingContentLength", "You must provide the Content-Length HTTP header.")
        try:
            decoded_length = int(lengths[0])
        except ValueError:
            raise EngineError(
                "InvalidArgument", "x-amz-decoded-content-length must be a number",
                ArgumentName="x-amz-decoded-content-length", ArgumentValue=lengths[0]) from None
        declared = [
            name for value in by_name.get("x-amz-trailer", ()) for name in value.split(",")
        ]
        signing = None if mode == STREAMING_UNSIGNED_TRAILER else verified.chunk_signing()
        try:
            self._decoder = ChunkedDecoder(
                mode, signing, declared_trailers=declared, decoded_length=decoded_length,
                checksums=SERVER_CHECKSUMS)
        except ChunkedError as exc:
            raise _engine_error(exc) from None

    @property
    def trailers(self) -> dict[str, str]:
        """Trailing headers received (x-amz-checksum-*), for the object's record."""
        return self._decoder.trailers

    @property
    def decoded(self) -> int:
        return self._decoder.decoded

    def feed(self, data: bytes) -> bytes:
        try:
            return self._decoder.feed(data)
        except ChunkedError as exc:
            raise _engine_error(exc) from None

    def finish(self) -> None:
        try:
            self._decoder.finish()
        except ChunkedError as exc:
            raise _engine_error(exc) from None
