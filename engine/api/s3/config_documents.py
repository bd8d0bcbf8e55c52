"""The document of a configuration PUT (tagging, versioning, lifecycle, ACL, policy,
Block Public Access, ownership, CORS, website, restore): required, bounded, checked.

A configuration PUT without a body is S3's MissingRequestBodyError, not a schema error.
"""

from __future__ import annotations

from engine.api.s3.context import S3Request
from engine.api.s3.request_documents import read_document
from engine.errors import EngineError


async def read_config(ctx: S3Request, max_bytes: int) -> bytes:
    """The whole body (at most ``max_bytes``), its digests verified; MissingRequestBodyError
    when there is none."""
    body = await read_document(ctx, max_bytes)
    if not body.strip():
        raise EngineError("MissingRequestBodyError")
    return body
