"""Streams (a range of) an object body out of its erasure set.

Shard files are opened before the first byte is sent, so a missing shard is an error
the client sees instead of a truncated stream, and a concurrent overwrite (which deletes
the old files) cannot disturb a read in progress. Only the stripes that overlap the
requested range are read, with one stripe of read-ahead. Data shards are preferred;
with a missing or corrupt shard the stripe is decoded from any k good ones.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from engine.cluster.placement import ErasureSet
from engine.errors import EngineError
from engine.storage.codec import layout_codec
from engine.storage.drive import AsyncShardReader
from engine.storage.errors import StorageError
from engine.v1.records_pb2 import DataLayout, ObjectVersion


class BodyReader:
    def __init__(self, version: ObjectVersion, eset: ErasureSet) -> None:
        self.version = version
        self.eset = eset
        self._readers: dict[int, AsyncShardReader] = {}

    async def open(self) -> BodyReader:
        if self.version.WhichOneof("body") != "layout":
            return self
        layout = self.version.layout
        k = layout.data_shards
        order = list(range(len(self.eset.drives)))  # data shards first, then parity
        for index in order:
            if len(self._readers) >= k:
                break
            with contextlib.suppress(StorageError, OSError):
                drive = self.eset.drives[index]
                self._readers[index] = await drive.open_shard(layout.data_id, index)
        if len(self._readers) < k:
            await self.close()
            raise EngineError("InternalError", "object data is unavailable: too few shards")
        return self

    async def stream(self, first: int, last: int) -> AsyncIterator[bytes]:
        """Bytes `first`..`last` (inclusive) of the body, in stripe-sized chunks."""
        pending: asyncio.Future[bytes] | None = None
        try:
            if self.version.WhichOneof("body") != "layout":
                if last >= first:
                    yield self.version.inline_data[first : last + 1]
                return
            layout = self.version.layout
            stripe = layout.stripe_size
            first_stripe, last_stripe = first // stripe, last // stripe
            pending = asyncio.ensure_future(self._read_stripe(layout, first_stripe))
            for s in range(first_stripe, last_stripe + 1):
                data = await pending
                if s < last_stripe:
                    pending = asyncio.ensure_future(self._read_stripe(layout, s + 1))
                lo = first - s * stripe if s == first_stripe else 0
                hi = last - s * stripe + 1 if s == last_stripe else len(data)
                yield data[lo:hi] if (lo, hi) != (0, len(data)) else data
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            await self.close()

    async def _read_stripe(self, layout: DataLayout, index: int) -> bytes:
        size = self.version.size
        stripe_len = min(layout.stripe_size, size - index * layout.stripe_size)
        codec = layout_codec(layout)
        blocks: dict[int, bytes] = {}
        for shard, reader in list(self._readers.items()):
            try:
                blocks[shard] = await reader.read_block(index, layout.block_size)
            except (StorageError, OSError):
                del self._readers[shard]
            if len(blocks) >= layout.data_shards:
                break
        if len(blocks) < layout.data_shards:
            raise EngineError("InternalError", "object data is unavailable: too few good shards")
        return await asyncio.to_thread(codec.decode, blocks, stripe_len) \
            if len(blocks) > 1 else codec.decode(blocks, stripe_len)

    async def close(self) -> None:
        readers, self._readers = self._readers, {}
        for reader in readers.values():
            await reader.close()
