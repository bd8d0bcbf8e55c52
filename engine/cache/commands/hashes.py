"""Hash commands: HSET, HMSET, HSETNX, HGET, HMGET, HGETALL, HDEL, HEXISTS, HLEN, HSTRLEN,
HKEYS, HVALS, HINCRBY, HINCRBYFLOAT, HRANDFIELD [count [WITHVALUES]], HSCAN."""

from __future__ import annotations

from engine.cache.commands.args import integer, pairs, scan_options, syntax, word
from engine.cache.commands.reply import OK
from engine.cache.commands.table import Argv, Call, Reply, command
from engine.cache.types.scan import parse_cursor
from engine.errors import EngineError


@command("hset", -4)
def hset(c: Call, a: Argv) -> Reply:
    return c.store.hset(a[1], pairs(a[2:], "hset"))


@command("hmset", -4)
def hmset(c: Call, a: Argv) -> Reply:
    c.store.hset(a[1], pairs(a[2:], "hmset"))
    return OK


@command("hsetnx", 4)
def hsetnx(c: Call, a: Argv) -> Reply:
    return int(c.store.hsetnx(a[1], a[2], a[3]))


@command("hget", 3)
def hget(c: Call, a: Argv) -> Reply:
    return c.store.hget(a[1], a[2])


@command("hmget", -3)
def hmget(c: Call, a: Argv) -> Reply:
    return c.store.hmget(a[1], a[2:])


@command("hgetall", 2)
def hgetall(c: Call, a: Argv) -> Reply:
    return dict(c.store.hgetall(a[1]))


@command("hdel", -3)
def hdel(c: Call, a: Argv) -> Reply:
    return c.store.hdel(a[1], a[2:])


@command("hexists", 3)
def hexists(c: Call, a: Argv) -> Reply:
    return int(c.store.hexists(a[1], a[2]))


@command("hlen", 2)
def hlen(c: Call, a: Argv) -> Reply:
    return c.store.hlen(a[1])


@command("hstrlen", 3)
def hstrlen(c: Call, a: Argv) -> Reply:
    return c.store.hstrlen(a[1], a[2])


@command("hkeys", 2)
def hkeys(c: Call, a: Argv) -> Reply:
    return c.store.hkeys(a[1])


@command("hvals", 2)
def hvals(c: Call, a: Argv) -> Reply:
    return c.store.hvals(a[1])


@command("hincrby", 4)
def hincrby(c: Call, a: Argv) -> Reply:
    return c.store.hincrby(a[1], a[2], integer(a[3]))


@command("hincrbyfloat", 4)
def hincrbyfloat(c: Call, a: Argv) -> Reply:
    return c.store.hincrbyfloat(a[1], a[2], a[3])


@command("hrandfield", -2)
def hrandfield(c: Call, a: Argv) -> Reply:
    if len(a) == 2:
        return c.store.hrandfield(a[1])
    if len(a) > 4 or (len(a) == 4 and word(a[3]) != "WITHVALUES"):
        raise syntax()
    count = integer(a[2])
    withvalues = len(a) == 4
    if withvalues and count < -(2**62):
        raise EngineError("InvalidArgument", "value is out of range")
    picked = c.store.hrandfield(a[1], count, withvalues=withvalues)
    if withvalues:
        return [tuple(p) for p in picked]  # type: ignore[union-attr]
    return picked


@command("hscan", -3)
def hscan(c: Call, a: Argv) -> Reply:
    cursor = parse_cursor(a[2])
    match, count, _ = scan_options(a[3:])
    following, found = c.store.hscan(a[1], cursor, match=match, count=count)
    return [b"%d" % following, [x for pair in found for x in pair]]
