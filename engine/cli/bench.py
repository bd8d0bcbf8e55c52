"""`engine bench`: load generators. `engine bench objects` drives PutObject/GetObject and,
unless told not to, the bare gRPC Echo baseline on the same endpoint.

Exit status: 0 when every call succeeded, 1 when some failed (the figures are still
printed and written), 2 when the run could not start (endpoint down, bad bucket).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from engine.bench.sizes import size_arg
from engine.config import DEFAULT_LISTEN

CONNECT_TIMEOUT_S = 10.0
T = TypeVar("T")


def _seconds(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 10, 10s, 500ms)")
    factor = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[match.group(2)]
    return float(match.group(1)) * factor


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="load generators (objects, queues, cache)",
                           description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    workloads = bench.add_subparsers(dest="workload", required=True, metavar="WORKLOAD")
    p = workloads.add_parser("objects", help="PutObject / GetObject throughput and latency")
    _common(p)
    p.add_argument("--size", type=size_arg, default="4KiB",
                   help="object size, e.g. 4KiB, 64MiB, 1MB (default: 4KiB)")
    p.add_argument("--op", choices=("put", "get", "both"), default="both",
                   help="phases to run; both = PUT then GET of the keys written "
                        "(default: both)")
    p.add_argument("--keys", type=_positive, default=None,
                   help="distinct keys (default: as many as fit in 1 GiB, at most 100000, "
                        "at least concurrency x processes)")
    p.set_defaults(run=run_objects)
    q = workloads.add_parser(
        "queues", help="SQS send / receive / delete messages/s and end-to-end latency",
        description="Send, send-batch, receive, delete-batch, delete and a producer/"
                    "consumer pipeline on a fresh queue (see engine/bench/queues.py). "
                    "--endpoint may list several nodes, comma-separated; the client's "
                    "coroutines are spread over them.")
    _common(q)
    q.add_argument("--message-size", type=size_arg, default="100",
                   help="body bytes of every message (default: 100)")
    q.add_argument("--fifo", action="store_true",
                   help="bench a FIFO queue instead of a standard one")
    q.add_argument("--phases", type=_queue_phases, default=None,
                   help="comma-separated subset of send,send-batch,receive,delete-batch,"
                        "delete,pipeline (default: all, in that order)")
    q.add_argument("--pipeline-backlog", type=_positive, default=None, metavar="N",
                   help="pipeline producers wait while their process has N messages "
                        "queued (default: 10 per consumer)")
    q.set_defaults(run=run_queues)
    c = workloads.add_parser(
        "cache", help="cache tier GET / SET / MGET ops/s and object GETs via the read cache",
        description="set, get (hits on a preloaded key space), mixed, mget (10 keys a "
                    "call) and object-get phases, each with the server's cache counters "
                    "over it (see engine/bench/cache.py). The read cache's effect on "
                    "object GETs: run --phases object-get against a server started with "
                    "--object-cache-max 0 and compare.")
    _common(c)
    c.add_argument("--keys", type=_positive, default=10_000,
                   help="distinct keys in the key space (default: 10000)")
    c.add_argument("--value-size", type=size_arg, default="100",
                   help="bytes of every value, e.g. 100, 4KiB (default: 100)")
    c.add_argument("--read-ratio", type=float, default=0.9,
                   help="fraction of GETs in the mixed phase (default: 0.9)")
    c.add_argument("--object-count", type=_positive, default=100,
                   help="objects the object-get phase reads in turn (default: 100)")
    c.add_argument("--object-size", type=size_arg, default="256KiB",
                   help="bytes of every object; the read cache keeps none up to the "
                        "inline threshold (128KiB) (default: 256KiB)")
    c.add_argument("--phases", type=_cache_phases, default=None,
                   help="comma-separated subset of set,get,mixed,mget,object-get "
                        "(default: all, in that order)")
    c.add_argument("--label", default="",
                   help="free text kept in the report, e.g. the server's flags")
    c.set_defaults(run=run_cache)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", default=DEFAULT_LISTEN,
                   help=f"node to load (default: {DEFAULT_LISTEN})")
    p.add_argument("--concurrency", type=_positive, default=8,
                   help="calls in flight per process (default: 8)")
    p.add_argument("--processes", type=_positive, default=1,
                   help="client processes, each with --concurrency calls (default: 1)")
    p.add_argument("--duration", type=_seconds, default=10.0,
                   help="measured seconds per phase (default: 10s)")
    p.add_argument("--warmup", type=_seconds, default=1.0,
                   help="unmeasured seconds before each phase (default: 1s)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="also write every figure to FILE as JSON")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the bare gRPC Echo baseline")


def run_objects(args: argparse.Namespace) -> int:

    from engine.bench.echo import EchoWorkload
    from engine.bench.objects import ObjectsWorkload, default_keys, new_bucket_name
    from engine.bench.report import build_report, now, render, run_config, write_json
    from engine.bench.runner import RunPlan, run_workload
    from engine.bench.sizes import format_size

    out, err = _consoles(width=140)
    keys = args.keys or default_keys(args.size, args.concurrency, args.processes)
    if keys < args.processes:
        err.print(f"engine bench: --keys {keys} is fewer than --processes {args.processes}")
        return 2
    workload = ObjectsWorkload(bucket=new_bucket_name(), size=args.size, keys=keys,
                               op=args.op)
    plan = RunPlan(endpoint=args.endpoint, concurrency=args.concurrency,
                   processes=args.processes, duration_s=args.duration,
                   warmup_s=args.warmup)

    def progress(phase: str) -> None:
        err.print(f"[dim]{phase}: {plan.warmup_s:g} s warm-up + {plan.duration_s:g} s, "
                  f"{plan.concurrency} x {plan.processes} in flight[/dim]")

    async def main() -> tuple[Any, Any]:
        await _wait_ready(args.endpoint)
        phases = await run_workload(workload, plan, progress)
        baseline = None
        if not args.no_baseline:
            baseline = await run_workload(EchoWorkload(size=args.size), plan, progress)
        return phases, baseline

    started = now()
    try:
        phases, baseline = _run(main, args.endpoint, err)
    except _NotRun as stop:
        return stop.status

    config = run_config(
        started, workload="objects", endpoint=args.endpoint, op=args.op, size=args.size,
        size_text=format_size(args.size), concurrency=args.concurrency,
        processes=args.processes, duration=args.duration, warmup=args.warmup,
        keys=keys, bucket=workload.bucket, command=" ".join(["engine", *sys.argv[1:]]),
    )
    matches = {phase: workload.baseline_for(phase) for phase in workload.phases()}
    report = build_report(config, phases, baseline, matches)
    render(report, out)
    if args.json is not None:
        write_json(report, args.json)
    failed = any(p["errors"] for p in report["phases"].values()) or any(
        p["errors"] for p in (report["baseline"] or {}).values())
    return 1 if failed else 0


def _consoles(width: int) -> tuple[Any, Any]:
    """(out, err); piped or captured output gets ``width`` columns rather than 80, so the
    tables do not wrap."""
    from rich.console import Console

    out = Console()
    if not out.is_terminal:
        out = Console(width=width)
    return out, Console(stderr=True)


class _NotRun(Exception):
    """The bench could not run to the end; why is printed already, ``status`` is the
    exit status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _run(main: Callable[[], Coroutine[Any, Any, T]], endpoint: str, err: Any) -> T:
    """Run a bench's event loop; the ways it cannot finish become a one-line message on
    ``err`` and :class:`_NotRun` (2: endpoint down, a call refused or a worker process
    failed; 130: interrupted)."""
    import grpc

    from engine.bench.workload import error_code

    try:
        return asyncio.run(main())
    except TimeoutError as exc:
        where = exc.args[0] if exc.args else endpoint
        err.print(f"engine bench: no gRPC server answering at {where}")
        raise _NotRun(2) from None
    except grpc.aio.AioRpcError as exc:
        err.print(f"engine bench: {error_code(exc)}: {exc.details()}")
        raise _NotRun(2) from None
    except RuntimeError as exc:  # a worker process failed; its error is in the text
        err.print(f"engine bench: {exc}")
        raise _NotRun(2) from None
    except KeyboardInterrupt:
        err.print("engine bench: interrupted")
        raise _NotRun(130) from None


async def _wait_ready(endpoint: str) -> None:
    """Raise TimeoutError when nothing answers (refused, or no answer within the
    timeout) rather than run phases that only count a dead endpoint's errors."""
    import grpc

    from engine.bench.runner import open_channel

    async def ready(channel: grpc.aio.Channel) -> None:
        while (state := channel.get_state(try_to_connect=True)) != grpc.ChannelConnectivity.READY:
            if state == grpc.ChannelConnectivity.TRANSIENT_FAILURE:
                raise TimeoutError(endpoint)
            await channel.wait_for_state_change(state)

    async with open_channel(endpoint) as channel:
        await asyncio.wait_for(ready(channel), CONNECT_TIMEOUT_S)


def _queue_phases(text: str) -> tuple[str, ...]:
    from engine.bench.queues import parse_phases

    try:
        return parse_phases(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_queues(args: argparse.Namespace) -> int:
    """`engine bench queues`: the queue workload (engine/bench/queues.py) and, unless
    --no-baseline, Echo.Unary on the first endpoint; exit status as for objects."""
    import tempfile

    from engine.bench import queues
    from engine.bench.report import build_report, now, render, run_config, write_json
    from engine.bench.runner import RunPlan, run_workload
    from engine.bench.sizes import format_size

    out, err = _consoles(width=140)
    endpoints = tuple(e.strip() for e in args.endpoint.split(",") if e.strip())
    phases = args.phases or queues.PHASES
    try:
        if not endpoints:
            raise ValueError("--endpoint names no node")
        queues.check_message_size(args.message_size)
        if "pipeline" in phases and args.concurrency < 2:
            raise ValueError("the pipeline phase needs --concurrency 2 or more "
                             "(producers and consumers in every process)")
    except ValueError as exc:
        err.print(f"engine bench: {exc}")
        return 2
    spool = tempfile.TemporaryDirectory(prefix="engine-bench-queues-")
    workload = queues.QueuesWorkload(
        queue=queues.new_queue_name(args.fifo), endpoints=endpoints,
        message_size=args.message_size, phase_names=phases, concurrency=args.concurrency,
        warmup_s=args.warmup, duration_s=args.duration, spool=spool.name,
        backlog=args.pipeline_backlog)
    plan = RunPlan(endpoint=endpoints[0], concurrency=args.concurrency,
                   processes=args.processes, duration_s=args.duration,
                   warmup_s=args.warmup)

    def progress(phase: str) -> None:
        err.print(f"[dim]{phase}: {plan.warmup_s:g} s warm-up + {plan.duration_s:g} s, "
                  f"{plan.concurrency} x {plan.processes} in flight[/dim]")

    async def main() -> tuple[Any, Any]:
        for endpoint in endpoints:
            await _wait_ready(endpoint)
        figures = await run_workload(workload, plan, progress)
        baseline = None
        if not args.no_baseline:
            baseline = await run_workload(queues.UnaryBaseline(size=args.message_size),
                                          plan, progress)
        return figures, baseline

    started = now()
    with spool:
        try:
            figures, baseline = _run(main, args.endpoint, err)
        except _NotRun as stop:
            return stop.status
        tally = queues.PipelineTally.read(Path(spool.name))

    config = run_config(
        started, workload="queues", endpoint=args.endpoint, endpoints=list(endpoints),
        fifo=args.fifo, phases=list(phases), size=args.message_size,
        size_text=format_size(args.message_size), message_size=args.message_size,
        concurrency=args.concurrency, processes=args.processes, duration=args.duration,
        warmup=args.warmup, queue=workload.queue,
        command=" ".join(["engine", *sys.argv[1:]]),
    )
    matches = {p: m for p in phases if (m := workload.baseline_for(p)) is not None}
    report = build_report(config, figures, baseline, matches)
    producers, consumers, backlog = queues.pipeline_roles(args.concurrency,
                                                          args.pipeline_backlog)
    queues.add_queue_figures(report, args.message_size, tally, producers=producers,
                             consumers=consumers, backlog_limit=backlog,
                             processes=args.processes)
    render(report, out)
    queues.render_messages(report, out)
    if args.json is not None:
        write_json(report, args.json)
    failed = any(p["errors"] for p in report["phases"].values()) or any(
        p["errors"] for p in (report["baseline"] or {}).values())
    return 1 if failed else 0


def _cache_phases(text: str) -> tuple[str, ...]:
    from engine.bench.cache import parse_phases

    try:
        return parse_phases(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_cache(args: argparse.Namespace) -> int:
    """`engine bench cache`: the cache workload (engine/bench/cache.py), one phase at a
    time with the server's Cache.Stats read around each, then unless --no-baseline
    Echo.Unary with a value's and an object's payload; exit status as for objects."""

    from engine.bench import cache
    from engine.bench.objects import new_bucket_name
    from engine.bench.report import build_report, now, render, run_config, write_json
    from engine.bench.runner import RunPlan, open_channel, run_workload
    from engine.bench.sizes import format_size
    from engine.client.cache import stats_result
    from engine.v1 import cache_pb2, cache_pb2_grpc

    out, err = _consoles(width=160)
    phases = args.phases or cache.PHASES
    try:
        cache.check_settings(args.value_size, args.keys, args.read_ratio, args.processes,
                             args.object_count, args.object_size)
    except ValueError as exc:
        err.print(f"engine bench: {exc}")
        return 2
    workload = cache.CacheWorkload(
        prefix=cache.new_prefix(), bucket=new_bucket_name(), keys=args.keys,
        value_size=args.value_size, read_ratio=args.read_ratio,
        object_count=args.object_count, object_size=args.object_size, phase_names=phases)
    plan = RunPlan(endpoint=args.endpoint, concurrency=args.concurrency,
                   processes=args.processes, duration_s=args.duration,
                   warmup_s=args.warmup)

    def progress(phase: str) -> None:
        err.print(f"[dim]{phase}: {plan.warmup_s:g} s warm-up + {plan.duration_s:g} s, "
                  f"{plan.concurrency} x {plan.processes} in flight[/dim]")

    async def main() -> tuple[Any, Any, Any]:
        await _wait_ready(args.endpoint)
        figures: dict[str, Any] = {}
        counters: dict[str, Any] = {}
        async with open_channel(args.endpoint) as channel:
            stub = cache_pb2_grpc.CacheStub(channel)

            async def total() -> dict[str, Any]:
                return stats_result(await stub.Stats(cache_pb2.CacheStatsRequest()))["total"]

            for phase in phases:
                before = await total()
                figures.update(await run_workload(workload.only(phase), plan, progress))
                counters[phase] = cache.counters_delta(before, await total())
        baseline = None
        if not args.no_baseline:
            baseline = await run_workload(cache.CacheBaseline(
                value_size=args.value_size, object_size=args.object_size,
                with_objects="object-get" in phases), plan, progress)
        return figures, counters, baseline

    started = now()
    try:
        figures, counters, baseline = _run(main, args.endpoint, err)
    except _NotRun as stop:
        return stop.status

    config = run_config(
        started, workload="cache", endpoint=args.endpoint, phases=list(phases),
        size=args.value_size, size_text=format_size(args.value_size),
        value_size=args.value_size, value_size_text=format_size(args.value_size),
        keys=args.keys, read_ratio=args.read_ratio, mget_batch=cache.MGET_BATCH,
        object_count=args.object_count, object_size=args.object_size,
        object_size_text=format_size(args.object_size), concurrency=args.concurrency,
        processes=args.processes, duration=args.duration, warmup=args.warmup,
        prefix=workload.prefix, bucket=workload.bucket, label=args.label,
        command=" ".join(["engine", *sys.argv[1:]]),
    )
    matches = {p: workload.baseline_for(p) for p in phases}
    report = build_report(config, figures, baseline, matches)
    cache.add_cache_figures(report, args.value_size, args.object_size, counters)
    render(report, out)
    cache.render_cache(report, out)
    if args.json is not None:
        write_json(report, args.json)
    failed = any(p["errors"] for p in report["phases"].values()) or any(
        p["errors"] for p in (report["baseline"] or {}).values())
    return 1 if failed else 0
