"""The x-amz-checksum-* a request carries, and what a GET or HEAD answers with.

A PUT or UploadPart names at most one additional checksum, either as a header or as an
aws-chunked trailer announced by ``x-amz-trailer``; body.py (or, for CRC32C, the object
service) verifies it while the body streams. The value of a trailer arrives after the
last byte, so the checksum handed to the service is filled in as the stream ends,
before the service builds the record that keeps it. What a GET answers with is in
headers.py (object_headers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from engine.api.s3.body import RequestBody
from engine.api.s3.headers import Headers
from engine.errors import EngineError
from engine.objects.checksums import ALGORITHMS, Checksum
from engine.sigv4.chunk_signing import CHECKSUM_PREFIX

ALGORITHM = "x-amz-checksum-algorithm"
CHECKSUM_TYPE = "x-amz-checksum-type"
_NAMES = {CHECKSUM_PREFIX + a.lower(): a for a in ALGORITHMS}


def sent_checksum(headers: Headers) -> Checksum | None:
    """The one checksum a body comes with (its value "" until a trailer brings it);
    InvalidRequest when several are named."""
    found = [Checksum(_NAMES[name.lower()], value) for name, value in headers.items()
             if name.lower() in _NAMES]
    for trailer in headers.get("x-amz-trailer", "").split(","):
        if trailer.strip().lower() in _NAMES:
            found.append(Checksum(_NAMES[trailer.strip().lower()]))
    if len(found) > 1:
        raise EngineError("InvalidRequest", "Expecting a single x-amz-checksum- header. "
                          "Multiple checksum Types are not allowed.")
    return found[0] if found else None


async def filled(stream: AsyncIterator[bytes], body: RequestBody,
                 checksum: Checksum | None) -> AsyncIterator[bytes]:
    """``stream`` unchanged; once it ends, ``checksum`` holds the trailer's value."""
    async for chunk in stream:
        yield chunk
    if checksum is not None and not checksum.value:
        checksum.value = body.trailers.get(CHECKSUM_PREFIX + checksum.algorithm.lower(), "")


def echoed(checksum: Checksum | None) -> dict[str, str]:
    """The answer's header for the checksum a PUT or UploadPart sent, as S3 echoes it."""
    if checksum is None or not checksum.value:
        return {}
    return {CHECKSUM_PREFIX + checksum.algorithm.lower(): checksum.value}

