"""The blocking list and sorted-set commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP,
BZPOPMIN, BZPOPMAX, BZMPOP) and CLIENT UNBLOCK, as Redis 7 serves them.

Each runs its non-blocking form (LMPOP, LMOVE, ZMPOP) through the tier's command path at
once; when that finds nothing the client blocks: an asyncio future in the node's waiters
registry (engine/cache/waiters.py), no thread. A write to one of its keys runs the same
command for it, longest-waiting client first; the timeout is a timer on the node's loop.
The connection runs nothing else meanwhile (later pipelined commands wait, as in Redis).
On timeout the reply is a null array (``*-1``, RESP3 ``_``).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from engine.api.resp.context import RespContext
from engine.api.resp.data_commands import resp_value
from engine.api.resp.encoder import NULL_ARRAY
from engine.api.resp.errors import NOT_INTEGER, RespError
from engine.api.resp.registry import command
from engine.api.resp.session import Session
from engine.cache.commands import keys_of
from engine.cache.local import USER
from engine.cache.types.numbers import parse_long_double, parse_redis_int
from engine.errors import EngineError
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_records_pb2 as rec

LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)
UNBLOCKED = "UNBLOCKED client unblocked via CLIENT UNBLOCK"


def timeout_seconds(raw: bytes) -> float:
    """Redis 7.0's getTimeoutFromObjectOrReply in seconds: milliseconds truncated toward
    zero (so under 1 ms, even -0.5 ms, is 0: forever); past the range of a long long
    the C cast makes it negative."""
    value = parse_long_double(raw)
    if value is None:
        raise RespError("ERR timeout is not a float or out of range")
    ms = value * 1000
    ticks = LLONG_MIN if isinstance(ms, float) and math.isinf(ms) else math.trunc(ms)
    if not LLONG_MIN <= ticks <= LLONG_MAX:
        ticks = LLONG_MIN  # x86's cvttsd2si for what does not fit
    if ticks < 0:
        raise RespError("ERR timeout is negative")
    return ticks / 1000


def _found(value: pb.CacheValue) -> bool:
    return value.WhichOneof("kind") not in (None, "null")


async def _block(ctx: RespContext, session: Session, argv: list[bytes],
                 keys: list[bytes], timeout: float) -> pb.CacheValue | None:
    """``argv``'s reply once it finds data (now, or after a write to ``keys``); None
    when ``timeout`` seconds (0: never) pass or CLIENT UNBLOCK ends the wait."""
    request = pb.CacheCommand(argv=argv)
    waiters = ctx.cache.waiters
    stored = [USER + k for k in keys]
    for _ in range(3):  # bounded: a key that holds data but gives none (never) blocks
        value = await ctx.cache.command(request, whole_tier=False)
        if _found(value):
            return value
        # The call may have awaited (replication) after it found nothing: a write in
        # that gap served nobody, so look again before blocking.
        if not waiters.any_stored(stored):
            break
    if session.multi is not None:  # run by EXEC: never blocks, times out at once (Redis)
        return None
    waiter = waiters.add(stored, rec.CacheCall(command=request))

    def unblock(error: str | None) -> bool:
        if waiter.future.done():
            return False
        waiters.remove(waiter)
        if error is None:
            waiter.future.set_result(None)
        else:
            waiter.future.set_exception(RespError(error))
        return True

    timer = (asyncio.get_running_loop().call_later(timeout, unblock, None)
             if timeout > 0 else None)
    session.unblock = unblock
    try:
        return await waiter.future
    finally:
        waiters.remove(waiter)
        if timer is not None:
            timer.cancel()
        session.unblock = None


def _side(raw: bytes) -> bytes:
    side = raw.upper()
    if side not in (b"LEFT", b"RIGHT"):
        raise RespError("ERR syntax error")
    return side


async def _pop_one(ctx: RespContext, session: Session, argv: list[bytes],
                   where: bytes, zset: bool) -> Any:
    """BLPOP/BRPOP (LMPOP) and BZPOPMIN/BZPOPMAX (ZMPOP): [key, element (, score)]."""
    timeout = timeout_seconds(argv[-1])
    keys = argv[1:-1]
    name = b"ZMPOP" if zset else b"LMPOP"
    value = await _block(ctx, session, [name, b"%d" % len(keys), *keys, where], keys,
                         timeout)
    if value is None:
        return NULL_ARRAY
    key, popped = resp_value(value, session.proto)
    return [key, *popped[0]] if zset else [key, popped[0]]


@command("blpop", -3)
async def blpop(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _pop_one(ctx, session, argv, b"LEFT", zset=False)


@command("brpop", -3)
async def brpop(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _pop_one(ctx, session, argv, b"RIGHT", zset=False)


@command("bzpopmin", -3)
async def bzpopmin(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _pop_one(ctx, session, argv, b"MIN", zset=True)


@command("bzpopmax", -3)
async def bzpopmax(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _pop_one(ctx, session, argv, b"MAX", zset=True)


async def _move(ctx: RespContext, session: Session, source: bytes, destination: bytes,
                wherefrom: bytes, whereto: bytes, timeout: float) -> Any:
    value = await _block(ctx, session, [b"LMOVE", source, destination, wherefrom, whereto],
                         [source], timeout)
    return NULL_ARRAY if value is None else resp_value(value, session.proto)


@command("blmove", 6)
async def blmove(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    wherefrom, whereto = _side(argv[3]), _side(argv[4])
    return await _move(ctx, session, argv[1], argv[2], wherefrom, whereto,
                       timeout_seconds(argv[5]))


@command("brpoplpush", 4)
async def brpoplpush(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _move(ctx, session, argv[1], argv[2], b"RIGHT", b"LEFT",
                       timeout_seconds(argv[3]))


async def _mpop(ctx: RespContext, session: Session, argv: list[bytes], name: bytes) -> Any:
    """BLMPOP/BZMPOP timeout numkeys key... where [COUNT n]: LMPOP/ZMPOP's reply."""
    timeout = timeout_seconds(argv[1])
    line = [name, *argv[2:]]
    value = await _block(ctx, session, line, keys_of(line), timeout)  # parsed by its run
    return NULL_ARRAY if value is None else resp_value(value, session.proto)


@command("blmpop", -5)
async def blmpop(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _mpop(ctx, session, argv, b"LMPOP")


@command("bzmpop", -5)
async def bzmpop(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _mpop(ctx, session, argv, b"ZMPOP")


@command("client|unblock", -3)
async def client_unblock(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    """CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 when that client was blocked and now is not."""
    try:
        client_id = parse_redis_int(argv[2])
    except EngineError:
        raise RespError(NOT_INTEGER) from None
    if len(argv) > 4:
        raise RespError("ERR syntax error")
    reason = argv[3].upper() if len(argv) == 4 else b"TIMEOUT"
    if reason not in (b"TIMEOUT", b"ERROR"):
        raise RespError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    found = ctx.clients.get(client_id)
    if found is None or found[0].unblock is None:
        return 0
    return int(found[0].unblock(UNBLOCKED if reason == b"ERROR" else None))
