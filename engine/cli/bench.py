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
import importlib
import re
from collections.abc import Callable
from pathlib import Path

from engine.bench.sizes import size_arg
from engine.config import DEFAULT_LISTEN

DEFAULT_DURATION_S = 10.0


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
    p.add_argument("--protocol", choices=("grpc", "s3"), default="grpc",
                   help="s3: load the S3 REST endpoint (SigV4-signed HTTP) instead of gRPC, "
                        "judged against the node's bare HTTP handler (default: grpc)")
    p.add_argument("--s3-endpoint", default=None, metavar="HOST:PORT[,...]",
                   help="with --protocol s3: each --endpoint node's S3 REST address, in the "
                        "same order (default: 127.0.0.1:9000 for a single node)")
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
    q.add_argument("--protocol", choices=("grpc", "sqs", "both"), default="grpc",
                   help="sqs: load the node's HTTP port with SQS's JSON protocol (SigV4-"
                        "signed), judged against its bare HTTP handler; both: gRPC, then "
                        "SQS, in one report with their ratio (default: grpc)")
    q.add_argument("--sqs-endpoint", default=None, metavar="HOST:PORT[,...]",
                   help="with --protocol sqs or both: each --endpoint node's HTTP address, "
                        "in the same order (default: 127.0.0.1:9000 for a single node)")
    q.set_defaults(run=run_queues)
    c = workloads.add_parser(
        "cache", help="cache tier GET / SET / MGET ops/s and object GETs via the read cache",
        description="set, get (hits on a preloaded key space), mixed, mget (10 keys a "
                    "call) and object-get phases, each with the server's cache counters "
                    "over it (see engine/bench/cache.py). The read cache's effect on "
                    "object GETs: run --phases object-get against a server started with "
                    "--object-cache-max 0 and compare. --protocol resp runs the same "
                    "cache phases through the RESP endpoint with redis-py "
                    "(engine/bench/cache_resp.py).")
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
                        "(default: all, in that order; all but object-get with "
                        "--protocol resp)")
    c.add_argument("--label", default="",
                   help="free text kept in the report, e.g. the server's flags")
    c.add_argument("--protocol", choices=("grpc", "resp"), default="grpc",
                   help="resp: send the cache phases to the nodes' RESP (Redis) endpoint "
                        "with redis-py (RedisCluster against a cluster), authenticated with "
                        "your access key, judged against ECHO; no object-get (default: grpc)")
    c.add_argument("--redis-url", default=None, metavar="URL[,...]",
                   help="with --protocol resp: each --endpoint node's RESP endpoint, e.g. "
                        "redis://127.0.0.1:6379, in the same order (default: the address "
                        "each node reports in engine status)")
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


# -- entry points: the session and each command's body live in engine/bench/ --------------
# (imported only when a command runs, as every workload module is, so `engine` starts fast)


def run_objects(args: argparse.Namespace) -> int:
    """`engine bench objects`: PUT then GET (engine/bench/objects.py) and, unless
    --no-baseline, the Echo baseline with the same payload."""
    from engine.bench.commands import bench_objects
    from engine.bench.session import run_session

    return run_session(args, bench_objects)


def run_queues(args: argparse.Namespace) -> int:
    """`engine bench queues`: the queue workload (engine/bench/queues.py) and, unless
    --no-baseline, Echo.Unary on the first endpoint; exit status as for objects."""
    from engine.bench.commands import bench_queues
    from engine.bench.session import run_session

    return run_session(args, bench_queues)


def run_cache(args: argparse.Namespace) -> int:
    """`engine bench cache`: the cache workload (engine/bench/cache.py), one phase at a
    time with the server's Cache.Stats read around each, then unless --no-baseline
    Echo.Unary with a value's and an object's payload; exit status as for objects."""
    from engine.bench.commands import bench_cache
    from engine.bench.session import run_session

    return run_session(args, bench_cache)


def run_mixed(args: argparse.Namespace) -> int:
    """`engine bench mixed`: objects, queues and cache in one phase (engine/bench/
    mixed.py), then the Echo baseline with each kind's payload."""
    from engine.bench.commands import bench_mixed
    from engine.bench.session import run_session

    return run_session(args, bench_mixed)
