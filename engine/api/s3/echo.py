"""``/_engine/echo``: the bare HTTP handler the S3 bench is judged against.

The HTTP twin of the gRPC Echo service: the same server, the same signature check and
the same authorization (``engine:Echo``, which root has), but no storage. Clients sign
it as an S3 request (credential scope service ``s3``), as for every path of this port. GET answers
``?size=N`` bytes (streamed, up to 1 GiB), POST sends the body back (up to 8 MiB, the
only case that buffers), PUT answers how many bytes it read (up to 1 GiB). The path
cannot name a bucket (bucket names start with a letter or digit), so it shadows
nothing; the bounds keep it from being made to allocate or stream without limit.
"""

from __future__ import annotations

from aiohttp import web

from engine.api.access_rules_types import Access
from engine.api.s3.access import S3Access
from engine.api.s3.auth import authenticate
from engine.api.s3.routing import Route
from engine.errors import EngineError
from engine.iam.authn import Authenticator

ECHO_PATH = "/_engine/echo"
MAX_ECHO = 1 << 30
MAX_BUFFERED = 8 * 1024 * 1024
_PIECE = bytes(1 << 20)


def _size(request: web.Request) -> int:
    text = request.query.get("size", "0")
    if not text.isdigit() or int(text) > MAX_ECHO:
        raise EngineError("InvalidArgument", f"size must be a number of bytes up to {MAX_ECHO}",
                          ArgumentName="size", ArgumentValue=text[:64])
    return int(text)


async def _stream(request: web.Request, size: int) -> web.StreamResponse:
    response = web.StreamResponse()
    response.content_length = size
    await response.prepare(request)
    left = size
    while left > 0:
        piece = _PIECE[:min(left, len(_PIECE))]
        await response.write(piece)
        left -= len(piece)
    await response.write_eof()
    return response


async def echo(request: web.Request, authn: Authenticator | None, access: S3Access | None,
               *, secure: bool) -> web.StreamResponse:
    """Answer one echo request, or raise the EngineError the pipeline renders."""
    if authn is not None and access is not None:
        raw_path, _, raw_query = request.raw_path.partition("?")
        caller = authenticate(authn, request, Route("Echo", "", ""), raw_path, raw_query,
                              secure=secure)
        assert caller.principal is not None
        if caller.anonymous:
            raise EngineError("AccessDenied", action="engine:Echo")
        await access.authorize(caller.principal, [Access("engine:Echo", "*")])
    if request.method == "GET":
        return await _stream(request, _size(request))
    if request.method not in ("POST", "PUT"):
        raise EngineError("MethodNotAllowed", "GET, POST or PUT", Method=request.method,
                          ResourceType="ECHO")
    received = 0
    body = bytearray() if request.method == "POST" else None
    async for chunk in request.content.iter_any():
        received += len(chunk)
        limit = MAX_BUFFERED if body is not None else MAX_ECHO
        if received > limit:
            raise EngineError("EntityTooLarge", MaxSizeAllowed=str(limit))
        if body is not None:
            body += chunk
    if body is not None:
        return web.Response(body=bytes(body))
    return web.Response(text=str(received))
