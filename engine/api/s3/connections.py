"""The S3 endpoint's connections: header timeout, connection cap, parser errors as S3's.

aiohttp times an idle keep-alive connection but not a client that sends its header
section byte by byte, caps nothing, and answers its parser's errors in plain text. So
each connection is an :class:`S3Connection`, aiohttp's ``RequestHandler`` with:

- a **header deadline**: from the connection's start, and from the first byte of each
  later request, the whole header section must arrive within ``header_timeout``
  seconds and ``HEADER_BUDGET`` bytes, else 400 ``RequestTimeout`` (or
  ``RequestHeaderSectionTooLarge``) and the connection closes (as Go's
  ReadHeaderTimeout and hyper's header_read_timeout do); a new connection that sent
  nothing is closed without an answer. Bodies are timed by body.py, idle keep-alive
  connections by aiohttp's keep-alive timeout.
- a **cap** (``max_connections``): at the cap a new connection first takes the place of
  an idle keep-alive one (closed, as nginx reuses them); when none is idle it is served
  one 503 ``SlowDown`` (S3's and MinIO's answer to overload; SDKs retry it with
  backoff) and closed. Past twice the cap a connection is closed unanswered.
- S3's XML errors (parse_errors.py) for what aiohttp's parser refuses, logged at debug
  level: a client's mistake is not the server's error.
- a client that half-closes mid-body gets ``IncompleteBody`` on the still-open side.

It reads three of aiohttp's internals (``_waiter``: the connection waits for its next
request; ``_request_count``: a request arrived; ``_messages``: those not yet served);
tests/unit/test_s3_connections.py fails if an aiohttp upgrade renames them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import StreamReader, web
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import (
    ContentLengthError,
    HttpProcessingError,
    TransferEncodingError,
)
from aiohttp.web_protocol import RequestHandler

from engine.api.s3.documents_core import error_document
from engine.api.s3.errors import HOST_ID, REQUEST_ID, XML, details, error_response, host_id
from engine.api.s3.parse_errors import MAX_HEADER_BYTES, MAX_LINE_BYTES, parser_error
from engine.errors import EngineError
from engine.observability import request_id

log = logging.getLogger("engine.s3")

# The most a header section may take: the request line, S3's 8 KiB and some slack for
# the whitespace app.py does not count. Past it nothing valid can follow.
HEADER_BUDGET = MAX_LINE_BYTES + MAX_HEADER_BYTES + 1024
CAPACITY = "capacity"  # request key: False for a connection over the cap


@dataclass(frozen=True)
class ConnectionLimits:
    """``header_timeout`` seconds for a header section (0: no limit) and at most
    ``max_connections`` open connections (0: no cap)."""

    header_timeout: float = 30.0
    max_connections: int = 1024


class ConnectionTable:
    """The open connections of one listener, for the cap."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._open: dict[S3Connection, None] = {}  # insertion order: oldest first
        self._over: set[S3Connection] = set()

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, conn: S3Connection) -> bool | None:
        """True: serve it; False: over the cap, answer SlowDown; None: drop it."""
        cap = self.limits.max_connections
        if cap > 0 and len(self._open) >= cap:
            idle = next((c for c in self._open if c.idle), None)
            if idle is None:
                if len(self._over) >= cap:
                    return None
                self._over.add(conn)
                return False
            self.release(idle)
            idle.force_close()
        self._open[conn] = None
        return True

    def release(self, conn: S3Connection) -> None:
        self._open.pop(conn, None)
        self._over.discard(conn)


class S3Connection(RequestHandler):
    """One client connection (see the module docstring)."""

    def __init__(self, manager: web.Server, *, table: ConnectionTable, node_id: str,
                 **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._table = table
        self.node_id = node_id
        self.admitted = True
        self._in_headers = False  # between a request's first byte and its last header
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_deadline = 0.0
        self._header_bytes = 0
        self._line_bytes = 0  # of the request line: a line too long is the URI's
        self._line_done = False
        self._payload: StreamReader | None = None  # the body of the latest request

    @property
    def idle(self) -> bool:
        """Kept alive between requests with nothing of the next one received."""
        waiter = self._waiter
        return (self.transport is not None and not self._in_headers and
                self._request_count > 0 and waiter is not None and not waiter.done())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        verdict = self._table.admit(self)
        if verdict is None:
            self.force_close()
            return
        self.admitted = verdict
        self._start_headers()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_headers()
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._table.release(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._in_headers and data and self._waiter is not None and \
                not self._waiter.done():
            self._start_headers()  # the first byte of the next request
        if self._in_headers and not self._line_done:
            end = data.find(b"\n")
            self._line_bytes += len(data) if end < 0 else end
            self._line_done = end >= 0
        arrived, reading = self._request_count, self._payload
        super().data_received(data)
        if self._request_count != arrived:  # a request (or a parse error) is complete
            if reading is not None and not reading.is_eof():
                self._framing_failed(reading)
            self._payload = self._messages[-1][1] if self._messages else None
            self._stop_headers()
            return
        if not self._in_headers:
            return
        self._header_bytes += len(data)
        if self._header_bytes > HEADER_BUDGET:
            self._refuse(EngineError("RequestHeaderSectionTooLarge",
                                     MaxSizeAllowed=str(MAX_HEADER_BYTES)))

    def _framing_failed(self, payload: StreamReader) -> None:
        """aiohttp's parser failed inside a body (bad chunked framing): it queues a parse
        error for after the request but leaves the body waiting for bytes that will not
        come. End the body with the error now (IncompleteBody) and close after the
        answer."""
        payload.set_exception(TransferEncodingError("the body's framing is invalid"))
        payload.feed_eof()
        self.close()

    def eof_received(self) -> bool | None:
        """The client closed its sending side: a request that arrived still gets its
        answer (a body cut short: IncompleteBody), then the connection closes."""
        payload = self._payload
        waiting = self._waiter is not None and not self._waiter.done() and not self._messages
        if self._in_headers or payload is None or waiting:
            return None  # nothing to answer
        if not payload.is_eof():
            payload.set_exception(ContentLengthError(
                "the client closed its side of the connection before the body ended"))
            payload.feed_eof()  # nothing more comes: no lingering for the rest
        self.close()
        return True

    def _start_headers(self) -> None:
        self._in_headers = True
        self._header_bytes = 0
        self._line_bytes = 0
        self._line_done = False
        timeout = self._table.limits.header_timeout
        if timeout > 0:  # one timer per connection, moved lazily: no call per request
            self._header_deadline = self._loop.time() + timeout
            if self._header_timer is None:
                self._header_timer = self._loop.call_at(self._header_deadline,
                                                        self._check_headers)

    def _stop_headers(self) -> None:
        self._in_headers = False

    def _check_headers(self) -> None:
        self._header_timer = None
        if not self._in_headers or self.transport is None:
            return
        if self._loop.time() < self._header_deadline:  # a later request's deadline
            self._header_timer = self._loop.call_at(self._header_deadline,
                                                    self._check_headers)
            return
        self._headers_too_slow()

    def _headers_too_slow(self) -> None:
        """Past the header deadline: a connection that sent nothing is closed silently
        (a client that connected early may be about to use it: an unasked-for answer
        would be read as the answer to its request); one that sent part of a request
        is told RequestTimeout."""
        if self._header_bytes == 0:
            self._stop_headers()
            self.force_close()
            return
        self._refuse(EngineError("RequestTimeout", "Your socket connection to the server "
                                 "was not read from or written to within the timeout "
                                 "period: the request's headers did not arrive in "
                                 f"{self._table.limits.header_timeout:g} seconds."))

    def _refuse(self, err: EngineError) -> None:
        """Answer ``err`` outside any request (the request never arrived) and close."""
        self._stop_headers()
        transport = self.transport
        if transport is None:
            return
        rid = request_id.new().upper()
        host = host_id(self.node_id, rid)
        body = error_document(err.code, err.message, details(err), "", rid, host)
        status = HTTPStatus(err.http_status)
        head = (f"HTTP/1.1 {status.value} {status.phrase}\r\n{REQUEST_ID}: {rid}\r\n"
                f"{HOST_ID}: {host}\r\nContent-Type: {XML}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\nServer: engine\r\n\r\n")
        log.debug("closing a connection from %s: %s", self.peername, err.code)
        transport.write(head.encode() + body)
        self.force_close()

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """aiohttp's answer to what its parser refused (or to a handler that failed),
        as S3's XML error; the connection closes after it."""
        if isinstance(exc, HttpProcessingError):
            err = parser_error(exc, request_line_done=self._line_done and
                               self._line_bytes <= MAX_LINE_BYTES + 1)
            log.debug("unparsable request from %s: %s (%s)", request.remote, err.code,
                      exc.__class__.__name__)
        else:
            err = EngineError("InternalError")
            log.error("request from %s failed (%d)", request.remote, status, exc_info=exc)
        if request.writer.output_size > 0:
            raise ConnectionError("the answer had started: the connection is cut")
        _answer_as_http11(request)
        rid = request_id.new().upper()
        response = error_response(err, head=request.method == "HEAD", resource="",
                                  request_id=rid, host=host_id(self.node_id, rid))
        response.headers["Server"] = "engine"
        response.force_close()
        return response


def _answer_as_http11(request: web.BaseRequest) -> None:
    """aiohttp answers a request its parser refused as HTTP/1.0 (the message it stands
    in for the request has that version); S3 answers HTTP/1.1, as on every other error.
    The status line is written from the request's version, held in a private field:
    if a later aiohttp moves it, the answer stays HTTP/1.0, still well formed."""
    if getattr(request, "_version", HttpVersion11) < HttpVersion11:
        request._version = HttpVersion11
        getattr(request, "_cache", {}).pop("version", None)  # reify's memo


@web.middleware
async def refuse_over_capacity(request: web.Request, handler: Any) -> web.StreamResponse:
    """A connection over the cap: its one request is answered SlowDown, then it closes."""
    protocol = request.protocol
    if isinstance(protocol, S3Connection) and not protocol.admitted:
        rid = request_id.new().upper()
        response = error_response(EngineError("SlowDown"), head=request.method == "HEAD",
                                  resource=request.path, request_id=rid,
                                  host=host_id(protocol.node_id, rid))
        response.force_close()
        return response
    return await handler(request)
