"""Bare gRPC baseline served by every node (see echo.proto): no storage, no rules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from engine.v1 import echo_pb2 as pb
from engine.v1 import echo_pb2_grpc

MAX_CHUNK = 4 * 1024 * 1024


class EchoServicer(echo_pb2_grpc.EchoServicer):
    async def Unary(self, request: pb.EchoMessage, context: grpc.aio.ServicerContext
                    ) -> pb.EchoMessage:
        return request

    async def Upload(self, request_iterator: AsyncIterator[pb.EchoMessage],
                     context: grpc.aio.ServicerContext) -> pb.EchoCount:
        total = 0
        async for message in request_iterator:
            total += len(message.payload)
        return pb.EchoCount(bytes=total)

    async def Download(self, request: pb.DownloadRequest, context: grpc.aio.ServicerContext
                       ) -> AsyncIterator[pb.EchoMessage]:
        chunk_size = min(max(request.chunk_size, 1), MAX_CHUNK)
        block = bytes(chunk_size)
        left = max(request.size, 0)
        while left > 0:
            n = min(left, chunk_size)
            yield pb.EchoMessage(payload=block if n == chunk_size else block[:n])
            left -= n
