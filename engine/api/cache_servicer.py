"""gRPC Cache: every RPC hands its request proto to the cache service as it is.

The proto already speaks Redis (redis-py's argument names, milliseconds on the engine
clock, error reasons named after Redis's errors), so there is nothing to decode here; the
service validates, routes the key to its slot's owner, applies the semantics and builds
the response. ``unary`` turns its EngineErrors into gRPC statuses carrying the code.
"""

from __future__ import annotations

from typing import Protocol

import grpc

from engine.api.rpc import unary
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_pb2_grpc

Ctx = grpc.aio.ServicerContext


class CacheApi(Protocol):
    """What the servicer needs from the cache service: one coroutine per RPC, named in
    snake_case, request proto in, response proto out (so a type checker can hold
    engine.cache.service to the contract)."""

    async def get(self, request: pb.CacheGetRequest) -> pb.CacheGetResponse: ...
    async def set(self, request: pb.CacheSetRequest) -> pb.CacheSetResponse: ...
    async def delete(self, request: pb.CacheKeysRequest) -> pb.CacheCountResponse: ...
    async def exists(self, request: pb.CacheKeysRequest) -> pb.CacheCountResponse: ...
    async def incr_by(self, request: pb.CacheIncrByRequest) -> pb.CacheIncrByResponse: ...
    async def mget(self, request: pb.CacheKeysRequest) -> pb.CacheMGetResponse: ...
    async def mset(self, request: pb.CacheMSetRequest) -> pb.CacheMSetResponse: ...
    async def expire(self, request: pb.CacheExpireRequest) -> pb.CacheExpireResponse: ...
    async def ttl(self, request: pb.CacheKeyRequest) -> pb.CacheTtlResponse: ...
    async def flush_all(
        self, request: pb.CacheFlushAllRequest
    ) -> pb.CacheFlushAllResponse: ...
    async def stats(self, request: pb.CacheStatsRequest) -> pb.CacheStatsResponse: ...
    async def command(self, request: pb.CacheCommand) -> pb.CacheValue: ...


class CacheServicer(cache_pb2_grpc.CacheServicer):
    def __init__(self, service: CacheApi) -> None:
        self._service = service

    # -- single keys -------------------------------------------------------------------

    @unary
    async def Get(self, request: pb.CacheGetRequest, context: Ctx) -> pb.CacheGetResponse:
        return await self._service.get(request)

    @unary
    async def Set(self, request: pb.CacheSetRequest, context: Ctx) -> pb.CacheSetResponse:
        return await self._service.set(request)

    @unary
    async def IncrBy(self, request: pb.CacheIncrByRequest, context: Ctx
                     ) -> pb.CacheIncrByResponse:
        return await self._service.incr_by(request)

    @unary
    async def Expire(self, request: pb.CacheExpireRequest, context: Ctx
                     ) -> pb.CacheExpireResponse:
        return await self._service.expire(request)

    @unary
    async def Ttl(self, request: pb.CacheKeyRequest, context: Ctx) -> pb.CacheTtlResponse:
        return await self._service.ttl(request)

    # -- several keys ------------------------------------------------------------------

    @unary
    async def Delete(self, request: pb.CacheKeysRequest, context: Ctx
                     ) -> pb.CacheCountResponse:
        return await self._service.delete(request)

    @unary
    async def Exists(self, request: pb.CacheKeysRequest, context: Ctx
                     ) -> pb.CacheCountResponse:
        return await self._service.exists(request)

    @unary
    async def MGet(self, request: pb.CacheKeysRequest, context: Ctx) -> pb.CacheMGetResponse:
        return await self._service.mget(request)

    @unary
    async def MSet(self, request: pb.CacheMSetRequest, context: Ctx) -> pb.CacheMSetResponse:
        return await self._service.mset(request)

    # -- any data command (hashes, lists, sets, sorted sets, ...) -------------------------

    @unary
    async def Command(self, request: pb.CacheCommand, context: Ctx) -> pb.CacheValue:
        return await self._service.command(request)

    # -- the whole tier ----------------------------------------------------------------

    @unary
    async def FlushAll(self, request: pb.CacheFlushAllRequest, context: Ctx
                       ) -> pb.CacheFlushAllResponse:
        return await self._service.flush_all(request)

    @unary
    async def Stats(self, request: pb.CacheStatsRequest, context: Ctx
                    ) -> pb.CacheStatsResponse:
        return await self._service.stats(request)
