"""The SigV4 canonical request and string to sign, shared by signer and verifier.

Both sides must build byte-identical strings from the same wire request, so every rule
lives here once: how a path and a query are encoded, how header values are trimmed, how
dates are written. The inputs are the request as it travels (percent-encoded path and
query), never a decoded form, because that is what the verifier receives.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import unquote_to_bytes

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

# x-amz-content-sha256 values that stand in for the body's digest.
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
PAYLOAD_MODES = frozenset(
    {UNSIGNED_PAYLOAD, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER}
)
STREAMING_MODES = frozenset(
    {STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER}
)

AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z\Z")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}\Z")
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
"""A request's headers: a mapping, or (name, value) pairs when a name repeats."""


def uri_encode(text: str | bytes, safe: str = "") -> str:
    """AWS's UriEncode: every byte of the UTF-8 form but the unreserved set (and ``safe``)
    as %XY with upper-case hex. Unlike urllib.parse.quote, '~' is never encoded and the
    result does not depend on the Python version."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    keep = _UNRESERVED | frozenset(safe.encode("ascii"))
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in raw)


def is_s3(service: str) -> bool:
    """S3 signs the path exactly as sent; every other service normalizes and re-encodes."""
    return service == "s3"


def canonical_uri(raw_path: str, service: str) -> str:
    """The CanonicalURI for a path as it travels (already percent-encoded once).

    S3 uses it untouched. Other services remove dot segments and empty segments, then
    URI-encode the result again, so "%20" on the wire becomes "%2520" (AWS's "double
    encoding"), which is what botocore and the AWS test suite do.
    """
    if is_s3(service):
        return raw_path or "/"
    return uri_encode(_remove_dot_segments(raw_path or "/"), safe="/")


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
        else:
            out.append(segment)
    lead = "/" if path.startswith("/") else ""
    trail = "/" if path.endswith("/") and out else ""
    return lead + "/".join(out) + trail


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs of a raw query string, in order. '+' is a literal plus:
    AWS clients encode spaces as %20, so decoding '+' as a space would break signatures."""
    pairs = []
    for item in raw_query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((_decode(name), _decode(value)))
    return pairs


def _decode(text: str) -> str:
    return unquote_to_bytes(text).decode("utf-8", errors="surrogateescape")


def canonical_query(raw_query: str, *, exclude: frozenset[str] = frozenset()) -> str:
    """The CanonicalQueryString: each name and value decoded then URI-encoded, sorted by
    encoded name then value. A name without '=' gets an empty value. Names in
    ``exclude`` (X-Amz-Signature for a presigned URL) are left out."""
    encoded = sorted(
        (_encode_component(name), _encode_component(value))
        for name, value in query_pairs(raw_query)
        if name not in exclude
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def _encode_component(text: str) -> str:
    return uri_encode(text.encode("utf-8", errors="surrogateescape"))


def collect_headers(headers: Headers) -> dict[str, list[str]]:
    """Headers by lower-case name, each with all its values in arrival order."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, list[str]] = {}
    for name, value in items:
        out.setdefault(name.lower().strip(), []).append(value)
    return out


def trim_value(value: str) -> str:
    """Trimall: strip both ends and collapse inner runs of whitespace to one space."""
    return " ".join(value.split())


def canonical_headers(headers: Mapping[str, Sequence[str]], signed: Sequence[str]) -> str:
    """The CanonicalHeaders block: "name:value\\n" per signed header, repeated values
    joined by commas. A signed header the request lacks signs as an empty value."""
    lines = []
    for name in signed:
        values = headers.get(name, ())
        lines.append(f"{name}:{','.join(trim_value(v) for v in values)}\n")
    return "".join(lines)


def canonical_request(
    method: str,
    uri: str,
    query: str,
    headers_block: str,
    signed_headers: str,
    payload_hash: str,
) -> str:
    """The six parts joined by newlines; the header block ends with its own newline,
    which yields the blank line AWS's format has before SignedHeaders."""
    return "\n".join((method.upper(), uri, query, headers_block, signed_headers, payload_hash))


def credential_scope(date: str, region: str, service: str) -> str:
    return f"{date}/{region}/{service}/{TERMINATOR}"


def string_to_sign(amz_date: str, scope: str, creq: str) -> str:
    digest = hashlib.sha256(creq.encode("utf-8", errors="surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def format_amz_date(epoch: float) -> str:
    """ISO 8601 basic format, as in X-Amz-Date: 20150830T123600Z."""
    return _format_second(int(epoch))


@lru_cache(maxsize=8)  # every call signed within one second has the same stamp
def _format_second(second: int) -> str:
    return time.strftime(AMZ_DATE_FORMAT, time.gmtime(second))


def format_iso_date(epoch: float) -> str:
    """The extended form S3 uses in error details: 2015-08-30T12:36:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


@lru_cache(maxsize=256)
def parse_amz_date(text: str) -> float | None:
    """Epoch seconds of a strict ISO 8601 basic timestamp, or None if it is not one.
    Cached: every call a client makes within one second carries the same stamp, and
    time.strptime alone costs more than the rest of a signature check."""
    if not _AMZ_DATE.match(text):
        return None
    try:
        stamp = datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[9:11]),
                         int(text[11:13]), int(text[13:15]), tzinfo=UTC)
    except ValueError:  # no 13th month, no 25th hour
        return None
    return float(calendar.timegm(stamp.utctimetuple()))


def is_sha256_hex(value: str) -> bool:
    return bool(_SHA256_HEX.match(value))
