"""aiohttp's own HTTP parser errors as S3's error codes.

aiohttp rejects what it cannot parse before any handler runs (a malformed request line,
a header line too long, invalid chunked framing, a bad Content-Length) and would answer
with a plain-text 400 that echoes the input. S3 answers these with its XML error
document; the codes here are the ones S3 uses for each family. The message never echoes
the request: a client learns what was wrong, a log reader nothing the client sent.
"""

from __future__ import annotations

from aiohttp import http_exceptions as hx

from engine.errors import EngineError

MAX_HEADER_BYTES = 8 * 1024  # S3's bound on a request's header section
MAX_LINE_BYTES = 8190  # aiohttp's bound on the request line and on each header field
PARSE_MESSAGE = "An error occurred when parsing the HTTP request"


def section_too_large() -> EngineError:
    return EngineError("RequestHeaderSectionTooLarge", MaxSizeAllowed=str(MAX_HEADER_BYTES))


def parser_error(exc: BaseException | None, *, request_line_done: bool) -> EngineError:
    """The S3 error for what aiohttp's parser raised; ``request_line_done`` tells a
    request line that is too long (InvalidURI) from a header that is (the section is
    then over S3's 8 KiB)."""
    if isinstance(exc, hx.LineTooLong):
        if not request_line_done:
            return EngineError("InvalidURI", f"The request line is longer than "
                               f"{MAX_LINE_BYTES} bytes.")
        return section_too_large()
    if isinstance(exc, hx.BadHttpMessage) and "Too many headers" in exc.message:
        return section_too_large()
    if isinstance(exc, hx.InvalidURLError):
        return EngineError("InvalidURI", "Couldn't parse the specified URI.")
    if isinstance(exc, hx.BadHttpMethod):
        return EngineError("BadRequest", f"{PARSE_MESSAGE}: the request line is not "
                           "METHOD TARGET HTTP/1.1 (an HTTPS client on an HTTP port?).")
    if isinstance(exc, hx.BadStatusLine):
        return EngineError("BadRequest", f"{PARSE_MESSAGE}: the request line is not "
                           "METHOD TARGET HTTP/1.1.")
    if isinstance(exc, hx.InvalidHeader):
        return EngineError("BadRequest", f"{PARSE_MESSAGE}: a header value holds a "
                           "forbidden character.")
    if isinstance(exc, hx.PayloadEncodingError):
        return EngineError("IncompleteBody", "The request body does not match its framing "
                           "(Content-Length or chunked transfer encoding).")
    reason = _reason(exc.message if isinstance(exc, hx.HttpProcessingError) else "")
    return EngineError("BadRequest", f"{PARSE_MESSAGE}{reason}.")


_REASONS = (  # aiohttp/llhttp's wording -> ours, without the echoed bytes
    ("Transfer-Encoding", ": invalid Transfer-Encoding (only chunked, without "
     "Content-Length)"),
    ("Content-Length", ": invalid or repeated Content-Length"),
    ("chunk", ": invalid chunked transfer encoding"),
    ("header token", ": invalid header name"),
    ("Host", ": HTTP/1.1 requires a Host header"),
    ("Duplicate", ": a header that may appear once appears twice"),
)


def _reason(text: str) -> str:
    for needle, reason in _REASONS:
        if needle.lower() in text.lower():
            return reason
    return ""
