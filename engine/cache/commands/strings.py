"""String commands: GET, SET (EX/PX/EXAT/PXAT/NX/XX/KEEPTTL/GET), SETNX, SETEX, PSETEX,
GETSET, MGET, MSET, MSETNX, GETDEL, GETEX, GETRANGE/SUBSTR, SETRANGE, APPEND, STRLEN,
INCR/DECR/INCRBY/DECRBY, INCRBYFLOAT."""

from __future__ import annotations

from engine.cache.commands.args import INT64_MIN, expire_ms, integer, pairs, syntax, word
from engine.cache.commands.reply import OK
from engine.cache.commands.table import Argv, Call, Reply, command
from engine.errors import EngineError


@command("get", 2)
def get(c: Call, a: Argv) -> Reply:
    return c.store.get(a[1])


@command("set", -3)
def set_(c: Call, a: Argv) -> Reply:
    opts: dict[str, object] = {}
    i = 3
    while i < len(a):
        option = word(a[i])
        has_next = i + 1 < len(a)
        if option == "NX" and "xx" not in opts:
            opts["nx"] = True
        elif option == "XX" and "nx" not in opts:
            opts["xx"] = True
        elif option == "GET":
            opts["get"] = True
        elif option == "KEEPTTL" and not ({"px", "pxat"} & set(opts)):
            opts["keepttl"] = True
        elif (option in ("EX", "PX", "EXAT", "PXAT") and has_next
              and not ({"px", "pxat", "keepttl"} & set(opts))):
            ms = expire_ms(a[i + 1], 1000 if option in ("EX", "EXAT") else 1, "set")
            opts["px" if option in ("EX", "PX") else "pxat"] = ms
            i += 1
        else:
            raise syntax()
        i += 1
    written, old = c.store.set(a[1], a[2], **opts)  # type: ignore[arg-type]
    if opts.get("get"):
        return old
    return OK if written else None


@command("setnx", 3)
def setnx(c: Call, a: Argv) -> Reply:
    return int(c.store.set(a[1], a[2], nx=True)[0])


@command("setex", 4)
def setex(c: Call, a: Argv) -> Reply:
    c.store.set(a[1], a[3], px=expire_ms(a[2], 1000, "setex"))
    return OK


@command("psetex", 4)
def psetex(c: Call, a: Argv) -> Reply:
    c.store.set(a[1], a[3], px=expire_ms(a[2], 1, "psetex"))
    return OK


@command("getset", 3)
def getset(c: Call, a: Argv) -> Reply:
    return c.store.set(a[1], a[2], get=True)[1]


@command("mget", -2)
def mget(c: Call, a: Argv) -> Reply:
    return c.store.mget(a[1:])


@command("mset", -3)
def mset(c: Call, a: Argv) -> Reply:
    c.store.mset(pairs(a[1:], "mset"))
    return OK


@command("msetnx", -3)
def msetnx(c: Call, a: Argv) -> Reply:
    return int(c.store.msetnx(pairs(a[1:], "msetnx")))


@command("getdel", 2)
def getdel(c: Call, a: Argv) -> Reply:
    return c.store.getdel(a[1])


@command("getex", -2)
def getex(c: Call, a: Argv) -> Reply:
    opts: dict[str, object] = {}
    i = 2
    while i < len(a):
        option = word(a[i])
        if option == "PERSIST" and not opts:
            opts["persist"] = True
        elif option in ("EX", "PX", "EXAT", "PXAT") and i + 1 < len(a) and not opts:
            ms = expire_ms(a[i + 1], 1000 if option in ("EX", "EXAT") else 1, "getex")
            opts["px" if option in ("EX", "PX") else "pxat"] = ms
            i += 1
        else:
            raise syntax()
        i += 1
    return c.store.getex(a[1], **opts)  # type: ignore[arg-type]


@command("getrange", 4)
def getrange(c: Call, a: Argv) -> Reply:
    return c.store.getrange(a[1], integer(a[2]), integer(a[3]))


command("substr", 4)(getrange)


@command("setrange", 4)
def setrange(c: Call, a: Argv) -> Reply:
    offset = integer(a[2])
    if offset < 0:
        raise EngineError("InvalidArgument", "offset is out of range")
    return c.store.setrange(a[1], offset, a[3])


@command("append", 3)
def append(c: Call, a: Argv) -> Reply:
    return c.store.append(a[1], a[2])


@command("strlen", 2)
def strlen(c: Call, a: Argv) -> Reply:
    return c.store.strlen(a[1])


@command("incr", 2)
def incr(c: Call, a: Argv) -> Reply:
    return c.store.incrby(a[1], 1)


@command("decr", 2)
def decr(c: Call, a: Argv) -> Reply:
    return c.store.incrby(a[1], -1)


@command("incrby", 3)
def incrby(c: Call, a: Argv) -> Reply:
    return c.store.incrby(a[1], integer(a[2]))


@command("decrby", 3)
def decrby(c: Call, a: Argv) -> Reply:
    amount = integer(a[2])
    if amount == INT64_MIN:
        raise EngineError("Overflow", "decrement would overflow")
    return c.store.incrby(a[1], -amount)


@command("incrbyfloat", 3)
def incrbyfloat(c: Call, a: Argv) -> Reply:
    return c.store.incrbyfloat(a[1], a[2])
