"""Client-streaming uploads (PutObject, UploadPart): a header message, then body chunks.

Every such RPC has the same framing (a oneof ``part`` of ``header`` and ``chunk``), so
the split into "header" and "body iterator" lives here once; the servicers only read
the header's fields.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from engine.errors import EngineError


async def open_upload(requests: AsyncIterator[Any], rpc: str) -> tuple[Any, AsyncIterator[bytes]]:
    """(the first message's header, the chunks that follow, pulled as the body is read).

    A stream that does not start with a header, or repeats one, is InvalidRequest.
    """
    stream = requests.__aiter__()
    try:
        first = await stream.__anext__()
    except StopAsyncIteration:
        first = None
    if first is None or first.WhichOneof("part") != "header":
        raise EngineError("InvalidRequest", f"The first {rpc} message must be the header")

    async def body() -> AsyncIterator[bytes]:
        async for message in stream:
            if message.WhichOneof("part") != "chunk":
                raise EngineError("InvalidRequest", "Only the first message is a header")
            yield message.chunk

    return first.header, body()
