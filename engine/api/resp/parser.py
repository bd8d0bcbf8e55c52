"""Client requests off the wire: RESP arrays of bulk strings (hiredis's C ``Reader``)
and inline commands, within Redis's bounds.

Bounds, with Redis's texts (the connection answers the error, then closes): an array of
more than 1M elements ("invalid multibulk length"), a bulk string longer than
``proto-max-bulk-len`` ("invalid bulk length"), an inline line over 64 KiB ("too big
inline request"), unbalanced quotes, anything but bulk strings inside the array
("expected '$', got 'X'"). Before AUTH, Redis's stricter limits apply (10 elements,
16 KiB bulk strings) so an unauthenticated client cannot make the node buffer much. A
request still arriving is checked header by header as its bytes come in, so a client
announcing a huge value is refused at once, not after sending it. The bytes of one
unfinished request are capped at 1 GiB (``client-query-buffer-limit``).

hiredis parses each array once; this class checks the headers of what it returns (so
it knows where the next request starts, and a batch may mix inline and array requests)
and those of a request split across reads as they arrive. Clients write canonical RESP;
anything else is a protocol error.
"""

from __future__ import annotations

from collections.abc import Callable

import hiredis

from engine.api.resp.inline import split_args

MAX_MULTIBULK = 1024 * 1024
INLINE_MAX = 64 * 1024  # PROTO_INLINE_MAX_SIZE
QUERY_BUFFER_LIMIT = 1024 * 1024 * 1024
UNAUTHENTICATED_MULTIBULK = 10
UNAUTHENTICATED_BULK = 16384


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
        self._pos = 0  # where the first unfinished request starts
        self._reader: hiredis.Reader | None = None  # fed from _pos on, when set
        self._fed = 0  # how far into _buf the reader has been fed
        self._scan = 0  # header scan of an unfinished array: next element header
        self._left = 0  # elements the scan has not reached yet
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
        if self._pos:
            del self._buf[:self._pos]
            self._fed -= self._pos
            self._scan -= self._pos
            self._pos = 0
        if len(self._buf) > self.query_limit:
            return commands, ProtocolError(None)
        return commands, None

    def _parse(self, commands: list[list[bytes]]) -> None:
        """Until the data runs out; before AUTH, one request at a time (the caller runs
        it and calls ``feed(b"")`` for the next), so a pipelined AUTH lifts the limits
        for the requests after it, as in Redis."""
        buf = self._buf
        while True:
            if commands and self._pos < len(buf) and not self.authenticated():
                self._reader = None
                self._fed = self._pos
                self.held = True
                return
            if self._reader is None:
                if self._pos >= len(buf):
                    return
                if buf[self._pos] != 42:  # not '*': an inline command
                    if not self._inline(commands):
                        return
                    continue
                if not self._start_array():
                    return
                continue
            if self._fed < len(buf):
                self._reader.feed(bytes(buf[self._fed:]))
                self._fed = len(buf)
            if not self._drain(commands):
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

    def _start_array(self) -> bool:
        """Check the array header at _pos; False until it has arrived whole."""
        buf = self._buf
        end = buf.find(b"\r\n", self._pos)
        if end < 0:
            if len(buf) - self._pos > INLINE_MAX:
                raise _error("too big mbulk count string")
            return False
        try:
            count = int(buf[self._pos + 1:end])
        except ValueError:
            raise _error("invalid multibulk length") from None
        if count > MAX_MULTIBULK:
            raise _error("invalid multibulk length")
        if count > UNAUTHENTICATED_MULTIBULK and not self.authenticated():
            raise _error("unauthenticated multibulk length")
        if count <= 0:  # "*0" and "*-1": nothing to run
            self._pos = end + 2
            return True
        self._reader = hiredis.Reader()
        self._fed = self._pos
        self._scan = end + 2
        self._left = count
        return True

    def _drain(self, commands: list[list[bytes]]) -> bool:
        """Take every request hiredis completes; False when the rest is unfinished."""
        assert self._reader is not None
        buf = self._buf
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError:
                raise _error("invalid bulk length") from None
            if reply is False:
                self._check_unfinished()
                return False
            self._consume(reply)
            commands.append(reply)
            if (self._pos >= len(buf) or buf[self._pos] != 42
                    or not self.authenticated()):
                self._reader = None  # what follows is inline (or nothing yet)
                return True
            if not self._start_next():
                return True

    def _start_next(self) -> bool:
        """Another array follows, already fed to the reader: check its header."""
        buf = self._buf
        end = buf.find(b"\r\n", self._pos)
        if end < 0:
            self._reader = None
            self._fed = self._pos
            return False
        reader = self._reader
        self._reader = None
        self._start_array()  # validates; makes a fresh reader (or skips "*0")
        if self._reader is not None:  # keep the one already fed instead of re-feeding
            self._reader = reader
            self._fed = len(buf)
            return True
        return False

    def _consume(self, reply: object) -> None:
        """Move past the request hiredis returned, checking that its bytes are an array
        of bulk strings in canonical form (so the next request starts where we think)."""
        buf, pos = self._buf, self._pos
        if not isinstance(reply, list):
            raise _error("invalid multibulk length")
        header = b"*%d\r\n" % len(reply)
        if not buf.startswith(header, pos):
            raise _error("invalid multibulk length")
        pos += len(header)
        for item in reply:
            if buf[pos] != 36:  # '$'
                raise _error(f"expected '$', got '{chr(buf[pos])}'")
            assert isinstance(item, bytes)
            header = b"$%d\r\n" % len(item)
            if not buf.startswith(header, pos):
                raise _error("invalid bulk length")
            pos += len(header) + len(item) + 2
        self._pos = pos

    def _check_unfinished(self) -> None:
        """The headers of the request still arriving, as far as they have come."""
        buf = self._buf
        limit = self.max_bulk if self.authenticated() else UNAUTHENTICATED_BULK
        while self._left > 0 and self._scan < len(buf):
            end = buf.find(b"\r\n", self._scan)
            if end < 0:
                if len(buf) - self._scan > INLINE_MAX:
                    raise _error("too big bulk count string")
                return
            if buf[self._scan] != 36:  # '$'
                raise _error(f"expected '$', got '{chr(buf[self._scan])}'")
            try:
                length = int(buf[self._scan + 1:end])
            except ValueError:
                raise _error("invalid bulk length") from None
            if length < 0 or length > self.max_bulk:
                raise _error("invalid bulk length")
            if length > limit:
                raise _error("unauthenticated bulk length")
            self._scan = end + 2 + length + 2
            self._left -= 1
