"""Shard files: blocks come back verified, corruption is detected, writes are atomic."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from engine._hotpath import crc32c, start_writeback
from engine.storage.errors import BitrotError, ShardMissing
from engine.storage.shardstore import HEADER, WRITEBACK_STEP, ShardStore

BLOCK = 1000


def write(store: ShardStore, data_id: str, blocks: list[bytes]) -> Path:
    w = store.create(data_id, 0)
    for b in blocks:
        w.write_block(b, crc32c(b))
    w.commit()
    return store.path(data_id, 0)


def test_blocks_round_trip_with_random_access(tmp_path: Path) -> None:
    store = ShardStore(tmp_path)
    blocks = [os.urandom(BLOCK) for _ in range(4)] + [os.urandom(17)]
    write(store, "abc123", blocks)
    reader = store.open("abc123", 0)
    assert [reader.read_block(i, BLOCK) for i in (4, 0, 2)] == [blocks[4], blocks[0], blocks[2]]
    reader.close()


def test_a_flipped_byte_is_bitrot_not_data(tmp_path: Path) -> None:
    store = ShardStore(tmp_path)
    path = write(store, "abc123", [b"x" * BLOCK, b"y" * BLOCK])
    raw = bytearray(path.read_bytes())
    raw[HEADER.size + BLOCK + HEADER.size + 5] ^= 0x01  # inside block 1's payload
    path.write_bytes(bytes(raw))
    reader = store.open("abc123", 0)
    assert reader.read_block(0, BLOCK) == b"x" * BLOCK
    with pytest.raises(BitrotError):
        reader.read_block(1, BLOCK)


def test_truncated_file_and_corrupt_header_are_bitrot(tmp_path: Path) -> None:
    store = ShardStore(tmp_path)
    path = write(store, "abc123", [b"x" * BLOCK, b"y" * BLOCK])
    with open(path, "r+b") as f:
        f.truncate(HEADER.size + BLOCK + 3)
    with pytest.raises(BitrotError):
        store.open("abc123", 0).read_block(1, BLOCK)
    with open(path, "r+b") as f:
        f.write(HEADER.pack(BLOCK * 10, 0))
    with pytest.raises(BitrotError):
        store.open("abc123", 0).read_block(0, BLOCK)


def test_unfinished_writes_are_invisible_and_cleaned(tmp_path: Path) -> None:
    store = ShardStore(tmp_path)
    w = store.create("abc123", 0)
    w.write_block(b"data", crc32c(b"data"))
    with pytest.raises(ShardMissing):
        store.open("abc123", 0)
    assert store.clean_tmp() == 1
    assert list(store.tmp.iterdir()) == []


def test_an_open_reader_survives_deletion(tmp_path: Path) -> None:
    store = ShardStore(tmp_path)
    write(store, "abc123", [b"z" * BLOCK])
    reader = store.open("abc123", 0)
    assert store.delete("abc123") == 1
    assert reader.read_block(0, BLOCK) == b"z" * BLOCK
    with pytest.raises(ShardMissing):
        store.open("abc123", 0)


def test_data_ids_cannot_become_paths(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ShardStore(tmp_path).path("../../etc", 0)


def test_a_shard_larger_than_the_writeback_step_reads_back_whole(tmp_path: Path) -> None:
    """Writeback started while the file grows (start_writeback) changes nothing a reader
    sees: every block of a multi-MiB shard comes back verified, also an unaligned tail."""
    store = ShardStore(tmp_path)
    size = 300_000
    blocks = [os.urandom(size) for _ in range(3 * WRITEBACK_STEP // size + 2)] + [b"tail"]
    path = write(store, "big1", blocks)
    assert path.stat().st_size == sum(HEADER.size + len(b) for b in blocks)
    reader = store.open("big1", 0)
    assert [reader.read_block(i, size) for i in range(len(blocks))] == blocks
    reader.close()


def test_start_writeback_is_only_a_hint(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
    try:
        os.write(fd, b"x" * 8192)
        assert start_writeback(fd, 0, 8192) is (os.uname().sysname == "Linux")
    finally:
        os.close(fd)
    assert start_writeback(-1, 0, 8192) is False  # a bad descriptor: False, never raises


def test_a_write_after_abort_is_refused(tmp_path: Path) -> None:
    store = ShardStore(tmp_path)
    writer = store.create("gone", 0)
    writer.abort()
    with pytest.raises(ShardMissing, match="aborted"):
        writer.write_block(b"late", crc32c(b"late"))


def test_abort_waits_for_a_write_in_progress(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """An upload cut off mid-stripe aborts from the event loop while a worker thread
    writes: closing the descriptor under that write would let a file opened meanwhile
    reuse its number and receive the shard's bytes."""
    store = ShardStore(tmp_path)
    writer = store.create("cut", 0)
    inside, release = threading.Event(), threading.Event()
    real_writev = os.writev

    def paused_writev(fd: int, buffers: list[bytes]) -> int:
        inside.set()
        release.wait(10)
        return real_writev(fd, buffers)  # EBADF had abort closed the descriptor

    monkeypatch.setattr(os, "writev", paused_writev)
    failures: list[BaseException] = []

    def write_block() -> None:
        try:
            writer.write_block(b"block", crc32c(b"block"))
        except BaseException as exc:
            failures.append(exc)

    writing = threading.Thread(target=write_block)
    writing.start()
    assert inside.wait(10)
    aborting = threading.Thread(target=writer.abort)
    aborting.start()
    aborting.join(0.2)
    assert aborting.is_alive()  # waits for the write, holding no descriptor of its own
    release.set()
    writing.join(10)
    aborting.join(10)
    assert failures == []
    assert not list((tmp_path).rglob("*cut*"))  # and the aborted write left nothing
