"""ElastiCache's management API over gRPC: an action name and its members as JSON, in
and out (see elasticache.proto), as the IAM service carries IAM's. The caller was
authenticated and authorized (``elasticache:<Action>``) by the AuthInterceptor."""

from __future__ import annotations

import grpc

from engine.api.iam_servicer import Handler, _call
from engine.api.rpc import unary
from engine.v1 import elasticache_pb2_grpc
from engine.v1 import iam_pb2 as pb


class ElastiCacheServicer(elasticache_pb2_grpc.ElastiCacheServicer):
    def __init__(self, handle: Handler) -> None:
        self._handle = handle

    @unary
    async def Call(self, request: pb.AwsCall, context: grpc.aio.ServicerContext
                   ) -> pb.AwsReply:
        return await _call(self._handle, request)
