"""S3's additional checksums (x-amz-checksum-*) as an object records them.

A client picks one algorithm per object (CRC32, CRC32C, CRC64NVME, SHA1, SHA256); the
API layer verifies the value while the body streams and the object keeps it, so a GET
with ``x-amz-checksum-mode: ENABLED`` answers the same value months later. A multipart
object's checksum is either COMPOSITE, S3's checksum of the concatenated part
checksums with ``-N`` appended, or FULL_OBJECT, the CRC of the whole body, which the
part CRCs combine into without reading any data (CRCs only, as S3 allows).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from awscrt import checksums as crt

from engine.errors import EngineError
from engine.iam.signature_chunked import SERVER_CHECKSUMS
from engine.objects.background_hashing import BackgroundHashing

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
COMPOSITE, FULL_OBJECT = "COMPOSITE", "FULL_OBJECT"
_CRC_COMBINE = {"CRC32": crt.combine_crc32, "CRC32C": crt.combine_crc32c,
                "CRC64NVME": crt.combine_crc64nvme}


@dataclass
class Checksum:
    """The checksum a client sent with a body: ``value`` (base64) may arrive only after
    the body (an aws-chunked trailer), so the API layer fills it in as the body ends."""

    algorithm: str
    value: str = ""


def check_algorithm(name: str) -> str:
    """``name`` upper-cased; InvalidRequest for one S3 does not have."""
    algorithm = name.upper()
    if algorithm not in ALGORITHMS:
        raise EngineError("InvalidRequest", f"Checksum algorithm provided is unsupported. "
                          f"Please try again with any of the valid types: "
                          f"[{', '.join(ALGORITHMS)}]")
    return algorithm


def check_type(algorithm: str, checksum_type: str) -> str:
    """The multipart checksum type asked for: COMPOSITE by default, except CRC64NVME
    which S3 keeps only as FULL_OBJECT; SHA digests cannot be FULL_OBJECT."""
    wanted = checksum_type.upper() or (FULL_OBJECT if algorithm == "CRC64NVME"
                                       else COMPOSITE)
    if wanted not in (COMPOSITE, FULL_OBJECT):
        raise EngineError("InvalidRequest", "Value for x-amz-checksum-type header is invalid.")
    if not algorithm:
        raise EngineError("InvalidRequest", "The x-amz-checksum-type header can only be used "
                          "with the x-amz-checksum-algorithm header.")
    if (wanted == FULL_OBJECT and algorithm not in _CRC_COMBINE) or \
            (wanted == COMPOSITE and algorithm == "CRC64NVME"):
        raise EngineError("InvalidRequest", f"The {wanted} checksum type cannot be used "
                          f"with the {algorithm.lower()} checksum algorithm.")
    return wanted


def digest(algorithm: str, data: bytes) -> bytes:
    hasher = SERVER_CHECKSUMS[algorithm.lower()]()
    hasher.update(data)
    return hasher.digest()


class StreamChecksum:
    """A body's checksum in ``algorithm``, computed by the server as the body passes
    (:meth:`through`), off the event loop in 1 MiB batches: what S3 does for a part that
    arrives without the checksum its upload was created with."""

    def __init__(self, algorithm: str) -> None:
        self._hasher = SERVER_CHECKSUMS[algorithm.lower()]()
        self._hashing = BackgroundHashing((self._hasher,))
        self.value = ""  # base64, once the body has ended

    async def through(self, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in body:
            await self._hashing.update(chunk)
            yield chunk
        await self._hashing.finish()
        self.value = base64.b64encode(self._hasher.digest()).decode()


def _raw(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise EngineError("InvalidPart", "A part's checksum could not be read.") from None


def composite(algorithm: str, part_checksums: Sequence[str]) -> str:
    """``base64(hash(concat(part digests)))-N``, S3's checksum of a multipart object."""
    joined = b"".join(_raw(value) for value in part_checksums)
    return f"{base64.b64encode(digest(algorithm, joined)).decode()}-{len(part_checksums)}"


def full_object(algorithm: str, parts: Sequence[tuple[str, int]]) -> str:
    """The whole body's CRC from each part's (base64 CRC, size)."""
    combine = _CRC_COMBINE[algorithm]
    width = 8 if algorithm == "CRC64NVME" else 4
    crc = 0
    for value, size in parts:
        crc = combine(crc, int.from_bytes(_raw(value), "big"), size)
    return base64.b64encode(crc.to_bytes(width, "big")).decode()
