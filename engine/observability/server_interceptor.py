"""The gRPC server interceptor every node runs: request ids, and per-RPC metrics.

For every call it takes or makes the request id (request_id.py) and makes it current:
``intercept_service`` runs in the call's own task, the one the handler then runs in, so
the id is set there once and dies with the task. The handler's wrapper returns it to
the caller as trailing metadata ``x-request-id`` (error statuses keep it too:
engine/api/rpc.py adds it when aborting). With metrics enabled
it also counts the call by method and final status code, observes its duration, and
adds the protobuf size of every request and response message, streams included.

Cost: the wrapped handler is built once per method and reused; per call this is a
metadata scan, a ContextVar set, one trailing header, two perf_counter reads and (with
metrics) a counter, a histogram and one ByteSize per message: microseconds
(docs/observability.md has the measurement). Recording is inside try/except: a
metrics failure never fails a call. At DEBUG level each finished call is logged
(method, code, milliseconds): that makes a request traceable by its id through the
logs of every node it touched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from engine.observability import request_id
from engine.observability.rpc_metrics import MethodMetrics, RpcMetrics

log = logging.getLogger("engine.rpc")
Handler = grpc.RpcMethodHandler
Context = grpc.aio.ServicerContext


def _size(message: Any) -> int:
    try:
        return int(message.ByteSize())
    except Exception:
        return 0


def status_name(context: Context, exc: BaseException | None) -> str:
    """The status code the call ends with, as its name ('OK', 'NOT_FOUND', ...)."""
    code = context.code()
    if code is not None:
        return getattr(code, "name", str(code))
    if exc is None:
        return "OK"
    if isinstance(exc, asyncio.CancelledError):
        return "CANCELLED"
    return "UNKNOWN"  # what gRPC answers for an exception that escaped the handler


class _Counted:
    """A client stream that adds up the size of the messages the handler reads."""

    __slots__ = ("_inner", "total")

    def __init__(self, inner: AsyncIterator[Any]) -> None:
        self._inner = inner.__aiter__()
        self.total = 0

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> Any:
        message = await self._inner.__anext__()
        self.total += _size(message)
        return message


class InFlight:
    """Calls being served, except the peers' consensus streams (which last as long as the
    node): shutdown lets these finish before it stops the consensus machinery."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count <= 0:
            self._idle.set()

    async def drained(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


class _Method:
    """One RPC method's observation: begin and end of each call."""

    def __init__(self, full_method: str, metrics: RpcMetrics | None,
                 in_flight: InFlight | None) -> None:
        self.full_method = full_method
        self.metrics = MethodMetrics(metrics, full_method) if metrics is not None else None
        self.in_flight = in_flight

    def begin(self, context: Context) -> None:
        if self.in_flight is not None:
            self.in_flight.enter()
        rid = request_id.current()
        if rid is not None:
            context.set_trailing_metadata(((request_id.HEADER, rid),))

    def end(self, context: Context, exc: BaseException | None, start: float,
            received: int, sent: int) -> None:
        if self.in_flight is not None:
            self.in_flight.leave()
        try:
            elapsed = time.perf_counter() - start
            if self.metrics is not None or log.isEnabledFor(logging.DEBUG):
                code = status_name(context, exc)
                if self.metrics is not None:
                    self.metrics.record(code, elapsed, received, sent)
                log.debug("%s %s %.2f ms", self.full_method, code, elapsed * 1000)
        except Exception:  # observing must never fail the call
            pass

    # -- the four kinds of handler --------------------------------------------------

    def unary_unary(self, inner: Callable[[Any, Context], Awaitable[Any]]
                    ) -> Callable[[Any, Context], Awaitable[Any]]:
        async def behavior(request: Any, context: Context) -> Any:
            self.begin(context)
            start = time.perf_counter()
            exc: BaseException | None = None
            response = None
            try:
                response = await inner(request, context)
                return response
            except BaseException as e:
                exc = e
                raise
            finally:
                counting = self.metrics is not None
                self.end(context, exc, start, _size(request) if counting else 0,
                         _size(response) if counting and response is not None else 0)

        return behavior

    def stream_unary(self, inner: Callable[[Any, Context], Awaitable[Any]]
                     ) -> Callable[[Any, Context], Awaitable[Any]]:
        async def behavior(requests: AsyncIterator[Any], context: Context) -> Any:
            self.begin(context)
            start = time.perf_counter()
            counted = _Counted(requests) if self.metrics is not None else None
            exc: BaseException | None = None
            response = None
            try:
                response = await inner(counted if counted is not None else requests, context)
                return response
            except BaseException as e:
                exc = e
                raise
            finally:
                self.end(context, exc, start, counted.total if counted is not None else 0,
                         _size(response) if counted is not None and response is not None
                         else 0)

        return behavior

    def unary_stream(self, inner: Callable[[Any, Context], Any]
                     ) -> Callable[[Any, Context], AsyncIterator[Any]]:
        async def behavior(request: Any, context: Context) -> AsyncIterator[Any]:
            self.begin(context)
            start = time.perf_counter()
            counting = self.metrics is not None
            sent = 0
            exc: BaseException | None = None
            try:
                async for item in _responses(inner(request, context)):
                    if counting:
                        sent += _size(item)
                    yield item
            except BaseException as e:
                exc = e
                raise
            finally:
                self.end(context, exc, start, _size(request) if counting else 0, sent)

        return behavior

    def stream_stream(self, inner: Callable[[Any, Context], Any]
                      ) -> Callable[[Any, Context], AsyncIterator[Any]]:
        async def behavior(requests: AsyncIterator[Any], context: Context
                           ) -> AsyncIterator[Any]:
            self.begin(context)
            start = time.perf_counter()
            counted = _Counted(requests) if self.metrics is not None else None
            sent = 0
            exc: BaseException | None = None
            try:
                source = inner(counted if counted is not None else requests, context)
                async for item in _responses(source):
                    if counted is not None:
                        sent += _size(item)
                    yield item
            except BaseException as e:
                exc = e
                raise
            finally:
                self.end(context, exc, start, counted.total if counted is not None else 0,
                         sent)

        return behavior


async def _responses(result: Any) -> AsyncIterator[Any]:
    """The messages of a streaming handler: an async generator's items, or none for a
    handler that writes with ``context.write`` and returns (it is awaited)."""
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    elif result is not None:
        await result


def wrap(handler: Handler, method: _Method) -> Handler:
    """The same handler (same (de)serializers) with observed behavior."""
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            method.unary_unary(handler.unary_unary), handler.request_deserializer,
            handler.response_serializer)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            method.stream_unary(handler.stream_unary), handler.request_deserializer,
            handler.response_serializer)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            method.unary_stream(handler.unary_stream), handler.request_deserializer,
            handler.response_serializer)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(
            method.stream_stream(handler.stream_stream), handler.request_deserializer,
            handler.response_serializer)
    return handler


class ObservingInterceptor(grpc.aio.ServerInterceptor):
    """Request ids always; metrics into `metrics` when given (``--metrics-listen``)."""

    def __init__(self, metrics: RpcMetrics | None = None) -> None:
        self._metrics = metrics
        self.in_flight = InFlight()
        # method -> (the handler as registered, its observed twin): registered handlers
        # are the same objects on every call, so each is wrapped once.
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        # This task serves only this call: the id stays current until the call ends.
        request_id.enter(request_id.from_metadata(handler_call_details.invocation_metadata))
        name = handler_call_details.method
        full = name if isinstance(name, str) else bytes(name).decode()
        cached = self._wrapped.get(full)
        if cached is not None and cached[0] is handler:
            return cached[1]
        observed = wrap(handler, _Method(full, self._metrics, self.in_flight))
        self._wrapped[full] = (handler, observed)
        return observed
