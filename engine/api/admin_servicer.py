"""gRPC Admin: the operator's view of the cluster, from any node, and actions on it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

import grpc

from engine import __version__
from engine._hotpath import backend
from engine.api import cluster_status
from engine.api.cluster_status import Member
from engine.api.heal_passes import RecordingHealer, heal_response
from engine.api.rpc import unary
from engine.cache.service import CacheService
from engine.clock import Clock, ManualClock
from engine.cluster.consensus.host import ConsensusHost
from engine.cluster.node_view import NodeView
from engine.cluster.readiness import Readiness
from engine.config import NodeConfig
from engine.errors import EngineError
from engine.objects.heal import DEFAULT_GRACE_SECONDS, Healer
from engine.objects.service import ObjectService
from engine.queues.service import QueueService
from engine.storage.drive import LocalDrive
from engine.v1 import admin_pb2 as pb
from engine.v1 import admin_pb2_grpc
from engine.v1.queue_records_pb2 import QueueRecord

# Raft reads in a status call (bucket count, queue list) give up after this: a node
# without quorum still reports everything else, well within a peer's deadline.
RAFT_READ_SECONDS = 0.5


class NodeParts(Protocol):
    """What Admin reads of a running node: the services and drives that
    engine.assembly.Assembly wires, and no more, so the api layer depends on the
    services and not on the composition root above it."""

    listen: str
    node_id: str
    zone: str
    cluster_name: str
    local: list[LocalDrive]
    objects: ObjectService
    healer: Healer
    queues: QueueService
    clock: Clock
    cache: CacheService
    consensus: ConsensusHost
    readiness: Readiness
    view: NodeView


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, config: NodeConfig, node: NodeParts) -> None:
        self._config = config
        self._node = node
        self._started = time.monotonic()
        self._plan = node.view.layout
        self._peers = [Member(s.id, s.address, s.zone, tuple(str(d) for d in s.drives),
                              s.http_address or "", s.redis_address or "")
                       for s in node.view.others]
        self.http_address = ""  # the S3 REST endpoint once it serves (engine/node.py)
        self.redis_address = ""  # the RESP endpoint once it serves (engine/node.py)
        self._groups = node.queues.router.groups
        topology = node.view.topology
        self._secret = topology.secret if topology is not None else None
        self._tls = node.view.pool.tls if node.view.pool is not None else None

    @unary
    async def GetStatus(self, request: pb.GetStatusRequest, context: grpc.aio.ServicerContext
                        ) -> pb.GetStatusResponse:
        """This node's status; unless local_only, every peer's and the cluster views too."""
        n = self._node
        if request.local_only:
            return pb.GetStatusResponse(cluster_name=n.cluster_name, answered_by=n.node_id,
                                        nodes=[await self._local()])
        local, queues, peers = await asyncio.gather(
            self._local(), self._queues(),
            cluster_status.ask_peers(self._peers, secret=self._secret, tls=self._tls))
        nodes = [local, *sorted(peers, key=lambda p: (p.zone, p.node_id))]
        groups = cluster_status.queue_groups(self._groups, nodes)
        records, queues_error = queues
        return pb.GetStatusResponse(
            cluster_name=n.cluster_name, answered_by=n.node_id, nodes=nodes,
            erasure_sets=cluster_status.erasure_sets(self._plan, nodes), queue_groups=groups,
            queues=cluster_status.queue_partitions(records, groups),
            queues_total=len(records), queues_error=queues_error,
            cache=cluster_status.cache_slots(n.cache.slots, nodes),
            raft_groups=cluster_status.raft_groups(nodes))

    async def _local(self) -> pb.NodeStatus:
        n = self._node
        drives = []
        for index, d in enumerate(n.local):
            try:
                drive = await d.status()
                drive.objects = d.meta.count_records()
                drive.online = True
            except Exception as exc:  # a broken drive is an answer here, not a failure
                drive = pb.DriveStatus(path=str(d.path), online=False, error=str(exc))
            drive.index = index
            drives.append(drive)
        node = pb.NodeStatus(
            node_id=n.node_id, address=n.listen, zone=n.zone, version=__version__,
            http_address=self.http_address, redis_address=self.redis_address,
            uptime_seconds=time.monotonic() - self._started, reachable=True,
            healthy=all(d.online for d in drives), drives=drives,
            objects=sum(d.objects for d in drives), hotpath_backend=backend(),
            queue_groups=n.queues.router.status(),
            heal_passes=(sorted(n.healer.passes.values(), key=lambda p: p.set)
                         if isinstance(n.healer, RecordingHealer) else []),
            raft_groups=[g.status() for g in n.consensus.groups.values()],
            ready=n.readiness.ready, not_ready="" if n.readiness.ready else n.readiness.reason)
        with contextlib.suppress(EngineError, TimeoutError):  # no quorum: left unset
            node.buckets = len(await asyncio.wait_for(n.objects.buckets.list(),
                                                      RAFT_READ_SECONDS))
        return node

    async def _queues(self) -> tuple[list[QueueRecord], str]:
        """Every queue (the catalog passes a read barrier), or why there is no list."""
        try:
            return await asyncio.wait_for(self._node.queues.catalog.list(),
                                          RAFT_READ_SECONDS), ""
        except (EngineError, TimeoutError):
            return [], "the queue catalog has no quorum"

    @unary
    async def Heal(self, request: pb.HealRequest, context: grpc.aio.ServicerContext
                   ) -> pb.HealResponse:
        started = time.monotonic()
        n = self._node
        if request.bucket:
            buckets = [(await n.objects.buckets.get(request.bucket)).name]
        else:
            buckets = [b.name for b in await n.objects.buckets.list()]
        grace = (request.pending_grace_seconds if request.HasField("pending_grace_seconds")
                 else DEFAULT_GRACE_SECONDS)
        report = await n.healer.heal_all(buckets, grace_seconds=grace)
        return heal_response(report, time.monotonic() - started)

    @unary
    async def AdvanceClock(self, request: pb.AdvanceClockRequest,
                           context: grpc.aio.ServicerContext) -> pb.AdvanceClockResponse:
        clock = self._node.clock
        if not isinstance(clock, ManualClock):
            raise EngineError("InvalidRequest", "this node's clock is the system clock; start "
                              "it with --manual-clock to move time by hand",
                              grpc_status=grpc.StatusCode.FAILED_PRECONDITION)
        if not 0 <= request.seconds <= 10 * 365 * 86400:
            raise EngineError("InvalidArgument", "seconds must be between 0 and ten years")
        clock.advance(request.seconds)
        self._node.queues.clock_moved()
        return pb.AdvanceClockResponse(now_ns=clock.now_ns())
