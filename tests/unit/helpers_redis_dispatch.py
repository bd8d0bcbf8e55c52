"""A test-only bridge from a Redis command line (argv of bytes) to CacheStore's methods,
and the store's reply in the shape redis-py's raw RESP2 reader gives for redis-server's.

It covers the commands the differential test sends, with well-formed arity (option
errors still reach the store); the real endpoint lives in engine/api/resp/.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.cache.store import CacheStore
from engine.cache.types.numbers import format_double, parse_redis_int

Argv = list[bytes]


def resp2(reply: object) -> object:
    """Floats as Redis writes doubles, bools as 1/0, pairs flattened, text as bytes."""
    if isinstance(reply, bool):
        return int(reply)
    if isinstance(reply, float):
        return format_double(reply)
    if isinstance(reply, str):
        return reply.encode()
    if isinstance(reply, tuple):
        return [resp2(item) for item in reply]
    if isinstance(reply, list):
        out: list[object] = []
        for item in reply:
            if isinstance(item, tuple):
                out.extend(resp2(part) for part in item)
            else:
                out.append(resp2(item))
        return out
    return reply


def _i(raw: bytes) -> int:
    return parse_redis_int(raw)


def _flags(args: Argv, names: tuple[str, ...]) -> tuple[dict[str, bool], Argv]:
    flags = dict.fromkeys(names, False)
    i = 0
    while i < len(args) and args[i].decode(errors="replace").lower() in flags:
        flags[args[i].decode().lower()] = True
        i += 1
    return flags, args[i:]


def _zrange_options(args: Argv) -> dict:
    opts: dict = {}
    i = 0
    while i < len(args):
        word = args[i].upper()
        if word in (b"BYSCORE", b"BYLEX"):
            opts["by"] = word[2:].decode().lower()
        elif word == b"REV":
            opts["rev"] = True
        elif word == b"WITHSCORES":
            opts["withscores"] = True
        elif word == b"LIMIT":
            opts["limit"] = (_i(args[i + 1]), _i(args[i + 2]))
            i += 2
        i += 1
    return opts


def _zadd(s: CacheStore, a: Argv) -> object:
    flags, rest = _flags(a[1:], ("nx", "xx", "gt", "lt", "ch", "incr"))
    pairs = [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)]
    reply = s.zadd(a[0], pairs, **flags)
    return reply


def _weights(a: Argv, n: int) -> dict:
    opts: dict = {}
    i = 0
    while i < len(a):
        if a[i].upper() == b"WEIGHTS":
            opts["weights"] = a[i + 1:i + 1 + n]
            i += 1 + n
        elif a[i].upper() == b"AGGREGATE":
            opts["aggregate"] = a[i + 1].decode()
            i += 2
        else:
            i += 1
    return opts


def _zstore(method: str) -> Callable[[CacheStore, Argv], object]:
    def run(s: CacheStore, a: Argv) -> object:
        n = _i(a[1])
        keys = a[2:2 + n]
        if method == "zdiffstore":
            return s.zdiffstore(a[0], keys)
        return getattr(s, method)(a[0], keys, **_weights(a[2 + n:], n))
    return run


def _lpos(s: CacheStore, a: Argv) -> object:
    opts = {}
    for i in range(2, len(a), 2):
        opts[a[i].decode().lower()] = _i(a[i + 1])
    return s.lpos(a[0], a[1], **opts)


def _set(s: CacheStore, a: Argv) -> object:
    written, old = s.set(a[0], a[1], get=b"GET" in [x.upper() for x in a[2:]])
    if b"GET" in [x.upper() for x in a[2:]]:
        return old
    return b"OK" if written else None


def _ok(fn: Callable[[CacheStore, Argv], object]) -> Callable[[CacheStore, Argv], object]:
    def run(s: CacheStore, a: Argv) -> object:
        fn(s, a)
        return b"OK"
    return run


def _scan_options(a: Argv) -> dict:
    opts: dict = {}
    for i in range(0, len(a) - 1, 2):
        word = a[i].upper()
        if word == b"MATCH":
            opts["match"] = a[i + 1]
        elif word == b"COUNT":
            opts["count"] = _i(a[i + 1])
        elif word == b"TYPE":
            opts["type"] = a[i + 1].decode()
    return opts


def _scanned(reply: tuple[int, list]) -> list:
    cursor, items = reply
    return [b"%d" % cursor, resp2(items)]


def _random(method: str) -> Callable[[CacheStore, Argv], object]:
    def run(s: CacheStore, a: Argv) -> object:
        if method == "hrandfield":
            return s.hrandfield(a[0], _i(a[1]), withvalues=len(a) > 2)
        return getattr(s, method)(a[0], _i(a[1]))
    return run


COMMANDS: dict[str, Callable[[CacheStore, Argv], object]] = {
    "SCAN": lambda s, a: _scanned(s.scan(_i(a[0]), **_scan_options(a[1:]))),
    "HSCAN": lambda s, a: _scanned(s.hscan(a[0], _i(a[1]), **_scan_options(a[2:]))),
    "SSCAN": lambda s, a: _scanned(s.sscan(a[0], _i(a[1]), **_scan_options(a[2:]))),
    "ZSCAN": lambda s, a: _scanned(s.zscan(a[0], _i(a[1]), **_scan_options(a[2:]))),
    "HRANDFIELD": _random("hrandfield"),
    "SRANDMEMBER": _random("srandmember"),
    "SPOP": _random("spop"),
    "GETEX": lambda s, a: s.getex(a[0], persist=True),
    # strings
    "SET": _set,
    "GET": lambda s, a: s.get(a[0]),
    "APPEND": lambda s, a: s.append(a[0], a[1]),
    "STRLEN": lambda s, a: s.strlen(a[0]),
    "GETRANGE": lambda s, a: s.getrange(a[0], _i(a[1]), _i(a[2])),
    "SETRANGE": lambda s, a: s.setrange(a[0], _i(a[1]), a[2]),
    "INCRBY": lambda s, a: s.incrby(a[0], _i(a[1])),
    "INCRBYFLOAT": lambda s, a: s.incrbyfloat(a[0], a[1]),
    "GETDEL": lambda s, a: s.getdel(a[0]),
    "MSETNX": lambda s, a: s.msetnx([(a[i], a[i + 1]) for i in range(0, len(a), 2)]),
    # keys
    "DEL": lambda s, a: s.delete(a),
    "EXISTS": lambda s, a: s.exists(a),
    "TYPE": lambda s, a: s.type(a[0]),
    "RENAME": _ok(lambda s, a: s.rename(a[0], a[1])),
    "RENAMENX": lambda s, a: s.renamenx(a[0], a[1]),
    "COPY": lambda s, a: s.copy(a[0], a[1], replace=len(a) > 2),
    "PERSIST": lambda s, a: s.persist(a[0]),
    "EXPIRE": lambda s, a: s.expire(a[0], px=_i(a[1]) * 1000),
    "DBSIZE": lambda s, a: s.dbsize(),
    "KEYS": lambda s, a: s.keys(a[0]),
    "OBJECT": lambda s, a: s.object_encoding(a[1]),
    # hashes
    "HSET": lambda s, a: s.hset(a[0], [(a[i], a[i + 1]) for i in range(1, len(a), 2)]),
    "HSETNX": lambda s, a: s.hsetnx(a[0], a[1], a[2]),
    "HGET": lambda s, a: s.hget(a[0], a[1]),
    "HMGET": lambda s, a: s.hmget(a[0], a[1:]),
    "HDEL": lambda s, a: s.hdel(a[0], a[1:]),
    "HLEN": lambda s, a: s.hlen(a[0]),
    "HEXISTS": lambda s, a: s.hexists(a[0], a[1]),
    "HKEYS": lambda s, a: s.hkeys(a[0]),
    "HVALS": lambda s, a: s.hvals(a[0]),
    "HGETALL": lambda s, a: s.hgetall(a[0]),
    "HINCRBY": lambda s, a: s.hincrby(a[0], a[1], _i(a[2])),
    "HINCRBYFLOAT": lambda s, a: s.hincrbyfloat(a[0], a[1], a[2]),
    "HSTRLEN": lambda s, a: s.hstrlen(a[0], a[1]),
    # lists
    "LPUSH": lambda s, a: s.lpush(a[0], a[1:]),
    "RPUSH": lambda s, a: s.rpush(a[0], a[1:]),
    "LPUSHX": lambda s, a: s.lpushx(a[0], a[1:]),
    "RPUSHX": lambda s, a: s.rpushx(a[0], a[1:]),
    "LPOP": lambda s, a: s.lpop(a[0], _i(a[1]) if len(a) > 1 else None),
    "RPOP": lambda s, a: s.rpop(a[0], _i(a[1]) if len(a) > 1 else None),
    "LLEN": lambda s, a: s.llen(a[0]),
    "LRANGE": lambda s, a: s.lrange(a[0], _i(a[1]), _i(a[2])),
    "LINDEX": lambda s, a: s.lindex(a[0], _i(a[1])),
    "LSET": _ok(lambda s, a: s.lset(a[0], _i(a[1]), a[2])),
    "LINSERT": lambda s, a: s.linsert(a[0], a[1].upper() == b"BEFORE", a[2], a[3]),
    "LREM": lambda s, a: s.lrem(a[0], _i(a[1]), a[2]),
    "LTRIM": _ok(lambda s, a: s.ltrim(a[0], _i(a[1]), _i(a[2]))),
    "LPOS": _lpos,
    "LMOVE": lambda s, a: s.lmove(a[0], a[1], a[2].decode(), a[3].decode()),
    "LMPOP": lambda s, a: s.lmpop(a[1:1 + _i(a[0])], a[1 + _i(a[0])].decode(),
                                  *([_i(a[-1])] if a[-2].upper() == b"COUNT" else [])),
    # sets
    "SADD": lambda s, a: s.sadd(a[0], a[1:]),
    "SREM": lambda s, a: s.srem(a[0], a[1:]),
    "SMEMBERS": lambda s, a: s.smembers(a[0]),
    "SISMEMBER": lambda s, a: s.sismember(a[0], a[1]),
    "SMISMEMBER": lambda s, a: s.smismember(a[0], a[1:]),
    "SCARD": lambda s, a: s.scard(a[0]),
    "SMOVE": lambda s, a: s.smove(a[0], a[1], a[2]),
    "SINTER": lambda s, a: s.sinter(a),
    "SUNION": lambda s, a: s.sunion(a),
    "SDIFF": lambda s, a: s.sdiff(a),
    "SINTERSTORE": lambda s, a: s.sinterstore(a[0], a[1:]),
    "SUNIONSTORE": lambda s, a: s.sunionstore(a[0], a[1:]),
    "SDIFFSTORE": lambda s, a: s.sdiffstore(a[0], a[1:]),
    "SINTERCARD": lambda s, a: s.sintercard(a[1:1 + _i(a[0])],
                                            *([_i(a[-1])] if a[-2].upper() == b"LIMIT" else [])),
    # sorted sets
    "ZADD": _zadd,
    "ZREM": lambda s, a: s.zrem(a[0], a[1:]),
    "ZCARD": lambda s, a: s.zcard(a[0]),
    "ZSCORE": lambda s, a: s.zscore(a[0], a[1]),
    "ZMSCORE": lambda s, a: s.zmscore(a[0], a[1:]),
    "ZINCRBY": lambda s, a: s.zincrby(a[0], a[1], a[2]),
    "ZRANK": lambda s, a: s.zrank(a[0], a[1]),
    "ZREVRANK": lambda s, a: s.zrevrank(a[0], a[1]),
    "ZCOUNT": lambda s, a: s.zcount(a[0], a[1], a[2]),
    "ZLEXCOUNT": lambda s, a: s.zlexcount(a[0], a[1], a[2]),
    "ZRANGE": lambda s, a: s.zrange(a[0], a[1], a[2], **_zrange_options(a[3:])),
    "ZRANGEBYSCORE": lambda s, a: s.zrangebyscore(a[0], a[1], a[2], **_zrange_options(a[3:])),
    "ZREVRANGEBYSCORE": lambda s, a: s.zrevrangebyscore(a[0], a[1], a[2],
                                                        **_zrange_options(a[3:])),
    "ZRANGEBYLEX": lambda s, a: s.zrangebylex(a[0], a[1], a[2], **_zrange_options(a[3:])),
    "ZRANGESTORE": lambda s, a: s.zrangestore(a[0], a[1], a[2], a[3], **_zrange_options(a[4:])),
    "ZPOPMIN": lambda s, a: s.zpopmin(a[0], _i(a[1]) if len(a) > 1 else None),
    "ZPOPMAX": lambda s, a: s.zpopmax(a[0], _i(a[1]) if len(a) > 1 else None),
    "ZREMRANGEBYRANK": lambda s, a: s.zremrangebyrank(a[0], _i(a[1]), _i(a[2])),
    "ZREMRANGEBYSCORE": lambda s, a: s.zremrangebyscore(a[0], a[1], a[2]),
    "ZREMRANGEBYLEX": lambda s, a: s.zremrangebylex(a[0], a[1], a[2]),
    "ZUNIONSTORE": _zstore("zunionstore"),
    "ZINTERSTORE": _zstore("zinterstore"),
    "ZDIFFSTORE": _zstore("zdiffstore"),
}


def run(store: CacheStore, argv: Argv) -> object:
    """The store's reply to ``argv`` in RESP2 shape (an EngineError propagates)."""
    return resp2(COMMANDS[argv[0].decode().upper()](store, argv[1:]))
