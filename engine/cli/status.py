"""`engine status`: what Admin.GetStatus reports, as a table for people or JSON for scripts."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import grpc

from engine.client.errors import error_from_rpc
from engine.client.transport import open_channel
from engine.config import DEFAULT_LISTEN
from engine.v1 import admin_pb2, admin_pb2_grpc

TIMEOUT = 10.0  # seconds; a status call that takes longer is itself the answer


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="show the node's (and cluster's) status")
    p.add_argument("--endpoint", default=DEFAULT_LISTEN,
                   help=f"node to ask (default: {DEFAULT_LISTEN})")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        with open_channel(args.endpoint) as channel:
            resp = admin_pb2_grpc.AdminStub(channel).GetStatus(
                admin_pb2.GetStatusRequest(), timeout=TIMEOUT
            )
    except grpc.RpcError as exc:
        error = error_from_rpc(exc, "GetStatus", endpoint=args.endpoint).response["Error"]
        print(f"engine: {error['Code']}: {error['Message']}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a malformed --endpoint
        print(f"engine: InvalidArgument: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    status = status_dict(resp)
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print_table(status)
    return 0


def status_dict(resp: admin_pb2.GetStatusResponse) -> dict[str, Any]:
    """The response as plain JSON types (protobuf's own JSON turns uint64 into strings)."""
    return {
        "cluster_name": resp.cluster_name,
        "nodes": [
            {
                "node_id": n.node_id,
                "address": n.address,
                "zone": n.zone,
                "version": n.version,
                "uptime_seconds": n.uptime_seconds,
                "healthy": n.healthy,
                "drives": [
                    {
                        "path": d.path,
                        "total_bytes": d.total_bytes,
                        "free_bytes": d.free_bytes,
                        "used_bytes": d.used_bytes,
                    }
                    for d in n.drives
                ],
                "buckets": n.buckets,
                "objects": n.objects,
                "hotpath_backend": n.hotpath_backend,
            }
            for n in resp.nodes
        ],
    }


def print_table(status: dict[str, Any]) -> None:
    """One two-column table per node: fits an 80-column terminal however long the paths."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if status["cluster_name"]:
        console.print(f"cluster [bold]{status['cluster_name']}[/bold], "
                      f"{len(status['nodes'])} node(s)")
    for n in status["nodes"]:
        table = Table(title=f"node {n['node_id']}", show_header=False, title_justify="left")
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        table.add_row("address", n["address"])
        table.add_row("zone", n["zone"])
        table.add_row("version", n["version"])
        table.add_row("uptime", human_duration(n["uptime_seconds"]))
        table.add_row("healthy", "[green]yes[/green]" if n["healthy"] else "[red]no[/red]")
        for i, d in enumerate(n["drives"]):
            table.add_row(
                "drives" if i == 0 else "",
                f"{d['path']}\n  {human_bytes(d['free_bytes'])} free of "
                f"{human_bytes(d['total_bytes'])}, engine uses {human_bytes(d['used_bytes'])}",
            )
        table.add_row("buckets", str(n["buckets"]))
        table.add_row("objects", str(n["objects"]))
        table.add_row("hotpath", n["hotpath_backend"])
        console.print(table)


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
