"""Hot-path throughput: our CRC32C against the crc32c and google-crc32c packages, and the
chunk-and-checksum pass (split_blocks into 256 KiB blocks, the shard block of a 1 MiB
stripe in a 4+2 code).

Each benchmark records ``extra_info["bytes"]`` so GB/s can be derived (bench/conftest.py
prints it at the end of the run). Run with:
    .venv/bin/python -m pytest bench/test_hotpath_bench.py --benchmark-only
"""

from __future__ import annotations

import random
from collections.abc import Callable

import crc32c
import google_crc32c
import pytest

from engine import _hotpath as hp

SIZES = {"4KiB": 4 << 10, "1MiB": 1 << 20, "64MiB": 64 << 20}
# Calls per timed round: small buffers are batched so the timer's own overhead (~100 ns)
# does not pose as hashing cost; every contender gets the same schedule.
ITERATIONS = {"4KiB": 256, "1MiB": 1, "64MiB": 1}
ROUNDS = {"4KiB": 1000, "1MiB": 2000, "64MiB": 100}
SHARD_BLOCK = 256 << 10


def _split(data: bytes) -> list[tuple[memoryview, int]]:
    return hp.split_blocks(data, SHARD_BLOCK)


def _whole_crc(result: int | list[tuple[memoryview, int]]) -> int:
    """The object CRC a contender's result stands for (split_blocks gives per-block CRCs)."""
    if isinstance(result, int):
        return result
    return hp.combine_checksums([crc for _, crc in result], SHARD_BLOCK, len(result[-1][0]))


IMPLEMENTATIONS: dict[str, Callable[[bytes], object]] = {
    "engine": hp.crc32c,
    "crc32c": crc32c.crc32c,
    "google_crc32c": google_crc32c.value,
    "engine_split_blocks": _split,
}


@pytest.fixture(scope="module")
def buffers() -> dict[str, bytes]:
    rng = random.Random(2024)
    return {name: rng.randbytes(size) for name, size in SIZES.items()}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_crc32c_throughput(benchmark, buffers, impl: str, size: str) -> None:
    data = buffers[size]
    benchmark.group = f"crc32c {size}"
    benchmark.extra_info["bytes"] = len(data)
    benchmark.extra_info["backend"] = hp.backend()
    result = benchmark.pedantic(
        IMPLEMENTATIONS[impl],
        args=(data,),
        iterations=ITERATIONS[size],
        rounds=ROUNDS[size],
        warmup_rounds=20,
    )
    # Every contender must compute the same checksum, or the comparison is meaningless.
    assert _whole_crc(result) == crc32c.crc32c(data)
