"""Differential test: random command sequences over every data type give the same replies
(and the same error texts) from CacheStore and from a real redis-server.

redis-server is started on a free loopback port with no persistence and killed by pid
afterwards; the test is skipped where it is not installed (the project's setup installs
it) or is not the 7.0 the store answers as. Random picks (SPOP, SRANDMEMBER, HRANDFIELD)
are sent only for more than there is, SCANs only with a COUNT that reads everything, and
unordered replies are compared sorted; RANDOMKEY and TTLs are left to the unit tests.
After each sequence a replica loaded from the key states must answer as the primary.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cache.local import key_states, load
from engine.cache.store import CacheStore
from engine.clock import ManualClock
from engine.errors import EngineError
from tests.reference_redis import needs_redis_server, reference_redis
from tests.unit.helpers_redis_dispatch import run

redis = pytest.importorskip("redis")

pytestmark = needs_redis_server

KEYS = [b"a", b"b", b"c"]
LEX = b"lz"  # only ever scored 0, so lex ranges are well defined
ITEMS = [b"1", b"2", b"10", b"-3", b"x", b"y", b"z", b"1.5", b"", b"v" * 65]  # 65: too long
# for a listpack, so hashes and sorted sets switch encoding as Redis's do
SCORES = [b"1", b"2", b"1.5", b"0.1", b"-inf", b"+inf", b"inf", b"-0", b"3e2", b"abc",
          b"1e400", b"-2.5"]
BOUNDS = [b"-inf", b"+inf", b"(1", b"1", b"(1.5", b"2", b"0", b"(", b"x", b"(-inf"]
LEX_BOUNDS = [b"-", b"+", b"[x", b"(x", b"[1", b"(10", b"[", b"y", b"[z"]
INTS = [b"-3", b"-2", b"-1", b"0", b"1", b"2", b"3"]  # parsing ints is the endpoint's
FLOATS = [b"1", b"0.1", b"-2.5", b"1e3", b"inf", b"abc", b"3.0e-2", b"10.5"]

key = st.sampled_from(KEYS)
item = st.sampled_from(ITEMS)
items = st.lists(item, min_size=1, max_size=4)
num = st.sampled_from(INTS)
score = st.sampled_from(SCORES)
bound = st.sampled_from(BOUNDS)
lexb = st.sampled_from(LEX_BOUNDS)
flt = st.sampled_from(FLOATS)


def cmd(*parts: object) -> st.SearchStrategy[list[bytes]]:
    """A command from literal words and strategies (a list strategy is spliced in)."""
    def build(values: tuple) -> list[bytes]:
        out: list[bytes] = []
        for v in values:
            out.extend(v if isinstance(v, list) else [v])
        return out
    return st.tuples(*(p if isinstance(p, st.SearchStrategy) else st.just(p)
                       for p in parts)).map(build)


def flags(*names: bytes) -> st.SearchStrategy[list[bytes]]:
    return st.lists(st.sampled_from(names), max_size=2, unique=True)


def _lpos_order(option: tuple[bytes, bytes]) -> int:
    """LPOS options in the order the store checks them (Redis checks them as sent)."""
    return [b"RANK", b"COUNT", b"MAXLEN"].index(option[0])


pairs = st.lists(st.tuples(item, item), min_size=1, max_size=3).map(
    lambda ps: [x for p in ps for x in p])
zpairs = st.lists(st.tuples(score, item), min_size=1, max_size=3).map(
    lambda ps: [x for p in ps for x in p])
limit = st.one_of(st.just([]), st.tuples(num, num).map(lambda t: [b"LIMIT", *t]))
zopts = st.tuples(st.sampled_from([[], [b"BYSCORE"], [b"BYLEX"]]), flags(b"REV", b"WITHSCORES"),
                  limit).map(lambda t: [*t[0], *t[1], *t[2]])
keylist = st.lists(key, min_size=1, max_size=3)
where = st.sampled_from([b"LEFT", b"RIGHT"])

COMMAND = st.one_of(
    # strings
    cmd(b"SET", key, item), cmd(b"SET", key, item, b"GET"), cmd(b"GET", key),
    cmd(b"APPEND", key, item), cmd(b"STRLEN", key), cmd(b"GETRANGE", key, num, num),
    cmd(b"SETRANGE", key, st.sampled_from([b"0", b"2", b"-1"]), item),
    cmd(b"INCRBY", key, num), cmd(b"INCRBYFLOAT", key, flt), cmd(b"GETDEL", key),
    cmd(b"MSETNX", key, item, key, item),
    # keys
    cmd(b"DEL", keylist), cmd(b"EXISTS", keylist), cmd(b"TYPE", key),
    cmd(b"RENAME", key, key), cmd(b"RENAMENX", key, key), cmd(b"COPY", key, key),
    cmd(b"COPY", key, key, b"REPLACE"), cmd(b"EXPIRE", key, b"1000"), cmd(b"PERSIST", key),
    cmd(b"DBSIZE"), cmd(b"KEYS", st.sampled_from([b"*", b"[ab]", b"?"])),
    cmd(b"OBJECT", b"ENCODING", key),
    # hashes
    cmd(b"HSET", key, pairs), cmd(b"HSETNX", key, item, item), cmd(b"HGET", key, item),
    cmd(b"HMGET", key, items), cmd(b"HDEL", key, items), cmd(b"HLEN", key),
    cmd(b"HEXISTS", key, item), cmd(b"HKEYS", key), cmd(b"HVALS", key),
    cmd(b"HGETALL", key), cmd(b"HINCRBY", key, item, num),
    cmd(b"HINCRBYFLOAT", key, item, flt), cmd(b"HSTRLEN", key, item),
    # lists
    cmd(st.sampled_from([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]), key, items),
    cmd(st.sampled_from([b"LPOP", b"RPOP"]), key),
    cmd(st.sampled_from([b"LPOP", b"RPOP"]), key, num),
    cmd(b"LLEN", key), cmd(b"LRANGE", key, num, num), cmd(b"LINDEX", key, num),
    cmd(b"LSET", key, num, item), cmd(b"LINSERT", key, st.sampled_from([b"BEFORE", b"AFTER"]),
                                      item, item),
    cmd(b"LREM", key, num, item), cmd(b"LTRIM", key, num, num),
    cmd(b"LPOS", key, item, st.lists(st.tuples(st.sampled_from([b"RANK", b"COUNT", b"MAXLEN"]),
                                               num), max_size=2, unique_by=lambda t: t[0]
                                     ).map(lambda ts: [x for t in sorted(ts, key=_lpos_order)
                                                       for x in t])),
    cmd(b"LMOVE", key, key, where, where),
    cmd(b"LMPOP", st.just(b"2"), key, key, where),
    cmd(b"LMPOP", st.just(b"1"), key, where, b"COUNT", num),
    # sets
    cmd(b"SADD", key, items), cmd(b"SREM", key, items), cmd(b"SMEMBERS", key),
    cmd(b"SISMEMBER", key, item), cmd(b"SMISMEMBER", key, items), cmd(b"SCARD", key),
    cmd(b"SMOVE", key, key, item),
    cmd(st.sampled_from([b"SINTER", b"SUNION", b"SDIFF"]), keylist),
    cmd(st.sampled_from([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"]), key, keylist),
    cmd(b"SINTERCARD", st.just(b"2"), key, key),
    cmd(b"SINTERCARD", st.just(b"2"), key, key, b"LIMIT", num),
    # sorted sets
    cmd(b"ZADD", key, flags(b"NX", b"XX", b"GT", b"LT", b"CH"), zpairs),
    cmd(b"ZADD", key, flags(b"NX", b"XX", b"GT", b"LT"), b"INCR", score, item),
    cmd(b"ZREM", key, items), cmd(b"ZCARD", key), cmd(b"ZSCORE", key, item),
    cmd(b"ZMSCORE", key, items), cmd(b"ZINCRBY", key, score, item),
    cmd(b"ZRANK", key, item), cmd(b"ZREVRANK", key, item),
    cmd(b"ZCOUNT", key, bound, bound),
    cmd(b"ZRANGE", key, num, num, flags(b"REV", b"WITHSCORES")),
    cmd(b"ZRANGE", key, bound, bound, b"BYSCORE", flags(b"REV", b"WITHSCORES"), limit),
    cmd(b"ZRANGE", key, bound, bound, zopts),
    cmd(b"ZRANGEBYSCORE", key, bound, bound, flags(b"WITHSCORES")),
    cmd(b"ZREVRANGEBYSCORE", key, bound, bound, flags(b"WITHSCORES"), limit),
    cmd(b"ZRANGESTORE", key, key, num, num),
    cmd(b"ZRANGESTORE", key, key, bound, bound, b"BYSCORE", flags(b"REV"), limit),
    cmd(st.sampled_from([b"ZPOPMIN", b"ZPOPMAX"]), key),
    cmd(st.sampled_from([b"ZPOPMIN", b"ZPOPMAX"]), key, num),
    cmd(b"ZREMRANGEBYRANK", key, num, num), cmd(b"ZREMRANGEBYSCORE", key, bound, bound),
    cmd(st.sampled_from([b"ZUNIONSTORE", b"ZINTERSTORE"]), key, st.just(b"2"), key, key,
        st.one_of(st.just([]), st.tuples(flt, flt).map(lambda t: [b"WEIGHTS", *t])),
        st.one_of(st.just([]), st.sampled_from([b"SUM", b"MIN", b"MAX", b"AVG"]).map(
            lambda a: [b"AGGREGATE", a]))),
    cmd(b"ZDIFFSTORE", key, st.just(b"2"), key, key),
    # lexicographic ranges on a key whose scores are all 0
    cmd(b"ZADD", LEX, b"0", item), cmd(b"ZREM", LEX, item),
    cmd(b"ZRANGEBYLEX", LEX, lexb, lexb, limit), cmd(b"ZLEXCOUNT", LEX, lexb, lexb),
    cmd(b"ZRANGE", LEX, lexb, lexb, b"BYLEX", flags(b"REV"), limit),
    cmd(b"ZREMRANGEBYLEX", LEX, lexb, lexb),
    # whole answers only: a COUNT past the size reads everything in one call, and picks
    # of more than there is are everything, so Redis's order and chance do not matter
    cmd(b"SCAN", b"0", b"COUNT", b"1000", st.sampled_from(
        [[], [b"MATCH", b"[ab]*"], [b"TYPE", b"zset"], [b"TYPE", b"string"]])),
    cmd(st.sampled_from([b"HSCAN", b"SSCAN", b"ZSCAN"]), key, b"0", b"COUNT", b"1000",
        st.sampled_from([[], [b"MATCH", b"*1*"]])),
    cmd(b"HRANDFIELD", key, b"100", st.sampled_from([[], [b"WITHVALUES"]])),
    cmd(st.sampled_from([b"SRANDMEMBER", b"SPOP"]), key, b"100"),
    cmd(b"GETEX", key, b"PERSIST"),
)

UNORDERED = {b"SMEMBERS", b"SINTER", b"SUNION", b"SDIFF", b"KEYS", b"HKEYS", b"HVALS",
             b"SRANDMEMBER", b"SPOP", b"HRANDFIELD"}


PAIRED = {b"HGETALL", b"HSCAN", b"ZSCAN", b"HRANDFIELD"}


def normalise(argv: list[bytes], reply: object) -> object:
    name = argv[0].upper()
    if name in (b"SCAN", b"HSCAN", b"SSCAN", b"ZSCAN") and isinstance(reply, list):
        return [reply[0], normalise([b"SMEMBERS" if name in (b"SCAN", b"SSCAN") else
                                     b"HGETALL"], reply[1])]
    if name in UNORDERED and isinstance(reply, list):
        return sorted(reply)
    if name in PAIRED and isinstance(reply, list) and (
            name != b"HRANDFIELD" or len(argv) > 3):
        return sorted(zip(reply[::2], reply[1::2], strict=True))
    return reply


@pytest.fixture(scope="module")
def server() -> Iterator[object]:
    with reference_redis() as port:
        conn = redis.Connection(host="127.0.0.1", port=port, socket_timeout=5, protocol=2)
        try:
            conn.send_command("INFO", "server")
            info = conn.read_response().decode()
            version = next(line.split(":")[1] for line in info.splitlines()
                           if line.startswith("redis_version:"))
            if not version.startswith("7.0."):  # 7.2 changed how doubles are written
                pytest.skip(f"the store answers as Redis 7.0 does; this redis-server is "
                            f"{version}")
            yield conn
        finally:
            conn.disconnect()


def redis_reply(conn: object, argv: list[bytes]) -> tuple[str, object]:
    conn.send_command(*argv)  # type: ignore[attr-defined]
    try:
        return "ok", normalise(argv, conn.read_response())  # type: ignore[attr-defined]
    except redis.ResponseError as exc:
        return "error", str(exc)


def store_reply(store: CacheStore, argv: list[bytes]) -> tuple[str, object]:
    try:
        return "ok", normalise(argv, run(store, argv))
    except EngineError as exc:
        return "error", exc.message


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=st.lists(COMMAND, min_size=1, max_size=40))
def test_random_commands_reply_as_redis_does(server: object, commands: list[list[bytes]]
                                             ) -> None:
    clock = ManualClock()
    store = CacheStore(64 * 1024 * 1024, clock)
    redis_reply(server, [b"FLUSHALL"])
    for argv in commands:
        expected = redis_reply(server, argv)
        actual = store_reply(store, argv)
        assert actual == expected, (argv, actual, expected)
    # what the replica would hold after copying every key answers the same
    replica = CacheStore(64 * 1024 * 1024, clock)
    load(replica, key_states(store, store.stored_keys()))
    assert dump(replica) == dump(store)
    assert replica.stats().bytes_used == store.stats().bytes_used


def dump(store: CacheStore) -> dict[bytes, tuple]:
    """Every key's type, encoding, TTL and contents, as Redis commands read them."""
    out = {}
    for key in store.keys(b"*"):
        kind = store.type(key)
        read = {"string": [b"GET", key], "hash": [b"HGETALL", key],
                "list": [b"LRANGE", key, b"0", b"-1"], "set": [b"SMEMBERS", key],
                "zset": [b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]}[kind]
        out[key] = (kind, store.object_encoding(key), store.pttl(key),
                    store_reply(store, read))
    return out
