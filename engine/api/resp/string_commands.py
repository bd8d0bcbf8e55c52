"""String and key commands on the cache tier, through CacheService (which routes,
replicates and fails over): GET, SET, MGET, MSET, DEL, UNLINK, EXISTS, INCR/DECR/INCRBY/
DECRBY, EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT, TTL, PTTL, FLUSHALL, FLUSHDB. Arguments are
checked here with Redis's texts; the store's own errors keep theirs."""

from __future__ import annotations

from typing import Any

from engine.api.resp import errors
from engine.api.resp.context import RespContext
from engine.api.resp.encoder import OK
from engine.api.resp.errors import RespError
from engine.api.resp.registry import command
from engine.api.resp.session import Session
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_records_pb2 as rec

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def parse_int(raw: bytes) -> int:
    """An integer argument as Redis's string2ll reads it."""
    try:
        value = int(raw)
    except ValueError:
        raise RespError(errors.NOT_INTEGER) from None
    if not INT64_MIN <= value <= INT64_MAX or raw != str(value).encode():
        raise RespError(errors.NOT_INTEGER)
    return value


# -- reads (on a replica's own copy after READONLY) ----------------------------------------


async def _get(ctx: RespContext, session: Session, key: bytes) -> pb.CacheGetResponse:
    request = pb.CacheGetRequest(key=key)
    if session.local_read:
        return ctx.cache.read_local(rec.CacheCall(get=request)).get
    return await ctx.cache.get(request)


@command("get", 2)
async def get(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    reply = await _get(ctx, session, argv[1])
    return reply.value if reply.found else None


@command("mget", -2)
async def mget(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    request = pb.CacheKeysRequest(keys=argv[1:])
    if session.local_read:
        values = ctx.cache.read_local(rec.CacheCall(mget=request)).mget.values
    else:
        values = (await ctx.cache.mget(request)).values
    return [v.value if v.found else None for v in values]


async def _count(ctx: RespContext, session: Session, op: str, keys: list[bytes]) -> int:
    request = pb.CacheKeysRequest(keys=keys)
    if op == "exists" and session.local_read:
        return ctx.cache.read_local(rec.CacheCall(exists=request)).count.count
    if op == "exists":
        return (await ctx.cache.exists(request)).count
    return (await ctx.cache.delete(request)).count


@command("exists", -2)
async def exists(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _count(ctx, session, "exists", argv[1:])


@command("del", -2)
async def delete(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _count(ctx, session, "del", argv[1:])


@command("unlink", -2)
async def unlink(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _count(ctx, session, "del", argv[1:])


async def _pttl(ctx: RespContext, session: Session, key: bytes) -> int:
    request = pb.CacheKeyRequest(key=key)
    if session.local_read:
        return ctx.cache.read_local(rec.CacheCall(ttl=request)).ttl.pttl
    return (await ctx.cache.ttl(request)).pttl


@command("pttl", 2)
async def pttl(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _pttl(ctx, session, argv[1])


@command("ttl", 2)
async def ttl(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    ms = await _pttl(ctx, session, argv[1])
    return ms if ms < 0 else (ms + 500) // 1000


# -- writes --------------------------------------------------------------------------------


@command("set", -3)
async def set_(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    request = pb.CacheSetRequest(key=argv[1], value=argv[2])
    expiry = False
    i = 3
    while i < len(argv):
        option = argv[i].lower()
        has_next = i + 1 < len(argv)
        if option == b"nx" and not request.xx:
            request.nx = True
        elif option == b"xx" and not request.nx:
            request.xx = True
        elif option == b"get":
            request.get = True
        elif option == b"keepttl" and not expiry:
            request.keepttl = True
            expiry = True
        elif option in (b"ex", b"px", b"exat", b"pxat") and not expiry and has_next:
            _set_expiry(request, option, argv[i + 1])
            expiry = True
            i += 1
        else:
            raise RespError(errors.SYNTAX)
        i += 1
    reply = await ctx.cache.set(request)
    if request.get:
        return reply.old_value if reply.had_old else None
    return OK if reply.written else None


def _set_expiry(request: pb.CacheSetRequest, option: bytes, raw: bytes) -> None:
    value = parse_int(raw)
    if value <= 0 or (option in (b"ex", b"exat") and value > INT64_MAX // 1000):
        raise RespError("ERR invalid expire time in 'set' command")
    ms = value * 1000 if option in (b"ex", b"exat") else value
    if option in (b"ex", b"px"):
        request.px = ms
    else:
        request.pxat = ms


@command("mset", -3)
async def mset(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise errors.wrong_args("mset")
    entries = [pb.CacheEntry(key=argv[i], value=argv[i + 1]) for i in range(1, len(argv), 2)]
    await ctx.cache.mset(pb.CacheMSetRequest(entries=entries))
    return OK


async def _incr(ctx: RespContext, key: bytes, amount: int) -> int:
    return (await ctx.cache.incr_by(pb.CacheIncrByRequest(key=key, amount=amount))).value


@command("incr", 2)
async def incr(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _incr(ctx, argv[1], 1)


@command("decr", 2)
async def decr(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _incr(ctx, argv[1], -1)


@command("incrby", 3)
async def incrby(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _incr(ctx, argv[1], parse_int(argv[2]))


@command("decrby", 3)
async def decrby(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    amount = parse_int(argv[2])
    if amount == INT64_MIN:
        raise RespError("ERR decrement would overflow")
    return await _incr(ctx, argv[1], -amount)


async def _expire(ctx: RespContext, argv: list[bytes], name: str, unit: int,
                  absolute: bool) -> int:
    value = parse_int(argv[2])
    if unit > 1 and not INT64_MIN // unit <= value <= INT64_MAX // unit:
        raise RespError(f"ERR invalid expire time in '{name}' command")
    request = pb.CacheExpireRequest(key=argv[1])
    if absolute:
        request.pxat = value * unit
    else:
        request.px = value * unit
    for raw in argv[3:]:
        option = raw.lower()
        if option in (b"nx", b"xx", b"gt", b"lt"):
            setattr(request, option.decode(), True)
        else:
            raise RespError(f"ERR Unsupported option {raw.decode('utf-8', 'replace')}")
    if request.nx and (request.xx or request.gt or request.lt):
        raise RespError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if request.gt and request.lt:
        raise RespError("ERR GT and LT options at the same time are not compatible")
    return 1 if (await ctx.cache.expire(request)).set else 0


@command("expire", -3)
async def expire(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _expire(ctx, argv, "expire", 1000, absolute=False)


@command("pexpire", -3)
async def pexpire(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _expire(ctx, argv, "pexpire", 1, absolute=False)


@command("expireat", -3)
async def expireat(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _expire(ctx, argv, "expireat", 1000, absolute=True)


@command("pexpireat", -3)
async def pexpireat(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return await _expire(ctx, argv, "pexpireat", 1, absolute=True)


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
