"""Streams an object body into an erasure set with bounded memory.

Small bodies (up to the inline threshold) are returned whole to be stored inside the
metadata record, uncompressed. Larger ones are cut into stripes by the hot path, each
stripe encoded and its shard blocks sent to the drives of the body's plan (its storage
class: which set positions, which code, see storage_classes.py) in parallel, while the
MD5 (the ETag) and the whole-object CRC32C of the plaintext are computed. Three stages
overlap, each in stream order: receiving the next stripe, hashing (MD5, the costliest
per-byte work, on a worker lane of its own: background_hashing.py) and encoding and
writing. At most ``PIPELINE_DEPTH`` stripes wait in each stage, so memory is O(stripe
size) whatever the object size.

A compressed plan cuts the plaintext into frames of one stripe, compresses each in a
worker thread, and stripes the concatenated compressed frames instead: the same
encoding and quorum rules apply to the stored stream, and the frame sizes recorded in
the layout let a reader find any frame without decompressing the ones before it.

Shard files become durable (fsync, rename) before :meth:`BodyWriter.write` returns; the
caller then commits metadata, or calls :meth:`BodyWriter.discard` so no orphaned shards
remain.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from engine._hotpath import StripeCutter, crc32c, crc32c_combine
from engine.cluster.placement import ErasureSet
from engine.config import StorageConfig
from engine.errors import EngineError
from engine.objects.background_hashing import BackgroundHashing
from engine.objects.storage_classes import BodyPlan, standard_plan
from engine.storage.compression import compress_frame
from engine.storage.drive import AsyncShardWriter, Drive
from engine.v1.records_pb2 import DataLayout

# Stripes a stage (hashing; encoding and writing) may have queued before receiving waits:
# two absorb a slow step of one stage without stalling the others.
PIPELINE_DEPTH = 2


@dataclass
class WrittenBody:
    size: int
    md5_hex: str
    md5_digest: bytes
    crc32c: int
    inline: bytes | None = None
    layout: DataLayout | None = None
    durable: tuple[int, ...] = ()  # drives (set positions) holding a durable shard


class BodyWriter:
    def __init__(self, eset: ErasureSet, config: StorageConfig, bucket: str = "",
                 key: str = "", plan: BodyPlan | None = None) -> None:
        self.eset = eset
        self.plan = plan if plan is not None else standard_plan(eset)
        self.bucket, self.key = bucket, key
        self.config = config
        self.data_id = ""  # named when the first shard is created: inline bodies have none
        self._drives: list[Drive] = [eset.drives[p] for p in self.plan.positions]
        self._writers: list[AsyncShardWriter | None] = []  # by shard index
        self._md5 = hashlib.md5()
        # Every stripe to the lane (batch=1): a body that reaches it exceeds the inline
        # threshold, and a stripe hashed here would stall receiving for a millisecond.
        self._hashing: BackgroundHashing | None = None  # made with the shards
        self._crc = 0
        self._size = 0  # plaintext bytes
        self._stored = 0  # bytes striped (compressed frames, or the plaintext)
        self._frame_sizes: list[int] = []
        self._frames: StripeCutter | None = (
            StripeCutter(config.stripe_size) if self.plan.compression else None)
        self._block_size = 0
        self._stores: deque[asyncio.Future[None]] = deque()  # oldest first, chained

    async def write(self, chunks: AsyncIterator[bytes], max_size: int) -> WrittenBody:
        """Consume the whole body. Raises EntityTooLarge past `max_size` bytes."""
        head: list[bytes] = []
        head_len = 0
        inline_limit = self.config.inline_threshold
        async for chunk in chunks:
            head.append(chunk)
            head_len += len(chunk)
            if head_len > inline_limit:
                break
        else:
            data = b"".join(head)
            self._check_size(len(data), max_size)
            md5 = hashlib.md5(data)
            return WrittenBody(len(data), md5.hexdigest(), md5.digest(), crc32c(data),
                               inline=data)
        cutter = StripeCutter(self.config.stripe_size)
        try:
            await self._open()
            for chunk in head:
                await self._feed(cutter, chunk, max_size)
            async for chunk in chunks:
                await self._feed(cutter, chunk, max_size)
            tail = cutter.flush()
            if tail is not None:
                await self._submit(tail)
            await self._drain()
            stored_tail = self._frames.flush() if self._frames is not None else None
            if stored_tail is not None:
                await self._write_stripe(stored_tail, plaintext=False)
            # The shards' fsync need not wait for the MD5 of the last stripes (nor the
            # MD5 for it): the digest is first read after both.
            assert self._hashing is not None
            done = await asyncio.gather(self._finish(), self._hashing.finish(),
                                        return_exceptions=True)
            failure = next((r for r in done if isinstance(r, BaseException)), None)
            if failure is not None:
                raise failure
        except BaseException:
            # Shielded: a second cancellation (a server stopping cancels its calls, and may
            # do so twice) must not cut the cleanup short and leave shards in tmp/; the
            # node waits for this task before it closes its drives.
            await asyncio.shield(self.discard())
            raise
        durable = tuple(self.plan.positions[i] for i, w in enumerate(self._writers)
                        if w is not None)
        return WrittenBody(self._size, self._md5.hexdigest(), self._md5.digest(), self._crc,
                           layout=self._layout(), durable=durable)

    def _layout(self) -> DataLayout:
        codec = self.plan.codec
        layout = DataLayout(
            data_id=self.data_id, data_shards=codec.data_shards,
            parity_shards=codec.parity_shards, stripe_size=self.config.stripe_size,
            block_size=self._block_size, codec=codec.name, stored_size=self._stored,
        )
        if self.plan.positions != tuple(range(len(self.eset.drives))):  # not shard i on i
            layout.drives.extend(self.plan.positions)
        if self.plan.compression:
            layout.compression = self.plan.compression
            layout.frame_size = self.config.stripe_size
            layout.frame_sizes.extend(self._frame_sizes)
        return layout

    def _check_size(self, size: int, max_size: int) -> None:
        if size > max_size:
            raise EngineError("EntityTooLarge", MaxSizeAllowed=str(max_size))

    async def _feed(self, cutter: StripeCutter, chunk: bytes, max_size: int) -> None:
        self._check_size(self._size + cutter.buffered + len(chunk), max_size)
        for stripe in cutter.feed(chunk):
            await self._submit(stripe)

    async def _submit(self, stripe: memoryview) -> None:
        """Queue plaintext `stripe` for hashing and for storing, each after the stripes
        before it (shard files and digests see the stream in order); waits only while
        ``PIPELINE_DEPTH`` stripes are still being stored or hashed."""
        while len(self._stores) >= PIPELINE_DEPTH:
            await self._stores[0]  # raises when the write lost its quorum
            self._stores.popleft()
        self._size += len(stripe)
        assert self._hashing is not None
        await self._hashing.update(stripe)
        previous = self._stores[-1] if self._stores else None
        self._stores.append(asyncio.ensure_future(self._store_after(previous, stripe)))

    async def _store_after(self, previous: asyncio.Future[None] | None,
                           plain: memoryview) -> None:
        if previous is not None:
            await asyncio.wait((previous,))  # wait(): cancelling this one spares it
            previous.result()
        await self._store(plain)

    async def _drain(self) -> None:
        """Wait until every stripe submitted is stored (hashing may still go on)."""
        while self._stores:
            await self._stores[0]
            self._stores.popleft()

    async def _open(self) -> None:
        """A shard writer on every drive of the plan; below quorum the caller discards
        the ones that were created."""
        self.data_id = uuid.uuid4().hex
        self._hashing = BackgroundHashing((self._md5,), batch=1, depth=PIPELINE_DEPTH)
        results = await asyncio.gather(
            *(d.create_shard(self.data_id, i, self.bucket, self.key)
              for i, d in enumerate(self._drives)),
            return_exceptions=True)
        self._writers = [None if isinstance(r, BaseException) else r for r in results]
        if sum(w is not None for w in self._writers) < self.plan.write_quorum:
            failure = next(r for r in results if isinstance(r, BaseException))
            raise EngineError("ServiceUnavailable",
                              "too few drives accepted the write") from failure

    async def _store(self, plain: memoryview) -> None:
        if self._frames is None:
            await self._write_stripe(plain, plaintext=True)
            return
        frame, frame_crc = await asyncio.to_thread(self._compress, plain)
        self._crc = crc32c_combine(self._crc, frame_crc, len(plain))
        self._frame_sizes.append(len(frame))
        for stripe in self._frames.feed(frame):
            await self._write_stripe(stripe, plaintext=False)

    def _compress(self, plain: memoryview) -> tuple[bytes, int]:
        """Compress one frame and checksum it (in a worker thread: both release the GIL)."""
        return compress_frame(plain), crc32c(plain)

    async def _write_stripe(self, stripe: memoryview, plaintext: bool) -> None:
        blocks, stripe_crc = await asyncio.to_thread(self._encode, stripe)
        if plaintext:
            self._crc = crc32c_combine(self._crc, stripe_crc, len(stripe))
        self._stored += len(stripe)
        self._block_size = max(self._block_size, len(blocks[0][0]))
        live = [(i, w) for i, w in enumerate(self._writers) if w is not None]
        results = await asyncio.gather(
            *(w.write_block(*blocks[i]) for i, w in live), return_exceptions=True
        )
        for (i, _), result in zip(live, results, strict=True):
            if isinstance(result, BaseException):
                self._writers[i] = None  # that drive is out of this write
        if sum(w is not None for w in self._writers) < self.plan.write_quorum:
            raise EngineError("ServiceUnavailable", "too few drives accepted the data")

    def _encode(self, stripe: memoryview
                ) -> tuple[list[tuple[bytes | memoryview, int]], int]:
        """Checksum and encode one stripe, in a worker thread (both release the GIL)."""
        stripe_crc = crc32c(stripe)
        shards = self.plan.codec.encode(stripe)
        if len(shards) == 1:
            return [(shards[0], stripe_crc)], stripe_crc
        return [(s, crc32c(s)) for s in shards], stripe_crc

    async def _finish(self) -> None:
        live = [(i, w) for i, w in enumerate(self._writers) if w is not None]
        results = await asyncio.gather(*(w.commit() for _, w in live), return_exceptions=True)
        for (i, _), result in zip(live, results, strict=True):
            if isinstance(result, BaseException):
                self._writers[i] = None  # no durable shard there: no metadata either
        if sum(w is not None for w in self._writers) < self.plan.write_quorum:
            raise EngineError("ServiceUnavailable", "too few drives made the data durable")

    async def discard(self) -> None:
        """Remove every trace of this write from the plan's drives (best effort)."""
        stores, self._stores = list(self._stores), deque()
        for store in stores:
            store.cancel()
        await asyncio.gather(*stores, return_exceptions=True)
        if self._hashing is not None:
            await self._hashing.cancel()
        if not self.data_id:  # inline: nothing was written anywhere
            return
        live = [w for w in self._writers if w is not None]
        await asyncio.gather(*(w.abort() for w in live), return_exceptions=True)
        await asyncio.gather(*(d.discard(self.data_id) for d in self._drives),
                             return_exceptions=True)
        self._writers = []
