"""Type stubs for the Cython hot path (native/hotpath.pyx): CRC32C and zero-copy cutting."""

from collections.abc import Sequence

from typing_extensions import Buffer

NOGIL_MIN_BYTES: int
"""Inputs at least this long are hashed with the GIL released."""

def backend() -> str:
    """The CRC32C implementation chosen at import: "sse4.2", "armv8-crc" or "software"."""

def crc32c(data: Buffer, value: int = 0) -> int:
    """CRC32C of a C-contiguous buffer, continuing from ``value`` (a previous result)."""

def crc32c_software(data: Buffer, value: int = 0) -> int:
    """crc32c() on the portable table-driven path, whatever the CPU."""

def crc32c_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC32C of A||B from crc32c(A), crc32c(B) and len(B), in O(log len2)."""

def combine_checksums(crcs: Sequence[int], block_size: int, last_len: int) -> int:
    """Whole-object CRC32C from per-block CRCs (all ``block_size`` long but the last)."""

def chunk_checksums(data: Buffer, block_size: int) -> list[int]:
    """CRC32C of each consecutive ``block_size`` block of ``data`` (last may be short)."""

def split_blocks(data: Buffer, block_size: int) -> list[tuple[memoryview, int]]:
    """Zero-copy ``block_size`` slices of ``data``, each with its CRC32C."""

def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Start the disk writeback of a file range now (a hint: fsync still makes it durable)."""

class StripeCutter:
    """Cuts a chunk stream into fixed-size stripes, zero-copy where a stripe fits a chunk."""

    @property
    def stripe_size(self) -> int: ...
    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned in a stripe."""

    def __init__(self, stripe_size: int) -> None: ...
    def feed(self, data: Buffer) -> list[memoryview]:
        """Add a chunk; return the stripes it completes."""

    def flush(self) -> memoryview | None:
        """The final partial stripe, or None if nothing is pending."""
