"""Sorted-set range commands: ZRANGE (BYSCORE/BYLEX/REV/LIMIT/WITHSCORES), ZREVRANGE,
ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX, ZRANGESTORE, ZCOUNT,
ZLEXCOUNT, ZREMRANGEBYRANK/BYSCORE/BYLEX. Bounds are parsed by the store, as Redis's
zslParseRange reads them."""

from __future__ import annotations

from typing import Any

from engine.cache.commands.args import integer, syntax, word
from engine.cache.commands.table import Argv, Call, Reply, command


def _options(args: Argv, *, modern: bool, withscores: bool, store: bool = False
             ) -> dict[str, Any]:
    """The options after the bounds. ``modern``: ZRANGE's BYSCORE/BYLEX/REV."""
    opts: dict[str, Any] = {}
    i = 0
    while i < len(args):
        option = word(args[i])
        if option == "WITHSCORES" and withscores and not store:
            opts["withscores"] = True
        elif option == "LIMIT" and i + 2 < len(args):
            opts["limit"] = (integer(args[i + 1]), integer(args[i + 2]))
            i += 2
        elif modern and option in ("BYSCORE", "BYLEX") and "by" not in opts:
            opts["by"] = option[2:].lower()
        elif modern and option == "REV" and "rev" not in opts:
            opts["rev"] = True
        else:
            raise syntax()
        i += 1
    return opts


def _scored(found: list[Any], opts: dict[str, Any]) -> Reply:
    return [tuple(x) for x in found] if opts.get("withscores") else found


@command("zrange", -4)
def zrange(c: Call, a: Argv) -> Reply:
    opts = _options(a[4:], modern=True, withscores=True)
    return _scored(c.store.zrange(a[1], a[2], a[3], **opts), opts)


@command("zrangestore", -5)
def zrangestore(c: Call, a: Argv) -> Reply:
    opts = _options(a[5:], modern=True, withscores=False, store=True)
    return c.store.zrangestore(a[1], a[2], a[3], a[4], **opts)


@command("zrevrange", -4)
def zrevrange(c: Call, a: Argv) -> Reply:
    if len(a) > 5 or (len(a) == 5 and word(a[4]) != "WITHSCORES"):
        raise syntax()
    opts = {"withscores": len(a) == 5}
    return _scored(c.store.zrange(a[1], a[2], a[3], rev=True, **opts), opts)


@command("zrangebyscore", -4)
def zrangebyscore(c: Call, a: Argv) -> Reply:
    opts = _options(a[4:], modern=False, withscores=True)
    return _scored(c.store.zrange(a[1], a[2], a[3], by="score", **opts), opts)


@command("zrevrangebyscore", -4)
def zrevrangebyscore(c: Call, a: Argv) -> Reply:
    opts = _options(a[4:], modern=False, withscores=True)
    return _scored(c.store.zrange(a[1], a[2], a[3], by="score", rev=True, **opts), opts)


@command("zrangebylex", -4)
def zrangebylex(c: Call, a: Argv) -> Reply:
    opts = _options(a[4:], modern=False, withscores=True)  # the store refuses it, in
    return c.store.zrange(a[1], a[2], a[3], by="lex", **opts)  # Redis's words


@command("zrevrangebylex", -4)
def zrevrangebylex(c: Call, a: Argv) -> Reply:
    opts = _options(a[4:], modern=False, withscores=True)
    return c.store.zrange(a[1], a[2], a[3], by="lex", rev=True, **opts)


@command("zcount", 4)
def zcount(c: Call, a: Argv) -> Reply:
    return c.store.zcount(a[1], a[2], a[3])


@command("zlexcount", 4)
def zlexcount(c: Call, a: Argv) -> Reply:
    return c.store.zlexcount(a[1], a[2], a[3])


@command("zremrangebyrank", 4)
def zremrangebyrank(c: Call, a: Argv) -> Reply:
    return c.store.zremrangebyrank(a[1], integer(a[2]), integer(a[3]))


@command("zremrangebyscore", 4)
def zremrangebyscore(c: Call, a: Argv) -> Reply:
    return c.store.zremrangebyscore(a[1], a[2], a[3])


@command("zremrangebylex", 4)
def zremrangebylex(c: Call, a: Argv) -> Reply:
    return c.store.zremrangebylex(a[1], a[2], a[3])
