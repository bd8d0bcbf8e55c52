"""Compression at rest: zstd frames and where they lie in a compressed body.

A compressed body's plaintext is cut into frames of `frame_size` bytes, each compressed
on its own, and the compressed frames are concatenated into the stored stream that is
striped and erasure-coded like any body. Independent frames let a range read fetch and
decompress only the frames the range overlaps, so a ranged GET of a large compressed
object costs O(range + frame), not O(object).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

import zstandard

from engine.storage.errors import BitrotError
from engine.v1.records_pb2 import DataLayout

ZSTD = "zstd"
LEVEL = 3  # zstd's default: fast enough to keep up with a PUT stream
_local = threading.local()  # zstd contexts are not thread-safe; one per worker thread


def _compressor() -> zstandard.ZstdCompressor:
    c: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if c is None:
        c = _local.compressor = zstandard.ZstdCompressor(level=LEVEL)
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = zstandard.ZstdDecompressor()
    return d


def compress_frame(frame: bytes | memoryview) -> bytes:
    return _compressor().compress(frame)


def decompress_frame(stored: bytes | memoryview, size: int) -> bytes:
    """The plaintext of one frame, which must be `size` bytes. Shard blocks are
    checksummed, so a bad frame here means the layout and the data disagree."""
    try:
        plain = _decompressor().decompress(stored, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise BitrotError(f"compressed frame does not decode: {exc}") from exc
    if len(plain) != size:
        raise BitrotError(f"compressed frame holds {len(plain)} bytes, not {size}")
    return plain


@dataclass(frozen=True)
class FrameSpan:
    """The frames covering plaintext bytes first..last and their stored bytes."""

    first_frame: int
    last_frame: int
    stored_first: int  # offset in the stored stream of first_frame
    stored_last: int  # last stored byte of last_frame (inclusive)
    offsets: tuple[int, ...]  # stored offset of every frame in the span, and its end


def frame_span(layout: DataLayout, first: int, last: int) -> FrameSpan:
    """Which frames (and stored bytes) plaintext bytes `first`..`last` need."""
    f0, f1 = first // layout.frame_size, last // layout.frame_size
    start = sum(itertools.islice(layout.frame_sizes, f0))
    offsets = tuple(itertools.accumulate(layout.frame_sizes[f0 : f1 + 1], initial=start))
    return FrameSpan(f0, f1, start, offsets[-1] - 1, offsets)


def frame_length(layout: DataLayout, size: int, frame: int) -> int:
    """Plaintext bytes of frame `frame` of a body of `size` bytes."""
    return min(layout.frame_size, size - frame * layout.frame_size)


def is_compressed(layout: DataLayout) -> bool:
    return layout.compression == ZSTD
