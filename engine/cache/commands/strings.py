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
    if len(a) == 3:  # no options: most SETs
        c.store.set(a[1], a[2])
        return OK
    opts = _string_options(a, 3, "set")
    written, old = c.store.set(a[1], a[2], **opts)  # type: ignore[arg-type]
    if opts.get("get"):
        return old
    return OK if written else None


_UNITS = ("EX", "PX", "EXAT", "PXAT")


def _string_options(a: Argv, start: int, command: str) -> dict[str, object]:
    """SET's and GETEX's options as Redis's parseExtendedStringArgumentsOrReply reads
    them: an option may repeat (its last time counts) but not meet one it excludes, and
    the time is checked only after every word was read."""
    opts, unit, raw = _string_words(a, start, command)
    if unit is not None:
        ms = expire_ms(raw, 1000 if unit in ("EX", "EXAT") else 1, command)
        opts["px" if unit in ("EX", "PX") else "pxat"] = ms
    return opts


def _string_words(a: Argv, start: int, command: str
                  ) -> tuple[dict[str, object], str | None, bytes]:
    """The option words: (flags, the time's unit word or None, the time as sent)."""
    is_set = command == "set"
    opts: dict[str, object] = {}
    unit: str | None = None
    raw = b""
    i = start
    while i < len(a):
        option = word(a[i])
        if is_set and option == "NX" and "xx" not in opts:
            opts["nx"] = True
        elif is_set and option == "XX" and "nx" not in opts:
            opts["xx"] = True
        elif is_set and option == "GET":
            opts["get"] = True
        elif is_set and option == "KEEPTTL" and unit is None:
            opts["keepttl"] = True
        elif not is_set and option == "PERSIST" and unit is None:
            opts["persist"] = True
        elif (option in _UNITS and i + 1 < len(a) and unit in (None, option)
              and "keepttl" not in opts and "persist" not in opts):
            unit, raw = option, a[i + 1]
            i += 1
        else:
            raise syntax()
        i += 1
    return opts, unit, raw


@command("setnx", 3)
def setnx(c: Call, a: Argv) -> Reply:
    return int(c.store.set(a[1], a[2], nx=True)[0])


@command("setex", 4)
def setex(c: Call, a: Argv) -> Reply:
    return _set_for(c, a, expire_ms(a[2], 1000, "setex"), "setex")


@command("psetex", 4)
def psetex(c: Call, a: Argv) -> Reply:
    return _set_for(c, a, expire_ms(a[2], 1, "psetex"), "psetex")


def _set_for(c: Call, a: Argv, px: int, name: str) -> Reply:
    """SET with a TTL of ``px`` ms; a time past the end of the clock names ``name``."""
    try:
        c.store.set(a[1], a[3], px=px)
    except EngineError as err:
        if err.code == "InvalidExpireTime":  # the store names SET
            raise EngineError(err.code, f"invalid expire time in '{name}' command") from None
        raise
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
    try:
        opts = _string_options(a, 2, "getex")
    except EngineError as err:
        if err.code != "SyntaxError" and c.store.get(a[1]) is None:
            return None  # Redis looks the key up (a missing key, WRONGTYPE) before the time
        raise
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
