"""`engine status`: the whole cluster at a glance, from any one node (Admin.GetStatus).

The table has one section per concern: nodes grouped by AZ (gRPC and S3 addresses,
health, uptime, version), drives (free space, object records), erasure sets (state and
degraded shards, last healing pass), queue groups and the leader of each queue's
partitions, and cache slot ownership. A node that does not answer within a short
deadline shows as unreachable and its drives and sets as offline/degraded; the call
itself never waits on it.

``--json`` prints the same information: the GetStatusResponse message of
proto/engine/v1/admin.proto field for field (names as in the proto, integers as JSON
numbers, an unset message or optional field as null). Top level: cluster_name,
answered_by, nodes[] (node_id, address, http_address, redis_address, zone, version,
uptime_seconds, reachable, healthy, error, drives[], buckets, objects, hotpath_backend,
queue_groups[], heal_passes[]), erasure_sets[] (index, data_shards, parity_shards, drives[], state,
objects, shards_degraded, drives_offline, last_heal), queue_groups[] (index, members,
leader, term, members_reachable, has_quorum), queues[] (name, partitions[] of index,
group, leader), queues_total, queues_error, cache (replicas, ranges[] of first, last,
owners, serving). See docs/cluster.md, "Status".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import grpc
from google.protobuf.message import Message

from engine.client import signed_channels
from engine.client.errors import error_from_rpc
from engine.config import DEFAULT_LISTEN
from engine.v1 import admin_pb2, admin_pb2_grpc

TIMEOUT = 10.0  # seconds; a status call that takes longer is itself the answer
MAX_QUEUE_ROWS = 50  # the table lists this many queues; --json has them all


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="show the cluster's status (nodes, drives, erasure "
                                      "sets, queues, cache slots)")
    p.add_argument("--endpoint", default=DEFAULT_LISTEN,
                   help=f"any node of the cluster (default: {DEFAULT_LISTEN})")
    p.add_argument("--ca-bundle", metavar="FILE",
                   help="PEM CA bundle to trust for an https:// endpoint (default: "
                   "$AWS_CA_BUNDLE, else the system's roots)")
    p.add_argument("--local", action="store_true",
                   help="only the node asked, without asking its peers")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        with signed_channels.channel(args.endpoint, verify=args.ca_bundle) as channel:
            resp = admin_pb2_grpc.AdminStub(channel).GetStatus(
                admin_pb2.GetStatusRequest(local_only=args.local), timeout=TIMEOUT
            )
    except grpc.RpcError as exc:
        error = error_from_rpc(exc, "GetStatus", endpoint=args.endpoint).response["Error"]
        print(f"engine: {error['Code']}: {error['Message']}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a malformed --endpoint, an unreadable --ca-bundle
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
    """The response as plain JSON types (protobuf's own JSON turns uint64 into strings
    and leaves out fields at their default)."""
    return plain(resp)


def plain(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in msg.DESCRIPTOR.fields:
        value = getattr(msg, f.name)
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            entry = f.message_type.fields_by_name["value"]
            out[f.name] = {k: plain(v) if entry.message_type else v
                           for k, v in sorted(value.items())}
        elif f.is_repeated:
            out[f.name] = [plain(v) if f.message_type else v for v in value]
        elif f.has_presence and not msg.HasField(f.name):
            out[f.name] = None
        else:
            out[f.name] = plain(value) if f.message_type else value
    return out


# -- tables ------------------------------------------------------------------------------

def print_table(status: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console()
    nodes = status["nodes"]
    down = [n for n in nodes if not n["reachable"]]
    zones = sorted({n["zone"] for n in nodes})
    head = (f"cluster [bold]{_e(status['cluster_name'])}[/bold]: {len(nodes)} node(s) in "
            f"{len(zones)} AZ(s), asked {_e(status['answered_by'])}")
    buckets = next((n["buckets"] for n in nodes if n["buckets"] is not None), None)
    head += ", buckets: " + ("unknown (no quorum)" if buckets is None else str(buckets))
    if down:
        head += f", [red]{len(down)} unreachable[/red]"
    console.print(head)
    for section in (_nodes, _drives, _sets, _raft_groups, _queue_groups, _queues, _slots):
        table = section(status)
        if table is not None:
            console.print(table)
    for n in down:
        console.print(f"[red]{_e(n['node_id'])} unreachable[/red]: {_e(n['error'])}")
    if status["queues_error"]:
        console.print(f"[yellow]queues: {_e(status['queues_error'])}[/yellow]")


def _table(title: str, *columns: str) -> Any:
    """A compact table (fits 80 columns where it can); names and addresses never fold,
    so a reader (or grep) finds them whole."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", title_style="bold",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for c in columns:
        whole = c in ("AZ", "node", "address", "state", "queue", "slots")
        table.add_column(c, overflow="fold", no_wrap=whole)
    return table


def _nodes(status: dict[str, Any]) -> Any:
    table = _table("Nodes", "AZ", "node", "address", "S3 (HTTP)", "RESP", "state", "uptime",
                   "version", "objects")
    by_zone: dict[str, list[dict[str, Any]]] = {}
    for n in status["nodes"]:
        by_zone.setdefault(n["zone"], []).append(n)
    for zone in sorted(by_zone):
        for i, n in enumerate(sorted(by_zone[zone], key=lambda n: n["node_id"])):
            if not n["reachable"]:
                table.add_row(_e(zone) if i == 0 else "", _e(n["node_id"]), _e(n["address"]),
                              _e(n.get("http_address") or "-"), _e(n.get("redis_address") or "-"),
                              "[red]unreachable[/red]", "-",
                              "-", "-")
                continue
            state = ("[green]healthy[/green]" if n["healthy"]
                     else "[yellow]drive offline[/yellow]")
            if not n["ready"]:
                state = f"[yellow]not ready[/yellow]: {_e(n['not_ready'])}"
            table.add_row(_e(zone) if i == 0 else "", _e(n["node_id"]), _e(n["address"]),
                          _e(n.get("http_address") or "-"), _e(n.get("redis_address") or "-"),
                          state,
                          human_duration(n["uptime_seconds"]), _e(n["version"]),
                          str(n["objects"]))
        table.add_section()
    return table


def _drives(status: dict[str, Any]) -> Any:
    table = _table("Drives", "node", "drive", "state", "free", "engine uses", "objects",
                   "path")
    for n in status["nodes"]:
        for d in n["drives"]:
            if not d["online"]:
                table.add_row(_e(n["node_id"]), f"d{d['index']}", "[red]offline[/red]",
                              "-", "-", "-", _e(d["path"]))
                continue
            table.add_row(_e(n["node_id"]), f"d{d['index']}", "[green]online[/green]",
                          f"{human_bytes(d['free_bytes'])} free of "
                          f"{human_bytes(d['total_bytes'])}",
                          human_bytes(d["used_bytes"]), str(d["objects"]), _e(d["path"]))
    return table


_SET_STATE = {"healthy": "green", "degraded": "yellow", "read-only": "red",
              "unavailable": "red"}


def _sets(status: dict[str, Any]) -> Any:
    if not status["erasure_sets"]:
        return None
    table = _table("Erasure sets", "set", "code", "state", "drives", "objects",
                   "shards to heal", "last heal")
    for s in status["erasure_sets"]:
        drives = " ".join(
            f"{_e(d['node_id'])}/d{d['drive_index']}" if d["online"]
            else f"[red]{_e(d['node_id'])}/d{d['drive_index']} offline[/red]"
            for d in s["drives"])
        colour = _SET_STATE.get(s["state"], "red")
        table.add_row(str(s["index"]), f"{s['data_shards']}+{s['parity_shards']}",
                      f"[{colour}]{s['state']}[/{colour}]", drives, str(s["objects"]),
                      str(s["shards_degraded"]), _heal_pass(s["last_heal"]))
    return table


def _heal_pass(p: dict[str, Any] | None) -> str:
    if p is None:
        return "none yet"
    r = p["report"]
    ago = human_duration(max(0.0, time.time() - p["finished_unix"]))
    text = (f"{ago} ago, {p['kind']} on {_e(p['node_id'])}: {r['objects_checked']} checked, "
            f"{r['shards_rebuilt']} rebuilt")
    return text + (f", [red]{r['unresolved']} unresolved[/red]" if r["unresolved"] else "")


def _raft_groups(status: dict[str, Any]) -> Any:
    """Every consensus group: its leader, term and commit index, and how far behind each
    member is (the leader's commit index minus the member's replicated index)."""
    if not status["raft_groups"]:
        return None
    table = _table("Consensus groups", "group", "leader", "term", "commit", "members (lag)",
                   "state")
    for g in status["raft_groups"]:
        if g["match"]:
            members = " ".join(f"{_e(m)} ({max(g['commit_index'] - i, 0)})"
                               for m, i in g["match"].items())
        else:
            members = " ".join(_e(m) for m in g["members"])
        state = ("[green]ok[/green]" if g["leader"] else "[red]no leader[/red]")
        if g["failure"]:
            state += f", [red]stopped on {_e(g['failure'])}[/red]"
        table.add_row(_e(g["group"]), _e(g["leader"]) or "-", str(g["term"]),
                      str(g["commit_index"]), members, state)
    return table


def _queue_groups(status: dict[str, Any]) -> Any:
    if not status["queue_groups"]:
        return None
    reachable = {n["node_id"] for n in status["nodes"] if n["reachable"]}
    table = _table("Queue groups", "group", "members", "leader", "term", "state")
    for g in status["queue_groups"]:
        members = " ".join(_e(m) if m in reachable else f"[red]{_e(m)} unreachable[/red]"
                           for m in g["members"])
        state = ("[green]ok[/green]" if g["has_quorum"] else
                 "[yellow]electing[/yellow]" if 2 * g["members_reachable"] > len(g["members"])
                 else "[red]no quorum[/red]")
        table.add_row(str(g["index"]), members, _e(g["leader"]) or "[red]none[/red]",
                      str(g["term"]), state)
    return table


def _queues(status: dict[str, Any]) -> Any:
    if not status["queues"]:
        return None
    shown = status["queues"][:MAX_QUEUE_ROWS]
    in_json = len(status["queues"]) - len(shown)
    unlisted = status["queues_total"] - len(status["queues"])
    title = "Queue partitions (partition: group, leader)"
    if in_json:
        title += f"; {in_json} more queues in --json"
    if unlisted:
        title += f"; {unlisted} more not listed"
    table = _table(title, "queue", "partitions")
    for q in shown:
        table.add_row(_e(q["name"]), "  ".join(
            f"p{p['index']}: g{p['group']} {_e(p['leader']) or '[red]no leader[/red]'}"
            for p in q["partitions"]))
    return table


def _slots(status: dict[str, Any]) -> Any:
    cache = status["cache"]
    if cache is None or not cache["ranges"]:
        return None
    table = _table(f"Cache slots ({cache['replicas']} replica(s))", "slots", "primary",
                   "replica", "served by")
    for r in cache["ranges"]:
        owners = r["owners"]
        serving = r["serving"]
        served = ("[red]unavailable[/red]" if not serving
                  else f"[yellow]{_e(serving)} (replica)[/yellow]" if serving != owners[0]
                  else _e(serving))
        table.add_row(f"{r['first']}-{r['last']}", _e(owners[0]),
                      _e(owners[1]) if len(owners) > 1 else "-", served)
    return table


def _e(text: str) -> str:
    from rich.markup import escape

    return escape(text)


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
