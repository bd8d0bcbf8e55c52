"""FLUSHALL and FLUSHDB: the whole tier, every reachable node (CacheService.flush_all),
not only the keys this node serves, since they are not in the shared command table."""

from __future__ import annotations

from typing import Any

from engine.api.resp import errors
from engine.api.resp.context import RespContext
from engine.api.resp.encoder import OK
from engine.api.resp.errors import RespError
from engine.api.resp.registry import command
from engine.api.resp.session import Session
from engine.v1 import cache_pb2 as pb


async def _flush(ctx: RespContext, argv: list[bytes]) -> Any:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() not in (b"async", b"sync")):
        raise RespError(errors.SYNTAX)
    await ctx.cache.flush_all(pb.CacheFlushAllRequest())
    return OK


@command("flushall", -1)
async def flushall(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _flush(ctx, argv)


@command("flushdb", -1)
async def flushdb(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _flush(ctx, argv)
