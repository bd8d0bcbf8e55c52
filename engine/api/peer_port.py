"""In a TLS cluster, node-to-node services answer only calls made with a certificate the
cluster CA signed, so holding the secret alone no longer lets a caller in.

gRPC serves every service on every port, and a node's client port has no client
certificate to show (or one from the clients' CA): this interceptor refuses the
node-to-node services (Node, QueueNode, CacheNode, PubSubNode) unless the connection presented a
certificate issued by the cluster CA, which is what the peer port requires
(engine/cluster/tls.py). The secret check of each servicer still follows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from engine.cluster.tls import ClusterTls

PEER_SERVICES = ("/engine.v1.Node/", "/engine.v1.QueueNode/", "/engine.v1.CacheNode/",
                 "/engine.v1.PubSubNode/")
REFUSED = ("node-to-node calls need a certificate signed by the cluster CA, on the "
           "node's peer_address")
MAX_REMEMBERED = 256  # peer certificates already checked (a cluster has few)


class PeerPortGuard(grpc.aio.ServerInterceptor):
    def __init__(self, tls: ClusterTls) -> None:
        self._tls = tls
        self._known: dict[bytes, bool] = {}

    def admitted(self, context: grpc.aio.ServicerContext) -> bool:
        pems = context.auth_context().get("x509_pem_cert") or []
        if not pems:
            return False
        pem = pems[0] if isinstance(pems[0], bytes) else str(pems[0]).encode()
        verdict = self._known.get(pem)
        if verdict is None:
            if len(self._known) >= MAX_REMEMBERED:
                self._known.clear()
            verdict = self._known[pem] = self._tls.signed_by_ca(pem)
        return verdict

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails],
                                     Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not details.method.startswith(PEER_SERVICES):
            return handler
        return self._guarded(handler)

    def _guarded(self, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        kinds = {"request_deserializer": handler.request_deserializer,
                 "response_serializer": handler.response_serializer}
        if handler.unary_unary or handler.stream_unary:
            inner = handler.unary_unary or handler.stream_unary

            async def once(request: Any, context: grpc.aio.ServicerContext) -> Any:
                if not self.admitted(context):
                    await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSED)
                return await inner(request, context)

            make = (grpc.unary_unary_rpc_method_handler if handler.unary_unary
                    else grpc.stream_unary_rpc_method_handler)
            return make(once, **kinds)
        streaming = handler.unary_stream or handler.stream_stream

        async def many(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            if not self.admitted(context):
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSED)
            async for reply in streaming(request, context):
                yield reply

        make = (grpc.unary_stream_rpc_method_handler if handler.unary_stream
                else grpc.stream_stream_rpc_method_handler)
        return make(many, **kinds)
