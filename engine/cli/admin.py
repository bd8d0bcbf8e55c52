"""`engine admin`: operator actions on a running node or cluster."""

from __future__ import annotations

import argparse
import json
import sys

import grpc

from engine.client import signed_channels
from engine.config import DEFAULT_LISTEN
from engine.errors import EngineError
from engine.v1 import admin_pb2, admin_pb2_grpc

FIELDS = ("objects_checked", "entries_fixed", "entries_removed", "shards_checked",
          "shards_rebuilt", "pending_discarded", "unresolved", "partial")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("admin", help="operator actions (heal)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    heal = actions.add_parser("heal", help="run a full healing pass now and report it")
    heal.add_argument("--endpoint", default=DEFAULT_LISTEN,
                      help="a node (https://HOST:PORT for TLS)")
    heal.add_argument("--ca-bundle", metavar="FILE",
                      help="PEM CA bundle to trust for an https:// endpoint (default: "
                      "$AWS_CA_BUNDLE, else the system's roots)")
    heal.add_argument("--bucket", default="", help="only this bucket")
    heal.add_argument("--pending-grace", type=float, default=None, metavar="SECONDS",
                      help="discard uncommitted writes older than this (default 3600)")
    heal.add_argument("--timeout", type=float, default=3600.0)
    heal.add_argument("--json", action="store_true", help="print the report as JSON")
    heal.set_defaults(run=run_heal)


def run_heal(args: argparse.Namespace) -> int:
    request = admin_pb2.HealRequest(bucket=args.bucket)
    if args.pending_grace is not None:
        request.pending_grace_seconds = args.pending_grace
    try:
        with signed_channels.channel(args.endpoint, verify=args.ca_bundle) as channel:
            report = admin_pb2_grpc.AdminStub(channel).Heal(request, timeout=args.timeout)
    except grpc.RpcError as exc:
        err = EngineError.from_rpc_error(exc)
        print(f"engine: {err.code}: {err.message}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a malformed --endpoint, an unreadable --ca-bundle
        print(f"engine: InvalidArgument: {exc}", file=sys.stderr)
        return 1
    result = {f: getattr(report, f) for f in FIELDS}
    result["errors"] = list(report.errors)
    result["seconds"] = round(report.seconds, 3)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name in FIELDS:
            print(f"{name.replace('_', ' '):>18}: {result[name]}")
        print(f"{'seconds':>18}: {result['seconds']}")
        for error in result["errors"]:
            print(f"  error: {error}")
    # 3: something is left to heal (unreachable drives, too few good shards, errors)
    return 0 if not (report.unresolved or report.partial or report.errors) else 3
