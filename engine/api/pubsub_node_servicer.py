"""gRPC PubSubNode: messages another node's clients PUBLISHed, delivered to this node's
subscribers (pubsub.proto). Only calls carrying the cluster secret are served."""

from __future__ import annotations

import grpc

from engine.api.node_servicer import Guard, peer_unary
from engine.cache.pubsub import Broker
from engine.v1 import pubsub_pb2 as pb
from engine.v1 import pubsub_pb2_grpc

Ctx = grpc.aio.ServicerContext


class PubSubNodeServicer(pubsub_pb2_grpc.PubSubNodeServicer):
    def __init__(self, broker: Broker, secret: str) -> None:
        self.broker = broker
        self.guard = Guard(secret)

    @peer_unary
    async def Deliver(self, request: pb.PubSubBatch, context: Ctx) -> pb.PubSubDelivered:
        receivers = self.broker.receive((m.channel, m.message) for m in request.messages)
        return pb.PubSubDelivered(receivers=receivers)
