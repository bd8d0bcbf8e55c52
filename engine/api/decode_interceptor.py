"""Request decoding that answers INVALID_ARGUMENT, for nodes serving without auth.

gRPC decodes a request before the servicer runs, and bytes that do not parse reach the
client as UNKNOWN with the Python exception's name in the text. With authentication on,
the AuthInterceptor decodes every public request itself (it must hash the bytes as
received first); with ``--insecure-no-auth`` this interceptor does the decoding alone,
so both answer a message that does not parse the same way: InvalidArgument, a plain
text, no traceback. Node-to-node services, health and reflection are left alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from engine.api.access_table import RULES
from engine.api.rpc import abort
from engine.errors import EngineError

Decode = Callable[[bytes], Any]


def not_a_message(rpc: str) -> EngineError:
    """The refusal of bytes that are not an ``rpc`` request message."""
    return EngineError("InvalidArgument", f"The request body is not a valid {rpc} request "
                       "message")


def _raw(data: bytes) -> bytes:
    return data


def decoder(decode: Decode | None, method: str) -> Callable[[bytes], Any]:
    """``decode`` (a method's deserializer) refusing bytes that do not parse with
    InvalidArgument; the auth interceptor decodes with it too."""
    name = method.rsplit("/", 1)[-1]

    def decoded(data: bytes) -> Any:
        if decode is None:
            return data
        try:
            return decode(data)
        except (DecodeError, ValueError, TypeError):
            raise not_a_message(name) from None
    return decoded


class DecodeInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails],
                                     Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method not in RULES:
            return handler
        decode = decoder(handler.request_deserializer, details.method)
        serialize = handler.response_serializer
        if handler.unary_unary:
            unary = handler.unary_unary

            async def unary_unary(data: bytes, context: grpc.aio.ServicerContext) -> Any:
                try:
                    request = decode(data)
                except EngineError as err:
                    await abort(context, err)
                    return None
                return await unary(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, request_deserializer=_raw, response_serializer=serialize)
        if handler.unary_stream:
            produce = handler.unary_stream

            async def unary_stream(data: bytes, context: grpc.aio.ServicerContext
                                   ) -> AsyncIterator[Any]:
                try:
                    request = decode(data)
                except EngineError as err:
                    await abort(context, err)
                    return
                async for reply in produce(request, context):
                    yield reply

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, request_deserializer=_raw, response_serializer=serialize)

        async def decoded(requests: AsyncIterator[bytes]) -> AsyncIterator[Any]:
            async for data in requests:
                yield decode(data)

        if handler.stream_unary:
            consume = handler.stream_unary

            async def stream_unary(requests: AsyncIterator[bytes],
                                   context: grpc.aio.ServicerContext) -> Any:
                try:
                    return await consume(decoded(requests), context)
                except EngineError as err:  # raised from the iterator, past the servicer
                    await abort(context, err)
                    return None

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, request_deserializer=_raw, response_serializer=serialize)
        both = handler.stream_stream

        async def stream_stream(requests: AsyncIterator[bytes],
                                context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                async for reply in both(decoded(requests), context):
                    yield reply
            except EngineError as err:
                await abort(context, err)

        return grpc.stream_stream_rpc_method_handler(
            stream_stream, request_deserializer=_raw, response_serializer=serialize)
