"""What every servicer method shares: turning failures into gRPC statuses.

An EngineError becomes its status with the AWS code as ErrorInfo; anything unexpected
is logged with its traceback and becomes InternalError, so a bug is never a crash and
never leaks internals to the client. The status keeps the request's ``x-request-id``
trailing metadata (engine/observability/server_interceptor.py), which aborting would
otherwise replace.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc_status import rpc_status

from engine.errors import EngineError
from engine.observability import request_id

log = logging.getLogger("engine.api")
R = TypeVar("R")


def _to_engine_error(exc: Exception, method: str) -> EngineError:
    if isinstance(exc, EngineError):
        return exc
    log.exception("unexpected failure in %s", method)
    return EngineError("InternalError")


async def abort(context: grpc.aio.ServicerContext, err: EngineError) -> None:
    status = rpc_status.to_status(err.to_rpc_status())
    rid = request_id.current()
    if rid is not None:  # grpc_status's Status is a namedtuple
        status = status._replace(
            trailing_metadata=(*status.trailing_metadata, (request_id.HEADER, rid)))
    await context.abort_with_status(status)


def unary(fn: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> R:
        try:
            return await fn(self, request, context)
        except Exception as exc:
            await abort(context, _to_engine_error(exc, fn.__name__))
            raise AssertionError("unreachable") from exc

    return wrapper


def streaming(fn: Callable[..., AsyncIterator[R]]) -> Callable[..., AsyncIterator[R]]:
    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext
                      ) -> AsyncIterator[R]:
        try:
            async for item in fn(self, request, context):
                yield item
        except Exception as exc:
            await abort(context, _to_engine_error(exc, fn.__name__))

    return wrapper
