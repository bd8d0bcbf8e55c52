"""A closed loop of concurrent callers for the consensus benchmarks (imports nothing from
the engine, so bench/pysyncobj_baseline.py can run it against an older tree)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def drive(call: Callable[[int, int], Awaitable[object]], callers: int,
                seconds: float) -> str:
    """Run ``call(caller, n)`` back to back from each caller for ``seconds``; return
    "N cmds/s p50 X ms p99 Y ms"."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def caller(c: int) -> None:
        n = 0
        while time.monotonic() < stop:
            began = time.perf_counter()
            await call(c, n)
            latencies.append(time.perf_counter() - began)
            n += 1

    await asyncio.gather(*(caller(c) for c in range(callers)))
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return f"{len(latencies) / seconds:.0f} cmds/s p50 {p50:.1f} ms p99 {p99:.1f} ms"
