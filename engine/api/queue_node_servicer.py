"""gRPC QueueNode: this node's queue group memberships, served to its peers.

A node outside a partition's group reaches the group through a member (see
engine/queues/router.py). Only calls carrying the cluster secret are served.
"""

from __future__ import annotations

import grpc

from engine.api.node_servicer import Guard, peer_unary
from engine.errors import EngineError
from engine.queues.host import GroupHost
from engine.v1 import queue_records_pb2 as pb
from engine.v1 import queue_records_pb2_grpc

Ctx = grpc.aio.ServicerContext
MAX_WAIT_MS = 25_000  # a long poll is at most 20 s; a little slack for the caller


class QueueNodeServicer(queue_records_pb2_grpc.QueueNodeServicer):
    def __init__(self, hosts: dict[int, GroupHost], secret: str) -> None:
        self.hosts = hosts
        self.guard = Guard(secret)

    def host(self, group: int) -> GroupHost:
        host = self.hosts.get(group)
        if host is None:
            raise EngineError("InvalidArgument", f"this node is not in queue group {group}")
        return host

    @peer_unary
    async def Apply(self, request: pb.QueueApplyRequest, context: Ctx) -> pb.QueueApplyResponse:
        result = await self.host(request.group).apply_bytes(request.command)
        return pb.QueueApplyResponse(result=result)

    @peer_unary
    async def Wait(self, request: pb.QueueWaitRequest, context: Ctx) -> pb.QueueWaitResponse:
        timeout = min(max(request.timeout_ms, 0), MAX_WAIT_MS) / 1000
        ready = await self.host(request.group).wait(request.queue, list(request.partitions),
                                                    timeout)
        return pb.QueueWaitResponse(ready=ready)

    @peer_unary
    async def Stats(self, request: pb.QueueStatsRequest, context: Ctx) -> pb.QueueStatsResponse:
        return pb.QueueStatsResponse(partitions=self.host(request.group).stats(request.queue))
