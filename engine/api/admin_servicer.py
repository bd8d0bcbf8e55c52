"""gRPC Admin: the operator's view of this node."""

from __future__ import annotations

import time

import grpc

from engine import __version__
from engine._hotpath import backend
from engine.api.rpc import unary
from engine.assembly import Assembly
from engine.clock import ManualClock
from engine.config import NodeConfig
from engine.errors import EngineError
from engine.objects.heal import DEFAULT_GRACE_SECONDS
from engine.v1 import admin_pb2 as pb
from engine.v1 import admin_pb2_grpc


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, config: NodeConfig, node: Assembly) -> None:
        self._config = config
        self._node = node
        self._started = time.monotonic()

    @unary
    async def GetStatus(self, request: pb.GetStatusRequest, context: grpc.aio.ServicerContext
                        ) -> pb.GetStatusResponse:
        n = self._node
        node = pb.NodeStatus(
            node_id=n.node_id, address=n.listen, zone=n.zone,
            version=__version__, uptime_seconds=time.monotonic() - self._started, healthy=True,
            drives=[await d.status() for d in n.local],
            buckets=len(await n.objects.buckets.list()),
            objects=sum(d.meta.count_records() for d in n.local),
            hotpath_backend=backend(),
            queue_groups=n.queues.router.status(),
        )
        return pb.GetStatusResponse(cluster_name=n.cluster_name, nodes=[node])

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
        return pb.HealResponse(
            objects_checked=report.objects_checked, entries_fixed=report.entries_fixed,
            entries_removed=report.entries_removed, shards_checked=report.shards_checked,
            shards_rebuilt=report.shards_rebuilt, pending_discarded=report.pending_discarded,
            unresolved=report.unresolved, partial=report.partial, errors=report.errors[:100],
            seconds=time.monotonic() - started,
        )

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
