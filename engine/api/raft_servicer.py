"""gRPC RaftTransport: Raft messages from the other nodes into this node's consensus host.

The cluster secret is checked before a single message is read; each message is bounded
by gRPC (16 MiB) and decoded as protobuf, never unpickled. A stream lives as long as
its sender keeps it (a stopping node ends them once its client calls have drained);
messages are handed to the host as they arrive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from engine.api.node_servicer import Guard
from engine.cluster.consensus.host import ConsensusHost
from engine.v1 import raft_pb2_grpc
from engine.v1.raft_pb2 import RaftBatch, RaftStreamAck


class RaftTransportServicer(raft_pb2_grpc.RaftTransportServicer):
    def __init__(self, host: ConsensusHost, secret: str) -> None:
        self._host = host
        self.guard = Guard(secret)

    async def Stream(self, request_iterator: AsyncIterator[RaftBatch],
                     context: grpc.aio.ServicerContext) -> RaftStreamAck:
        await self.guard.check(context)
        async for batch in request_iterator:
            self._host.receive(batch.messages)
        return RaftStreamAck()
