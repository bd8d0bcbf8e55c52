"""Client-streaming uploads (PutObject, UploadPart): a header message, then body chunks.

Every such RPC has the same framing (a oneof ``part`` of ``header`` and ``chunk``), so
the split into "header" and "body iterator" lives here once; the servicers only read
the header's fields.

Reading the stream is bounded in time, as S3 bounds a request body: a client that sends
nothing for ``idle`` seconds, or has not finished after ``total`` seconds, gets S3's
RequestTimeout and the stream is dropped, so stalled uploads cannot hold a node's
memory and connections forever. Time is the event loop's (what asyncio's timers use).
A message that does not parse (the auth interceptor decodes messages itself, but
without authentication gRPC decodes them) is InvalidArgument with a plain text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from engine.api.decode_interceptor import not_a_message
from engine.errors import EngineError


@dataclass(frozen=True)
class StreamLimits:
    """Seconds an upload may wait for its next message (``idle``) and may take in all
    (``total``); 0 turns a limit off."""

    idle: float = 60.0
    total: float = 3600.0


def request_timeout() -> EngineError:
    return EngineError("RequestTimeout")


class _Timed:
    """Pulls messages from a gRPC request stream within the limits."""

    def __init__(self, requests: AsyncIterator[Any], rpc: str, limits: StreamLimits) -> None:
        self.stream = requests.__aiter__()
        self.rpc = rpc
        self.limits = limits
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.time() + limits.total if limits.total > 0 else None

    def _wait(self) -> float | None:
        waits = [self.limits.idle] if self.limits.idle > 0 else []
        if self.deadline is not None:
            left = self.deadline - self.loop.time()
            if left <= 0:
                raise request_timeout()
            waits.append(left)
        return min(waits) if waits else None

    async def next(self) -> Any | None:
        """The next message; None at the end of the stream."""
        try:
            async with asyncio.timeout(self._wait()):
                return await self.stream.__anext__()
        except StopAsyncIteration:
            return None
        except TimeoutError:
            raise request_timeout() from None
        except DecodeError:
            raise not_a_message(self.rpc) from None


async def open_upload(requests: AsyncIterator[Any], rpc: str,
                      limits: StreamLimits | None = None
                      ) -> tuple[Any, AsyncIterator[bytes]]:
    """(the first message's header, the chunks that follow, pulled as the body is read).

    A stream that does not start with a header, or repeats one, is InvalidRequest.
    """
    timed = _Timed(requests, rpc, limits or StreamLimits())
    first = await timed.next()
    if first is None or first.WhichOneof("part") != "header":
        raise EngineError("InvalidRequest", f"The first {rpc} message must be the header")

    async def body() -> AsyncIterator[bytes]:
        while (message := await timed.next()) is not None:
            if message.WhichOneof("part") != "chunk":
                raise EngineError("InvalidRequest", "Only the first message is a header")
            yield message.chunk

    return first.header, body()
