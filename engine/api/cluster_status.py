"""The whole cluster's status as one node sees it: every peer's own status, asked at
once with a short deadline, and the cluster-wide sections derived from them.

A node that does not answer in time is reported unreachable (with the topology's facts
and why), so a dead or hung node costs at most PEER_SECONDS and never hangs the call.
What is derived is cheap by design: erasure-set health from which drives answer and
how many object records each holds, queue leaders from the members' Raft views, cache
slot owners from the slot map; exact damage counts come from the last healing passes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import grpc

from engine.cache.slots import SlotMap
from engine.cluster.layout import SetLayout
from engine.cluster.tls import PeerTls
from engine.cluster.wire import SECRET_HEADER
from engine.queues.groups import GroupSpec, partition_group
from engine.v1 import admin_pb2 as pb
from engine.v1 import admin_pb2_grpc
from engine.v1.queue_records_pb2 import QueueRecord
from engine.v1.raft_pb2 import RaftGroupStatus

PEER_SECONDS = 2.0  # a peer that has not sent its status by then is unreachable
MAX_QUEUES = 1000  # queues listed with their partitions (the total is always given)


@dataclass(frozen=True)
class Member:
    """A node as the topology describes it: what status shows when it does not answer."""

    node_id: str
    address: str
    zone: str
    drives: tuple[str, ...]
    http_address: str = ""
    redis_address: str = ""


def unreachable(member: Member, error: str) -> pb.NodeStatus:
    return pb.NodeStatus(
        node_id=member.node_id, address=member.address, zone=member.zone, reachable=False,
        http_address=member.http_address, redis_address=member.redis_address,
        healthy=False, error=error,
        drives=[pb.DriveStatus(path=path, index=i, online=False, error="node unreachable")
                for i, path in enumerate(member.drives)])


async def ask_peer(member: Member, timeout: float = PEER_SECONDS, *,
                   secret: str | None = None, tls: PeerTls | None = None) -> pb.NodeStatus:
    """The peer's own status (GetStatus local_only), or an unreachable entry. The
    cluster secret authenticates the call (a peer acts as the account root); in a TLS
    cluster it goes to the peer port over mutual TLS."""
    metadata = ((SECRET_HEADER, secret),) if secret else ()
    try:
        async with (grpc.aio.insecure_channel(member.address) if tls is None
                    else tls.channel(member.node_id)) as channel:
            reply = await admin_pb2_grpc.AdminStub(channel).GetStatus(
                pb.GetStatusRequest(local_only=True), timeout=timeout, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return unreachable(member, f"no answer within {timeout:g} s")
        return unreachable(member, f"{exc.code().name}: {exc.details()}")
    if len(reply.nodes) != 1 or reply.nodes[0].node_id != member.node_id:
        return unreachable(member, f"{member.address} answered for another node")
    return reply.nodes[0]


async def ask_peers(members: Iterable[Member], timeout: float = PEER_SECONDS, *,
                    secret: str | None = None, tls: PeerTls | None = None
                    ) -> list[pb.NodeStatus]:
    return list(await asyncio.gather(*(ask_peer(m, timeout, secret=secret, tls=tls)
                                       for m in members)))


def erasure_sets(plan: Sequence[SetLayout], nodes: Sequence[pb.NodeStatus]
                 ) -> list[pb.ErasureSetStatus]:
    """Each set's drives with which are online, its state and its degraded shard count."""
    by_id = {n.node_id: n for n in nodes}
    drives = {(n.node_id, d.index): d for n in nodes if n.reachable for d in n.drives}
    out = []
    for layout in plan:
        members = []
        for ref in layout.drives:
            d = drives.get((ref.node_id, ref.drive_index))
            online = d is not None and d.online
            members.append(pb.SetDrive(node_id=ref.node_id, drive_index=ref.drive_index,
                                       zone=ref.zone, online=online,
                                       objects=d.objects if d is not None and online else 0))
        objects = max((m.objects for m in members if m.online), default=0)
        offline = sum(not m.online for m in members)
        degraded = sum(objects - m.objects for m in members)
        up = len(members) - offline
        state = ("unavailable" if up < layout.read_quorum
                 else "read-only" if up < layout.write_quorum
                 else "degraded" if offline or degraded else "healthy")
        passes = [p for n in by_id.values() for p in n.heal_passes if p.set == layout.index]
        status = pb.ErasureSetStatus(
            index=layout.index, data_shards=layout.data_shards,
            parity_shards=layout.parity_shards, drives=members, state=state,
            objects=objects, shards_degraded=degraded, drives_offline=offline)
        if passes:
            status.last_heal.CopyFrom(max(passes, key=lambda p: p.finished_unix))
        out.append(status)
    return out


def queue_groups(groups: Sequence[GroupSpec], nodes: Sequence[pb.NodeStatus]
                 ) -> list[pb.QueueGroupStatus]:
    """Each group as its reachable members see it: the leader most of them name in the
    newest term they know, if that leader answers."""
    reachable = {n.node_id for n in nodes if n.reachable}
    views: dict[int, list[pb.QueueGroupStatus]] = {}
    for n in nodes:
        for v in n.queue_groups:
            views.setdefault(v.index, []).append(v)
    out = []
    for g in groups:
        seen = views.get(g.index, [])
        term = max((v.term for v in seen), default=0)
        named = Counter(v.leader for v in seen if v.term == term and v.leader)
        leader = named.most_common(1)[0][0] if named else ""
        if leader not in reachable:
            leader = ""
        members = [m.node_id for m in g.members]
        up = sum(m in reachable for m in members)
        out.append(pb.QueueGroupStatus(
            index=g.index, members=members, leader=leader, term=term, members_reachable=up,
            has_quorum=bool(leader) and 2 * up > len(members)))
    return out


def raft_groups(nodes: Sequence[pb.NodeStatus]) -> list[RaftGroupStatus]:
    """Each consensus group as its leader reports it (the leader of the newest term that a
    reachable node reports), else the newest view any member has; replicas that stopped
    serving the group are named in ``failure``."""
    views: dict[str, list[RaftGroupStatus]] = {}
    failed: dict[str, list[str]] = {}
    for n in nodes:
        for g in n.raft_groups:
            views.setdefault(g.group, []).append(g)
            if g.role == "failed":
                failed.setdefault(g.group, []).append(f"{n.node_id}: {g.failure}")
    out = []
    for name in sorted(views):
        seen = views[name]
        leaders = [v for v in seen if v.role == "leader"]
        best = max(leaders or seen, key=lambda v: (v.term, v.commit_index))
        view = RaftGroupStatus()
        view.CopyFrom(best)
        view.failure = "; ".join(failed.get(name, []))
        if view.role != "leader":
            view.leader = ""
            view.match.clear()
        out.append(view)
    return out


def queue_partitions(records: Sequence[QueueRecord], groups: Sequence[pb.QueueGroupStatus]
                     ) -> list[pb.QueuePartitions]:
    """The first MAX_QUEUES queues, each partition with its group and that group's leader."""
    leaders = {g.index: g.leader for g in groups}
    return [
        pb.QueuePartitions(name=r.name, partitions=[
            pb.QueuePartition(index=p, group=(group := partition_group(r.name, p, len(groups))),
                              leader=leaders.get(group, ""))
            for p in range(max(1, r.partitions))])
        for r in sorted(records, key=lambda r: r.name)[:MAX_QUEUES]
    ]


def cache_slots(slots: SlotMap, nodes: Sequence[pb.NodeStatus]) -> pb.CacheStatus:
    """Each slot range with its owners and the owner that answers for it now."""
    reachable = {n.node_id for n in nodes if n.reachable}
    return pb.CacheStatus(replicas=slots.replicas, ranges=[
        pb.SlotRange(first=first, last=last, owners=owners,
                     serving=next((o for o in owners if o in reachable), ""))
        for first, last, owners in slots.ranges()])
