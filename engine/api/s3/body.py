"""A request body as an operation reads it: decoded and checked while it streams.

What the signature declared for the body (x-amz-content-sha256) decides how it is read:

- a hex SHA-256: the bytes are hashed as they pass; a different digest at the end is
  XAmzContentSHA256Mismatch;
- UNSIGNED-PAYLOAD (and presigned links, and anonymous requests): taken as is;
- STREAMING-*: aws-chunked framing, decoded with every chunk signature and the trailing
  x-amz-checksum-* checked (engine.iam.signature_chunked); the payload's length is
  x-amz-decoded-content-length, and the HTTP body may come without Content-Length
  (Transfer-Encoding: chunked, as botocore sends the trailer form).

x-amz-checksum-* headers (but CRC32C, which the object service checks while it writes)
and, unless the operation checks it itself, Content-MD5 are verified the same way. Every
failure surfaces from the iterator before it ends, so a consumer that commits only on
a complete body (engine.objects' writers) never stores a bad one. A body that ends
before its Content-Length is IncompleteBody; a client that sends nothing for the idle
timeout, or is not done by the total one, gets RequestTimeout. Memory stays at a few
read buffers (those the hashing worker has not reached yet, at most about 3 MiB): nothing
is collected but what :meth:`RequestBody.read_all` is asked for.

``Expect: 100-continue`` is answered only when the operation starts reading, which is
after authentication and authorization: a refused upload is refused before it is sent.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections.abc import AsyncIterator

from aiohttp import HttpVersion11, web

from engine.api.upload_stream import StreamLimits, request_timeout
from engine.errors import EngineError
from engine.iam.signature import VerifiedRequest
from engine.iam.signature_chunked import SERVER_CHECKSUMS, ChunkedBody
from engine.iam.signature_errors import content_sha256_mismatch
from engine.objects.background_hashing import BackgroundHashing
from engine.sigv4.canonical import (
    STREAMING_MODES,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    is_sha256_hex,
)
from engine.sigv4.chunk_signing import CHECKSUM_PREFIX, Hasher

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
OBJECT_SERVICE_CHECKS = frozenset({"crc32c"})  # computed by the body writer anyway


def incomplete_body(received: int, expected: int | None) -> EngineError:
    told = f" of the {expected} declared" if expected is not None else ""
    return EngineError("IncompleteBody", "You did not provide the number of bytes specified "
                       f"by the Content-Length HTTP header (received {received}{told}).")


def _digest_header(name: str, value: str, size: int) -> bytes:
    """A base64 digest header's bytes; InvalidDigest (Content-MD5) or InvalidRequest
    (x-amz-checksum-*) when it is not base64 of a digest of that algorithm's size."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        if name == "Content-MD5":
            raise EngineError("InvalidDigest", Header=name)
        raise EngineError("InvalidRequest", f"Value for {name} header is invalid.")
    return raw


def expects_continue(request: web.Request) -> bool:
    return request.version == HttpVersion11 and \
        request.headers.get("expect", "").lower() == "100-continue"


class RequestBody:
    """The body of one request; read it once, with :meth:`stream` or :meth:`read_all`."""

    def __init__(self, request: web.Request, verified: VerifiedRequest | None,
                 limits: StreamLimits, *, authenticated: bool = True,
                 body_checksums: bool = True) -> None:
        """``body_checksums`` False: the request's x-amz-checksum-* headers are not the
        body's (CompleteMultipartUpload's name the object's) and are not checked here."""
        self._request = request
        self._limits = limits
        headers = request.headers
        mode = verified.payload_hash if verified is not None else \
            headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
        self.mode = mode
        self._chunked: ChunkedBody | None = None
        if mode in STREAMING_MODES:
            if verified is None:
                verified = _unsigned_trailer(mode, authenticated)
            self._chunked = ChunkedBody(verified, list(headers.items()))
            self.length: int | None = int(headers["x-amz-decoded-content-length"])
        else:
            self.length = request.content_length if request.body_exists else 0
            if request.body_exists and self.length is None and \
                    "chunked" not in headers.get("transfer-encoding", "").lower():
                raise EngineError("MissingContentLength")
        self._sha256 = hashlib.sha256() if is_sha256_hex(mode) else None
        self._checksums: dict[str, tuple[Hasher, bytes]] = {}
        for name, value in headers.items() if body_checksums else ():
            lowered = name.lower()
            if not lowered.startswith(CHECKSUM_PREFIX) or lowered in self._checksums:
                continue
            algorithm = lowered.removeprefix(CHECKSUM_PREFIX)
            if algorithm in ("algorithm", "mode", "type") or \
                    algorithm in OBJECT_SERVICE_CHECKS:
                continue
            if algorithm not in SERVER_CHECKSUMS:
                raise EngineError("InvalidRequest",
                                  f"The checksum algorithm {algorithm.upper()} is not "
                                  "supported; use CRC32, CRC32C, CRC64NVME, SHA1 or "
                                  "SHA256.")
            hasher = SERVER_CHECKSUMS[algorithm]()
            self._checksums[lowered] = (hasher, _digest_header(lowered, value,
                                                               len(hasher.digest())))
        self._started = False
        self.consumed = not request.body_exists
        self.continued = False  # 100 Continue sent
        self.timed_out = False
        # HTTP/1.1 cannot tell "no body" from "a body of unknown length" without one of
        # these; S3 wants a length for every upload (MissingContentLength).
        self.length_declared = "content-length" in headers or \
            "chunked" in headers.get("transfer-encoding", "").lower()

    @property
    def limits(self) -> StreamLimits:
        """The idle and total time the body may take (a form upload reads it itself)."""
        return self._limits

    @property
    def trailers(self) -> dict[str, str]:
        """The x-amz-checksum-* trailers an aws-chunked body ended with (checked)."""
        return self._chunked.trailers if self._chunked is not None else {}

    async def _continue(self) -> None:
        request = self._request
        if expects_continue(request):
            await request.writer.write(CONTINUE)
            request.writer.output_size = 0
            self.continued = True

    @property
    def abandoned(self) -> bool:
        """Whether what is left of the body will never come: the client waits for a 100
        Continue it was not sent, or stalled. (Otherwise the server reads and drops the
        rest before closing, so the client, still sending, gets the answer.)"""
        return self.timed_out or (expects_continue(self._request) and not self.continued)

    async def stream(self, *, check_md5: bool = True) -> AsyncIterator[bytes]:
        """The payload bytes; ``check_md5=False`` when the operation checks Content-MD5
        itself (PutObject's writer hashes MD5 for the ETag anyway)."""
        if self._started:
            raise RuntimeError("a request body is read once")
        self._started = True
        md5_header = self._request.headers.get("content-md5") if check_md5 else None
        md5: Hasher | None = hashlib.md5() if md5_header is not None else None
        expected_md5 = _digest_header("Content-MD5", md5_header, 16) \
            if md5_header is not None else None
        # Off the event loop, beside the consumer's own work (the object writer's MD5).
        hashing = BackgroundHashing([h for h in (self._sha256, md5) if h is not None]
                                    + [hasher for hasher, _ in self._checksums.values()])
        await self._continue()
        reader = self._request.content
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._limits.total if self._limits.total > 0 else None
        received = 0
        while not self.consumed:
            data = await self._read(reader, loop, deadline, received)
            if not data:
                self.consumed = True
                break
            received += len(data)
            payload = self._chunked.feed(data) if self._chunked is not None else data
            if not payload:
                continue
            await hashing.update(payload)
            yield payload
        await hashing.finish()
        self._finish(received, md5, expected_md5)

    async def _read(self, reader: web.StreamReader, loop: asyncio.AbstractEventLoop,
                    deadline: float | None, received: int) -> bytes:
        try:
            # What has arrived is taken without a timer: a small body comes with its
            # headers, and a large one's pieces often queue faster than they are read.
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError
            data = reader.read_nowait()
            if data or reader.at_eof():
                return data
            waits = [self._limits.idle] if self._limits.idle > 0 else []
            if deadline is not None:
                waits.append(deadline - loop.time())
            async with asyncio.timeout(max(0.0, min(waits)) if waits else None):
                return await reader.readany()
        except TimeoutError:
            self.timed_out = True
            raise request_timeout() from None
        except Exception as exc:  # the connection ended early (aiohttp's payload errors)
            raise incomplete_body(received, self._request.content_length) from exc

    def _finish(self, received: int, md5: Hasher | None, expected_md5: bytes | None) -> None:
        if self._chunked is not None:
            self._chunked.finish()
        elif self.length is not None and received != self.length:
            raise incomplete_body(received, self.length)
        if self._sha256 is not None:
            computed = self._sha256.hexdigest()
            if computed != self.mode.lower():
                raise content_sha256_mismatch(self.mode, computed)
        if md5 is not None and md5.digest() != expected_md5:
            raise EngineError("BadDigest", "The Content-MD5 you specified did not match "
                              "what we received.")
        for name, (hasher, expected) in self._checksums.items():
            if hasher.digest() != expected:
                algorithm = name.removeprefix(CHECKSUM_PREFIX).upper()
                raise EngineError("BadDigest", f"The {algorithm} you specified did not "
                                  "match the calculated checksum.")

    async def read_all(self, max_bytes: int) -> bytes:
        """The whole (small) body, for request documents; MaxMessageLengthExceeded past
        ``max_bytes``, before more than that is held."""
        if self.length is not None and self.length > max_bytes:
            raise EngineError("MaxMessageLengthExceeded", MaxMessageLengthBytes=str(max_bytes))
        parts: list[bytes] = []
        size = 0
        async for piece in self.stream():
            size += len(piece)
            if size > max_bytes:
                raise EngineError("MaxMessageLengthExceeded",
                                  MaxMessageLengthBytes=str(max_bytes))
            parts.append(piece)
        return b"".join(parts)


def _unsigned_trailer(mode: str, authenticated: bool) -> VerifiedRequest:
    """An unsigned request may still frame its body as aws-chunked without signatures;
    the signed framings need the signature they chain from."""
    if mode != STREAMING_UNSIGNED_TRAILER:
        why = ("an anonymous request cannot send a signed aws-chunked body" if authenticated
               else "signed aws-chunked bodies need authentication on (this node runs "
               "with --insecure-no-auth): send UNSIGNED-PAYLOAD or a signed payload hash")
        raise EngineError("InvalidRequest", why)
    return VerifiedRequest(access_key_id="", region="", service="s3", amz_date="",
                           signed_at=0.0, security_token=None, payload_hash=mode,
                           seed_signature="", signing_key=b"")
