"""What each `engine bench WORKLOAD` command does once its options are parsed and the
session (engine/bench/session.py) is open: check the workload's own options, build the
workload, run it and then the Echo baseline unless --no-baseline, and turn both into
the report. Each takes (args, out, err) and returns the exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from engine.bench import cache, cache_resp, mixed, queues
from engine.bench.echo import EchoWorkload
from engine.bench.objects import ObjectsWorkload, default_keys, new_bucket_name
from engine.bench.queue_client import pipeline_roles
from engine.bench.queue_messages import check_message_size, new_queue_name
from engine.bench.queue_report import PipelineTally, add_queue_figures, render_messages
from engine.bench.report import build_report, now, run_config
from engine.bench.runner import open_channel, run_workload
from engine.bench.s3_objects import S3EchoWorkload, S3ObjectsWorkload
from engine.bench.session import (
    NotRun,
    common_config,
    endpoints,
    finish,
    monitor,
    plan,
    run_loop,
    wait_all,
)
from engine.bench.sizes import format_size
from engine.bench.sqs_queues import (
    HttpUnaryBaseline,
    SqsQueuesWorkload,
    merge_protocols,
    render_protocols,
)
from engine.bench.stats import PhaseStats
from engine.bench.workload import Workload
from engine.client.cache import stats_result
from engine.v1 import cache_pb2, cache_pb2_grpc

Figures = dict[str, PhaseStats]
DEFAULT_HTTP_ENDPOINT = "127.0.0.1:9000"  # engine serve's --http-listen default


def bench_objects(args: argparse.Namespace, out: Console, err: Console) -> int:
    run_plan = plan(args)
    clients = args.processes * len(run_plan.targets)
    keys = args.keys or max(clients, default_keys(args.size, args.concurrency,
                                                  args.processes))
    if keys < clients:
        err.print(f"engine bench: --keys {keys} is fewer than --processes x endpoints "
                  f"({clients})")
        return 2
    try:
        workload, echo = objects_workloads(args, run_plan.targets, keys)
    except ValueError as exc:
        err.print(f"engine bench: {exc}")
        return 2

    async def main() -> tuple[Figures, Figures | None]:
        await wait_all(run_plan.targets)
        with monitor(args, run_plan, err) as progress:
            phases = await run_workload(workload, run_plan, progress)
        baseline = None
        if not args.no_baseline:
            with monitor(args, run_plan, err, "baseline") as progress:
                baseline = await run_workload(echo, run_plan, progress)
        return phases, baseline

    started = now()
    try:
        phases, baseline = run_loop(main, args.endpoint, err)
    except NotRun as stop:
        return stop.status

    config = run_config(
        started, workload="objects", **common_config(args), op=args.op, size=args.size,
        protocol=args.protocol,
        size_text=format_size(args.size), keys=keys, bucket=workload.bucket)
    matches = {phase: workload.baseline_for(phase) for phase in workload.phases()}
    return finish(args, build_report(config, phases, baseline, matches), out, err)


def objects_workloads(args: argparse.Namespace, targets: Sequence[str], keys: int
                      ) -> tuple[ObjectsWorkload, Workload]:
    """The object workload and its baseline for ``--protocol``: gRPC and Echo, or the S3
    REST endpoint and the node's bare HTTP handler (ValueError: no S3 address known)."""
    bucket = new_bucket_name()
    if args.protocol == "grpc":
        return (ObjectsWorkload(bucket=bucket, size=args.size, keys=keys, op=args.op),
                EchoWorkload(size=args.size))
    http = http_addresses(args.s3_endpoint, targets, "s3")
    return (S3ObjectsWorkload(bucket=bucket, size=args.size, keys=keys, op=args.op,
                              http=http),
            S3EchoWorkload(size=args.size, http=http))


def http_addresses(given: str | None, targets: Sequence[str], protocol: str
                   ) -> dict[str, str]:
    """Each --endpoint node's HTTP address from --<protocol>-endpoint (a comma-separated
    list in the same order; for one node, engine serve's default); ValueError when the
    counts differ."""
    listed = [e.strip() for e in (given or "").split(",") if e.strip()]
    if not listed and len(targets) == 1:
        listed = [DEFAULT_HTTP_ENDPOINT]
    if len(listed) != len(targets):
        raise ValueError(f"--protocol {protocol} needs --{protocol}-endpoint with one "
                         f"{protocol.upper()} address per --endpoint node ({len(targets)})")
    return dict(zip(targets, listed, strict=True))


def bench_queues(args: argparse.Namespace, out: Console, err: Console) -> int:
    targets = endpoints(args)
    phases = args.phases or queues.PHASES
    protocols = ("grpc", "sqs") if args.protocol == "both" else (args.protocol,)
    try:
        if args.ops is not None:
            raise ValueError("the queue workload stocks messages for a duration: use "
                             "--duration, not --ops")
        check_message_size(args.message_size)
        if "pipeline" in phases and args.concurrency < 2:
            raise ValueError("the pipeline phase needs --concurrency 2 or more "
                             "(producers and consumers in every process)")
        http = http_addresses(args.sqs_endpoint, targets, "sqs") if "sqs" in protocols \
            else {}
    except ValueError as exc:
        err.print(f"engine bench: {exc}")
        return 2
    run_plan = plan(args, spread=False)  # the workload spreads coroutines over `targets`

    with contextlib.ExitStack() as stack:
        runs = {p: _queue_run(args, p, targets, http, stack.enter_context(
            tempfile.TemporaryDirectory(prefix=f"engine-bench-queues-{p}-")))
            for p in protocols}
        both = len(protocols) > 1

        async def main() -> dict[str, tuple[Figures, Figures | None]]:
            await wait_all(targets)
            figures: dict[str, Figures] = {}
            for p, (workload, _) in runs.items():
                with monitor(args, run_plan, err, p if both else "") as progress:
                    figures[p] = await run_workload(workload, run_plan, progress)
            measured: dict[str, Figures] = {}
            for p, (_, baseline) in runs.items() if not args.no_baseline else ():
                label = f"{p} baseline" if both else "baseline"
                with monitor(args, run_plan, err, label) as progress:
                    measured[p] = await run_workload(baseline, run_plan, progress)
            return {p: (figures[p], measured.get(p)) for p in protocols}

        started = now()
        try:
            results = run_loop(main, args.endpoint, err)
        except NotRun as stop:
            return stop.status
        reports = {p: _queue_report(args, started, runs[p][0], *results[p], http)
                   for p in protocols}
    report = merge_protocols(reports["grpc"], reports["sqs"]) if both \
        else reports[protocols[0]]
    return finish(args, report, out, err, render_messages, render_protocols)


def _queue_run(args: argparse.Namespace, protocol: str, targets: tuple[str, ...],
               http: dict[str, str], spool: str) -> tuple[queues.QueuesWorkload, Workload]:
    """The queue workload over ``protocol`` (on a fresh queue) and its baseline: gRPC and
    Echo.Unary, or SQS's JSON protocol and the node's bare HTTP handler."""
    settings: dict[str, Any] = dict(
        queue=new_queue_name(args.fifo), endpoints=targets, message_size=args.message_size,
        phase_names=args.phases or queues.PHASES, concurrency=args.concurrency,
        warmup_s=args.warmup, duration_s=args.duration, spool=spool,
        backlog=args.pipeline_backlog)
    if protocol == "sqs":
        return (SqsQueuesWorkload(http=http, **settings),
                HttpUnaryBaseline(size=args.message_size, http=http))
    return queues.QueuesWorkload(**settings), queues.UnaryBaseline(size=args.message_size)


def _queue_report(args: argparse.Namespace, started: str, workload: queues.QueuesWorkload,
                  figures: Figures, baseline: Figures | None, http: dict[str, str]
                  ) -> dict[str, Any]:
    """One protocol's report, with the messages view and the pipeline's figures (read
    from the workload's spool, which must still exist)."""
    phases = workload.phase_names
    protocol = "sqs" if isinstance(workload, SqsQueuesWorkload) else "grpc"
    config = run_config(
        started, workload="queues", **common_config(args), protocol=protocol,
        fifo=args.fifo, phases=list(phases), size=args.message_size,
        size_text=format_size(args.message_size), message_size=args.message_size,
        queue=workload.queue,
        **({"sqs_endpoints": list(http.values())} if protocol == "sqs" else {}))
    matches = {p: m for p in phases if (m := workload.baseline_for(p)) is not None}
    report = build_report(config, figures, baseline, matches)
    producers, consumers, backlog = pipeline_roles(args.concurrency, args.pipeline_backlog)
    assert workload.spool is not None
    add_queue_figures(report, args.message_size, PipelineTally.read(Path(workload.spool)),
                      producers=producers, consumers=consumers, backlog_limit=backlog,
                      processes=args.processes)
    return report


def bench_cache(args: argparse.Namespace, out: Console, err: Console) -> int:
    resp = args.protocol == "resp"
    phases = args.phases or (cache.CACHE_PHASES if resp else cache.PHASES)
    run_plan = plan(args)
    try:
        cache.check_settings(args.value_size, args.keys, args.read_ratio,
                             args.processes * len(run_plan.targets), args.object_count,
                             args.object_size)
        if resp and "object-get" in phases:
            raise ValueError("object-get reads objects, which RESP cannot: drop it from "
                             "--phases with --protocol resp")
        if args.redis_url and not resp:
            raise ValueError("--redis-url is for --protocol resp")
    except ValueError as exc:
        err.print(f"engine bench: {exc}")
        return 2
    workload = cache.CacheWorkload(
        prefix=cache.new_prefix(), bucket=new_bucket_name(), keys=args.keys,
        value_size=args.value_size, read_ratio=args.read_ratio,
        object_count=args.object_count, object_size=args.object_size, phase_names=phases)
    resp_config: dict[str, Any] = {}  # with --protocol resp: where the load went

    async def main() -> tuple[Figures, dict[str, Any], Figures | None]:
        nonlocal workload
        await wait_all(run_plan.targets)
        base: Workload = cache.CacheBaseline(
            value_size=args.value_size, object_size=args.object_size,
            with_objects="object-get" in phases)
        if resp:
            urls, cluster = await cache_resp.resp_endpoints(run_plan.targets, args.redis_url)
            resp_config.update(redis_endpoints=[cache_resp.redacted(u) for u in urls.values()],
                               redis_cluster=cluster)
            workload = cache_resp.RespCacheWorkload.of(workload, urls, cluster,
                                                       args.concurrency)
            base = cache_resp.RespEchoBaseline(value_size=args.value_size, resp=urls)
        figures: Figures = {}
        counters: dict[str, Any] = {}
        async with open_channel(run_plan.endpoint) as channel:
            stub = cache_pb2_grpc.CacheStub(channel)

            async def total() -> dict[str, Any]:
                return stats_result(await stub.Stats(cache_pb2.CacheStatsRequest()))["total"]

            with monitor(args, run_plan, err) as progress:
                for phase in phases:
                    before = await total()
                    figures.update(await run_workload(workload.only(phase), run_plan,
                                                      progress))
                    counters[phase] = cache.counters_delta(before, await total())
        baseline = None
        if not args.no_baseline:
            with monitor(args, run_plan, err, "baseline") as progress:
                baseline = await run_workload(base, run_plan, progress)
        return figures, counters, baseline

    started = now()
    try:
        figures, counters, baseline = run_loop(main, args.endpoint, err)
    except NotRun as stop:
        return stop.status

    config = run_config(
        started, workload="cache", **common_config(args), protocol=args.protocol,
        **resp_config, phases=list(phases),
        size=args.value_size, size_text=format_size(args.value_size),
        value_size=args.value_size, value_size_text=format_size(args.value_size),
        keys=args.keys, read_ratio=args.read_ratio, mget_batch=cache.MGET_BATCH,
        object_count=args.object_count, object_size=args.object_size,
        object_size_text=format_size(args.object_size),
        prefix=workload.prefix, bucket=workload.bucket, label=args.label)
    if args.redis_url:  # the command line as run, less any password in a URL
        config["command"] = config["command"].replace(
            args.redis_url, ",".join(map(cache_resp.redacted, args.redis_url.split(","))))
    matches = {p: workload.baseline_for(p) for p in phases}
    report = build_report(config, figures, baseline, matches)
    cache.add_cache_figures(report, args.value_size, args.object_size, counters)
    return finish(args, report, out, err, cache.render_cache)


def bench_mixed(args: argparse.Namespace, out: Console, err: Console) -> int:
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
    run_plan = plan(args)

    async def main() -> tuple[Figures, Figures | None]:
        await wait_all(run_plan.targets)
        with monitor(args, run_plan, err) as progress:
            figures = await run_workload(workload, run_plan, progress)
        baseline = None
        if not args.no_baseline:
            with monitor(args, run_plan, err, "baseline") as progress:
                baseline = await run_workload(mixed.MixedBaseline(
                    object_size=args.object_size, value_size=args.value_size,
                    message_size=args.message_size), run_plan, progress)
        return figures, baseline

    started = now()
    try:
        figures, baseline = run_loop(main, args.endpoint, err)
    except NotRun as stop:
        return stop.status

    config = run_config(
        started, workload="mixed", **common_config(args), mix=args.mix,
        read_ratio=args.read_ratio, size=args.object_size,
        size_text=format_size(args.object_size), object_size=args.object_size,
        object_count=args.object_count, value_size=args.value_size,
        message_size=args.message_size, keys=args.keys, bucket=bucket, queue=queue,
        prefix=prefix)
    matches = {f"mixed/{k}": m for k in workload.kinds()
               if (m := workload.baseline_for(f"mixed/{k}")) is not None}
    return finish(args, build_report(config, figures, baseline, matches), out, err)
