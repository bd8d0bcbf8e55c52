"""Streams (a range of) an object body out of its erasure set.

Shards are read in order of preference: data shards first (no decoding needed), and
among equals drives in the coordinator's own zone. The k preferred shards of a stripe
are read in parallel; when one is missing, corrupt or its drive does not answer, the
next shard in preference order is read instead and the stripe is decoded, and the bad
shard is reported for repair. The first stripe is read before anything is sent, so a
missing object body is an error, not a truncated stream. Open local shard files keep
their descriptors, so a concurrent overwrite cannot disturb a read in progress. Only
stripes that overlap the range are read, with one stripe of read-ahead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from engine.cluster.placement import ErasureSet
from engine.errors import EngineError
from engine.storage.codec import layout_codec
from engine.storage.drive import AsyncShardReader
from engine.storage.errors import StorageError
from engine.v1.records_pb2 import ObjectVersion

Failures = (StorageError, OSError, ConnectionError, asyncio.TimeoutError)
DegradedHook = Callable[[ObjectVersion, set[int]], None]


class BodyReader:
    def __init__(self, version: ObjectVersion, eset: ErasureSet, first: int, last: int,
                 on_degraded: DegradedHook | None = None) -> None:
        self.version = version
        self.eset = eset
        self.first, self.last = first, last
        self._on_degraded = on_degraded
        self._readers: dict[int, AsyncShardReader] = {}
        self._bad: set[int] = set()
        self._pending: asyncio.Future[bytes] | None = None
        k = version.layout.data_shards if version.WhichOneof("body") == "layout" else 1
        self._order = sorted(
            range(len(eset.drives)),
            key=lambda i: (i >= k, getattr(eset.drives[i], "zone", "") != eset.zone, i),
        )

    async def open(self) -> BodyReader:
        """Read the first stripe now, so failures surface before the response starts."""
        if self.version.WhichOneof("body") == "layout" and self.last >= self.first:
            stripe = self.version.layout.stripe_size
            self._pending = asyncio.ensure_future(self._read_stripe(self.first // stripe))
            try:
                await asyncio.shield(self._pending)
            except BaseException:
                await self.close()
                raise
        return self

    async def stream(self) -> AsyncIterator[bytes]:
        """Bytes `first`..`last` (inclusive) of the body, in stripe-sized chunks."""
        first, last = self.first, self.last
        try:
            if self.version.WhichOneof("body") != "layout":
                if last >= first:
                    yield self.version.inline_data[first : last + 1]
                return
            stripe = self.version.layout.stripe_size
            first_stripe, last_stripe = first // stripe, last // stripe
            if self._pending is None:
                self._pending = asyncio.ensure_future(self._read_stripe(first_stripe))
            for s in range(first_stripe, last_stripe + 1):
                data = await self._pending
                self._pending = None
                if s < last_stripe:
                    self._pending = asyncio.ensure_future(self._read_stripe(s + 1))
                lo = first - s * stripe if s == first_stripe else 0
                hi = last - s * stripe + 1 if s == last_stripe else len(data)
                yield data[lo:hi] if (lo, hi) != (0, len(data)) else data
        finally:
            await self.close()

    async def _block(self, shard: int, index: int) -> bytes:
        reader = self._readers.get(shard)
        if reader is None:
            drive = self.eset.drives[shard]
            reader = await drive.open_shard(self.version.layout.data_id, shard)
            self._readers[shard] = reader
        return await reader.read_block(index, self.version.layout.block_size)

    async def _read_stripe(self, index: int) -> bytes:
        layout = self.version.layout
        k = layout.data_shards
        stripe_len = min(layout.stripe_size, self.version.size - index * layout.stripe_size)
        blocks: dict[int, bytes] = {}
        while len(blocks) < k:
            wanted = [s for s in self._order if s not in blocks and s not in self._bad]
            wanted = wanted[: k - len(blocks)]
            if not wanted:
                raise EngineError("InternalError",
                                  "object data is unavailable: too few good shards")
            results = await asyncio.gather(*(self._block(s, index) for s in wanted),
                                           return_exceptions=True)
            for shard, result in zip(wanted, results, strict=True):
                if isinstance(result, Failures):
                    await self._mark_bad(shard)
                elif isinstance(result, BaseException):
                    raise result
                else:
                    blocks[shard] = result
        codec = layout_codec(layout)
        if len(blocks) == 1:  # the identity code: the block is the stripe
            return codec.decode(blocks, stripe_len)
        return await asyncio.to_thread(codec.decode, blocks, stripe_len)

    async def _mark_bad(self, shard: int) -> None:
        self._bad.add(shard)
        reader = self._readers.pop(shard, None)
        if reader is not None:
            await reader.close()
        if self._on_degraded is not None:
            self._on_degraded(self.version, set(self._bad))

    async def close(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        readers, self._readers = self._readers, {}
        for reader in readers.values():
            await reader.close()
