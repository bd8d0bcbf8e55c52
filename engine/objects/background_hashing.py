"""Hashing a stream's bytes on worker threads, in order, while the stream goes on.

MD5 (an object's ETag) runs at about 650 MB/s on one core and cannot be split: done
inline, between receiving a stripe and writing it, it caps a single upload at that speed
minus everything else. hashlib (and zlib, and the hot path's CRC32C) release the GIL on
large buffers, so the same work on a worker thread overlaps receiving, encoding and
writing. :class:`BackgroundHashing` is that worker lane: buffers are gathered into
batches of at least ``batch`` bytes, each batch is hashed after the previous one (a digest
sees the bytes in stream order), at most ``depth`` batches are queued (memory stays at a
few batches), and a failure surfaces from :meth:`finish`, before the caller trusts a
digest. A stream shorter than one batch never leaves the caller's thread: for a small
body a thread hop would cost more than the hashing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from engine.sigv4.chunk_signing import Hasher

Buffer = bytes | memoryview

class BackgroundHashing:
    """Feeds every buffer of a stream, in order, to each of ``hashers`` on worker threads.

    The caller keeps each buffer unchanged until :meth:`finish` returns (bytes and the
    hot path's stripes are never reused); the hashers are read only after that.
    """

    def __init__(self, hashers: Sequence[Hasher], *, batch: int = 1 << 20,
                 depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self._hashers = tuple(hashers)
        self._batch_bytes = batch
        self._depth = depth
        self._batch: list[Buffer] = []
        self._batched = 0
        self._started = False  # a batch went to a worker: the rest must follow it there
        self._queued: deque[asyncio.Future[None]] = deque()

    async def update(self, data: Buffer) -> None:
        """Add ``data`` after everything added before; waits only while ``depth``
        batches are still unhashed."""
        if not self._hashers:
            return
        self._batch.append(data)
        self._batched += len(data)
        if self._batched >= self._batch_bytes:
            await self._send()

    async def finish(self) -> None:
        """Hash what is left and wait until every buffer is hashed; re-raises a hashing
        failure."""
        if self._batch and not self._started:
            self._hash(tuple(self._batch))  # all of a short stream: here, no thread hop
            self._batch, self._batched = [], 0
        elif self._batch:
            await self._send()
        while self._queued:
            await self._queued[0]
            self._queued.popleft()

    async def _send(self) -> None:
        while len(self._queued) >= self._depth:
            await self._queued[0]  # raises the lane's failure, if any
            self._queued.popleft()
        buffers, self._batch, self._batched = tuple(self._batch), [], 0
        previous = self._queued[-1] if self._queued else None
        self._started = True
        self._queued.append(asyncio.ensure_future(self._hash_after(previous, buffers)))

    async def cancel(self) -> None:
        """Drop what is queued (the stream is abandoned; the digests are meaningless)."""
        queued, self._queued = list(self._queued), deque()
        self._batch, self._batched = [], 0
        for future in queued:
            future.cancel()
        await asyncio.gather(*queued, return_exceptions=True)

    async def _hash_after(self, previous: asyncio.Future[None] | None,
                          buffers: tuple[Buffer, ...]) -> None:
        if previous is not None:
            # wait() rather than await: being cancelled must not cancel the batch before.
            await asyncio.wait((previous,))
            previous.result()
        await asyncio.to_thread(self._hash, buffers)

    def _hash(self, buffers: tuple[Buffer, ...]) -> None:
        for data in buffers:
            for hasher in self._hashers:
                hasher.update(data)
