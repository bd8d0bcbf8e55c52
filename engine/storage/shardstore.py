"""Shard files on one drive: a sequence of checksummed blocks.

A shard file is ``[u32 length][u32 crc32c][payload]`` repeated, little-endian. Every
block but the last has the same payload length (the layout's block size), so block i
starts at ``i * (8 + block_size)`` and a range read touches only the blocks it needs.
Each block's CRC32C is checked on every read; a mismatch is bitrot, never returned.

Files are named by data id (a random id per write), never by object key, so a key can
never steer a path. They are written under ``tmp/``, fsynced, and renamed into
``shards/`` (then the directory is fsynced) before any metadata refers to them.
Open readers keep their file descriptor, so a concurrent overwrite that deletes the
files does not disturb a GET already streaming them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import struct
import threading
from pathlib import Path

from engine._hotpath import crc32c, start_writeback
from engine.storage.durable_dirs import fsync_dir, make_durable_dirs
from engine.storage.errors import BitrotError, ShardMissing

HEADER = struct.Struct("<II")
# A shard file's disk writeback is started every this many bytes written, so the fsync
# at commit finds little left to write instead of the whole file (see ShardWriter).
WRITEBACK_STEP = 1 << 20


class ShardWriter:
    """Appends blocks to a temporary file; :meth:`commit` makes it durable and visible."""

    def __init__(self, tmp: Path, final: Path) -> None:
        self._tmp = tmp
        self._final = final
        self._fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        # Abort may come from another thread mid-write or mid-commit: it must not close
        # the descriptor under a write, whose number a file opened meanwhile could reuse.
        self._lock = threading.Lock()
        self._written = 0
        self._flushing = 0  # bytes whose writeback was started

    def write_block(self, payload: bytes | memoryview, crc: int) -> None:
        """Append one block. Writeback starts as the file grows (a hint to the kernel,
        no wait): durability is still the fsync of :meth:`commit`, which then takes a
        fraction of the time for a large shard. ShardMissing once aborted."""
        header = HEADER.pack(len(payload), crc)
        with self._lock:
            if self._fd < 0:
                raise ShardMissing(f"{self._final}: write was aborted")
            done = os.writev(self._fd, [header, payload])
            if done < len(header) + len(payload):  # a short write is legal; finish the rest
                rest = memoryview(header + bytes(payload))[done:]
                while rest:
                    rest = rest[os.write(self._fd, rest):]
            self._written += len(header) + len(payload)
            if self._written - self._flushing >= WRITEBACK_STEP:
                start_writeback(self._fd, self._flushing, self._written - self._flushing)
                self._flushing = self._written

    def commit(self) -> None:
        with self._lock:
            if self._fd < 0:
                raise ShardMissing(f"{self._final}: write was aborted")
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
            self._publish()

    def _publish(self) -> None:
        parent = self._final.parent
        make_durable_dirs(parent)
        os.rename(self._tmp, self._final)
        fsync_dir(parent)

    def abort(self) -> None:
        """Drop an unfinished write; a no-op once committed (or already aborted)."""
        with self._lock:
            if self._fd < 0:
                return
            os.close(self._fd)
            self._fd = -1
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()


class ShardReader:
    """Random access to the verified blocks of one shard file."""

    def __init__(self, path: Path) -> None:
        try:
            self._fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError as exc:
            raise ShardMissing(str(path)) from exc
        self.path = path

    def read_block(self, index: int, block_size: int) -> bytes:
        offset = index * (HEADER.size + block_size)
        header = os.pread(self._fd, HEADER.size, offset)
        if len(header) != HEADER.size:
            raise BitrotError(f"{self.path}: block {index} missing")
        length, expected = HEADER.unpack(header)
        if length > block_size:
            raise BitrotError(f"{self.path}: block {index} has a corrupt header")
        payload = os.pread(self._fd, length, offset + HEADER.size)
        if len(payload) != length or crc32c(payload) != expected:
            raise BitrotError(f"{self.path}: block {index} fails its CRC32C")
        return payload

    def block_count(self, block_size: int) -> int:
        """Blocks in the file, from its size (the last block may be short)."""
        size = os.fstat(self._fd).st_size
        return -(-size // (HEADER.size + block_size))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class ShardStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.shards = root / "shards"
        self.tmp = root / "tmp"
        make_durable_dirs(self.shards)
        make_durable_dirs(self.tmp)

    def path(self, data_id: str, index: int) -> Path:
        if not data_id.isalnum():  # ids are ours, but never let one become a path
            raise ValueError(f"bad data id {data_id!r}")
        return self.shards / data_id[:2] / f"{data_id}.{index}"

    def create(self, data_id: str, index: int) -> ShardWriter:
        final = self.path(data_id, index)
        tmp = self.tmp / f"{data_id}.{index}.{secrets.token_hex(4)}"
        return ShardWriter(tmp, final)

    def open(self, data_id: str, index: int) -> ShardReader:
        return ShardReader(self.path(data_id, index))

    def delete(self, data_id: str) -> int:
        """Remove every shard file of `data_id` on this drive, finished or still under
        tmp/ (a writer whose stream died); returns how many."""
        folder = self.path(data_id, 0).parent
        removed = 0
        for f in [*(folder.glob(f"{data_id}.*") if folder.exists() else []),
                  *self.tmp.glob(f"{data_id}.*")]:
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
                removed += 1
        return removed

    def clean_tmp(self) -> int:
        """Drop unfinished writes; nothing refers to files under tmp/."""
        removed = 0
        for f in self.tmp.iterdir():
            f.unlink()
            removed += 1
        return removed

    def used_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.shards.rglob("*") if f.is_file())
