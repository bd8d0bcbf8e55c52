"""Client requests off the wire: RESP arrays of bulk strings and inline commands,
within Redis's bounds.

Bounds, with Redis's texts (the connection answers the error, then closes): an array of
more than 1M elements ("invalid multibulk length"), a bulk string longer than
``proto-max-bulk-len`` ("invalid bulk length"), an inline line over 64 KiB ("too big
inline request"), unbalanced quotes, anything but bulk strings inside the array
("expected '$', got 'X'"). Before AUTH, Redis's stricter limits apply (10 elements,
16 KiB bulk strings) so an unauthenticated client cannot make the node buffer much. A
request still arriving is checked header by header as its bytes come in, so a client
announcing a huge value is refused at once, not after sending it. The bytes of one
unfinished request are capped at 1 GiB (``client-query-buffer-limit``).

Arrays are cut out by a scanner in C (native/resp_scan.pyx), which checks each header
as Redis's processMultibulkBuffer does (strict integers: clients write canonical RESP,
anything else is a protocol error) and keeps a request split across reads; inline
lines, rare, are split here.
"""

from __future__ import annotations

from collections.abc import Callable

from engine._resp_scan import (  # noqa: F401  (re-exported: the bounds)
    INLINE_MAX,
    MAX_MULTIBULK,
    UNAUTHENTICATED_BULK,
    UNAUTHENTICATED_MULTIBULK,
    RequestScanner,
    ScanError,
)
from engine.api.resp.inline import split_args

QUERY_BUFFER_LIMIT = 1024 * 1024 * 1024


class ProtocolError(Exception):
    """The client broke the protocol; ``text`` is Redis's reply (None: close silently)."""

    def __init__(self, text: str | None) -> None:
        super().__init__(text or "query buffer limit")
        self.text = text


def _error(what: str) -> ProtocolError:
    return ProtocolError(f"ERR Protocol error: {what}")


class RequestParser:
    def __init__(self, max_bulk: int, authenticated: Callable[[], bool] = lambda: True,
                 query_limit: int = QUERY_BUFFER_LIMIT) -> None:
        self.max_bulk = max_bulk
        self.authenticated = authenticated
        self.query_limit = query_limit
        self._buf = bytearray()
        self._pos = 0  # where the unread bytes start
        self._scanner = RequestScanner()  # the array request in progress, if any
        self.held = False  # parsing stopped after a request of an unauthenticated client

    def feed(self, data: bytes) -> tuple[list[list[bytes]], ProtocolError | None]:
        """The complete requests in ``data`` (with what came before), and the protocol
        error that ends the connection after them, if any."""
        self._buf += data
        self.held = False
        commands: list[list[bytes]] = []
        try:
            self._parse(commands)
        except ProtocolError as exc:
            return commands, exc
        except ScanError as exc:
            return commands, _error(str(exc))
        if self._pos:
            del self._buf[:self._pos]
            self._pos = 0
        if len(self._buf) + self._scanner.held_bytes > self.query_limit:
            return commands, ProtocolError(None)
        return commands, None

    def _parse(self, commands: list[list[bytes]]) -> None:
        """Until the data runs out; before AUTH, one request at a time (the caller runs
        it and calls ``feed(b"")`` for the next), so a pipelined AUTH lifts the limits
        for the requests after it, as in Redis."""
        buf, scanner = self._buf, self._scanner
        while self._pos < len(buf):
            authenticated = self.authenticated()
            if commands and not authenticated:
                self.held = True
                return
            if not scanner.busy and buf[self._pos] != 42:  # not '*': an inline command
                if not self._inline(commands):
                    return
                continue
            self._pos, more = scanner.scan(buf, self._pos, commands, authenticated,
                                           self.max_bulk, 0 if authenticated else 1)
            if more:
                return

    def _inline(self, commands: list[list[bytes]]) -> bool:
        buf = self._buf
        end = buf.find(b"\n", self._pos)
        if end < 0:
            if len(buf) - self._pos > INLINE_MAX:
                raise _error("too big inline request")
            return False
        line = bytes(buf[self._pos:end])
        self._pos = end + 1
        args = split_args(line[:-1] if line.endswith(b"\r") else line)
        if args is None:
            raise _error("unbalanced quotes in request")
        if args:
            commands.append(args)
        return True
