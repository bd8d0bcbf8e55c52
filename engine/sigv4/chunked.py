"""Decoding aws-chunked request bodies as they arrive.

With x-amz-content-sha256 STREAMING-AWS4-HMAC-SHA256-PAYLOAD each chunk is
``hex-size;chunk-signature=SIG\\r\\n DATA \\r\\n``; the -TRAILER variants end with
trailing headers after the zero-length chunk; STREAMING-UNSIGNED-PAYLOAD-TRAILER has
neither chunk nor trailer signatures (``hex-size\\r\\n DATA \\r\\n``), only the checksum.
The chain itself and the encoder are in engine.sigv4.chunk_signing.

The decoder is fed bytes as they arrive and returns payload bytes at once, so memory
stays bounded by the feed size plus one header line (4 KiB by default) whatever the chunk
size. Bytes of a chunk are returned before that chunk's signature is checked at its end:
a caller treats the body as unverified until ``finish()`` returns.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence

from engine.sigv4.canonical import STREAMING_SIGNED, STREAMING_SIGNED_TRAILER
from engine.sigv4.chunk_signing import (
    CHECKSUM_PREFIX,
    CHECKSUMS,
    TRAILER_SIGNATURE,
    ChunkSigning,
    Hasher,
    chunk_signature,
    require_signing,
    trailer_signature,
)

MAX_LINE = 4096
MAX_TRAILER_BYTES = 16 * 1024

_SIGNED_HEADER = re.compile(rb"([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})\Z")
_UNSIGNED_HEADER = re.compile(rb"([0-9a-fA-F]{1,16})\Z")


class ChunkedError(Exception):
    """A bad aws-chunked body, with the AWS error code the server answers with."""

    def __init__(self, code: str, message: str, **details: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details


_HEADER, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedDecoder:
    """Incremental aws-chunked decoder that checks every signature and checksum.

    ``declared_trailers`` is the x-amz-trailer header's list: exactly those trailers must
    arrive, and each x-amz-checksum-* among them is computed over the payload.
    ``decoded_length`` (x-amz-decoded-content-length) is enforced when given.
    """

    def __init__(
        self,
        mode: str,
        signing: ChunkSigning | None = None,
        *,
        declared_trailers: Sequence[str] = (),
        decoded_length: int | None = None,
        checksums: Mapping[str, Callable[[], Hasher]] = CHECKSUMS,
        max_line: int = MAX_LINE,
    ) -> None:
        self._mode = mode
        self._signing = require_signing(mode, signing)
        self._previous = signing.seed_signature if self._signing and signing else ""
        self._declared = [name.strip().lower() for name in declared_trailers if name.strip()]
        if self._declared and mode == STREAMING_SIGNED:
            raise ChunkedError("InvalidRequest", f"{mode} does not allow x-amz-trailer")
        self._hashers: dict[str, Hasher] = {}
        for name in self._declared:
            if not name.startswith(CHECKSUM_PREFIX):
                continue
            algorithm = name.removeprefix(CHECKSUM_PREFIX)
            if algorithm not in checksums:
                raise ChunkedError(
                    "InvalidRequest", f"The checksum algorithm {algorithm} is not supported.")
            self._hashers[name] = checksums[algorithm]()
        self._decoded_length = decoded_length
        self._max_line = max_line
        self._state = _HEADER
        self._line = bytearray()
        self._remaining = 0
        self._chunk_hash = hashlib.sha256()
        self._chunk_signature = ""
        self._chunks = 0
        self._decoded = 0
        self._trailer_bytes = 0
        self._trailers: list[tuple[str, str]] = []
        self._trailer_sig: str | None = None

    @property
    def done(self) -> bool:
        return self._state == _DONE

    @property
    def decoded(self) -> int:
        """Payload bytes returned so far."""
        return self._decoded

    @property
    def trailers(self) -> dict[str, str]:
        """The trailing headers received (without the trailer signature)."""
        return dict(self._trailers)

    def feed(self, data: bytes) -> bytes:
        """Consume the next bytes of the body; return the payload bytes they complete."""
        view = memoryview(data)
        out: list[memoryview] = []
        pos = 0
        while pos < len(view):
            if self._state == _DATA:
                take = min(self._remaining, len(view) - pos)
                piece = view[pos:pos + take]
                self._payload(piece)
                out.append(piece)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._end_chunk()
            elif self._state == _DONE:
                raise ChunkedError("InvalidRequest", "Data found after the final chunk.")
            else:
                pos = self._read_line(view, pos)
        return b"".join(out)

    def finish(self) -> None:
        """The body has ended: raise unless it was complete."""
        if self._state != _DONE:
            raise ChunkedError(
                "IncompleteBody", "The request body ended before its final chunk.")

    def _read_line(self, view: memoryview, pos: int) -> int:
        limit = 2 if self._state == _DATA_END else self._max_line
        room = limit - len(self._line)
        end = bytes(view[pos:pos + room]).find(b"\n")
        if end < 0:
            if len(view) - pos > room:
                raise ChunkedError("InvalidRequest", self._overflow_message(limit))
            self._line += view[pos:]
            return len(view)
        self._line += view[pos:pos + end + 1]
        line = bytes(self._line)
        self._line.clear()
        if not line.endswith(b"\r\n"):
            raise ChunkedError("InvalidRequest", "A chunk line does not end with CRLF.")
        self._handle_line(line[:-2])
        return pos + end + 1

    def _overflow_message(self, limit: int) -> str:
        if self._state == _DATA_END:
            return "Chunk data is longer than its declared size."
        return f"A chunk header or trailer line is longer than {limit} bytes."

    def _handle_line(self, line: bytes) -> None:
        if self._state == _DATA_END:  # the line was exactly CRLF: room allowed no more
            self._state = _HEADER
        elif self._state == _HEADER:
            self._start_chunk(line)
        else:
            self._trailer_line(line)

    def _start_chunk(self, line: bytes) -> None:
        pattern = _UNSIGNED_HEADER if self._signing is None else _SIGNED_HEADER
        match = pattern.match(line)
        if match is None:
            raise ChunkedError(
                "InvalidRequest", f"Malformed chunk header: {line[:80]!r}.")
        size = int(match.group(1), 16)
        if self._signing is not None:
            self._chunk_signature = match.group(2).decode()
        if self._decoded_length is not None and self._decoded + size > self._decoded_length:
            raise ChunkedError(
                "InvalidRequest",
                "The chunks hold more bytes than x-amz-decoded-content-length declares.")
        self._chunk_hash = hashlib.sha256()
        self._remaining = size
        if size:
            self._state = _DATA
        else:
            self._end_chunk()
            self._state = _TRAILER

    def _payload(self, piece: memoryview) -> None:
        self._decoded += len(piece)
        if self._signing is not None:
            self._chunk_hash.update(piece)
        for hasher in self._hashers.values():
            hasher.update(piece)

    def _end_chunk(self) -> None:
        self._chunks += 1
        self._state = _DATA_END
        if self._signing is None:
            return
        expected = chunk_signature(self._signing, self._previous, self._chunk_hash.hexdigest())
        if not _same(expected, self._chunk_signature):
            raise ChunkedError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your key and signing method.",
                Chunk=str(self._chunks), SignatureProvided=self._chunk_signature)
        self._previous = expected

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._end_trailers()
            return
        self._trailer_bytes += len(line) + 2
        if self._mode == STREAMING_SIGNED:
            raise ChunkedError("InvalidRequest", "Unexpected data after the final chunk.")
        if self._trailer_sig is not None:
            raise ChunkedError("InvalidRequest", f"A trailing header follows {TRAILER_SIGNATURE}.")
        if self._trailer_bytes > MAX_TRAILER_BYTES:
            raise ChunkedError("InvalidRequest", "The trailing headers are too large.")
        name, colon, value = line.decode("utf-8", errors="replace").partition(":")
        name, value = name.strip().lower(), value.strip()
        if not colon or not name:
            raise ChunkedError("InvalidRequest", f"Malformed trailing header: {line[:80]!r}.")
        if name == TRAILER_SIGNATURE and self._signing is not None:
            self._trailer_sig = value
        elif name not in self._declared or name in dict(self._trailers):
            raise ChunkedError(
                "InvalidRequest", f"The trailing header {name} was not declared in x-amz-trailer.")
        else:
            self._trailers.append((name, value))

    def _end_trailers(self) -> None:
        received = {name for name, _ in self._trailers}
        missing = [name for name in self._declared if name not in received]
        if missing:
            raise ChunkedError(
                "IncompleteBody", f"The trailing header {missing[0]} declared in x-amz-trailer "
                "is missing.")
        if self._mode == STREAMING_SIGNED_TRAILER and self._signing is not None:
            expected = trailer_signature(self._signing, self._previous, self._trailers)
            if self._trailer_sig is None or not _same(expected, self._trailer_sig):
                raise ChunkedError(
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your key and signing method.",
                    SignatureProvided=self._trailer_sig or "")
        for name, value in self._trailers:
            if name in self._hashers:
                _check_digest(name, value, self._hashers[name].digest())
        if self._decoded_length is not None and self._decoded != self._decoded_length:
            raise ChunkedError(
                "IncompleteBody", "You did not provide the number of bytes specified by the "
                "x-amz-decoded-content-length HTTP header.")
        self._state = _DONE


def _same(expected: str, provided: str) -> bool:
    return hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace"))


def _check_digest(name: str, value: str, digest: bytes) -> None:
    algorithm = name.removeprefix(CHECKSUM_PREFIX).upper()
    try:
        provided = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ChunkedError(
            "InvalidRequest", f"Value for {name} trailing header is invalid.") from None
    if len(provided) != len(digest):
        raise ChunkedError("InvalidRequest", f"Value for {name} trailing header is invalid.")
    if provided != digest:
        raise ChunkedError(
            "BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")
