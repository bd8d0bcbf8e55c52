"""Object bodies as the object service takes and gives them: async iterators of chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator


async def chunks(data: bytes, size: int = 10_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def read_all(body: AsyncIterator[bytes] | None) -> bytes:
    assert body is not None
    return b"".join([bytes(c) async for c in body])
