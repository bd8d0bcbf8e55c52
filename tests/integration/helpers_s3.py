"""Plain helpers shared by the SDK-level S3 tests (the s3 and bucket fixtures: conftest.py)."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest

from engine.client import ClientError

KIB = 1024
MIB = 1024 * KIB
PART = 5 * MIB  # S3's smallest part (every part but the last)


def unique_name(hint: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-")[:40].strip("-")
    return f"{base}-{uuid.uuid4().hex[:8]}"


def error_code(exc_info: pytest.ExceptionInfo[ClientError]) -> str:
    return exc_info.value.response["Error"]["Code"]


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def multipart_etag(*parts: bytes) -> str:
    """S3's ETag of a completed upload: MD5 of the parts' binary MD5s, then -N."""
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'
