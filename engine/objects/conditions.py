"""Conditional requests (If-Match, If-None-Match, If-Modified-Since,
If-Unmodified-Since) with RFC 7232's precedence, which S3 documents:

- If-Match true makes If-Unmodified-Since irrelevant; If-Match false is 412.
- If-None-Match false (ETag matches) is 304 for GET/HEAD whatever If-Modified-Since
  says; If-None-Match true makes If-Modified-Since irrelevant.
Dates compare at one-second resolution, as HTTP dates do. For CopyObject's source
conditions every failure is 412.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import EngineError

NS = 1_000_000_000


@dataclass(frozen=True)
class Conditions:
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since_ns: int | None = None
    if_unmodified_since_ns: int | None = None


def etag_matches(header: str, etag: str, *, weak: bool) -> bool:
    """Whether an If-Match / If-None-Match list names `etag` (unquoted hex; S3's ETags are
    all strong). RFC 9110 13.1.1-2: If-Match compares strongly, so a weak tag (``W/"…"``)
    there never matches; If-None-Match compares weakly, so it matches as if strong."""
    for candidate in header.split(","):
        c = candidate.strip()
        if c == "*":
            return True
        if c.startswith("W/") and not weak:
            continue
        if c.removeprefix("W/").strip('"') == etag:
            return True
    return False


def check(conditions: Conditions, etag: str, mtime_ns: int, *, copy_source: bool = False) -> None:
    mtime_s = mtime_ns // NS
    c = conditions
    if c.if_match is not None:
        if not etag_matches(c.if_match, etag, weak=False):
            raise EngineError("PreconditionFailed", Condition="If-Match")
    elif c.if_unmodified_since_ns is not None and mtime_s > c.if_unmodified_since_ns // NS:
        raise EngineError("PreconditionFailed", Condition="If-Unmodified-Since")
    not_modified = "PreconditionFailed" if copy_source else "NotModified"
    # A 304 still names the version it stands for (RFC 7232 4.1: ETag, Last-Modified).
    version = {} if copy_source else {"etag": etag, "mtime_ns": str(mtime_ns)}
    if c.if_none_match is not None:
        if etag_matches(c.if_none_match, etag, weak=True):
            raise EngineError(not_modified, Condition="If-None-Match", **version)
    elif c.if_modified_since_ns is not None and mtime_s <= c.if_modified_since_ns // NS:
        raise EngineError(not_modified, Condition="If-Modified-Since", **version)
