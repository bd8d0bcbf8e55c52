"""Key commands: DEL, UNLINK, EXISTS, TOUCH, TYPE, EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT
(NX/XX/GT/LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, RENAME, RENAMENX, COPY,
KEYS, SCAN (MATCH/COUNT/TYPE), RANDOMKEY, DBSIZE, OBJECT ENCODING/IDLETIME, MEMORY USAGE.

KEYS, SCAN, RANDOMKEY and DBSIZE see the client namespace only, and on a cluster node
only the keys of the slots the node serves as primary (as each Redis Cluster node
answers for its own slots)."""

from __future__ import annotations

import random

from engine.cache.commands.args import INT64_MAX, INT64_MIN, integer, scan_options, syntax, word
from engine.cache.commands.reply import OK, Status
from engine.cache.commands.table import Argv, Call, Reply, command
from engine.cache.types.scan import parse_cursor
from engine.errors import EngineError


@command("del", -2)
def delete(c: Call, a: Argv) -> Reply:
    return c.store.delete(a[1:])


command("unlink", -2)(delete)


@command("exists", -2)
def exists(c: Call, a: Argv) -> Reply:
    return c.store.exists(a[1:])


command("touch", -2)(exists)


@command("type", 2)
def type_(c: Call, a: Argv) -> Reply:
    return Status(c.store.type(a[1]))


def _expire(c: Call, a: Argv, unit: int, absolute: bool) -> Reply:
    """Redis's order: the options and their clashes, then the time, then its range."""
    name = a[0].decode("utf-8", "replace").lower()
    flags: dict[str, bool] = {}
    for raw in a[3:]:
        option = raw.decode("utf-8", "replace").lower()
        if option not in ("nx", "xx", "gt", "lt"):
            shown = raw.decode("utf-8", "replace")
            raise EngineError("SyntaxError", f"Unsupported option {shown}")
        flags[option] = True
    if flags.get("nx") and len(flags) > 1:
        raise EngineError("SyntaxError",
                          "NX and XX, GT or LT options at the same time are not compatible")
    if flags.get("gt") and flags.get("lt"):
        raise EngineError("SyntaxError", "GT and LT options at the same time are not compatible")
    value = integer(a[2])
    invalid = EngineError("InvalidExpireTime", f"invalid expire time in '{name}' command")
    if unit > 1 and not INT64_MIN // unit <= value <= INT64_MAX // unit:
        raise invalid
    ms = value * unit
    try:
        done = c.store.expire(a[1], **({"pxat": ms} if absolute else {"px": ms}), **flags)
    except EngineError as err:
        if err.code == "InvalidExpireTime":  # the store names EXPIRE whatever was sent
            raise invalid from None
        raise
    return int(done)


@command("expire", -3)
def expire(c: Call, a: Argv) -> Reply:
    return _expire(c, a, 1000, absolute=False)


@command("pexpire", -3)
def pexpire(c: Call, a: Argv) -> Reply:
    return _expire(c, a, 1, absolute=False)


@command("expireat", -3)
def expireat(c: Call, a: Argv) -> Reply:
    return _expire(c, a, 1000, absolute=True)


@command("pexpireat", -3)
def pexpireat(c: Call, a: Argv) -> Reply:
    return _expire(c, a, 1, absolute=True)


@command("pttl", 2)
def pttl(c: Call, a: Argv) -> Reply:
    return c.store.pttl(a[1])


@command("ttl", 2)
def ttl(c: Call, a: Argv) -> Reply:
    ms = c.store.pttl(a[1])
    return ms if ms < 0 else (ms + 500) // 1000


@command("pexpiretime", 2)
def pexpiretime(c: Call, a: Argv) -> Reply:
    found = c.store.peek(a[1])
    if found is None:
        return -2
    return -1 if found[1] is None else found[1]


@command("expiretime", 2)
def expiretime(c: Call, a: Argv) -> Reply:
    at = pexpiretime(c, a)
    return at if at < 0 else (at + 500) // 1000


@command("persist", 2)
def persist(c: Call, a: Argv) -> Reply:
    return int(c.store.persist(a[1]))


@command("rename", 3)
def rename(c: Call, a: Argv) -> Reply:
    c.store.rename(a[1], a[2])
    return OK


@command("renamenx", 3)
def renamenx(c: Call, a: Argv) -> Reply:
    return int(c.store.renamenx(a[1], a[2]))


@command("copy", -3)
def copy(c: Call, a: Argv) -> Reply:
    replace = False
    i = 3
    while i < len(a):
        option = word(a[i])
        if option == "REPLACE":
            replace = True
        elif option == "DB" and i + 1 < len(a):
            if integer(a[i + 1]) != 0:
                raise EngineError("InvalidArgument", "DB index is out of range")
            i += 1
        else:
            raise syntax()
        i += 1
    return int(c.store.copy(a[1], a[2], replace=replace))


@command("keys", 2)
def keys(c: Call, a: Argv) -> Reply:
    return [c.out(k) for k in c.store.keys(c.ns + a[1]) if c.mine(k)]


@command("scan", -2)
def scan(c: Call, a: Argv) -> Reply:
    cursor = parse_cursor(a[1])
    match, count, kind = scan_options(a[2:], with_type=True)
    following, found = c.store.scan(cursor, match=c.ns + (b"*" if match is None else match),
                                    count=count, type=kind)
    return [b"%d" % following, [c.out(k) for k in found if c.mine(k)]]


@command("randomkey", 1)
def randomkey(c: Call, a: Argv) -> Reply:
    for _ in range(8):  # most keys are usually this client's: a few uniform picks first
        key = c.store.randomkey()
        if key is None:
            return None
        if c.mine(key):
            return c.out(key)
    mine = [k for k in c.store.keys(c.ns + b"*") if c.mine(k)]
    return c.out(random.choice(mine)) if mine else None


@command("dbsize", 1)
def dbsize(c: Call, a: Argv) -> Reply:
    return sum(1 for k in c.store.stored_keys() if c.mine(k))


@command("object|encoding", 3)
def object_encoding(c: Call, a: Argv) -> Reply:
    found = c.store.object_encoding(a[2])
    return None if found is None else found.encode()


@command("object|idletime", 3)
def object_idletime(c: Call, a: Argv) -> Reply:
    return c.store.object_idletime(a[2])


@command("object|freq", 3)
def object_freq(c: Call, a: Argv) -> Reply:
    return c.store.object_freq(a[2])


@command("memory|usage", -3)
def memory_usage(c: Call, a: Argv) -> Reply:
    if len(a) not in (3, 5) or (len(a) == 5 and word(a[3]) != "SAMPLES"):
        raise syntax()
    if len(a) == 5:
        integer(a[4])
    return c.store.memory_usage(a[2])
