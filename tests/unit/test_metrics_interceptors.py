"""The server interceptor and the observed peer channel, on an in-process gRPC server:
counts by method and code, bytes, request ids in and out, and peer call latency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from prometheus_client import CollectorRegistry

from engine.api.rpc import unary
from engine.errors import EngineError
from engine.observability import request_id
from engine.observability.peer_metrics import ObservedChannel, PeerMetrics
from engine.observability.rpc_metrics import RpcMetrics
from engine.observability.server_interceptor import ObservingInterceptor
from engine.v1 import echo_pb2 as pb
from engine.v1 import echo_pb2_grpc

SERVICE = "engine.v1.Echo"


class Servicer(echo_pb2_grpc.EchoServicer):
    """Echo, except that a payload of b"fail" fails like a servicer error does."""

    def __init__(self) -> None:
        self.seen_ids: list[str | None] = []

    @unary
    async def Unary(self, request: pb.EchoMessage, context: grpc.aio.ServicerContext
                    ) -> pb.EchoMessage:
        self.seen_ids.append(request_id.current())
        if request.payload == b"fail":
            raise EngineError("NoSuchKey")
        return request

    async def Upload(self, request_iterator: AsyncIterator[pb.EchoMessage],
                     context: grpc.aio.ServicerContext) -> pb.EchoCount:
        total = 0
        async for m in request_iterator:
            total += len(m.payload)
        return pb.EchoCount(bytes=total)

    async def Download(self, request: pb.DownloadRequest, context: grpc.aio.ServicerContext
                       ) -> AsyncIterator[pb.EchoMessage]:
        for _ in range(request.size):
            yield pb.EchoMessage(payload=b"z" * request.chunk_size)


async def _serve(metrics: RpcMetrics | None, servicer: Servicer) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server(interceptors=[ObservingInterceptor(metrics)])
    echo_pb2_grpc.add_EchoServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_calls_are_counted_by_method_and_code_with_bytes_and_request_ids() -> None:
    registry = CollectorRegistry()
    servicer = Servicer()

    async def main() -> None:
        server, address = await _serve(RpcMetrics(registry), servicer)
        try:
            async with grpc.aio.insecure_channel(address) as channel:
                stub = echo_pb2_grpc.EchoStub(channel)
                for _ in range(3):
                    call = stub.Unary(pb.EchoMessage(payload=b"abc"))
                    await call
                    generated = dict(await call.trailing_metadata())[request_id.HEADER]
                    assert len(generated) == 16
                call = stub.Unary(pb.EchoMessage(payload=b"abc"),
                                  metadata=((request_id.HEADER, "caller-7"),))
                await call
                assert dict(await call.trailing_metadata())[request_id.HEADER] == "caller-7"
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await stub.Unary(pb.EchoMessage(payload=b"fail"),
                                     metadata=((request_id.HEADER, "caller-8"),))
                assert failed.value.code() == grpc.StatusCode.NOT_FOUND
                trailing = dict(failed.value.trailing_metadata())
                assert trailing[request_id.HEADER] == "caller-8"  # kept beside the detail
                assert "grpc-status-details-bin" in trailing

                async def chunks() -> AsyncIterator[pb.EchoMessage]:
                    for _ in range(4):
                        yield pb.EchoMessage(payload=b"q" * 1000)

                assert (await stub.Upload(chunks())).bytes == 4000
                got = [m async for m in stub.Download(pb.DownloadRequest(size=3,
                                                                          chunk_size=500))]
                assert len(got) == 3
        finally:
            await server.stop(0)

    asyncio.run(main())
    assert _value(registry, "engine_rpc_requests_total", service=SERVICE, method="Unary",
                  code="OK") == 4
    assert _value(registry, "engine_rpc_requests_total", service=SERVICE, method="Unary",
                  code="NOT_FOUND") == 1
    assert _value(registry, "engine_rpc_duration_seconds_count", service=SERVICE,
                  method="Unary") == 5
    # EchoMessage(payload=b"abc") is 5 bytes on the wire (tag, length, 3 bytes)
    assert _value(registry, "engine_rpc_received_bytes_total", service=SERVICE,
                  method="Unary") == 4 * 5 + 6
    assert _value(registry, "engine_rpc_sent_bytes_total", service=SERVICE,
                  method="Unary") == 4 * 5
    assert _value(registry, "engine_rpc_received_bytes_total", service=SERVICE,
                  method="Upload") == 4 * 1003
    assert _value(registry, "engine_rpc_sent_bytes_total", service=SERVICE,
                  method="Download") == 3 * 503
    assert _value(registry, "engine_rpc_requests_total", service=SERVICE, method="Download",
                  code="OK") == 1
    # the handler saw each call's own id, never a neighbour's
    assert servicer.seen_ids[3:] == ["caller-7", "caller-8"]
    assert len(set(servicer.seen_ids)) == 5


def test_without_metrics_request_ids_still_flow() -> None:
    servicer = Servicer()

    async def main() -> None:
        server, address = await _serve(None, servicer)
        try:
            async with grpc.aio.insecure_channel(address) as channel:
                call = echo_pb2_grpc.EchoStub(channel).Unary(
                    pb.EchoMessage(), metadata=((request_id.HEADER, "x" * 500),))
                await call
                returned = dict(await call.trailing_metadata())[request_id.HEADER]
                assert returned != "x" * 500 and len(returned) == 16  # too long: replaced
        finally:
            await server.stop(0)

    asyncio.run(main())
    assert servicer.seen_ids and servicer.seen_ids[0] is not None


def test_observed_peer_channel_times_calls_between_zones() -> None:
    registry = CollectorRegistry()
    metrics = PeerMetrics(registry, "az-a")

    async def main() -> None:
        server, address = await _serve(None, Servicer())
        try:
            raw = grpc.aio.insecure_channel(address)
            stub = echo_pb2_grpc.EchoStub(ObservedChannel(raw, "n2", "az-b", metrics))
            for _ in range(3):
                await stub.Unary(pb.EchoMessage(payload=b"hi"))
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.Unary(pb.EchoMessage(payload=b"fail"))
            await raw.close()
            dead = grpc.aio.insecure_channel("127.0.0.1:1")
            stub = echo_pb2_grpc.EchoStub(ObservedChannel(dead, "n3", "az-c", metrics))
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.Unary(pb.EchoMessage(), timeout=5)
            await dead.close()
            await asyncio.sleep(0)  # done callbacks run on the loop
        finally:
            await server.stop(0)

    asyncio.run(main())
    assert _value(registry, "engine_peer_rpc_duration_seconds_count", src_zone="az-a",
                  dst_zone="az-b") == 4
    assert _value(registry, "engine_peer_rpc_requests_total", peer="n2", dst_zone="az-b",
                  method="Unary", code="OK") == 3
    assert _value(registry, "engine_peer_rpc_requests_total", peer="n2", dst_zone="az-b",
                  method="Unary", code="NOT_FOUND") == 1
    assert _value(registry, "engine_peer_rpc_requests_total", peer="n3", dst_zone="az-c",
                  method="Unary", code="UNAVAILABLE") == 1
