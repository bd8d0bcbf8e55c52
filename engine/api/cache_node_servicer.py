"""gRPC CacheNode: this node's share of the cache tier, served to its peers.

Forwarded commands run here as they are, replicas load the key states their primary
sends, and the entry node of a Stats or FlushAll call reaches every node through it.
Only calls carrying the cluster secret are served.
"""

from __future__ import annotations

import grpc

from engine.api.node_servicer import Guard, peer_unary
from engine.cache.service import CacheService
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_records_pb2 as rec
from engine.v1 import cache_records_pb2_grpc

Ctx = grpc.aio.ServicerContext


class CacheNodeServicer(cache_records_pb2_grpc.CacheNodeServicer):
    def __init__(self, cache: CacheService, secret: str) -> None:
        self.cache = cache
        self.guard = Guard(secret)

    @peer_unary
    async def Execute(self, request: rec.CacheCall, context: Ctx) -> rec.CacheReply:
        return await self.cache.execute_forwarded(request)

    @peer_unary
    async def Load(self, request: rec.CacheLoadRequest, context: Ctx) -> rec.CacheLoadResponse:
        self.cache.load(request)
        return rec.CacheLoadResponse()

    @peer_unary
    async def Lease(self, request: rec.CacheLeaseRequest, context: Ctx
                    ) -> rec.CacheLeaseReply:
        return self.cache.lease(request)

    @peer_unary
    async def Resync(self, request: rec.CacheResyncRequest, context: Ctx
                     ) -> rec.CacheLeaseReply:
        return self.cache.resync(request)

    @peer_unary
    async def LocalStats(self, request: pb.CacheStatsRequest, context: Ctx
                         ) -> pb.CacheNodeStats:
        return self.cache.local_stats()

    @peer_unary
    async def FlushLocal(self, request: pb.CacheFlushAllRequest, context: Ctx
                         ) -> pb.CacheFlushAllResponse:
        self.cache.store.flushall()
        return pb.CacheFlushAllResponse()
