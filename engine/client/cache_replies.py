"""Replies of the generic ``Cache.Command`` RPC as redis-py returns them (its RESP2
callbacks, ``decode_responses=False``): the ``CacheValue`` message to plain values, then
the per-command conversion redis-py applies (HGETALL -> dict, SMEMBERS -> set, ZRANGE
WITHSCORES -> [(member, float)], EXPIRE -> bool, ...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.v1 import cache_pb2 as pb


def plain(value: pb.CacheValue) -> Any:
    """RESP2's shape: maps and (member, score) pairs flattened, sets as lists, simple
    strings as bytes; doubles are floats already."""
    kind = value.WhichOneof("kind")
    if kind in ("array", "pair", "set", "map"):
        out: list[Any] = []
        for item in getattr(value, kind).items:
            if item.WhichOneof("kind") == "pair":
                out += [plain(x) for x in item.pair.items]
            else:
                out.append(plain(item))
        return out
    if kind == "simple":
        return value.simple.encode()
    if kind in (None, "null"):
        return None
    return getattr(value, kind)


def _pairs(flat: list[Any]) -> list[tuple[Any, float]]:
    return [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]


def _float_or_none(r: Any) -> float | None:
    return None if r is None else float(r)


def _scores(r: Any, withscores: bool = False, **_: Any) -> Any:
    return _pairs(r) if withscores else r


def _rank(r: Any, withscore: bool = False, **_: Any) -> Any:
    return [r[0], float(r[1])] if withscore and r is not None else r


def _zadd(r: Any, incr: bool = False, **_: Any) -> Any:
    return _float_or_none(r) if incr else r


def _scan(r: Any, **_: Any) -> tuple[int, list[Any]]:
    return int(r[0]), r[1]


def _hscan(r: Any, **_: Any) -> tuple[int, dict[Any, Any]]:
    return int(r[0]), dict(zip(r[1][0::2], r[1][1::2], strict=True))


def _zscan(r: Any, **_: Any) -> tuple[int, list[tuple[Any, float]]]:
    return int(r[0]), _pairs(r[1])


def _ok(r: Any, **_: Any) -> bool:
    return r == b"OK"


CALLBACKS: dict[str, Callable[..., Any]] = {
    "HGETALL": lambda r, **_: dict(zip(r[0::2], r[1::2], strict=True)),
    **dict.fromkeys(("SMEMBERS", "SINTER", "SUNION", "SDIFF"), lambda r, **_: set(r)),
    **dict.fromkeys(("ZRANGE", "ZREVRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE"), _scores),
    **dict.fromkeys(("ZPOPMIN", "ZPOPMAX"), lambda r, **_: _pairs(r)),
    **dict.fromkeys(("ZRANK", "ZREVRANK"), _rank),
    **dict.fromkeys(("ZSCORE", "ZINCRBY"), lambda r, **_: _float_or_none(r)),
    "ZMSCORE": lambda r, **_: [_float_or_none(x) for x in r],
    "ZADD": _zadd,
    **dict.fromkeys(("SCAN", "SSCAN"), _scan),
    "HSCAN": _hscan,
    "ZSCAN": _zscan,
    **dict.fromkeys(("INCRBYFLOAT", "HINCRBYFLOAT"), lambda r, **_: float(r)),
    **dict.fromkeys(("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "HEXISTS", "MSETNX",
                     "PERSIST", "RENAMENX", "SMOVE", "SETNX", "COPY", "HMSET", "SETEX",
                     "PSETEX"), lambda r, **_: bool(r)),
    **dict.fromkeys(("LSET", "LTRIM", "RENAME", "MSET"), _ok),
}


def convert(command: str, reply: pb.CacheValue, options: dict[str, Any]) -> Any:
    """``reply`` as redis-py's method for ``command`` returns it."""
    value = plain(reply)
    callback = CALLBACKS.get(command.upper())
    return value if callback is None else callback(value, **options)
