"""Erasure-coding throughput: our stack against pyeclib called directly, and the per-stripe
write pipeline.

For the 4+2 profile (6 nodes in 3 AZs) and 8+4, with 1 MiB stripes (the default) and
64 KiB ones:

- encode: ``ReedSolomonCodec.encode`` (given a memoryview, as the StripeCutter hands it
  over) against ``ECDriver.encode`` (given bytes);
- decode with data shards 0 and 1 missing, so two parity shards really reconstruct them,
  and decode from the k data shards: ``ReedSolomonCodec.decode`` (a dict of k blocks, as
  the read path passes) against ``ECDriver.decode`` (a list of the same k fragments);
- the write pipeline of one stripe, ``BodyWriter._encode`` (CRC32C of the stripe,
  encode, CRC32C of every block; the MD5 update runs beside it on a hashing lane of its
  own), beside each of its parts and MD5 on their own, so the dominant per-byte cost
  shows.

Throughput is stripe bytes per second (``extra_info["bytes"]`` is the stripe size, so
bench/conftest.py prints decimal GB/s at the end); ``extra_info["faults_per_call"]``
counts minor page faults per call.

glibc's malloc serves the fragment buffers pyeclib allocates on every call (k+m of them,
plus their copies as Python bytes) from the heap top and gives them back to the kernel
afterwards when they exceed the trim threshold, so every call page-faults them in again
(~740 faults and ~2 ms for a 1 MiB 4+2 encode) until the threshold has been raised, which
glibc does the first time a large mmapped block is freed. The module fixture frees one
on purpose so the figures do not depend on what ran earlier in the process.

Run with:
    .venv/bin/python -m pytest bench/test_ec_bench.py --benchmark-only
"""

from __future__ import annotations

import hashlib
import random
import resource
from collections.abc import Callable

import pytest
from pyeclib.ec_iface import ECDriver

from engine._hotpath import crc32c
from engine.cluster.placement import ErasureSet
from engine.config import StorageConfig
from engine.objects.body_writer import BodyWriter
from engine.storage.codec import ReedSolomonCodec

EC_TYPE = "isa_l_rs_vand"
PROFILES = {"4+2": (4, 2), "8+4": (8, 4)}
SIZES = {"1MiB": 1 << 20, "64KiB": 64 << 10}
# Calls per timed round: 64 KiB calls take ~10 us, so they are batched to keep the timer's
# own overhead out of the figure; every contender gets the same schedule.
ITERATIONS = {"1MiB": 1, "64KiB": 16}
ROUNDS = {"1MiB": 500, "64KiB": 500}
WARMUP_ROUNDS = 5
MISSING = 2  # data shards lost in the degraded decode


@pytest.fixture(scope="module", autouse=True)
def _settled_allocator() -> None:
    """Raise glibc's mmap and trim thresholds the way any process gets them raised (by
    freeing a large mmapped block), so the heap is not trimmed after every call. A server
    is not necessarily in that state: see docs/benchmarks.md, "Erasure coding"."""
    block = bytearray(16 << 20)
    del block


@pytest.fixture(scope="module")
def stripes() -> dict[str, bytes]:
    rng = random.Random(2024)
    return {name: rng.randbytes(size) for name, size in SIZES.items()}


@pytest.fixture(scope="module")
def codecs() -> dict[str, tuple[ReedSolomonCodec, ECDriver]]:
    return {
        name: (ReedSolomonCodec(k, m, EC_TYPE), ECDriver(k=k, m=m, ec_type=EC_TYPE))
        for name, (k, m) in PROFILES.items()
    }


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _run(benchmark, fn: Callable[..., object], args: tuple, *, group: str, size: str,
         nbytes: int, **info: object) -> object:
    benchmark.group = group
    benchmark.extra_info["bytes"] = nbytes
    benchmark.extra_info.update(info)
    before = _faults()
    result = benchmark.pedantic(fn, args=args, iterations=ITERATIONS[size],
                                rounds=ROUNDS[size], warmup_rounds=WARMUP_ROUNDS)
    calls = ITERATIONS[size] * (ROUNDS[size] + WARMUP_ROUNDS)
    benchmark.extra_info["faults_per_call"] = round((_faults() - before) / calls, 1)
    return result


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("impl", ["engine", "pyeclib"])
def test_encode(benchmark, stripes, codecs, impl: str, profile: str, size: str) -> None:
    stripe = stripes[size]
    codec, driver = codecs[profile]
    if impl == "engine":
        fn, arg = codec.encode, memoryview(stripe)
    else:
        fn, arg = driver.encode, stripe
    blocks = _run(benchmark, fn, (arg,), group=f"encode {profile} {size}", size=size,
                  nbytes=len(stripe), ec_type=EC_TYPE)
    k, m = PROFILES[profile]
    assert len(blocks) == k + m
    assert driver.decode(list(blocks)[MISSING:MISSING + k]) == stripe


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("impl", ["engine", "pyeclib"])
@pytest.mark.parametrize("case", ["degraded", "data"])
def test_decode(benchmark, stripes, codecs, case: str, impl: str, profile: str,
                size: str) -> None:
    stripe = stripes[size]
    codec, driver = codecs[profile]
    k, _ = PROFILES[profile]
    fragments = driver.encode(stripe)
    # degraded: data shards 0 and 1 lost, parity 0 and 1 stand in; data: shards 0..k-1
    first = MISSING if case == "degraded" else 0
    blocks = {i: fragments[i] for i in range(first, first + k)}
    if impl == "engine":
        fn, args = codec.decode, (blocks, len(stripe))
    else:
        fn, args = driver.decode, (list(blocks.values()),)
    title = "decode -2 data" if case == "degraded" else "decode k data"
    data = _run(benchmark, fn, args, group=f"{title} {profile} {size}", size=size,
                nbytes=len(stripe), ec_type=EC_TYPE, shards=sorted(blocks))
    assert data == stripe


def _md5(stripe: memoryview) -> None:
    hashlib.md5().update(stripe)


def _crc_blocks(blocks: list[bytes]) -> list[int]:
    return [crc32c(b) for b in blocks]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("part", ["whole", "md5", "crc32c_stripe", "encode", "crc32c_blocks"])
def test_write_pipeline(benchmark, stripes, codecs, part: str, profile: str,
                        size: str) -> None:
    """One stripe through ``BodyWriter._encode`` and, separately, each of its steps and
    the MD5 update that runs beside it."""
    stripe = memoryview(stripes[size])
    codec, _ = codecs[profile]
    if part == "whole":
        writer = BodyWriter(ErasureSet(0, (), codec), StorageConfig())
        fn, arg = writer._encode, stripe
    else:
        fn, arg = {
            "md5": (_md5, stripe),
            "crc32c_stripe": (crc32c, stripe),
            "encode": (codec.encode, stripe),
            "crc32c_blocks": (_crc_blocks, codec.encode(stripe)),
        }[part]
    result = _run(benchmark, fn, (arg,), group=f"write pipeline {profile} {size}", size=size,
                  nbytes=len(stripe), ec_type=EC_TYPE)
    if part == "whole":
        blocks, stripe_crc = result
        assert stripe_crc == crc32c(stripe)
        assert all(crc == crc32c(b) for b, crc in blocks)

