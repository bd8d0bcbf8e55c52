"""Request documents of the operations that post one (DeleteObjects): read bounded and
checked for integrity.

S3 wants such a document sent with Content-MD5 or an x-amz-checksum-* header (or
trailer), and refuses it without one; body.py checks whichever is given while the body
streams, CRC32C included here (body.py leaves CRC32C to the object writer, which does
not see a document).
"""

from __future__ import annotations

import base64

from engine.api.s3.context import S3Request
from engine.errors import EngineError
from engine.iam.signature_chunked import SERVER_CHECKSUMS
from engine.sigv4.chunk_signing import CHECKSUM_PREFIX

CRC32C_HEADER = CHECKSUM_PREFIX + "crc32c"
_NOT_CHECKSUMS = ("algorithm", "mode", "type")


def require_integrity(ctx: S3Request) -> None:
    """InvalidRequest unless Content-MD5 or an x-amz-checksum-* value (header, or a
    trailer announced by x-amz-trailer) comes with the body."""
    headers = ctx.headers
    if "content-md5" in headers or headers.get("x-amz-trailer", "").lower().startswith(
            CHECKSUM_PREFIX):
        return
    for name in headers:
        lowered = name.lower()
        if lowered.startswith(CHECKSUM_PREFIX) and \
                lowered.removeprefix(CHECKSUM_PREFIX) not in _NOT_CHECKSUMS:
            return
    raise EngineError("InvalidRequest", "Missing required header for this request: "
                      "Content-MD5 OR x-amz-checksum-*")  # S3's words since 2025


async def read_document(ctx: S3Request, max_bytes: int) -> bytes:
    """The whole body, at most ``max_bytes`` (MaxMessageLengthExceeded past it), its
    Content-MD5 and checksums verified (BadDigest)."""
    body = await ctx.body.read_all(max_bytes)
    expected = ctx.headers.get(CRC32C_HEADER) or ctx.body.trailers.get(CRC32C_HEADER)
    if expected is not None:
        hasher = SERVER_CHECKSUMS["crc32c"]()
        hasher.update(body)
        if base64.b64encode(hasher.digest()).decode() != expected.strip():
            raise EngineError("BadDigest", "The CRC32C you specified did not match the "
                              "calculated checksum.")
    return body
