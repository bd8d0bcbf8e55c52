"""Requests out of a connection's byte stream: command lines and their data blocks.

Memory is bounded whatever a client sends: a line without an end is held up to
MAX_LINE bytes (MAX_GET_LINE for the multi-key retrieval commands, as memcached lets
multigets grow), then the connection is to be closed; a data block is held only up to
the item size limit, a larger one is answered at once and its bytes are skipped as they
arrive without being kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.api.memcached.syntax import data_length, split

MAX_LINE = 2048  # memcached closes a connection whose line has no end after 2 KiB...
MAX_GET_LINE = 2 * 1024 * 1024  # ...unless it is a multiget (unbounded there; 2 MiB here)
_GETS = (b"get ", b"gets ", b"gat ", b"gats ")


@dataclass(slots=True)
class Request:
    tokens: list[bytes]
    data: bytes | None = None  # the data block of a storage command
    bad_chunk: bool = False  # the data block was not followed by \r\n
    too_large: bool = False  # the data block was skipped: over the item size limit


class LineTooLong(Exception):
    """A line without an end past the limits: close the connection."""


class RequestParser:
    def __init__(self, max_item: int) -> None:
        self.max_item = max_item
        self._buffer = bytearray()
        self._skip = 0  # bytes of a too-large data block still to drop
        self._waiting: tuple[list[bytes], int] | None = None  # a line awaiting its data
        self._scanned = 0  # bytes of an unfinished line already searched for \n

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Request]:
        """The requests ``data`` completes, in order. LineTooLong when a line grows past
        its bound (the requests before it are lost with the connection)."""
        buffer = self._buffer
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        buffer += data
        out: list[Request] = []
        pos = 0
        while True:
            if self._skip:
                dropped = min(self._skip, len(buffer) - pos)
                self._skip -= dropped
                pos += dropped
                if self._skip:
                    break
            if self._waiting is not None:
                tokens, length = self._waiting
                if len(buffer) - pos < length + 2:
                    break
                end = pos + length
                out.append(Request(tokens, bytes(buffer[pos:end]),
                                   bad_chunk=buffer[end:end + 2] != b"\r\n"))
                pos = end + 2
                self._waiting = None
                continue
            newline = buffer.find(b"\n", max(pos, pos + self._scanned))
            if newline < 0:
                self._scanned = len(buffer) - pos
                if self._scanned > MAX_LINE and (
                        self._scanned > MAX_GET_LINE
                        or not bytes(buffer[pos:pos + 100]).lstrip(b" ").startswith(_GETS)):
                    del buffer[:]
                    raise LineTooLong()
                break
            self._scanned = 0
            line = bytes(buffer[pos:newline])
            pos = newline + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            tokens = split(line)
            plan = data_length(tokens, self.max_item)
            if plan is None:
                out.append(Request(tokens))
                continue
            length, too_large = plan
            if too_large:
                self._skip = length + 2
                out.append(Request(tokens, too_large=True))
            else:
                self._waiting = (tokens, length)
        del buffer[:pos]
        return out
