"""Closed-loop load: C coroutines per process, P processes, timed phases, merged stats.

Python gRPC clients are bound by the GIL, so one process with grpc.aio coroutines on a
single channel is the cheapest way to keep C calls in flight, and `processes` > 1 adds
whole interpreters when one core is not enough to saturate the server. Each coroutine
issues its next call as soon as the last one returns. A phase runs for warm-up +
duration; only calls that *complete* inside the duration window are counted (the
completion rate is the throughput), calls still in flight at the end are awaited but
not counted. With `ops` instead, the phase runs warm-up and then exactly that many calls
(started after the warm-up), and the window ends with the last of them. Worker processes
are spawned (gRPC and fork do not mix) and start each phase together at a barrier.
Time is the event loop's (`loop_ns`), the clock asyncio's own timers run on.

With several endpoints every process opens one channel per endpoint and makes one
workload client per channel, as if it were that many processes (client e of process p
is number p x E + e of P x E, so key ownership still partitions), and coroutine k uses
client k mod E: load is spread evenly over the nodes.

A `Monitor` sees each phase start and its running count of ops and errors (workers send
theirs every PROGRESS_EVERY_S), which is what the live progress bar draws.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import queue
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from engine.bench.stats import PhaseStats, series_interval
from engine.bench.workload import OpError, Workload, WorkloadClient, error_code
from engine.client import signed_channels

MAX_MESSAGE = 16 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]
BARRIER_TIMEOUT_S = 600.0  # the slowest process's prepare() must finish within this
PROGRESS_EVERY_S = 0.25  # how often a running phase's counts reach the Monitor
OPS_SERIES_INTERVAL_S = 0.25  # time-series slot of an ops-bounded phase (length unknown)


@dataclass(frozen=True)
class RunPlan:
    """`endpoints` (when given) are the nodes to spread load over, `endpoint` the one
    setup and teardown use; `ops` bounds every phase by a call count, not `duration_s`."""

    endpoint: str
    concurrency: int = 8
    processes: int = 1
    duration_s: float = 10.0
    warmup_s: float = 1.0
    endpoints: tuple[str, ...] = ()
    ops: int | None = None

    @property
    def targets(self) -> tuple[str, ...]:
        return self.endpoints or (self.endpoint,)

    def ops_for(self, process_index: int) -> int | None:
        """This process's share of `ops` (the first ones take the remainder)."""
        if self.ops is None:
            return None
        share, extra = divmod(self.ops, self.processes)
        return share + (1 if process_index < extra else 0)


class Monitor:
    """Told when a phase starts measuring and how far it got; the default does nothing."""

    def phase(self, name: str) -> None:
        """`name` is about to be prepared and run."""

    def update(self, name: str, ops: int, errors: int) -> None:
        """Ops and errors counted in `name`'s window so far, over every process."""


def loop_ns() -> int:
    """Now in ns on the running event loop's clock, which phases are timed on. asyncio's
    sleeps and timeouts read the same clock, so a loop whose clock jumps to its next timer
    (a unit test's) runs a phase in virtual time: the same on any machine under any load."""
    return int(asyncio.get_running_loop().time() * 1e9)


def open_channel(endpoint: str) -> grpc.aio.Channel:
    return signed_channels.aio_insecure_channel(endpoint, CHANNEL_OPTIONS)


async def run_phase(client: WorkloadClient | Sequence[WorkloadClient], phase: str,
                    concurrency: int, warmup_s: float, duration_s: float,
                    ops: int | None = None,
                    on_start: Callable[[PhaseStats], None] | None = None) -> PhaseStats:
    """Keep `concurrency` calls of `phase` in flight for warm-up + duration (or warm-up
    and then `ops` calls); coroutine k uses client k mod len(clients). Ops a client names
    a kind for (WorkloadClient.kind) are also counted in that kind's part."""
    clients = list(client) if isinstance(client, Sequence) else [client]
    interval = series_interval(duration_s) if ops is None else OPS_SERIES_INTERVAL_S
    stats = PhaseStats(phase, seconds=duration_s if ops is None else 0.0,
                       interval_s=interval)
    clock = loop_ns
    window_start = clock() + int(warmup_s * 1e9)
    window_end = window_start + int(duration_s * 1e9) if ops is None else 2**63
    seq = itertools.count()
    issued = 0
    last_done = window_start
    if on_start is not None:
        on_start(stats)

    async def loop(c: WorkloadClient) -> None:
        nonlocal issued, last_done
        while (started := clock()) < window_end:
            if ops is not None and started >= window_start:
                if issued >= ops:
                    return
                issued += 1
            n = next(seq)
            kind = c.kind(phase, n)
            code = ""
            nbytes = 0
            try:
                nbytes = await c.op(phase, n)
            except (grpc.aio.AioRpcError, OpError) as exc:
                code = error_code(exc)
            done = clock()
            counted = started >= window_start if ops is not None \
                else window_start <= done <= window_end
            if not counted:
                continue
            last_done = max(last_done, done)
            at_s = (done - window_start) / 1e9
            for s in (stats, stats.part(kind)) if kind else (stats,):
                if code:
                    s.record_error(code, at_s)
                else:
                    s.record(done - started, nbytes, at_s)

    await asyncio.gather(*(loop(clients[k % len(clients)]) for k in range(concurrency)))
    if ops is not None:
        stats.set_seconds((last_done - window_start) / 1e9)
    return stats


async def drive(workload: Workload, plan: RunPlan, process_index: int, barrier: Any = None,
                on_phase: Callable[[str], None] | None = None,
                on_start: Callable[[PhaseStats], None] | None = None
                ) -> AsyncIterator[PhaseStats]:
    """Run every phase of `workload` in this process, yielding each phase's stats."""
    async with contextlib.AsyncExitStack() as stack:
        channels = [await stack.enter_async_context(workload.transport(e) or open_channel(e))
                    for e in plan.targets]
        n = len(channels)
        clients = [workload.client(ch, process_index * n + i, plan.processes * n)
                   for i, ch in enumerate(channels)]
        for phase in workload.phases():
            if on_phase is not None:
                on_phase(phase)
            await asyncio.gather(*(c.prepare(phase) for c in clients))
            if barrier is not None:
                await asyncio.to_thread(barrier.wait, BARRIER_TIMEOUT_S)
            yield await run_phase(clients, phase, plan.concurrency, plan.warmup_s,
                                  plan.duration_s, plan.ops_for(process_index), on_start)


async def _report_progress(current: list[PhaseStats],
                           send: Callable[[str, int, int], None]) -> None:
    """Every PROGRESS_EVERY_S, pass the running phase's counts to `send`."""
    while True:
        if current:
            s = current[-1]
            send(s.name, s.ops, sum(s.errors.values()))
        await asyncio.sleep(PROGRESS_EVERY_S)


def _worker_main(workload: Workload, plan: RunPlan, process_index: int, barrier: Any,
                 results: Any) -> None:
    """Entry point of a spawned worker process: send each phase's stats back."""

    async def main() -> None:
        current: list[PhaseStats] = []
        reporter = asyncio.create_task(_report_progress(
            current, lambda *counts: results.put(("progress", process_index, counts))))
        try:
            async for stats in drive(workload, plan, process_index, barrier,
                                     on_start=current.append):
                results.put(("ok", process_index, stats))
        finally:
            reporter.cancel()

    try:
        asyncio.run(main())
    except BaseException as exc:
        barrier.abort()
        results.put(("error", process_index, f"{type(exc).__name__}: {exc}"))
        raise


async def _run_processes(workload: Workload, plan: RunPlan,
                         monitor: Monitor) -> dict[str, PhaseStats]:
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
            monitor.phase(phase)
            parts: list[PhaseStats] = []
            counts: dict[int, tuple[int, int]] = {}
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
                if kind == "progress":
                    name, done, errors = payload
                    if name == phase:
                        counts[index] = (done, errors)
                        monitor.update(phase, sum(c[0] for c in counts.values()),
                                       sum(c[1] for c in counts.values()))
                    continue
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


class _Callback(Monitor):
    def __init__(self, on_phase: Callable[[str], None]) -> None:
        self.on_phase = on_phase

    def phase(self, name: str) -> None:
        self.on_phase(name)


async def run_workload(workload: Workload, plan: RunPlan,
                       on_phase: Callable[[str], None] | Monitor = lambda _p: None
                       ) -> dict[str, PhaseStats]:
    """Set up, run every phase across `plan.processes` processes, tear down.
    `on_phase` is a Monitor, or a plain function told each phase's name."""
    monitor = on_phase if isinstance(on_phase, Monitor) else _Callback(on_phase)
    async with open_channel(plan.endpoint) as channel:
        await workload.setup(channel)
        try:
            if plan.processes > 1:
                return await _run_processes(workload, plan, monitor)
            current: list[PhaseStats] = []
            reporter = asyncio.create_task(_report_progress(current, monitor.update))
            try:
                return {stats.name: stats async for stats in drive(
                    workload, plan, 0, on_phase=monitor.phase, on_start=current.append)}
            finally:
                reporter.cancel()
        finally:
            await workload.teardown(channel)
