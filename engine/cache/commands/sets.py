"""Set commands: SADD, SREM, SPOP/SRANDMEMBER [count], SMOVE, SMEMBERS, SISMEMBER,
SMISMEMBER, SCARD, SINTER/SUNION/SDIFF and their STORE forms, SINTERCARD (LIMIT), SSCAN."""

from __future__ import annotations

from engine.cache.commands.args import integer, numkeys, positive, scan_options, syntax, word
from engine.cache.commands.reply import Members
from engine.cache.commands.table import Argv, Call, Reply, command
from engine.cache.types.scan import parse_cursor
from engine.errors import EngineError


@command("sadd", -3)
def sadd(c: Call, a: Argv) -> Reply:
    return c.store.sadd(a[1], a[2:])


@command("srem", -3)
def srem(c: Call, a: Argv) -> Reply:
    return c.store.srem(a[1], a[2:])


@command("spop", -2)
def spop(c: Call, a: Argv) -> Reply:
    if len(a) > 3:
        raise syntax()
    if len(a) == 2:
        return c.store.spop(a[1])
    return Members(c.store.spop(a[1], positive(a[2])) or [])


@command("srandmember", -2)
def srandmember(c: Call, a: Argv) -> Reply:
    if len(a) > 3:
        raise syntax()
    if len(a) == 2:
        return c.store.srandmember(a[1])
    count = integer(a[2])
    if count < -(2**62):
        raise EngineError("InvalidArgument", "value is out of range")
    return c.store.srandmember(a[1], count) or []


@command("smove", 4)
def smove(c: Call, a: Argv) -> Reply:
    return int(c.store.smove(a[1], a[2], a[3]))


@command("smembers", 2)
def smembers(c: Call, a: Argv) -> Reply:
    return Members(c.store.smembers(a[1]))


@command("sismember", 3)
def sismember(c: Call, a: Argv) -> Reply:
    return int(c.store.sismember(a[1], a[2]))


@command("smismember", -3)
def smismember(c: Call, a: Argv) -> Reply:
    return [int(x) for x in c.store.smismember(a[1], a[2:])]


@command("scard", 2)
def scard(c: Call, a: Argv) -> Reply:
    return c.store.scard(a[1])


@command("sinter", -2)
def sinter(c: Call, a: Argv) -> Reply:
    return Members(c.store.sinter(a[1:]))


@command("sunion", -2)
def sunion(c: Call, a: Argv) -> Reply:
    return Members(c.store.sunion(a[1:]))


@command("sdiff", -2)
def sdiff(c: Call, a: Argv) -> Reply:
    return Members(c.store.sdiff(a[1:]))


@command("sinterstore", -3)
def sinterstore(c: Call, a: Argv) -> Reply:
    return c.store.sinterstore(a[1], a[2:])


@command("sunionstore", -3)
def sunionstore(c: Call, a: Argv) -> Reply:
    return c.store.sunionstore(a[1], a[2:])


@command("sdiffstore", -3)
def sdiffstore(c: Call, a: Argv) -> Reply:
    return c.store.sdiffstore(a[1], a[2:])


@command("sintercard", -3)
def sintercard(c: Call, a: Argv) -> Reply:
    n = numkeys(a[1], len(a) - 2)
    rest = a[2 + n:]
    limit = 0
    for i in range(0, len(rest), 2):  # LIMIT may repeat: the last one counts
        if word(rest[i]) != "LIMIT" or i + 1 >= len(rest):
            raise syntax()
        try:
            limit = integer(rest[i + 1])
        except EngineError:
            limit = -1  # Redis: the same text for a non-number
        if limit < 0:
            raise EngineError("InvalidArgument", "LIMIT can't be negative")
    return c.store.sintercard(a[2:2 + n], limit)


@command("sscan", -3)
def sscan(c: Call, a: Argv) -> Reply:
    cursor = parse_cursor(a[2])
    match, count, _ = scan_options(a[3:])
    following, found = c.store.sscan(a[1], cursor, match=match, count=count)
    return [b"%d" % following, list(found)]
