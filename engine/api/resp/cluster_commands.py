"""CLUSTER SLOTS, SHARDS, NODES, INFO, KEYSLOT, MYID, COUNTKEYSINSLOT: the cluster as
Redis Cluster clients expect to see it (cluster_view.py decides who serves what).

The engine's placement is not Redis's: each node is primary of one slot range and may
be replica of another. SHARDS says exactly that per range; SLOTS and NODES, whose
readers give a node one role, list every node as a master of the ranges it serves now
(SLOTS names a range's replica only when that node serves no range of its own)."""

from __future__ import annotations

from typing import Any

from engine.api.resp import errors
from engine.api.resp.cluster_view import ClusterView
from engine.api.resp.context import RespContext
from engine.api.resp.encoder import Verbatim
from engine.api.resp.errors import RespError
from engine.api.resp.info import user_keys
from engine.api.resp.registry import command
from engine.api.resp.session import Session
from engine.cache.slots import SLOTS, key_slot


def _view(ctx: RespContext) -> ClusterView:
    if ctx.cluster is None:
        raise RespError(errors.NO_CLUSTER)
    return ctx.cluster


def _node(view: ClusterView, node_id: str) -> list[Any]:
    host, port = view.host_port(node_id)
    return [host.encode(), port, view.ids[node_id].encode()]


@command("cluster|slots", 2)
async def slots(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    """Each range with the node serving it, and its replica only if that node serves
    no range itself: a Redis Cluster node has one role, and clients (redis-py) take
    a node listed as a replica anywhere for a replica everywhere."""
    view = _view(ctx)
    ranges = view.ranges()
    serving = {owners[0] for _, _, owners in ranges}
    return [[first, last, _node(view, owners[0]),
             *(_node(view, n) for n in owners[1:] if n not in serving)]
            for first, last, owners in ranges]


@command("cluster|shards", 2)
async def shards(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    view = _view(ctx)
    out = []
    for first, last, owners in view.ranges():
        nodes = []
        for index, node_id in enumerate(owners):
            host, port = view.host_port(node_id)
            nodes.append({"id": view.ids[node_id], "port": port, "ip": host,
                          "endpoint": host, "role": "master" if index == 0 else "replica",
                          "replication-offset": 0,
                          "health": "online" if view.up(node_id) else "failed"})
        out.append({"slots": [first, last], "nodes": nodes})
    return out


@command("cluster|nodes", 2)
async def nodes(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    view = _view(ctx)
    served: dict[str, list[str]] = {n: [] for n in view.ids}
    for first, last, owners in view.ranges():
        served[owners[0]].append(f"{first}-{last}" if first != last else str(first))
    lines = []
    for node_id, name in view.ids.items():
        host, port = view.host_port(node_id)
        flags = ("myself,master" if node_id == view.me else "master") + (
            "" if view.up(node_id) else ",fail")
        link = "connected" if view.up(node_id) else "disconnected"
        lines.append(" ".join([name, f"{host}:{port}@{port + 10000 if port else 0}", flags,
                               "-", "0", "0", str(view.epochs[node_id]), link,
                               *served[node_id]]))
    return Verbatim("\n".join(lines) + "\n")


@command("cluster|info", 2)
async def info(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    view = _view(ctx)
    ranges = view.ranges()
    ok = sum(last - first + 1 for first, last, owners in ranges if view.up(owners[0]))
    primaries = {owners[0] for _, _, owners in view.slots.ranges()}
    fields = [("cluster_state", "ok" if ok == SLOTS else "fail"),
              ("cluster_slots_assigned", SLOTS), ("cluster_slots_ok", ok),
              ("cluster_slots_pfail", 0), ("cluster_slots_fail", SLOTS - ok),
              ("cluster_known_nodes", len(view.ids)), ("cluster_size", len(primaries)),
              ("cluster_current_epoch", len(view.ids)),
              ("cluster_my_epoch", view.epochs[view.me]),
              ("cluster_stats_messages_sent", 0), ("cluster_stats_messages_received", 0),
              ("total_cluster_links_buffer_limit_exceeded", 0)]
    return Verbatim("".join(f"{k}:{v}\r\n" for k, v in fields))


@command("cluster|keyslot", 3)
async def keyslot(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    _view(ctx)
    return key_slot(argv[2])


@command("cluster|myid", 2)
async def myid(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    view = _view(ctx)
    return view.ids[view.me].encode()


@command("cluster|countkeysinslot", 3)
async def countkeysinslot(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    _view(ctx)
    try:
        slot = int(argv[2])
    except ValueError:
        raise RespError("ERR Invalid slot") from None
    if not 0 <= slot < SLOTS:
        raise RespError("ERR Invalid slot")
    return sum(1 for key in user_keys(ctx) if key_slot(key) == slot)
