"""`engine bench`: load generators for objects, queues, cache and a mix of the three,
each followed (unless --no-baseline) by the bare gRPC Echo baseline on the same node, so
every engine figure is also shown as a fraction of what the gRPC stack can do at all.

Load goes to --endpoint (one node or several, comma-separated: the load is spread over
them) or to a cluster the bench starts and stops itself (--local-cluster 6x3). A live
progress bar runs on a terminal; at the end a summary table, and on request --json,
--plot (PNG) and --compare (ratios to an earlier --json).

Exit status: 0 when every call succeeded, 1 when some failed (the figures are still
printed and written), 2 when the run could not start (bad input, endpoint down, cluster
not starting), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import re
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from engine.bench.sizes import size_arg
from engine.config import DEFAULT_LISTEN

CONNECT_TIMEOUT_S = 10.0
DEFAULT_DURATION_S = 10.0
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
    q.add_argument("--phases", type=_phases_arg("engine.bench.queues"), default=None,
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
    c.add_argument("--phases", type=_phases_arg("engine.bench.cache"), default=None,
                   help="comma-separated subset of set,get,mixed,mget,object-get "
                        "(default: all, in that order)")
    c.add_argument("--label", default="",
                   help="free text kept in the report, e.g. the server's flags")
    c.set_defaults(run=run_cache)
    m = workloads.add_parser(
        "mixed", help="objects, queues and cache at once, each kind with its own figures",
        description="One phase interleaving object PUT/GET, queue send/receive+delete and "
                    "cache SET/GET by a weighted mix (see engine/bench/mixed.py).")
    _common(m)
    m.add_argument("--mix", type=_mix, default="objects=1,queues=1,cache=1",
                   help="relative weights of the families, e.g. objects=1,queues=1,cache=8 "
                        "(default: objects=1,queues=1,cache=1)")
    m.add_argument("--read-ratio", type=float, default=0.9,
                   help="fraction of object and cache ops that are reads (default: 0.9); "
                        "queue ops alternate send and receive")
    m.add_argument("--object-size", type=size_arg, default="4KiB",
                   help="bytes of every object (default: 4KiB)")
    m.add_argument("--object-count", type=_positive, default=100,
                   help="objects written in setup that GETs read (default: 100)")
    m.add_argument("--value-size", type=size_arg, default="100",
                   help="bytes of every cache value (default: 100)")
    m.add_argument("--message-size", type=size_arg, default="100",
                   help="body bytes of every message (default: 100)")
    m.add_argument("--keys", type=_positive, default=10_000,
                   help="cache key space, and object keys PUTs overwrite (default: 10000)")
    m.set_defaults(run=run_mixed)


def _mix(text: str) -> dict[str, int]:
    from engine.bench.mixed import parse_mix

    try:
        return parse_mix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _shape(text: str) -> str:
    from engine.bench.local_cluster import parse_shape

    try:
        parse_shape(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip().lower()


def _common(p: argparse.ArgumentParser) -> None:
    target = p.add_mutually_exclusive_group()
    target.add_argument("--endpoint", default=DEFAULT_LISTEN,
                        help="node(s) to load, comma-separated to spread the load over "
                             f"several (default: {DEFAULT_LISTEN})")
    target.add_argument("--local-cluster", type=_shape, metavar="NxZ", default=None,
                        help="start a cluster of N nodes over Z AZs in a temporary "
                             "directory, load every node, stop it afterwards")
    p.add_argument("--ops", type=_positive, default=None, metavar="N",
                   help="run N measured calls per phase instead of --duration")
    p.add_argument("--quiet", action="store_true",
                   help="no progress output, only the summary")
    p.add_argument("--plot", type=Path, default=None, metavar="FILE.png",
                   help="draw throughput over time and the latency CDF of every phase")
    p.add_argument("--compare", type=Path, default=None, metavar="OLD.json",
                   help="print every figure as a ratio to an earlier run's --json")
    p.add_argument("--concurrency", type=_positive, default=8,
                   help="calls in flight per process (default: 8)")
    p.add_argument("--processes", type=_positive, default=1,
                   help="client processes, each with --concurrency calls (default: 1)")
    p.add_argument("--duration", type=_seconds, default=DEFAULT_DURATION_S,
                   help="measured seconds per phase (default: 10s; --ops replaces it)")
    p.add_argument("--warmup", type=_seconds, default=1.0,
                   help="unmeasured seconds before each phase (default: 1s)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="also write every figure to FILE as JSON")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the bare gRPC Echo baseline")


# -- what every workload shares: targets, plan, progress, outputs ------------------------


def _session(args: argparse.Namespace,
             body: Callable[[argparse.Namespace, Any, Any], int]) -> int:
    """Check the options every workload shares, start --local-cluster if asked (and stop
    it whatever happens), then run `body(args, out, err)`."""
    from engine.bench.local_cluster import ClusterStartError, local_cluster

    out, err = _consoles(width=160)
    try:
        _check_common(args)
    except ValueError as exc:
        err.print(f"engine bench: {exc}")
        return 2
    if args.local_cluster is None:
        return body(args, out, err)
    log = io.StringIO() if args.quiet else sys.stderr
    try:
        with local_cluster(args.local_cluster, log) as endpoints:
            args.endpoint = ",".join(endpoints)
            return body(args, out, err)
    except ClusterStartError as exc:
        err.print(f"engine bench: {exc}")
        return 2
    except KeyboardInterrupt:
        err.print("engine bench: interrupted")
        return 130


def _check_common(args: argparse.Namespace) -> None:
    """ValueError for shared options that cannot work, before anything starts."""
    from engine.bench.compare import load_report

    if args.duration <= 0:
        raise ValueError("--duration must be more than 0")
    args.old_report = load_report(args.compare) if args.compare is not None else None
    for option, path in (("--plot", args.plot), ("--json", args.json)):
        if path is not None and not path.parent.resolve().is_dir():
            raise ValueError(f"{option} {path}: no directory {path.parent}")
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise ValueError(f"--plot {args.plot}: the plot is a PNG, name it FILE.png")
    endpoints(args)


def endpoints(args: argparse.Namespace) -> tuple[str, ...]:
    listed = tuple(e.strip() for e in args.endpoint.split(",") if e.strip())
    if not listed:
        raise ValueError("--endpoint names no node")
    return listed


def _plan(args: argparse.Namespace, spread: bool = True) -> Any:
    """The run's RunPlan; `spread`: the runner spreads load over every endpoint (the
    queue workload does that itself)."""
    from engine.bench.runner import RunPlan

    targets = endpoints(args)
    return RunPlan(endpoint=targets[0], endpoints=targets if spread else (),
                   concurrency=args.concurrency, processes=args.processes,
                   duration_s=args.duration, warmup_s=args.warmup, ops=args.ops)


def _common_config(args: argparse.Namespace) -> dict[str, Any]:
    return {"endpoint": args.endpoint, "endpoints": list(endpoints(args)),
            "local_cluster": args.local_cluster, "concurrency": args.concurrency,
            "processes": args.processes, "duration": args.duration, "ops": args.ops,
            "warmup": args.warmup, "command": " ".join(["engine", *sys.argv[1:]])}


def _finish(args: argparse.Namespace, report: dict[str, Any], out: Any, err: Any,
            *extra: Callable[[dict[str, Any], Any], None]) -> int:
    """Compare, print, write --json and --plot; the exit status (1 if any call failed)."""
    from engine.bench.compare import compare, render_compare
    from engine.bench.report import render, write_json

    if args.old_report is not None:
        report["compare"] = compare(report, args.old_report, args.compare)
    render(report, out)
    for show in extra:
        show(report, out)
    render_compare(report, out)
    if args.json is not None:
        write_json(report, args.json)
    if args.plot is not None:
        from engine.bench.plot import write_plot

        write_plot(report, args.plot)
        if not args.quiet:
            err.print(f"[dim]plot written to {args.plot}[/dim]")
    failed = any(p["errors"] for p in report["phases"].values()) or any(
        p["errors"] for p in (report["baseline"] or {}).values())
    return 1 if failed else 0


def _monitor(args: argparse.Namespace, plan: Any, err: Any, label: str = "") -> Any:
    from engine.bench.progress import LiveProgress

    return LiveProgress(err, plan, quiet=args.quiet, label=label)


async def _wait_all(targets: Sequence[str]) -> None:
    for endpoint in targets:
        await _wait_ready(endpoint)


# -- objects -------------------------------------------------------------------------------


def run_objects(args: argparse.Namespace) -> int:
    return _session(args, _objects)


def _objects(args: argparse.Namespace, out: Any, err: Any) -> int:
    from engine.bench.echo import EchoWorkload
    from engine.bench.objects import ObjectsWorkload, default_keys, new_bucket_name
    from engine.bench.report import build_report, now, run_config
    from engine.bench.runner import run_workload
    from engine.bench.sizes import format_size

    plan = _plan(args)
    clients = args.processes * len(plan.targets)
    keys = args.keys or max(clients, default_keys(args.size, args.concurrency,
                                                  args.processes))
    if keys < clients:
        err.print(f"engine bench: --keys {keys} is fewer than --processes x endpoints "
                  f"({clients})")
        return 2
    workload = ObjectsWorkload(bucket=new_bucket_name(), size=args.size, keys=keys,
                               op=args.op)

    async def main() -> tuple[Any, Any]:
        await _wait_all(plan.targets)
        with _monitor(args, plan, err) as monitor:
            phases = await run_workload(workload, plan, monitor)
        baseline = None
        if not args.no_baseline:
            with _monitor(args, plan, err, "baseline") as monitor:
                baseline = await run_workload(EchoWorkload(size=args.size), plan, monitor)
        return phases, baseline

    started = now()
    try:
        phases, baseline = _run(main, args.endpoint, err)
    except _NotRun as stop:
        return stop.status

    config = run_config(
        started, workload="objects", **_common_config(args), op=args.op, size=args.size,
        size_text=format_size(args.size), keys=keys, bucket=workload.bucket)
    matches = {phase: workload.baseline_for(phase) for phase in workload.phases()}
    return _finish(args, build_report(config, phases, baseline, matches), out, err)


def _consoles(width: int) -> tuple[Any, Any]:
    """(out, err); piped or captured output gets ``width`` columns rather than 80, so the
    tables do not wrap, and messages on a piped stderr are not wrapped at all (a log or a
    test reads them whole)."""
    from rich.console import Console

    out = Console()
    if not out.is_terminal:
        out = Console(width=width)
    err = Console(stderr=True)
    if not err.is_terminal:
        err = Console(stderr=True, soft_wrap=True)
    return out, err


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



# -- queues --------------------------------------------------------------------------------


def run_queues(args: argparse.Namespace) -> int:
    """`engine bench queues`: the queue workload (engine/bench/queues.py) and, unless
    --no-baseline, Echo.Unary on the first endpoint; exit status as for objects."""
    return _session(args, _queues)


def _queues(args: argparse.Namespace, out: Any, err: Any) -> int:
    import tempfile

    from engine.bench import queues
    from engine.bench.report import build_report, now, run_config
    from engine.bench.runner import run_workload
    from engine.bench.sizes import format_size

    targets = endpoints(args)
    phases = args.phases or queues.PHASES
    try:
        if args.ops is not None:
            raise ValueError("the queue workload stocks messages for a duration: use "
                             "--duration, not --ops")
        queues.check_message_size(args.message_size)
        if "pipeline" in phases and args.concurrency < 2:
            raise ValueError("the pipeline phase needs --concurrency 2 or more "
                             "(producers and consumers in every process)")
    except ValueError as exc:
        err.print(f"engine bench: {exc}")
        return 2
    spool = tempfile.TemporaryDirectory(prefix="engine-bench-queues-")
    workload = queues.QueuesWorkload(
        queue=queues.new_queue_name(args.fifo), endpoints=targets,
        message_size=args.message_size, phase_names=phases, concurrency=args.concurrency,
        warmup_s=args.warmup, duration_s=args.duration, spool=spool.name,
        backlog=args.pipeline_backlog)
    plan = _plan(args, spread=False)  # the workload spreads coroutines over `targets`

    async def main() -> tuple[Any, Any]:
        await _wait_all(targets)
        with _monitor(args, plan, err) as monitor:
            figures = await run_workload(workload, plan, monitor)
        baseline = None
        if not args.no_baseline:
            with _monitor(args, plan, err, "baseline") as monitor:
                baseline = await run_workload(
                    queues.UnaryBaseline(size=args.message_size), plan, monitor)
        return figures, baseline

    started = now()
    with spool:
        try:
            figures, baseline = _run(main, args.endpoint, err)
        except _NotRun as stop:
            return stop.status
        tally = queues.PipelineTally.read(Path(spool.name))

    config = run_config(
        started, workload="queues", **_common_config(args), fifo=args.fifo,
        phases=list(phases), size=args.message_size,
        size_text=format_size(args.message_size), message_size=args.message_size,
        queue=workload.queue)
    matches = {p: m for p in phases if (m := workload.baseline_for(p)) is not None}
    report = build_report(config, figures, baseline, matches)
    producers, consumers, backlog = queues.pipeline_roles(args.concurrency,
                                                          args.pipeline_backlog)
    queues.add_queue_figures(report, args.message_size, tally, producers=producers,
                             consumers=consumers, backlog_limit=backlog,
                             processes=args.processes)
    return _finish(args, report, out, err, queues.render_messages)


# -- cache ---------------------------------------------------------------------------------


def _phases_arg(module: str) -> Callable[[str], tuple[str, ...]]:
    """The argparse type of --phases for the workload in ``module`` (imported only when
    the option is given, as every workload module is)."""

    def parse(text: str) -> tuple[str, ...]:
        from engine.bench.workload import select_phases

        try:
            return select_phases(text, importlib.import_module(module).PHASES)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def run_cache(args: argparse.Namespace) -> int:
    """`engine bench cache`: the cache workload (engine/bench/cache.py), one phase at a
    time with the server's Cache.Stats read around each, then unless --no-baseline
    Echo.Unary with a value's and an object's payload; exit status as for objects."""
    return _session(args, _cache)


def _cache(args: argparse.Namespace, out: Any, err: Any) -> int:
    from engine.bench import cache
    from engine.bench.objects import new_bucket_name
    from engine.bench.report import build_report, now, run_config
    from engine.bench.runner import open_channel, run_workload
    from engine.bench.sizes import format_size
    from engine.client.cache import stats_result
    from engine.v1 import cache_pb2, cache_pb2_grpc

    phases = args.phases or cache.PHASES
    plan = _plan(args)
    try:
        cache.check_settings(args.value_size, args.keys, args.read_ratio,
                             args.processes * len(plan.targets), args.object_count,
                             args.object_size)
    except ValueError as exc:
        err.print(f"engine bench: {exc}")
        return 2
    workload = cache.CacheWorkload(
        prefix=cache.new_prefix(), bucket=new_bucket_name(), keys=args.keys,
        value_size=args.value_size, read_ratio=args.read_ratio,
        object_count=args.object_count, object_size=args.object_size, phase_names=phases)

    async def main() -> tuple[Any, Any, Any]:
        await _wait_all(plan.targets)
        figures: dict[str, Any] = {}
        counters: dict[str, Any] = {}
        async with open_channel(plan.endpoint) as channel:
            stub = cache_pb2_grpc.CacheStub(channel)

            async def total() -> dict[str, Any]:
                return stats_result(await stub.Stats(cache_pb2.CacheStatsRequest()))["total"]

            with _monitor(args, plan, err) as monitor:
                for phase in phases:
                    before = await total()
                    figures.update(await run_workload(workload.only(phase), plan, monitor))
                    counters[phase] = cache.counters_delta(before, await total())
        baseline = None
        if not args.no_baseline:
            with _monitor(args, plan, err, "baseline") as monitor:
                baseline = await run_workload(cache.CacheBaseline(
                    value_size=args.value_size, object_size=args.object_size,
                    with_objects="object-get" in phases), plan, monitor)
        return figures, counters, baseline

    started = now()
    try:
        figures, counters, baseline = _run(main, args.endpoint, err)
    except _NotRun as stop:
        return stop.status

    config = run_config(
        started, workload="cache", **_common_config(args), phases=list(phases),
        size=args.value_size, size_text=format_size(args.value_size),
        value_size=args.value_size, value_size_text=format_size(args.value_size),
        keys=args.keys, read_ratio=args.read_ratio, mget_batch=cache.MGET_BATCH,
        object_count=args.object_count, object_size=args.object_size,
        object_size_text=format_size(args.object_size),
        prefix=workload.prefix, bucket=workload.bucket, label=args.label)
    matches = {p: workload.baseline_for(p) for p in phases}
    report = build_report(config, figures, baseline, matches)
    cache.add_cache_figures(report, args.value_size, args.object_size, counters)
    return _finish(args, report, out, err, cache.render_cache)


# -- mixed ---------------------------------------------------------------------------------


def run_mixed(args: argparse.Namespace) -> int:
    """`engine bench mixed`: objects, queues and cache in one phase (engine/bench/
    mixed.py), then the Echo baseline with each kind's payload."""
    return _session(args, _mixed)


def _mixed(args: argparse.Namespace, out: Any, err: Any) -> int:
    from engine.bench import mixed
    from engine.bench.report import build_report, now, run_config
    from engine.bench.runner import run_workload
    from engine.bench.sizes import format_size

    try:
        mixed.check_settings(args.mix, args.object_size, args.value_size,
                             args.message_size, args.keys, args.read_ratio)
    except ValueError as exc:
        err.print(f"engine bench: {exc}")
        return 2
    bucket, queue, prefix = mixed.new_names()
    workload = mixed.MixedWorkload(
        bucket=bucket, queue=queue, prefix=prefix, mix=args.mix,
        object_size=args.object_size, object_count=args.object_count,
        value_size=args.value_size, message_size=args.message_size, keys=args.keys,
        read_ratio=args.read_ratio)
    plan = _plan(args)

    async def main() -> tuple[Any, Any]:
        await _wait_all(plan.targets)
        with _monitor(args, plan, err) as monitor:
            figures = await run_workload(workload, plan, monitor)
        baseline = None
        if not args.no_baseline:
            with _monitor(args, plan, err, "baseline") as monitor:
                baseline = await run_workload(mixed.MixedBaseline(
                    object_size=args.object_size, value_size=args.value_size,
                    message_size=args.message_size), plan, monitor)
        return figures, baseline

    started = now()
    try:
        figures, baseline = _run(main, args.endpoint, err)
    except _NotRun as stop:
        return stop.status

    config = run_config(
        started, workload="mixed", **_common_config(args), mix=args.mix,
        read_ratio=args.read_ratio, size=args.object_size,
        size_text=format_size(args.object_size), object_size=args.object_size,
        object_count=args.object_count, value_size=args.value_size,
        message_size=args.message_size, keys=args.keys, bucket=bucket, queue=queue,
        prefix=prefix)
    matches = {f"mixed/{k}": m for k in workload.kinds()
               if (m := workload.baseline_for(f"mixed/{k}")) is not None}
    return _finish(args, build_report(config, figures, baseline, matches), out, err)
