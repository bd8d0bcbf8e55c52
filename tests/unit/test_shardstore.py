"""Shard files: blocks come back verified, corruption is detected, writes are atomic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine._hotpath import crc32c
from engine.storage.errors import BitrotError, ShardMissing
from engine.storage.shardstore import HEADER, ShardStore

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
