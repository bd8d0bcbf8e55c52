"""Bodies in both directions, a chunk at a time, so memory stays bounded for any size.

Upload: :func:`body_chunks` cuts bytes, str or a file-like object into 1 MiB chunks;
:func:`upload_body` sends them after a header (PutObject, UploadPart).
Download: :class:`StreamingBody` is botocore's StreamingBody over an iterator of chunks
that is pulled only as the caller reads.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

from engine.client.errors import IncompleteReadError, ParamValidationError

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from engine.client.calls import Caller

CHUNK_SIZE = 1024 * 1024  # one message per MiB: well under gRPC's message size limit

Body = bytes | bytearray | memoryview | str | IO[bytes] | IO[str] | None


def _is_file(body: object) -> bool:
    return hasattr(body, "read") and not isinstance(body, bytes | bytearray | memoryview | str)


def body_length(body: Any) -> int | None:
    """Bytes left in ``body`` when that is knowable without reading it, else None.

    For a seekable binary file that is size minus the current position (botocore also
    uploads from where the file stands). Text files and pipes have no such number.
    """
    if body is None:
        return 0
    if isinstance(body, str):
        return len(body.encode("utf-8"))
    if isinstance(body, bytes | bytearray | memoryview):
        return memoryview(body).nbytes
    if not _is_file(body) or isinstance(body, io.TextIOBase):
        return None
    try:
        if hasattr(body, "seekable") and not body.seekable():
            return None
        here = body.tell()
        end = body.seek(0, os.SEEK_END)
        body.seek(here, os.SEEK_SET)
    except (AttributeError, OSError, ValueError):
        return None
    return max(0, int(end) - int(here))


def body_chunks(body: Any, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield ``body`` as chunks of at most ``chunk_size`` bytes; nothing for an empty body.

    A file is read lazily, one chunk per step; text read from a file is UTF-8 encoded.
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    if body is None:
        return
    if isinstance(body, str):
        body = body.encode("utf-8")
    if isinstance(body, bytes | bytearray | memoryview):
        view = memoryview(body).cast("B")
        for start in range(0, view.nbytes, chunk_size):
            yield bytes(view[start : start + chunk_size])
        return
    if not _is_file(body):
        raise ParamValidationError(
            f"Invalid type for parameter Body, value: {type(body).__name__}, valid types: "
            "bytes, bytearray, str, file-like object"
        )
    while True:
        data = body.read(chunk_size)
        if not data:
            return
        yield data.encode("utf-8") if isinstance(data, str) else bytes(data)


def upload_body(
    calls: Caller,
    op: str,
    method: Any,
    request: Callable[..., Message],
    header: Any,
    body: Any,
    content_length: int | None,
) -> Any:
    """Send ``request(header=header)``, then ``body`` as ``request(chunk=...)`` messages.

    The header's content_length is ``content_length`` when given, else the body's length
    when that is knowable (see :func:`body_length`), else left unset. Returns the response.
    """
    length = content_length if content_length is not None else body_length(body)
    if length is not None:
        header.content_length = length
    return calls.upload(
        op,
        method,
        request(header=header),
        body_chunks(body, CHUNK_SIZE),
        lambda chunk: request(chunk=chunk),
    )


class StreamingBody(io.IOBase):
    """botocore's StreamingBody: a read-once stream over the object's bytes.

    Chunks are pulled from the server only as they are read. ``close()`` (also on
    garbage collection or leaving a ``with`` block) calls ``on_close``, which cancels the
    underlying call when the body was not read to the end.
    """

    _DEFAULT_CHUNK_SIZE = CHUNK_SIZE

    def __init__(
        self,
        chunks: Iterable[bytes],
        content_length: int | None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._content_length = content_length
        self._on_close = on_close
        self._buf = b""
        self._pos = 0
        self._received = 0
        self._amount_read = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._amount_read

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed StreamingBody")

    def _fill(self) -> bool:
        """Make the buffer non-empty from the next chunk; False at end of stream."""
        while self._pos >= len(self._buf):
            if self._eof:
                return False
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._eof = True
                self._buf, self._pos = b"", 0
                self._verify_length()
                return False
            self._received += len(chunk)
            self._buf, self._pos = chunk, 0
        return True

    def _verify_length(self) -> None:
        if self._content_length is not None and self._received != self._content_length:
            raise IncompleteReadError(self._received, self._content_length)

    def _take(self, n: int) -> bytes:
        piece = self._buf[self._pos : self._pos + n]
        self._pos += len(piece)
        self._amount_read += len(piece)
        return piece

    def read(self, amt: int | None = None) -> bytes:
        """Up to ``amt`` bytes (fewer only at the end); everything left when None."""
        self._check_open()
        parts: list[bytes] = []
        if amt is None or amt < 0:
            while self._fill():
                parts.append(self._take(len(self._buf) - self._pos))
        else:
            need = amt
            while need > 0 and self._fill():
                piece = self._take(need)
                parts.append(piece)
                need -= len(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(view.nbytes)
        view[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        self._check_open()
        limit = None if size is None or size < 0 else size
        parts: list[bytes] = []
        got = 0
        while (limit is None or got < limit) and self._fill():
            newline = self._buf.find(b"\n", self._pos)
            end = len(self._buf) if newline < 0 else newline + 1
            if limit is not None:
                end = min(end, self._pos + limit - got)
            piece = self._take(end - self._pos)
            parts.append(piece)
            got += len(piece)
            if piece.endswith(b"\n"):
                break
        return b"".join(parts)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self.iter_lines(keepends=True))

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_chunks(self._DEFAULT_CHUNK_SIZE)

    def __next__(self) -> bytes:
        chunk = self.read(self._DEFAULT_CHUNK_SIZE)
        if chunk:
            return chunk
        raise StopIteration()

    next = __next__

    def iter_chunks(self, chunk_size: int = _DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Chunks of ``chunk_size`` bytes (the last may be shorter)."""
        while True:
            chunk = self.read(chunk_size)
            if not chunk:
                return
            yield chunk

    def iter_lines(
        self, chunk_size: int = _DEFAULT_CHUNK_SIZE, keepends: bool = False
    ) -> Iterator[bytes]:
        """Lines split as bytes.splitlines does (botocore's algorithm)."""
        pending = b""
        for chunk in self.iter_chunks(chunk_size):
            lines = (pending + chunk).splitlines(True)
            for line in lines[:-1]:
                yield line.splitlines(keepends)[0]
            pending = lines[-1]
        if pending:
            yield pending.splitlines(keepends)[0]

    def close(self) -> None:
        if not self.closed:
            try:
                if self._on_close is not None:
                    self._on_close()
            finally:
                close = getattr(self._chunks, "close", None)
                if close is not None:
                    close()
        super().close()
