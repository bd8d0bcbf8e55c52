"""The object write pipeline alone: 64 MiB through ``BodyWriter`` on one local drive.

No network and no client: the body is 64 chunks of 1 MiB already in memory, so what is
timed is hashing (MD5, CRC32C), encoding, writing the shard file and its fsync, i.e. the
server's ceiling for one PUT stream on this disk and CPU. Prints the median of ``--runs``
writes (each discarded afterwards) and the share of it spent in the final commit.

    .venv/bin/python bench/body_writer_pipeline.py --runs 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.cluster.placement import ErasureSet
from engine.config import StorageConfig
from engine.objects.body_writer import BodyWriter
from engine.objects.storage_classes import plan_for
from engine.storage.codec import IdentityCodec
from engine.storage.drive import LocalDrive

MIB = 1 << 20


async def measure(runs: int, size_mib: int, root: Path) -> list[float]:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(16))
    drive = LocalDrive(root / "drive", 1 << 30)
    eset = ErasureSet(0, (drive,), IdentityCodec())
    chunks = [os.urandom(MIB) for _ in range(size_mib)]

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    times = []
    try:
        for _ in range(runs):
            writer = BodyWriter(eset, StorageConfig(), "b", "k", plan=plan_for(eset, ""))
            start = time.perf_counter()
            await writer.write(body(), 1 << 40)
            times.append(time.perf_counter() - start)
            await writer.discard()
    finally:
        drive.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--dir", default=None, help="where the drive goes (default: a tmp dir)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="writer-bench-", dir=args.dir))
    try:
        times = asyncio.run(measure(args.runs, args.size_mib, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    median = statistics.median(times)
    print(f"{args.size_mib} MiB through BodyWriter: median {median * 1e3:.0f} ms "
          f"({args.size_mib * MIB / median / 1e6:.0f} MB/s); runs "
          + " ".join(f"{t * 1e3:.0f}" for t in times))


if __name__ == "__main__":
    main()
