"""Streams (a range of) an object body out of its erasure set.

A body is inline, one stored layout, or (a completed multipart upload) a list of parts,
each inline or a layout of its own; a range is served from the parts it overlaps, in
order. A layout's shard i lives on set position ``layout.drives[i]`` (shard i on drive
i when the list is empty), coded with the layout's own k+m.

Shards are read in order of preference: data shards first (no decoding needed), and
among equals drives in the coordinator's own zone. The k preferred shards of a stripe
are read in parallel; when one is missing, corrupt or its drive does not answer, the
next shard in preference order is read instead and the stripe is decoded, and the bad
shard is reported for repair. A drive that does not answer is skipped for the rest of
the read (every part), so a dead node costs one timeout, not one per part.

The first stripe is read before anything is sent, so a missing object body is an error,
not a truncated stream. Open local shard files keep their descriptors, so a concurrent
overwrite cannot disturb a read in progress. Only stripes that overlap the range are
read, with one stripe of read-ahead (across parts too). A compressed layout is read as
its stored stream: only the zstd frames the range overlaps are fetched and decompressed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

from engine.cluster.placement import ErasureSet
from engine.errors import EngineError
from engine.objects.storage_classes import shard_positions
from engine.storage.codec import layout_codec
from engine.storage.compression import (
    FrameSpan,
    decompress_frame,
    frame_length,
    frame_span,
    is_compressed,
)
from engine.storage.drive import AsyncShardReader
from engine.storage.errors import BitrotError, StorageError
from engine.v1.records_pb2 import DataLayout, ObjectVersion

log = logging.getLogger("engine.objects")

Failures = (StorageError, OSError, ConnectionError, asyncio.TimeoutError)
Unreachable = (ConnectionError, asyncio.TimeoutError)  # the drive, not this shard
DegradedHook = Callable[[ObjectVersion, set[int]], None]


@dataclass(eq=False)
class _Segment:
    """One stored body (the object's, or one part's) and the bytes lo..hi wanted of it."""

    size: int
    lo: int
    hi: int
    inline: bytes = b""
    layout: DataLayout | None = None
    frames: FrameSpan | None = None
    readers: dict[int, AsyncShardReader] = field(default_factory=dict)  # by shard
    bad: set[int] = field(default_factory=set)  # shards found missing or corrupt
    drives: list[int] = field(default_factory=list)  # set position of shard 0, 1, ...

    def __post_init__(self) -> None:
        if self.layout is not None:
            self.drives = shard_positions(self.layout)
            if is_compressed(self.layout):
                self.frames = frame_span(self.layout, self.lo, self.hi)

    @property
    def stored_range(self) -> tuple[int, int]:
        """Bytes of the stored stream to read (inclusive)."""
        if self.frames is not None:
            return self.frames.stored_first, self.frames.stored_last
        return self.lo, self.hi

    @property
    def stored_size(self) -> int:
        assert self.layout is not None
        return self.layout.stored_size or self.size

    def stripes(self) -> range:
        if self.layout is None:
            return range(0)
        first, last = self.stored_range
        stripe = self.layout.stripe_size
        return range(first // stripe, last // stripe + 1)


def _segments(version: ObjectVersion, first: int, last: int) -> list[_Segment]:
    kind = version.WhichOneof("body")
    if kind == "layout":
        return [_Segment(version.size, first, last, layout=version.layout)]
    if kind != "parts":
        return [_Segment(version.size, first, last, inline=version.inline_data)]
    out: list[_Segment] = []
    start = 0
    for part in version.parts.parts:
        end = start + part.size  # exclusive
        if part.size and start <= last and first < end:
            lo, hi = max(first, start) - start, min(last, end - 1) - start
            if part.WhichOneof("body") == "layout":
                out.append(_Segment(part.size, lo, hi, layout=part.layout))
            else:
                out.append(_Segment(part.size, lo, hi, inline=part.inline_data))
        start = end
    return out


class BodyReader:
    def __init__(self, version: ObjectVersion, eset: ErasureSet, first: int, last: int,
                 on_degraded: DegradedHook | None = None) -> None:
        self.version = version
        self.eset = eset
        self.first, self.last = first, last
        self._on_degraded = on_degraded
        self._segments = _segments(version, first, last) if last >= first else []
        self._jobs: Iterator[tuple[_Segment, int]] = (
            (seg, s) for seg in self._segments for s in seg.stripes())
        self._pending: asyncio.Future[bytes] | None = None
        self._pending_job: tuple[_Segment, int] | None = None
        self._down: set[int] = set()  # set positions whose drive did not answer

    async def open(self) -> BodyReader:
        """Read the first stripe now, so failures surface before the response starts."""
        self._advance()
        if self._pending is not None:
            try:
                await asyncio.shield(self._pending)
            except BaseException:
                await self.close()
                raise
        return self

    async def stream(self) -> AsyncIterator[bytes]:
        """Bytes `first`..`last` (inclusive) of the body, in stripe-sized chunks."""
        try:
            if self._pending_job is None and self._pending is None:
                self._advance()
            for seg in self._segments:
                if seg.layout is None:
                    yield seg.inline[seg.lo : seg.hi + 1]
                    continue
                async with contextlib.aclosing(self._stream_layout(seg)) as chunks:
                    async for chunk in chunks:
                        yield chunk
                await self._close_segment(seg)
        finally:
            await self.close()

    def _advance(self) -> None:
        """Start reading the next stripe of the whole read (read-ahead)."""
        job = next(self._jobs, None)
        self._pending_job = job
        self._pending = None if job is None else asyncio.ensure_future(self._read_stripe(*job))

    async def _next_stripe(self, seg: _Segment, index: int) -> bytes:
        assert self._pending is not None and self._pending_job == (seg, index)
        data = await self._pending
        self._advance()
        return data

    async def _stream_layout(self, seg: _Segment) -> AsyncIterator[bytes]:
        assert seg.layout is not None
        stripe = seg.layout.stripe_size
        first, last = seg.stored_range
        frames = _FrameDecoder(seg) if seg.frames is not None else None
        for s in seg.stripes():
            data = await self._next_stripe(seg, s)
            lo = max(first - s * stripe, 0)
            hi = min(last - s * stripe + 1, len(data))
            piece = data[lo:hi] if (lo, hi) != (0, len(data)) else data
            if frames is None:
                yield piece
            else:
                for chunk in await frames.feed(piece):
                    yield chunk
        if frames is not None:
            frames.check_done()

    # -- one stripe of one layout ----------------------------------------------------

    def _order(self, seg: _Segment) -> list[int]:
        """Shard indexes by preference: data shards first, then the coordinator's zone."""
        assert seg.layout is not None
        k, positions = seg.layout.data_shards, seg.drives
        return sorted(range(len(positions)),
                      key=lambda i: (i >= k, self._zone(positions[i]) != self.eset.zone, i))

    def _zone(self, position: int) -> str:
        return self.eset.zone_of(position) or getattr(self.eset.drives[position], "zone", "")

    async def _block(self, seg: _Segment, shard: int, index: int) -> bytes:
        assert seg.layout is not None
        reader = seg.readers.get(shard)
        if reader is None:
            drive = self.eset.drives[seg.drives[shard]]
            reader = await drive.open_shard(seg.layout.data_id, shard)
            seg.readers[shard] = reader
        return await reader.read_block(index, seg.layout.block_size)

    async def _read_stripe(self, seg: _Segment, index: int) -> bytes:
        layout = seg.layout
        assert layout is not None
        k, positions = layout.data_shards, seg.drives
        stripe_len = min(layout.stripe_size, seg.stored_size - index * layout.stripe_size)
        blocks: dict[int, bytes] = {}
        order = self._order(seg)
        while len(blocks) < k:
            wanted = [s for s in order if s not in blocks and s not in seg.bad
                      and positions[s] not in self._down][: k - len(blocks)]
            if not wanted:
                raise self._unavailable(seg)
            results = await asyncio.gather(*(self._block(seg, s, index) for s in wanted),
                                           return_exceptions=True)
            for shard, result in zip(wanted, results, strict=True):
                if isinstance(result, Failures):
                    await self._mark_bad(seg, shard, isinstance(result, Unreachable))
                elif isinstance(result, BaseException):
                    raise result
                else:
                    blocks[shard] = result
        codec = layout_codec(layout)
        if len(blocks) == 1:  # the identity code: the block is the stripe
            return codec.decode(blocks, stripe_len)
        return await asyncio.to_thread(codec.decode, blocks, stripe_len)

    def _unavailable(self, seg: _Segment) -> EngineError:
        zones = {self._zone(p) for p in seg.drives}
        all_zones = {self._zone(p) for p in range(len(self.eset.drives))}
        if len(zones) == 1 and len(all_zones) > 1:
            zone = zones.pop()
            return EngineError(
                "ServiceUnavailable",
                f"object data is unavailable: the ONEZONE_IA data of this object is in "
                f"zone {zone}, which is unavailable")
        down = sum(1 for p in seg.drives if p in self._down)
        if down:  # nodes or drives out of reach (a partition, a restart): try again later
            return EngineError(
                "ServiceUnavailable",
                f"object data is unavailable: {down} of the {len(seg.drives)} drives "
                f"holding it cannot be reached")
        log.warning("object %s: too few good shards to read (%d of %d missing or damaged)",
                    self.version.version_id, len(seg.bad), len(seg.drives))
        return EngineError("InternalError", "object data is unavailable: too few good shards")

    async def _mark_bad(self, seg: _Segment, shard: int, unreachable: bool) -> None:
        position = seg.drives[shard]
        if unreachable:
            self._down.add(position)
        else:
            seg.bad.add(shard)
        reader = seg.readers.pop(shard, None)
        if reader is not None:
            await reader.close()
        if self._on_degraded is not None:
            bad = {p for s in self._segments for p in _bad_positions(s)} | self._down
            self._on_degraded(self.version, bad)

    async def _close_segment(self, seg: _Segment) -> None:
        readers, seg.readers = seg.readers, {}
        for reader in readers.values():
            await reader.close()

    async def close(self) -> None:
        pending, self._pending = self._pending, None
        self._pending_job = None
        self._jobs = iter(())
        if pending is not None:
            pending.cancel()  # a no-op once done; its outcome is collected either way
            with contextlib.suppress(BaseException):
                await pending
        for seg in self._segments:
            await self._close_segment(seg)


def _bad_positions(seg: _Segment) -> set[int]:
    return {seg.drives[s] for s in seg.bad}


class _FrameDecoder:
    """Turns the stored bytes of a compressed segment's frames back into the plaintext
    bytes lo..hi, decompressing each frame once it is complete (O(frame) buffered)."""

    def __init__(self, seg: _Segment) -> None:
        assert seg.layout is not None and seg.frames is not None
        self.seg, self.layout, self.span = seg, seg.layout, seg.frames
        self.frame = self.span.first_frame
        self.buffer = bytearray()

    async def feed(self, stored: bytes) -> list[bytes]:
        self.buffer += stored
        out: list[bytes] = []
        while self.frame <= self.span.last_frame:
            need = self.layout.frame_sizes[self.frame]
            if len(self.buffer) < need:
                break
            frame = bytes(self.buffer[:need])
            del self.buffer[:need]
            length = frame_length(self.layout, self.seg.size, self.frame)
            try:
                plain = await asyncio.to_thread(decompress_frame, frame, length)
            except BitrotError as exc:
                raise EngineError("InternalError", f"object data is damaged: {exc}") from exc
            start = self.frame * self.layout.frame_size
            lo, hi = max(self.seg.lo - start, 0), min(self.seg.hi - start + 1, length)
            out.append(plain[lo:hi] if (lo, hi) != (0, length) else plain)
            self.frame += 1
        return out

    def check_done(self) -> None:
        if self.frame <= self.span.last_frame or self.buffer:
            raise EngineError("InternalError", "compressed object data is truncated")
