"""`engine chaos SCENARIO`: start a loopback cluster, run the object workload while a
nemesis injects faults drawn from --seed, heal, let every node serve again, read every
key a last time, check the history and write a report (report.md, report.json,
timeline.png beside history.jsonl and faults.jsonl) into --report DIR.

Scenarios:
{scenarios}

Needs root: every node runs under its own uid on its own 127.0.0.x address, and
partitions are nftables rules (apt-get install nftables). Not yet in this harness: TLS,
authentication, the S3 HTTP / SQS / RESP endpoints, the queue, cache and IAM workloads
and --cache-replicas; the workload uses the gRPC SDK on every node.

Exit status: 0 when the checkers found no anomaly and every node served again after the
faults, 1 otherwise (the report says what), 2 when the run could not be made (bad
arguments, not root, nft missing, --report DIR already holding a run, a cluster that did
not start), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine.chaos.scenarios import MIN_NODES, SCENARIOS
from engine.cli.bench import _positive, _seconds

DEFAULT_DURATION_S = 60.0
DEFAULT_NODES = 6
DEFAULT_AZS = 3
MAX_NODES = 64


def _description() -> str:
    width = max(len(name) for name in SCENARIOS)
    listed = "\n".join(f"  {s.name:<{width}}  {s.summary}" for s in SCENARIOS.values())
    return (__doc__ or "").format(scenarios=listed)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chaos", help="run a fault scenario under load and check the history",
                       description=_description(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", choices=sorted(SCENARIOS), metavar="SCENARIO",
                   help=f"one of: {', '.join(sorted(SCENARIOS))}")
    p.add_argument("--duration", type=_seconds, default=DEFAULT_DURATION_S,
                   help=f"seconds of workload under faults (default: {DEFAULT_DURATION_S:g}s)")
    p.add_argument("--seed", type=int, default=0,
                   help="draws the faults, their targets and the workload (default: 0)")
    p.add_argument("--report", type=Path, default=None, metavar="DIR",
                   help="where the history and report go (default: "
                        "./chaos-reports/SCENARIO-sSEED-TIME)")
    p.add_argument("--nodes", type=_positive, default=DEFAULT_NODES,
                   help=f"cluster nodes, {MIN_NODES}..{MAX_NODES} (default: {DEFAULT_NODES})")
    p.add_argument("--azs", type=_positive, default=DEFAULT_AZS,
                   help=f"availability zones the nodes spread over (default: {DEFAULT_AZS})")
    p.add_argument("--workers", type=_positive, default=4,
                   help="concurrent workload clients (default: 4)")
    p.add_argument("--quiet", action="store_true", help="only the summary")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not MIN_NODES <= args.nodes <= MAX_NODES:
        return _usage(f"--nodes must be {MIN_NODES}..{MAX_NODES}: {args.nodes}")
    if args.azs > args.nodes:
        return _usage(f"--azs ({args.azs}) cannot exceed --nodes ({args.nodes})")
    if args.duration < 1:
        return _usage(f"--duration must be at least 1s: {args.duration:g}s")
    from engine.chaos.runner import SETTLE_TIMEOUT_S, HarnessError, RunConfig
    from engine.chaos.runner import run as run_scenario

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = args.report or Path("chaos-reports") / f"{args.scenario}-s{args.seed}-{stamp}"
    config = RunConfig(SCENARIOS[args.scenario], args.duration, args.seed, args.nodes,
                       args.azs, out.resolve(), args.workers,
                       ["engine", "chaos", *sys.argv[2:]] if _is_cli() else
                       ["engine", "chaos", args.scenario])

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"chaos: {line}", file=sys.stderr, flush=True)

    try:
        result = run_scenario(config, progress)
    except HarnessError as e:
        print(f"engine chaos: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("engine chaos: interrupted", file=sys.stderr)
        return 130
    report = result.report
    print(f"{args.scenario} (seed {args.seed}): {report['summary']}")
    acked = ", ".join(f"{op} {n}" for op, n in result.acknowledged_by_op.items()) or "none"
    print(f"  operations {report['operations']}, acknowledged {report['acknowledged']} "
          f"({acked}), indeterminate {report['indeterminate']}, failed {report['failed']}")
    print(f"  faults {result.faults}; lost object writes "
          f"{report['lost'].get('object_writes', 0)}; anomalies "
          f"{report['anomalies_by_kind'] or 'none'}")
    for problem in result.problems:
        print(f"  {problem}")
    if not result.settled:
        print("  the cluster did not serve again on every node within "
              f"{SETTLE_TIMEOUT_S:g}s of the last fault healing (see cluster/logs/)")
    print(f"  report: {result.out_dir / 'report.md'}")
    return 0 if result.passed else 1


def _usage(message: str) -> int:
    print(f"engine chaos: {message}", file=sys.stderr)
    return 2


def _is_cli() -> bool:
    """Whether sys.argv is this command's (not a caller passing argv to main())."""
    return len(sys.argv) > 1 and sys.argv[1] == "chaos"
