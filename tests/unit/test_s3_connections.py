"""The S3 endpoint's connection layer: the aiohttp internals it reads still exist, and
aiohttp's parser errors map to S3's codes (the wire behaviour is in
tests/integration/test_s3_http_limits.py)."""

from __future__ import annotations

import pytest
from aiohttp import http_exceptions as hx
from aiohttp.web_protocol import RequestHandler

from engine.api.s3.connections import ConnectionLimits, ConnectionTable
from engine.api.s3.parse_errors import parser_error


def test_the_aiohttp_internals_read_by_s3_connection_exist():
    """connections.py reads these; an aiohttp upgrade that renames them fails here,
    not silently in production (no header deadline, no IncompleteBody)."""
    for name in ("_waiter", "_request_count", "_messages"):
        assert name in RequestHandler.__slots__, name


@pytest.mark.parametrize("exc,line_done,code", [
    (hx.LineTooLong(b"/aaa", 8190), False, "InvalidURI"),
    (hx.LineTooLong(b"aaa", 8190), True, "RequestHeaderSectionTooLarge"),
    (hx.BadHttpMessage("Too many headers received"), True, "RequestHeaderSectionTooLarge"),
    (hx.BadHttpMethod("G@T"), False, "BadRequest"),
    (hx.BadStatusLine("GET / HTTP/9.9"), False, "BadRequest"),
    (hx.InvalidURLError("bad"), False, "InvalidURI"),
    (hx.InvalidHeader(b"a\x00b"), True, "BadRequest"),
    (hx.TransferEncodingError("Not enough data"), True, "IncompleteBody"),
    (hx.BadHttpMessage("Invalid character in Content-Length"), True, "BadRequest"),
])
def test_parser_errors_map_to_s3_codes(exc, line_done, code):
    err = parser_error(exc, request_line_done=line_done)
    assert err.code == code
    assert err.http_status == 400


def test_parser_error_messages_never_echo_the_request():
    err = parser_error(hx.BadHttpMessage("Invalid header token:\n\n  b'X SECRET: 1'"),
                       request_line_done=True)
    assert "SECRET" not in err.message and "invalid header name" in err.message


class _Conn:
    def __init__(self, idle: bool) -> None:
        self.idle = idle
        self.closed = False

    def force_close(self) -> None:
        self.closed = True


def test_the_cap_closes_an_idle_connection_first_then_refuses_then_drops():
    table = ConnectionTable(ConnectionLimits(max_connections=2))
    busy, idle = _Conn(False), _Conn(True)
    assert table.admit(busy) is True and table.admit(idle) is True  # type: ignore[arg-type]
    newcomer = _Conn(False)
    assert table.admit(newcomer) is True and idle.closed  # type: ignore[arg-type]
    assert table.admit(_Conn(False)) is False  # type: ignore[arg-type]
    assert table.admit(_Conn(False)) is False  # type: ignore[arg-type]
    assert table.admit(_Conn(False)) is None  # past twice the cap  # type: ignore[arg-type]
    table.release(busy)  # type: ignore[arg-type]
    assert table.admit(_Conn(False)) is True  # type: ignore[arg-type]
