"""Group commit: batched updates share transactions but fail and succeed one by one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import lmdb
import pytest

from engine.storage.group_commit import GroupCommitter


@pytest.fixture
def env(tmp_path: Path) -> lmdb.Environment:
    e = lmdb.open(str(tmp_path / "db"), map_size=1 << 24, sync=True)
    yield e
    e.close()


def put(key: bytes, fail: bool = False):
    def work(txn: lmdb.Transaction) -> bytes:
        txn.put(key, b"v")
        if fail:
            raise ValueError(key)
        return key

    return work


def test_a_failing_update_rolls_back_alone(env: lmdb.Environment) -> None:
    committer = GroupCommitter(env, "t")

    async def go() -> list[object]:
        return await asyncio.gather(
            *(committer.submit(put(f"k{i}".encode(), fail=i % 3 == 0)) for i in range(30)),
            return_exceptions=True,
        )

    try:
        results = asyncio.run(go())
    finally:
        committer.stop()
    with env.begin() as txn:
        stored = {k for k, _ in txn.cursor()}
    for i, result in enumerate(results):
        key = f"k{i}".encode()
        if i % 3 == 0:
            assert isinstance(result, ValueError) and key not in stored
        else:
            assert result == key and key in stored


def test_concurrent_updates_share_transactions(env: lmdb.Environment) -> None:
    committer = GroupCommitter(env, "t")
    before = env.info()["last_txnid"]

    async def go() -> None:
        await asyncio.gather(*(committer.submit(put(f"k{i}".encode())) for i in range(200)))

    try:
        asyncio.run(go())
    finally:
        committer.stop()
    assert env.stat()["entries"] == 200
    assert env.info()["last_txnid"] - before < 200


def test_a_cancelled_caller_does_not_break_the_batch(env: lmdb.Environment) -> None:
    committer = GroupCommitter(env, "t")

    async def go() -> None:
        slow = [committer.submit(put(f"a{i}".encode())) for i in range(50)]
        tasks = [asyncio.ensure_future(c) for c in slow]
        await asyncio.sleep(0)
        tasks[-1].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert await committer.submit(put(b"after")) == b"after"

    try:
        asyncio.run(go())
    finally:
        committer.stop()
    with env.begin() as txn:
        assert txn.get(b"after") == b"v"
