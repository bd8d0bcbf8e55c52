"""redis-py's methods for hashes, lists, sets, sorted sets and the remaining string and
key commands, each one ``Cache.Command`` call (argv in, Redis's reply out) converted as
redis-py converts it (cache_replies.py). Mixed into :class:`engine.client.cache.CacheClient`,
which encodes the arguments as redis-py does and sends them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

Arg = Any  # bytes | str | int | float | memoryview, encoded by execute_command


def _list(keys: Any, args: Iterable[Any] = ()) -> list[Any]:
    """redis-py's ``list_or_args``: one key, or an iterable of keys, plus more keys."""
    if isinstance(keys, bytes | str | memoryview):
        found = [keys]
    else:
        try:
            found = list(keys)
        except TypeError:
            found = [keys]
    return found + list(args)


def _limit(start: int | None, num: int | None) -> list[Arg]:
    if (start is None) != (num is None):
        raise ValueError("``start`` and ``num`` must both be specified")
    return [] if start is None else ["LIMIT", start, num]


class CacheTypeCommands:
    """The data-type half of the cache client (redis-py's names and return values)."""

    def execute_command(self, *args: Arg, **options: Any) -> Any:  # CacheClient's
        raise NotImplementedError

    def _refuse(self, message: str, op: str) -> Exception:  # CacheClient's: DataError
        raise NotImplementedError

    # -- strings and keys ----------------------------------------------------------------

    def getdel(self, name: Arg) -> bytes | None:
        return self.execute_command("GETDEL", name)

    def getex(self, name: Arg, ex: int | None = None, px: int | None = None,
              exat: int | None = None, pxat: int | None = None,
              persist: bool = False) -> bytes | None:
        pieces: list[Arg] = ["GETEX", name]
        for option, value in (("EX", ex), ("PX", px), ("EXAT", exat), ("PXAT", pxat)):
            if value is not None:
                pieces += [option, value]
        if persist:
            pieces.append("PERSIST")
        return self.execute_command(*pieces)

    def getrange(self, key: Arg, start: int, end: int) -> bytes:
        return self.execute_command("GETRANGE", key, start, end)

    def setrange(self, name: Arg, offset: int, value: Arg) -> int:
        return self.execute_command("SETRANGE", name, offset, value)

    def append(self, key: Arg, value: Arg) -> int:
        return self.execute_command("APPEND", key, value)

    def strlen(self, name: Arg) -> int:
        return self.execute_command("STRLEN", name)

    def incrbyfloat(self, name: Arg, amount: float = 1.0) -> float:
        return self.execute_command("INCRBYFLOAT", name, amount)

    def msetnx(self, mapping: Mapping[Arg, Arg]) -> bool:
        return self.execute_command("MSETNX", *[x for kv in mapping.items() for x in kv])

    def setnx(self, name: Arg, value: Arg) -> bool:
        return self.execute_command("SETNX", name, value)

    def getset(self, name: Arg, value: Arg) -> bytes | None:
        return self.execute_command("GETSET", name, value)

    def type(self, name: Arg) -> bytes:
        return self.execute_command("TYPE", name)

    def rename(self, src: Arg, dst: Arg) -> bool:
        return self.execute_command("RENAME", src, dst)

    def renamenx(self, src: Arg, dst: Arg) -> bool:
        return self.execute_command("RENAMENX", src, dst)

    def persist(self, name: Arg) -> bool:
        return self.execute_command("PERSIST", name)

    def copy(self, source: Arg, destination: Arg, destination_db: int | None = None,
             replace: bool = False) -> bool:
        pieces: list[Arg] = ["COPY", source, destination]
        if destination_db is not None:
            pieces += ["DB", destination_db]
        if replace:
            pieces.append("REPLACE")
        return self.execute_command(*pieces)

    def unlink(self, *names: Arg) -> int:
        return self.execute_command("UNLINK", *names)

    def keys(self, pattern: Arg = "*") -> list[bytes]:
        return self.execute_command("KEYS", pattern)

    def scan(self, cursor: int = 0, match: Arg | None = None, count: int | None = None,
             _type: str | None = None) -> tuple[int, list[bytes]]:
        pieces: list[Arg] = ["SCAN", cursor]
        if match is not None:
            pieces += ["MATCH", match]
        if count is not None:
            pieces += ["COUNT", count]
        if _type is not None:
            pieces += ["TYPE", _type]
        return self.execute_command(*pieces)

    def scan_iter(self, match: Arg | None = None, count: int | None = None,
                  _type: str | None = None) -> Iterator[bytes]:
        cursor = None
        while cursor != 0:
            cursor, found = self.scan(cursor or 0, match=match, count=count, _type=_type)
            yield from found

    def randomkey(self) -> bytes | None:
        return self.execute_command("RANDOMKEY")

    def dbsize(self) -> int:
        return self.execute_command("DBSIZE")

    def object(self, infotype: str, key: Arg) -> Any:
        return self.execute_command("OBJECT", infotype, key)

    def memory_usage(self, key: Arg, samples: int | None = None) -> int | None:
        extra: list[Arg] = [] if samples is None else ["SAMPLES", samples]
        return self.execute_command("MEMORY", "USAGE", key, *extra)

    # -- hashes ---------------------------------------------------------------------------

    def hset(self, name: Arg, key: Arg | None = None, value: Arg | None = None,
             mapping: Mapping[Arg, Arg] | None = None,
             items: list[Arg] | None = None) -> int:
        if key is None and not mapping and not items:
            raise self._refuse("'hset' with no key value pairs", "Command")
        pieces: list[Arg] = list(items or [])
        if key is not None:
            pieces += [key, value]
        for pair in (mapping or {}).items():
            pieces += list(pair)
        return self.execute_command("HSET", name, *pieces)

    def hsetnx(self, name: Arg, key: Arg, value: Arg) -> int:
        return self.execute_command("HSETNX", name, key, value)

    def hmset(self, name: Arg, mapping: Mapping[Arg, Arg]) -> bool:
        return self.execute_command("HMSET", name, *[x for kv in mapping.items() for x in kv])

    def hget(self, name: Arg, key: Arg) -> bytes | None:
        return self.execute_command("HGET", name, key)

    def hmget(self, name: Arg, keys: Any, *args: Arg) -> list[bytes | None]:
        return self.execute_command("HMGET", name, *_list(keys, args))

    def hgetall(self, name: Arg) -> dict[bytes, bytes]:
        return self.execute_command("HGETALL", name)

    def hdel(self, name: Arg, *keys: Arg) -> int:
        return self.execute_command("HDEL", name, *keys)

    def hexists(self, name: Arg, key: Arg) -> bool:
        return self.execute_command("HEXISTS", name, key)

    def hlen(self, name: Arg) -> int:
        return self.execute_command("HLEN", name)

    def hstrlen(self, name: Arg, key: Arg) -> int:
        return self.execute_command("HSTRLEN", name, key)

    def hkeys(self, name: Arg) -> list[bytes]:
        return self.execute_command("HKEYS", name)

    def hvals(self, name: Arg) -> list[bytes]:
        return self.execute_command("HVALS", name)

    def hincrby(self, name: Arg, key: Arg, amount: int = 1) -> int:
        return self.execute_command("HINCRBY", name, key, amount)

    def hincrbyfloat(self, name: Arg, key: Arg, amount: float = 1.0) -> float:
        return self.execute_command("HINCRBYFLOAT", name, key, amount)

    def hrandfield(self, key: Arg, count: int | None = None,
                   withvalues: bool = False) -> Any:
        pieces: list[Arg] = [] if count is None else [count]
        if withvalues:
            pieces.append("WITHVALUES")
        return self.execute_command("HRANDFIELD", key, *pieces)

    def hscan(self, name: Arg, cursor: int = 0, match: Arg | None = None,
              count: int | None = None) -> tuple[int, dict[bytes, bytes]]:
        return self.execute_command("HSCAN", name, cursor, *self._scan_args(match, count))

    def hscan_iter(self, name: Arg, match: Arg | None = None,
                   count: int | None = None) -> Iterator[tuple[bytes, bytes]]:
        cursor = None
        while cursor != 0:
            cursor, data = self.hscan(name, cursor or 0, match=match, count=count)
            yield from data.items()

    @staticmethod
    def _scan_args(match: Arg | None, count: int | None) -> list[Arg]:
        pieces: list[Arg] = []
        if match is not None:
            pieces += ["MATCH", match]
        if count is not None:
            pieces += ["COUNT", count]
        return pieces

    # -- lists ----------------------------------------------------------------------------

    def lpush(self, name: Arg, *values: Arg) -> int:
        return self.execute_command("LPUSH", name, *values)

    def rpush(self, name: Arg, *values: Arg) -> int:
        return self.execute_command("RPUSH", name, *values)

    def lpushx(self, name: Arg, *values: Arg) -> int:
        return self.execute_command("LPUSHX", name, *values)

    def rpushx(self, name: Arg, *values: Arg) -> int:
        return self.execute_command("RPUSHX", name, *values)

    def lpop(self, name: Arg, count: int | None = None) -> Any:
        return self.execute_command("LPOP", name, *([] if count is None else [count]))

    def rpop(self, name: Arg, count: int | None = None) -> Any:
        return self.execute_command("RPOP", name, *([] if count is None else [count]))

    def llen(self, name: Arg) -> int:
        return self.execute_command("LLEN", name)

    def lrange(self, name: Arg, start: int, end: int) -> list[bytes]:
        return self.execute_command("LRANGE", name, start, end)

    def lindex(self, name: Arg, index: int) -> bytes | None:
        return self.execute_command("LINDEX", name, index)

    def lset(self, name: Arg, index: int, value: Arg) -> bool:
        return self.execute_command("LSET", name, index, value)

    def linsert(self, name: Arg, where: str, refvalue: Arg, value: Arg) -> int:
        return self.execute_command("LINSERT", name, where, refvalue, value)

    def lrem(self, name: Arg, count: int, value: Arg) -> int:
        return self.execute_command("LREM", name, count, value)

    def ltrim(self, name: Arg, start: int, end: int) -> bool:
        return self.execute_command("LTRIM", name, start, end)

    def lpos(self, name: Arg, value: Arg, rank: int | None = None,
             count: int | None = None, maxlen: int | None = None) -> Any:
        pieces: list[Arg] = ["LPOS", name, value]
        for option, given in (("RANK", rank), ("COUNT", count), ("MAXLEN", maxlen)):
            if given is not None:
                pieces += [option, given]
        return self.execute_command(*pieces)

    def lmove(self, first_list: Arg, second_list: Arg, src: str = "LEFT",
              dest: str = "RIGHT") -> bytes | None:
        return self.execute_command("LMOVE", first_list, second_list, src, dest)

    def rpoplpush(self, src: Arg, dst: Arg) -> bytes | None:
        return self.execute_command("RPOPLPUSH", src, dst)

    def lmpop(self, num_keys: int, *args: Arg, direction: str, count: int = 1) -> Any:
        extra: list[Arg] = ["COUNT", count] if count != 1 else []
        return self.execute_command("LMPOP", num_keys, *args, direction, *extra)

    # -- sets -----------------------------------------------------------------------------

    def sadd(self, name: Arg, *values: Arg) -> int:
        return self.execute_command("SADD", name, *values)

    def srem(self, name: Arg, *values: Arg) -> int:
        return self.execute_command("SREM", name, *values)

    def smembers(self, name: Arg) -> set[bytes]:
        return self.execute_command("SMEMBERS", name)

    def sismember(self, name: Arg, value: Arg) -> int:
        return self.execute_command("SISMEMBER", name, value)

    def smismember(self, name: Arg, values: Any, *args: Arg) -> list[int]:
        return self.execute_command("SMISMEMBER", name, *_list(values, args))

    def scard(self, name: Arg) -> int:
        return self.execute_command("SCARD", name)

    def spop(self, name: Arg, count: int | None = None) -> Any:
        return self.execute_command("SPOP", name, *([] if count is None else [count]))

    def srandmember(self, name: Arg, number: int | None = None) -> Any:
        return self.execute_command("SRANDMEMBER", name, *([] if number is None else [number]))

    def smove(self, src: Arg, dst: Arg, value: Arg) -> bool:
        return self.execute_command("SMOVE", src, dst, value)

    def sinter(self, keys: Any, *args: Arg) -> set[bytes]:
        return self.execute_command("SINTER", *_list(keys, args))

    def sunion(self, keys: Any, *args: Arg) -> set[bytes]:
        return self.execute_command("SUNION", *_list(keys, args))

    def sdiff(self, keys: Any, *args: Arg) -> set[bytes]:
        return self.execute_command("SDIFF", *_list(keys, args))

    def sinterstore(self, dest: Arg, keys: Any, *args: Arg) -> int:
        return self.execute_command("SINTERSTORE", dest, *_list(keys, args))

    def sunionstore(self, dest: Arg, keys: Any, *args: Arg) -> int:
        return self.execute_command("SUNIONSTORE", dest, *_list(keys, args))

    def sdiffstore(self, dest: Arg, keys: Any, *args: Arg) -> int:
        return self.execute_command("SDIFFSTORE", dest, *_list(keys, args))

    def sintercard(self, numkeys: int, keys: list[Arg], limit: int = 0) -> int:
        return self.execute_command("SINTERCARD", numkeys, *keys, "LIMIT", limit)

    def sscan(self, name: Arg, cursor: int = 0, match: Arg | None = None,
              count: int | None = None) -> tuple[int, list[bytes]]:
        return self.execute_command("SSCAN", name, cursor, *self._scan_args(match, count))

    def sscan_iter(self, name: Arg, match: Arg | None = None,
                   count: int | None = None) -> Iterator[bytes]:
        cursor = None
        while cursor != 0:
            cursor, found = self.sscan(name, cursor or 0, match=match, count=count)
            yield from found

    # -- sorted sets ----------------------------------------------------------------------

    def zadd(self, name: Arg, mapping: Mapping[Arg, Arg], nx: bool = False,
             xx: bool = False, ch: bool = False, incr: bool = False, gt: bool = False,
             lt: bool = False) -> Any:
        flags = [f for f, on in (("NX", nx), ("XX", xx), ("GT", gt), ("LT", lt),
                                 ("CH", ch), ("INCR", incr)) if on]
        pairs = [x for member, score in mapping.items() for x in (score, member)]
        return self.execute_command("ZADD", name, *flags, *pairs, incr=incr)

    def zincrby(self, name: Arg, amount: float, value: Arg) -> float:
        return self.execute_command("ZINCRBY", name, amount, value)

    def zrem(self, name: Arg, *values: Arg) -> int:
        return self.execute_command("ZREM", name, *values)

    def zcard(self, name: Arg) -> int:
        return self.execute_command("ZCARD", name)

    def zscore(self, name: Arg, value: Arg) -> float | None:
        return self.execute_command("ZSCORE", name, value)

    def zmscore(self, key: Arg, members: list[Arg]) -> list[float | None]:
        return self.execute_command("ZMSCORE", key, *members)

    def zrank(self, name: Arg, value: Arg, withscore: bool = False) -> Any:
        extra = ["WITHSCORE"] if withscore else []
        return self.execute_command("ZRANK", name, value, *extra, withscore=withscore)

    def zrevrank(self, name: Arg, value: Arg, withscore: bool = False) -> Any:
        extra = ["WITHSCORE"] if withscore else []
        return self.execute_command("ZREVRANK", name, value, *extra, withscore=withscore)

    def zcount(self, name: Arg, min: Arg, max: Arg) -> int:
        return self.execute_command("ZCOUNT", name, min, max)

    def zlexcount(self, name: Arg, min: Arg, max: Arg) -> int:
        return self.execute_command("ZLEXCOUNT", name, min, max)

    def zrange(self, name: Arg, start: Arg, end: Arg, desc: bool = False,
               withscores: bool = False, score_cast_func: type = float,
               byscore: bool = False, bylex: bool = False, offset: int | None = None,
               num: int | None = None) -> Any:
        if not byscore and not bylex and offset is None and num is None and desc:
            return self.zrevrange(name, start, end, withscores)
        pieces: list[Arg] = ["ZRANGE", name, start, end]
        if byscore:
            pieces.append("BYSCORE")
        if bylex:
            pieces.append("BYLEX")
        if desc:
            pieces.append("REV")
        pieces += _limit(offset, num)
        if withscores:
            pieces.append("WITHSCORES")
        return self.execute_command(*pieces, withscores=withscores)

    def zrevrange(self, name: Arg, start: int, end: int, withscores: bool = False,
                  score_cast_func: type = float) -> Any:
        extra = ["WITHSCORES"] if withscores else []
        return self.execute_command("ZREVRANGE", name, start, end, *extra,
                                    withscores=withscores)

    def zrangebyscore(self, name: Arg, min: Arg, max: Arg,
                      start: int | None = None, num: int | None = None,
                      withscores: bool = False, score_cast_func: type = float) -> Any:
        extra = _limit(start, num) + (["WITHSCORES"] if withscores else [])
        return self.execute_command("ZRANGEBYSCORE", name, min, max, *extra,
                                    withscores=withscores)

    def zrevrangebyscore(self, name: Arg, max: Arg, min: Arg,
                         start: int | None = None, num: int | None = None,
                         withscores: bool = False, score_cast_func: type = float) -> Any:
        extra = _limit(start, num) + (["WITHSCORES"] if withscores else [])
        return self.execute_command("ZREVRANGEBYSCORE", name, max, min, *extra,
                                    withscores=withscores)

    def zrangebylex(self, name: Arg, min: Arg, max: Arg,
                    start: int | None = None, num: int | None = None) -> list[bytes]:
        return self.execute_command("ZRANGEBYLEX", name, min, max, *_limit(start, num))

    def zrevrangebylex(self, name: Arg, max: Arg, min: Arg,
                       start: int | None = None, num: int | None = None) -> list[bytes]:
        return self.execute_command("ZREVRANGEBYLEX", name, max, min, *_limit(start, num))

    def zrangestore(self, dest: Arg, name: Arg, start: Arg, end: Arg,
                    byscore: bool = False, bylex: bool = False, desc: bool = False,
                    offset: int | None = None, num: int | None = None) -> int:
        pieces: list[Arg] = ["ZRANGESTORE", dest, name, start, end]
        pieces += [w for w, on in (("BYSCORE", byscore), ("BYLEX", bylex), ("REV", desc))
                   if on]
        return self.execute_command(*pieces, *_limit(offset, num))

    def zpopmin(self, name: Arg, count: int | None = None) -> list[tuple[bytes, float]]:
        return self.execute_command("ZPOPMIN", name, *([] if count is None else [count]))

    def zpopmax(self, name: Arg, count: int | None = None) -> list[tuple[bytes, float]]:
        return self.execute_command("ZPOPMAX", name, *([] if count is None else [count]))

    def zremrangebyrank(self, name: Arg, min: int, max: int) -> int:
        return self.execute_command("ZREMRANGEBYRANK", name, min, max)

    def zremrangebyscore(self, name: Arg, min: Arg, max: Arg) -> int:
        return self.execute_command("ZREMRANGEBYSCORE", name, min, max)

    def zremrangebylex(self, name: Arg, min: Arg, max: Arg) -> int:
        return self.execute_command("ZREMRANGEBYLEX", name, min, max)

    def _zstore(self, command: str, dest: Arg, keys: Any, aggregate: str | None) -> int:
        weights: list[Arg] = []
        if isinstance(keys, Mapping):
            keys, weights = list(keys.keys()), list(keys.values())
        pieces: list[Arg] = [command, dest, len(keys), *keys]
        if weights:
            pieces += ["WEIGHTS", *weights]
        if aggregate is not None:
            pieces += ["AGGREGATE", aggregate]
        return self.execute_command(*pieces)

    def zunionstore(self, dest: Arg, keys: Any, aggregate: str | None = None) -> int:
        return self._zstore("ZUNIONSTORE", dest, keys, aggregate)

    def zinterstore(self, dest: Arg, keys: Any, aggregate: str | None = None) -> int:
        return self._zstore("ZINTERSTORE", dest, keys, aggregate)

    def zdiffstore(self, dest: Arg, keys: list[Arg]) -> int:
        return self.execute_command("ZDIFFSTORE", dest, len(keys), *keys)

    def zscan(self, name: Arg, cursor: int = 0, match: Arg | None = None,
              count: int | None = None, score_cast_func: type = float) -> Any:
        return self.execute_command("ZSCAN", name, cursor, *self._scan_args(match, count))

    def zscan_iter(self, name: Arg, match: Arg | None = None,
                   count: int | None = None) -> Iterator[tuple[bytes, float]]:
        cursor = None
        while cursor != 0:
            cursor, found = self.zscan(name, cursor or 0, match=match, count=count)
            yield from found
