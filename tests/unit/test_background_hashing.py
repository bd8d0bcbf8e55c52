"""The hashing lane gives the digests of the stream in order, whatever the batching, keeps
short streams on the caller's thread and bounds what it holds."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import zlib

import pytest

from engine.objects.background_hashing import BackgroundHashing
from engine.sigv4.chunk_signing import Crc32


class ThreadRecorder:
    """An MD5 that notes which threads fed it."""

    def __init__(self) -> None:
        self.md5 = hashlib.md5()
        self.threads: set[int] = set()

    def update(self, data: bytes | memoryview, /) -> None:
        self.threads.add(threading.get_ident())
        self.md5.update(data)

    def digest(self) -> bytes:
        return self.md5.digest()


class Broken:
    def update(self, data: bytes | memoryview, /) -> None:
        raise OSError("disk on fire")

    def digest(self) -> bytes:
        return b""


def pieces(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randint(0, 300_000)) for _ in range(count)]


@pytest.mark.parametrize("batch", [1, 64 * 1024, 1 << 20])
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_digests_are_those_of_the_whole_stream_in_order(batch: int, depth: int) -> None:
    stream = pieces(batch + depth, 60)
    md5, sha, crc = hashlib.md5(), hashlib.sha256(), Crc32()

    async def main() -> None:
        hashing = BackgroundHashing([md5, sha, crc], batch=batch, depth=depth)
        for piece in stream:
            await hashing.update(memoryview(piece))
        await hashing.finish()

    asyncio.run(main())
    whole = b"".join(stream)
    assert md5.digest() == hashlib.md5(whole).digest()
    assert sha.digest() == hashlib.sha256(whole).digest()
    assert crc.digest() == zlib.crc32(whole).to_bytes(4, "big")


def test_a_stream_shorter_than_a_batch_is_hashed_on_the_callers_thread() -> None:
    small, large = ThreadRecorder(), ThreadRecorder()

    async def main() -> None:
        for recorder, size in ((small, 100_000), (large, 3 << 20)):
            hashing = BackgroundHashing([recorder], batch=1 << 20)
            for _ in range(size // 50_000):
                await hashing.update(b"x" * 50_000)
            await hashing.finish()

    asyncio.run(main())
    assert small.threads == {threading.get_ident()}
    assert threading.get_ident() not in large.threads
    assert small.digest() == hashlib.md5(b"x" * 100_000).digest()


def test_at_most_depth_batches_wait_for_the_worker() -> None:
    gate = threading.Event()
    held: list[int] = []

    class Slow:
        def update(self, data: bytes | memoryview, /) -> None:
            gate.wait(5)

        def digest(self) -> bytes:
            return b""

    async def main() -> None:
        hashing = BackgroundHashing([Slow()], batch=1, depth=2)
        fed = 0

        async def feed() -> None:
            nonlocal fed
            for _ in range(5):
                await hashing.update(b"block")
                fed += 1

        feeder = asyncio.ensure_future(feed())
        for _ in range(20):  # let the feeder run as far as it can; the worker is stuck
            await asyncio.sleep(0)
        held.append(fed)
        gate.set()
        await feeder
        await hashing.finish()

    asyncio.run(main())
    assert held == [2]


def test_a_hashing_failure_surfaces_from_finish() -> None:
    async def main() -> None:
        hashing = BackgroundHashing([Broken()], batch=1)
        await hashing.update(b"data")
        with pytest.raises(OSError, match="disk on fire"):
            await hashing.finish()

    asyncio.run(main())


def test_cancel_drops_what_is_queued() -> None:
    md5 = hashlib.md5()

    async def main() -> None:
        hashing = BackgroundHashing([md5], batch=1, depth=3)
        for piece in pieces(7, 3):
            await hashing.update(piece)
        await hashing.cancel()
        await hashing.finish()  # nothing left: returns at once

    asyncio.run(main())
