"""Closed-loop load: C coroutines per process, P processes, timed phases, merged stats.

Python gRPC clients are bound by the GIL, so one process with grpc.aio coroutines on a
single channel is the cheapest way to keep C calls in flight, and `processes` > 1 adds
whole interpreters when one core is not enough to saturate the server. Each coroutine
issues its next call as soon as the last one returns. A phase runs for warm-up +
duration; only calls that *complete* inside the duration window are counted (the
completion rate is the throughput), calls still in flight at the end are awaited but
not counted. Worker processes are spawned (gRPC and fork do not mix) and start each
phase together at a barrier.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import queue
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from engine.bench.stats import PhaseStats
from engine.bench.workload import OpError, Workload, WorkloadClient, error_code

MAX_MESSAGE = 16 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]
BARRIER_TIMEOUT_S = 600.0  # the slowest process's prepare() must finish within this


@dataclass(frozen=True)
class RunPlan:
    endpoint: str
    concurrency: int = 8
    processes: int = 1
    duration_s: float = 10.0
    warmup_s: float = 1.0


def open_channel(endpoint: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(endpoint, options=CHANNEL_OPTIONS)


async def run_phase(client: WorkloadClient, phase: str, concurrency: int,
                    warmup_s: float, duration_s: float) -> PhaseStats:
    """Keep `concurrency` calls of `phase` in flight for warm-up + duration."""
    stats = PhaseStats(phase, seconds=duration_s)
    clock = time.perf_counter_ns
    window_start = clock() + int(warmup_s * 1e9)
    window_end = window_start + int(duration_s * 1e9)
    seq = itertools.count()

    async def loop() -> None:
        while (started := clock()) < window_end:
            code = ""
            nbytes = 0
            try:
                nbytes = await client.op(phase, next(seq))
            except (grpc.aio.AioRpcError, OpError) as exc:
                code = error_code(exc)
            done = clock()
            if window_start <= done <= window_end:
                if code:
                    stats.record_error(code)
                else:
                    stats.record(done - started, nbytes)

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return stats


async def drive(workload: Workload, plan: RunPlan, process_index: int, barrier: Any = None,
                on_phase: Callable[[str], None] | None = None) -> AsyncIterator[PhaseStats]:
    """Run every phase of `workload` in this process, yielding each phase's stats."""
    async with open_channel(plan.endpoint) as channel:
        client = workload.client(channel, process_index, plan.processes)
        for phase in workload.phases():
            if on_phase is not None:
                on_phase(phase)
            await client.prepare(phase)
            if barrier is not None:
                await asyncio.to_thread(barrier.wait, BARRIER_TIMEOUT_S)
            yield await run_phase(client, phase, plan.concurrency, plan.warmup_s,
                                  plan.duration_s)


def _worker_main(workload: Workload, plan: RunPlan, process_index: int, barrier: Any,
                 results: Any) -> None:
    """Entry point of a spawned worker process: send each phase's stats back."""

    async def main() -> None:
        async for stats in drive(workload, plan, process_index, barrier):
            results.put(("ok", process_index, stats))

    try:
        asyncio.run(main())
    except BaseException as exc:
        barrier.abort()
        results.put(("error", process_index, f"{type(exc).__name__}: {exc}"))
        raise


async def _run_processes(workload: Workload, plan: RunPlan,
                         on_phase: Callable[[str], None]) -> dict[str, PhaseStats]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(plan.processes)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker_main, args=(workload, plan, i, barrier, results),
                         name=f"bench-worker-{i}", daemon=True)
             for i in range(plan.processes)]
    for p in procs:
        p.start()
    out: dict[str, PhaseStats] = {}
    try:
        for phase in workload.phases():
            on_phase(phase)
            parts: list[PhaseStats] = []
            while len(parts) < plan.processes:
                try:
                    kind, index, payload = await asyncio.to_thread(results.get, True, 1.0)
                except queue.Empty:
                    dead = [p for p in procs if p.exitcode not in (None, 0)]
                    if dead:
                        raise RuntimeError(
                            f"{dead[0].name} exited with {dead[0].exitcode}") from None
                    continue
                if kind == "error":
                    raise RuntimeError(f"bench worker {index} failed: {payload}")
                parts.append(payload)
            out[phase] = PhaseStats.merge(parts)
        for p in procs:
            await asyncio.to_thread(p.join, 30)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(5)
    return out


async def run_workload(workload: Workload, plan: RunPlan,
                       on_phase: Callable[[str], None] = lambda _p: None
                       ) -> dict[str, PhaseStats]:
    """Set up, run every phase across `plan.processes` processes, tear down."""
    async with open_channel(plan.endpoint) as channel:
        await workload.setup(channel)
        try:
            if plan.processes > 1:
                return await _run_processes(workload, plan, on_phase)
            return {stats.name: stats
                    async for stats in drive(workload, plan, 0, on_phase=on_phase)}
        finally:
            await workload.teardown(channel)
