"""gRPC Admin: the operator's view of this node."""

from __future__ import annotations

import time

import grpc

from engine import __version__
from engine._hotpath import backend
from engine.config import NodeConfig
from engine.objects.service import ObjectService
from engine.storage.drive import LocalDrive
from engine.v1 import admin_pb2 as pb
from engine.v1 import admin_pb2_grpc


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, config: NodeConfig, drives: list[LocalDrive],
                 objects: ObjectService) -> None:
        self._config = config
        self._drives = drives
        self._objects = objects
        self._started = time.monotonic()

    async def GetStatus(self, request: pb.GetStatusRequest, context: grpc.aio.ServicerContext
                        ) -> pb.GetStatusResponse:
        node = pb.NodeStatus(
            node_id=self._config.node_id, address=self._config.listen, zone=self._config.zone,
            version=__version__, uptime_seconds=time.monotonic() - self._started, healthy=True,
            drives=[await d.status() for d in self._drives],
            buckets=len(await self._objects.buckets.list()),
            objects=sum(d.meta.count_records() for d in self._drives),
            hotpath_backend=backend(),
        )
        return pb.GetStatusResponse(cluster_name="single-node", nodes=[node])
