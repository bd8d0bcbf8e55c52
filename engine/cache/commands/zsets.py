"""Sorted-set commands: ZADD (NX/XX/GT/LT/CH/INCR), ZINCRBY, ZREM, ZCARD, ZSCORE, ZMSCORE,
ZRANK/ZREVRANK [WITHSCORE], ZPOPMIN/ZPOPMAX [count], ZUNIONSTORE/ZINTERSTORE (WEIGHTS,
AGGREGATE), ZDIFFSTORE, ZSCAN. The range commands are in zranges.py."""

from __future__ import annotations

from engine.cache.commands.args import integer, positive, scan_options, syntax, word
from engine.cache.commands.table import Argv, Call, Reply, command
from engine.cache.keyspace import wrong_type
from engine.cache.types.numbers import format_double, parse_double
from engine.cache.types.scan import parse_cursor
from engine.errors import EngineError

_ZADD_FLAGS = ("NX", "XX", "GT", "LT", "CH", "INCR")


@command("zadd", -4)
def zadd(c: Call, a: Argv) -> Reply:
    flags: dict[str, bool] = {}
    i = 2
    while i < len(a) and word(a[i]) in _ZADD_FLAGS:
        flags[word(a[i]).lower()] = True
        i += 1
    rest = a[i:]
    if not rest or len(rest) % 2:
        raise syntax()
    pairs = [(rest[j], rest[j + 1]) for j in range(0, len(rest), 2)]
    return c.store.zadd(a[1], pairs, **flags)


@command("zincrby", 4)
def zincrby(c: Call, a: Argv) -> Reply:
    return c.store.zincrby(a[1], a[2], a[3])


@command("zrem", -3)
def zrem(c: Call, a: Argv) -> Reply:
    return c.store.zrem(a[1], a[2:])


@command("zcard", 2)
def zcard(c: Call, a: Argv) -> Reply:
    return c.store.zcard(a[1])


@command("zscore", 3)
def zscore(c: Call, a: Argv) -> Reply:
    return c.store.zscore(a[1], a[2])


@command("zmscore", -3)
def zmscore(c: Call, a: Argv) -> Reply:
    return c.store.zmscore(a[1], a[2:])


def _rank(c: Call, a: Argv, method: str) -> Reply:
    if len(a) > 4 or (len(a) == 4 and word(a[3]) != "WITHSCORE"):
        raise syntax()
    found = getattr(c.store, method)(a[1], a[2], withscore=len(a) == 4)
    if isinstance(found, tuple):
        return list(found)
    return found


@command("zrank", -3)
def zrank(c: Call, a: Argv) -> Reply:
    return _rank(c, a, "zrank")


@command("zrevrank", -3)
def zrevrank(c: Call, a: Argv) -> Reply:
    return _rank(c, a, "zrevrank")


def _pop(c: Call, a: Argv, method: str) -> Reply:
    if len(a) > 3:
        raise syntax()
    if len(a) == 2:
        return [x for pair in getattr(c.store, method)(a[1]) for x in pair]
    return list(getattr(c.store, method)(a[1], positive(a[2])))


@command("zpopmin", -2)
def zpopmin(c: Call, a: Argv) -> Reply:
    return _pop(c, a, "zpopmin")


@command("zpopmax", -2)
def zpopmax(c: Call, a: Argv) -> Reply:
    return _pop(c, a, "zpopmax")


def _check_sources(c: Call, keys: Argv) -> None:
    """WRONGTYPE for a source that is neither a sorted set nor a set."""
    if any(c.store.type(key) not in ("none", "zset", "set") for key in keys):
        raise wrong_type()


def _store(c: Call, a: Argv, method: str) -> Reply:
    count = integer(a[2])
    if count < 1:
        raise EngineError("InvalidArgument",
                          f"at least 1 input key is needed for '{method}' command")
    if count > len(a) - 3:
        raise syntax()
    keys = a[3:3 + count]
    try:
        weights, aggregate = _store_options(a[3 + count:], count, method)
    except EngineError:
        _check_sources(c, keys)  # Redis reads the sources before the options
        raise
    if method == "zdiffstore":
        return c.store.zdiffstore(a[1], keys)
    return getattr(c.store, method)(a[1], keys, weights=weights, aggregate=aggregate)


def _store_options(args: Argv, count: int, method: str) -> tuple[list[bytes] | None, str]:
    """[WEIGHTS w...] [AGGREGATE SUM|MIN|MAX], each checked where it stands, as Redis."""
    weights: list[bytes] | None = None
    aggregate = "SUM"
    i = 0
    while i < len(args):
        option = word(args[i])
        if method != "zdiffstore" and option == "WEIGHTS" and len(args) - i - 1 >= count:
            weights = args[i + 1:i + 1 + count]
            for weight in weights:
                try:
                    parse_double(weight)
                except EngineError:
                    raise EngineError("NotAFloat", "weight value is not a float") from None
            i += 1 + count
        elif method != "zdiffstore" and option == "AGGREGATE" and i + 1 < len(args):
            aggregate = word(args[i + 1])
            if aggregate not in ("SUM", "MIN", "MAX"):
                raise syntax()
            i += 2
        else:
            raise syntax()
    return weights, aggregate


@command("zunionstore", -4)
def zunionstore(c: Call, a: Argv) -> Reply:
    return _store(c, a, "zunionstore")


@command("zinterstore", -4)
def zinterstore(c: Call, a: Argv) -> Reply:
    return _store(c, a, "zinterstore")


@command("zdiffstore", -4)
def zdiffstore(c: Call, a: Argv) -> Reply:
    return _store(c, a, "zdiffstore")


@command("zscan", -3)
def zscan(c: Call, a: Argv) -> Reply:
    cursor = parse_cursor(a[2])
    match, count, _ = scan_options(a[3:])
    following, found = c.store.zscan(a[1], cursor, match=match, count=count)
    return [b"%d" % following, [x for m, s in found for x in (m, format_double(s))]]
