"""List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP/RPOP [count], LLEN, LRANGE, LINDEX,
LSET, LINSERT, LREM, LTRIM, LPOS (RANK/COUNT/MAXLEN), LMOVE, RPOPLPUSH, LMPOP."""

from __future__ import annotations

from engine.cache.commands.args import integer, mpop_args, positive, syntax, word
from engine.cache.commands.reply import NULL_ARRAY, OK
from engine.cache.commands.table import Argv, Call, Reply, command
from engine.errors import EngineError


@command("lpush", -3)
def lpush(c: Call, a: Argv) -> Reply:
    return c.store.lpush(a[1], a[2:])


@command("rpush", -3)
def rpush(c: Call, a: Argv) -> Reply:
    return c.store.rpush(a[1], a[2:])


@command("lpushx", -3)
def lpushx(c: Call, a: Argv) -> Reply:
    return c.store.lpushx(a[1], a[2:])


@command("rpushx", -3)
def rpushx(c: Call, a: Argv) -> Reply:
    return c.store.rpushx(a[1], a[2:])


def _pop(c: Call, a: Argv, method: str) -> Reply:
    if len(a) > 3:
        raise EngineError("SyntaxError", f"wrong number of arguments for '{method}' command")
    count = positive(a[2]) if len(a) == 3 else None
    popped = getattr(c.store, method)(a[1], count)
    if count is not None and popped is None:
        return NULL_ARRAY
    return popped


@command("lpop", -2)
def lpop(c: Call, a: Argv) -> Reply:
    return _pop(c, a, "lpop")


@command("rpop", -2)
def rpop(c: Call, a: Argv) -> Reply:
    return _pop(c, a, "rpop")


@command("llen", 2)
def llen(c: Call, a: Argv) -> Reply:
    return c.store.llen(a[1])


@command("lrange", 4)
def lrange(c: Call, a: Argv) -> Reply:
    return c.store.lrange(a[1], integer(a[2]), integer(a[3]))


@command("lindex", 3)
def lindex(c: Call, a: Argv) -> Reply:
    try:
        index = integer(a[2])
    except EngineError:
        if c.store.llen(a[1]) == 0:  # Redis looks the key up (and its type) first
            return None
        raise
    return c.store.lindex(a[1], index)


@command("lset", 4)
def lset(c: Call, a: Argv) -> Reply:
    try:
        index = integer(a[2])
    except EngineError:
        if c.store.llen(a[1]) == 0:  # Redis looks the key up (and its type) first
            raise EngineError("NoSuchKey", "no such key") from None
        raise
    c.store.lset(a[1], index, a[3])
    return OK


@command("linsert", 5)
def linsert(c: Call, a: Argv) -> Reply:
    where = word(a[2])
    if where not in ("BEFORE", "AFTER"):
        raise syntax()
    return c.store.linsert(a[1], where == "BEFORE", a[3], a[4])


@command("lrem", 4)
def lrem(c: Call, a: Argv) -> Reply:
    return c.store.lrem(a[1], integer(a[2]), a[3])


@command("ltrim", 4)
def ltrim(c: Call, a: Argv) -> Reply:
    c.store.ltrim(a[1], integer(a[2]), integer(a[3]))
    return OK


_RANK_ZERO = ("RANK can't be zero: use 1 to start from the first match, 2 from the second "
              "... or use negative to start from the end of the list")


@command("lpos", -3)
def lpos(c: Call, a: Argv) -> Reply:
    opts: dict[str, int] = {}
    i = 3
    while i < len(a):
        option = word(a[i])
        if option not in ("RANK", "COUNT", "MAXLEN") or i + 1 >= len(a):
            raise syntax()
        if option == "RANK":
            value = integer(a[i + 1])
            if value == 0:
                raise EngineError("InvalidArgument", _RANK_ZERO)
            if value == -(2**63):
                raise EngineError("InvalidArgument", "value is out of range")
        else:  # each checked where it stands, as Redis does (a non-number: the same text)
            try:
                value = integer(a[i + 1])
            except EngineError:
                value = -1
            if value < 0:
                raise EngineError("InvalidArgument", f"{option} can't be negative")
        opts[option.lower()] = value
        i += 2
    return c.store.lpos(a[1], a[2], **opts)  # type: ignore[arg-type]


def _side(raw: bytes) -> str:
    side = word(raw)
    if side not in ("LEFT", "RIGHT"):
        raise syntax()
    return side


@command("lmove", 5)
def lmove(c: Call, a: Argv) -> Reply:
    return c.store.lmove(a[1], a[2], _side(a[3]), _side(a[4]))


@command("rpoplpush", 3)
def rpoplpush(c: Call, a: Argv) -> Reply:
    return c.store.lmove(a[1], a[2], "RIGHT", "LEFT")


@command("lmpop", -4)
def lmpop(c: Call, a: Argv) -> Reply:
    keys, where, count = mpop_args(a[1:], ("LEFT", "RIGHT"))
    found = c.store.lmpop(keys, where, count)
    if found is None:
        return NULL_ARRAY
    return [c.out(found[0]), found[1]]
