"""What every `engine bench WORKLOAD` run shares around its own workload: checking the
common options, the consoles, a --local-cluster started and always stopped, waiting for
the endpoints, the run plan, running the event loop with its ways of failing turned
into an exit status, and the outputs (summary, --compare, --json, --plot).

Exit status: 0 when every call succeeded, 1 when some failed (the figures are still
printed and written), 2 when the run could not start (bad input, endpoint down, cluster
not starting), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import grpc
from rich.console import Console

from engine.bench.compare import compare, load_report, render_compare
from engine.bench.progress import LiveProgress
from engine.bench.report import render, write_json
from engine.bench.runner import RunPlan, open_channel
from engine.bench.workload import OpError, error_code

CONNECT_TIMEOUT_S = 10.0
CONSOLE_WIDTH = 160  # columns of piped or captured output, so the tables do not wrap
T = TypeVar("T")
Body = Callable[[argparse.Namespace, Console, Console], int]


class NotRun(Exception):
    """The bench could not run to the end; why is printed already, ``status`` is the
    exit status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def run_session(args: argparse.Namespace, body: Body) -> int:
    """Check the options every workload shares, start --local-cluster if asked (and stop
    it whatever happens), then run `body(args, out, err)`."""
    out, err = consoles(width=CONSOLE_WIDTH)
    try:
        check_common(args)
    except ValueError as exc:
        err.print(f"engine bench: {exc}")
        return 2
    if args.local_cluster is None:
        return body(args, out, err)
    # only now: it brings in `engine cluster up`'s machinery, which a plain run never needs
    from engine.bench.local_cluster import ClusterStartError, local_cluster

    log = io.StringIO() if args.quiet else sys.stderr
    try:
        with local_cluster(args.local_cluster, log) as started:
            args.endpoint = ",".join(started)
            return body(args, out, err)
    except ClusterStartError as exc:
        err.print(f"engine bench: {exc}")
        return 2
    except KeyboardInterrupt:
        err.print("engine bench: interrupted")
        return 130


def check_common(args: argparse.Namespace) -> None:
    """ValueError for shared options that cannot work, before anything starts."""
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


def consoles(width: int) -> tuple[Console, Console]:
    """(out, err); piped or captured output gets ``width`` columns rather than 80, so the
    tables do not wrap, and messages on a piped stderr are not wrapped at all (a log or a
    test reads them whole)."""
    out = Console()
    if not out.is_terminal:
        out = Console(width=width)
    err = Console(stderr=True)
    if not err.is_terminal:
        err = Console(stderr=True, soft_wrap=True)
    return out, err


def plan(args: argparse.Namespace, spread: bool = True) -> RunPlan:
    """The run's RunPlan; `spread`: the runner spreads load over every endpoint (the
    queue workload does that itself)."""
    targets = endpoints(args)
    return RunPlan(endpoint=targets[0], endpoints=targets if spread else (),
                   concurrency=args.concurrency, processes=args.processes,
                   duration_s=args.duration, warmup_s=args.warmup, ops=args.ops)


def common_config(args: argparse.Namespace) -> dict[str, Any]:
    """The report's config entries every workload has."""
    return {"endpoint": args.endpoint, "endpoints": list(endpoints(args)),
            "local_cluster": args.local_cluster, "concurrency": args.concurrency,
            "processes": args.processes, "duration": args.duration, "ops": args.ops,
            "warmup": args.warmup, "command": " ".join(["engine", *sys.argv[1:]])}


def monitor(args: argparse.Namespace, run_plan: RunPlan, err: Console,
            label: str = "") -> LiveProgress:
    return LiveProgress(err, run_plan, quiet=args.quiet, label=label)


async def wait_all(targets: Sequence[str]) -> None:
    for endpoint in targets:
        await wait_ready(endpoint)


async def wait_ready(endpoint: str) -> None:
    """Raise TimeoutError when nothing answers (refused, or no answer within the
    timeout) rather than run phases that only count a dead endpoint's errors."""

    async def ready(channel: grpc.aio.Channel) -> None:
        while (state := channel.get_state(try_to_connect=True)) != grpc.ChannelConnectivity.READY:
            if state == grpc.ChannelConnectivity.TRANSIENT_FAILURE:
                raise TimeoutError(endpoint)
            await channel.wait_for_state_change(state)

    async with open_channel(endpoint) as channel:
        await asyncio.wait_for(ready(channel), CONNECT_TIMEOUT_S)


def run_loop(main: Callable[[], Coroutine[Any, Any, T]], endpoint: str, err: Console) -> T:
    """Run a bench's event loop; the ways it cannot finish become a one-line message on
    ``err`` and :class:`NotRun` (2: endpoint down, a call refused or a worker process
    failed; 130: interrupted)."""
    try:
        return asyncio.run(main())
    except TimeoutError as exc:
        where = exc.args[0] if exc.args else endpoint
        err.print(f"engine bench: no gRPC server answering at {where}")
        raise NotRun(2) from None
    except grpc.aio.AioRpcError as exc:
        err.print(f"engine bench: {error_code(exc)}: {exc.details()}")
        raise NotRun(2) from None
    except OpError as exc:  # an untimed HTTP call (stocking, a queue's URL) failed
        err.print(f"engine bench: {exc}")
        raise NotRun(2) from None
    except RuntimeError as exc:  # a worker process failed; its error is in the text
        err.print(f"engine bench: {exc}")
        raise NotRun(2) from None
    except KeyboardInterrupt:
        err.print("engine bench: interrupted")
        raise NotRun(130) from None


def finish(args: argparse.Namespace, report: dict[str, Any], out: Console, err: Console,
           *extra: Callable[[dict[str, Any], Console], None]) -> int:
    """Compare, print, write --json and --plot; the exit status (1 if any call failed)."""
    if args.old_report is not None:
        report["compare"] = compare(report, args.old_report, args.compare)
    render(report, out)
    for show in extra:
        show(report, out)
    render_compare(report, out)
    if args.json is not None:
        write_json(report, args.json)
    if args.plot is not None:
        from engine.bench.plot import write_plot  # matplotlib: only when a plot is asked

        write_plot(report, args.plot)
        if not args.quiet:
            err.print(f"[dim]plot written to {args.plot}[/dim]")
    failed = any(p["errors"] for p in report["phases"].values()) or any(
        p["errors"] for p in (report["baseline"] or {}).values())
    return 1 if failed else 0
