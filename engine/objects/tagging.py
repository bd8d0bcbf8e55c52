"""S3 object tags: parsing the x-amz-tagging form and enforcing S3's limits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl

from engine.errors import EngineError

MAX_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
# Letters, digits, spaces and + - = . _ : / @ in any script (S3's documented set).
_ALLOWED = re.compile(r"^[\w\s+\-=._:/@]*$", re.UNICODE)


def check_tags(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The tag set as a dict, or InvalidTag/BadRequest as S3 answers."""
    tags: dict[str, str] = {}
    for key, value in pairs:
        if key in tags:
            raise EngineError("InvalidTag", "Cannot provide multiple Tags with the same key",
                              TagKey=key)
        if not key or len(key) > MAX_KEY_CHARS:
            raise EngineError("InvalidTag", "The TagKey you have provided is invalid"
                              if not key else "The TagKey you have provided is too long, "
                              f"max {MAX_KEY_CHARS}", TagKey=key)
        if len(value) > MAX_VALUE_CHARS:
            raise EngineError("InvalidTag", "The TagValue you have provided is too long, "
                              f"max {MAX_VALUE_CHARS}", TagKey=key)
        if key.lower().startswith("aws:"):
            raise EngineError("InvalidTag", "Your TagKey cannot be prefixed with aws:",
                              TagKey=key)
        if not _ALLOWED.match(key) or not _ALLOWED.match(value):
            raise EngineError("InvalidTag", "The TagKey or TagValue you have provided has "
                              "invalid characters", TagKey=key)
        tags[key] = value
    if len(tags) > MAX_TAGS:
        raise EngineError("BadRequest", f"Object tags cannot be greater than {MAX_TAGS}")
    return tags


def check_bucket_tags(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A bucket's tag set: each tag as an object tag, but up to MAX_BUCKET_TAGS of them."""
    listed = list(pairs)
    if len(listed) > MAX_BUCKET_TAGS:
        raise EngineError("BadRequest",
                          f"Bucket tag count cannot be greater than {MAX_BUCKET_TAGS}")
    tags: dict[str, str] = {}
    for key, value in listed:
        if key in tags:
            raise EngineError("InvalidTag", "Cannot provide multiple Tags with the same key",
                              TagKey=key)
        tags.update(check_tags([(key, value)]))
    return tags


def parse_tagging(header: str) -> dict[str, str]:
    """The x-amz-tagging header (``k1=v1&k2=v2``, URL-encoded) as a checked tag set."""
    if not header:
        return {}
    try:
        pairs = parse_qsl(header, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise _malformed_header() from exc
    names = [name for name, _ in pairs]
    if "" in names or len(set(names)) != len(names):  # the header's error, not InvalidTag
        raise _malformed_header()
    return check_tags(pairs)


def _malformed_header() -> EngineError:
    return EngineError("InvalidArgument", "The header 'x-amz-tagging' shall be encoded as "
                       "UTF-8 then URLEncoded URL query parameters without tag name "
                       "duplicates.", ArgumentName="x-amz-tagging")
