"""Differential property test (issue 18): random command sequences over every data type,
transactions and WATCH, sent to a real `engine serve` through its RESP endpoint and to a
real redis-server 7.0, give the same replies (errors compared by their text), in RESP2
and in RESP3.

A hypothesis state machine: each step is one command, a MULTI/EXEC block (optionally with
a command refused when queued, so EXEC answers EXECABORT) or a WATCH whose key another
connection may write before EXEC. Keys are few so types collide; TTLs are long (hours)
so nothing expires during a run, and EXPIRE's GT/LT compare only absolute times (two
relative TTLs set a millisecond apart compare differently on each server). Replies whose
order or content Redis leaves to chance are left out (SPOP, SRANDMEMBER, HRANDFIELD,
RANDOMKEY, SCAN cursors) or compared as sets; TTLs by their sign. A failure prints the
sequence of steps that reproduces it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from redis._parsers import _RESP2Parser
from reference_redis import needs_redis_server, reference_redis

pytestmark = needs_redis_server

SETTINGS = settings(max_examples=100, stateful_step_count=40, deadline=None,
                    derandomize=False, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow])

KEYS = [b"a", b"b", b"c"]
LEX = b"lz"  # only ever scored 0, so lex ranges are well defined (Redis: unspecified else)
VALUES = [b"1", b"10", b"-3", b"x", b"yz", b"1.5", b""]
FIELDS = [b"f1", b"f2", b"f3"]
MEMBERS = [b"m1", b"m2", b"m3", b"1", b"2"]
INTS = [b"0", b"1", b"-1", b"2", b"3", b"-2", b"10", b"x", b"1.5", b"9223372036854775807"]
COUNTS = [b"0", b"1", b"2", b"5", b"-1", b"x"]
FLOATS = [b"1", b"0.5", b"-2.25", b"1e3", b"x", b"inf", b"3.0e-2"]
SCORES = [b"1", b"2", b"1.5", b"-1", b"0", b"+inf", b"-inf", b"x"]
BOUNDS = [b"-inf", b"+inf", b"0", b"1", b"(1", b"1.5", b"(2", b"x"]
LEX_BOUNDS = [b"-", b"+", b"[m1", b"(m2", b"[2", b"m1", b"(m"]
# relative TTLs far apart (seconds), and absolute times years apart (Unix seconds)
RELATIVE = [b"100000", b"1000000", b"-1", b"x", b"9223372036854775807"]
ABSOLUTE = [b"3000000000", b"3500000000", b"4000000000", b"1"]

key = st.sampled_from(KEYS)
keys = st.lists(key, max_size=3)  # none: a wrong number of arguments
value = st.sampled_from(VALUES)
values = st.lists(value, max_size=3)
field = st.sampled_from(FIELDS)
member = st.sampled_from(MEMBERS)
members = st.lists(member, max_size=3)
num = st.sampled_from(INTS)
count = st.sampled_from(COUNTS)
flt = st.sampled_from(FLOATS)
score = st.sampled_from(SCORES)
bound = st.sampled_from(BOUNDS)
lexb = st.sampled_from(LEX_BOUNDS)
where = st.sampled_from([b"LEFT", b"RIGHT"])


def cmd(*parts: object) -> st.SearchStrategy[list[bytes]]:
    """A command from literal words and strategies (a list strategy is spliced in)."""
    def build(found: tuple) -> list[bytes]:
        out: list[bytes] = []
        for v in found:
            out.extend(v if isinstance(v, list) else [v])
        return out
    return st.tuples(*(p if isinstance(p, st.SearchStrategy) else st.just(p)
                       for p in parts)).map(build)


def options(*choices: list[bytes], most: int = 2) -> st.SearchStrategy[list[bytes]]:
    """Up to ``most`` options (each one or more words), in any order."""
    return st.lists(st.sampled_from(choices), max_size=most).map(
        lambda picked: [w for option in picked for w in option])


def one_of_words(*names: bytes) -> st.SearchStrategy[bytes]:
    return st.sampled_from(names)


flat_pairs = st.lists(st.tuples(field, value), max_size=3).map(
    lambda ps: [x for p in ps for x in p])
zpairs = st.lists(st.tuples(score, member), max_size=3).map(
    lambda ps: [x for p in ps for x in p])
limit = st.one_of(st.just([]), st.tuples(num, num).map(lambda t: [b"LIMIT", *t]))

STRINGS = st.one_of(
    cmd(b"SET", key, value, options(
        [b"NX"], [b"XX"], [b"GET"], [b"KEEPTTL"], [b"EX", b"100000"], [b"PX", b"100000000"],
        [b"EXAT", b"3000000000"], [b"EX", b"0"], [b"EX", b"x"], [b"BOGUS"], most=3)),
    cmd(b"GET", key), cmd(one_of_words(b"INCR", b"DECR"), key),
    cmd(one_of_words(b"INCRBY", b"DECRBY"), key, num), cmd(b"INCRBYFLOAT", key, flt),
    cmd(b"APPEND", key, value), cmd(b"STRLEN", key), cmd(b"GETRANGE", key, num, num),
    cmd(b"SETRANGE", key, one_of_words(b"0", b"1", b"3", b"-1", b"x"), value),
    cmd(b"MSET", st.lists(st.one_of(key, value), max_size=5)), cmd(b"MGET", keys),
    cmd(b"GETDEL", key), cmd(b"SETNX", key, value), cmd(b"GETSET", key, value),
    cmd(one_of_words(b"SETEX", b"PSETEX"), key, st.sampled_from(RELATIVE), value),
    cmd(b"MSETNX", st.lists(st.one_of(key, value), max_size=4)),
    cmd(b"SUBSTR", key, num, num),
    cmd(b"GETEX", key, options([b"EX", b"100000"], [b"PX", b"100000000"], [b"PERSIST"],
                               [b"EXAT", b"3500000000"], [b"EX", b"-5"]),
        ),
)

KEYSPACE = st.one_of(
    cmd(one_of_words(b"DEL", b"EXISTS", b"UNLINK"), keys), cmd(b"TYPE", key),
    cmd(one_of_words(b"RENAME", b"RENAMENX"), key, key),
    cmd(one_of_words(b"EXPIRE", b"PEXPIRE"), key, st.sampled_from(RELATIVE),
        options([b"NX"], [b"XX"], most=1)),
    cmd(one_of_words(b"EXPIREAT", b"PEXPIREAT"), key, st.sampled_from(ABSOLUTE),
        options([b"NX"], [b"XX"], [b"GT"], [b"LT"], [b"FOO"])),
    cmd(one_of_words(b"TTL", b"PTTL", b"PERSIST"), key),
    cmd(b"COPY", key, key, options([b"REPLACE"], most=1)), cmd(b"DBSIZE"),
    cmd(b"OBJECT", b"ENCODING", key),
    cmd(b"KEYS", one_of_words(b"*", b"[ab]", b"?", b"z*")),
    # whole answers only: a COUNT past the size reads everything in one call, and picks
    # of more than there is are everything, so Redis's order and chance do not matter
    cmd(b"SCAN", b"0", b"COUNT", b"1000", options([b"MATCH", b"[ab]*"], [b"TYPE", b"zset"],
                                                  most=1)),
    cmd(one_of_words(b"HSCAN", b"SSCAN", b"ZSCAN"), key, b"0", b"COUNT", b"1000"),
    cmd(one_of_words(b"SPOP", b"SRANDMEMBER"), key, b"100"),
    cmd(b"HRANDFIELD", key, b"100", options([b"WITHVALUES"], most=1)),
)

HASHES = st.one_of(
    cmd(one_of_words(b"HSET", b"HMSET"), key, flat_pairs), cmd(b"HSETNX", key, field, value),
    cmd(b"HGET", key, field), cmd(b"HMGET", key, st.lists(field, max_size=3)),
    cmd(b"HDEL", key, st.lists(field, max_size=3)),
    cmd(one_of_words(b"HLEN", b"HKEYS", b"HVALS", b"HGETALL"), key),
    cmd(b"HEXISTS", key, field), cmd(b"HSTRLEN", key, field),
    cmd(b"HINCRBY", key, field, num), cmd(b"HINCRBYFLOAT", key, field, flt),
)

LISTS = st.one_of(
    cmd(one_of_words(b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"), key, values),
    cmd(one_of_words(b"LPOP", b"RPOP"), key, options([b"1"], [b"2"], [b"0"], [b"-1"],
                                                      [b"x"], most=1)),
    cmd(b"LLEN", key), cmd(b"LRANGE", key, num, num), cmd(b"LINDEX", key, num),
    cmd(b"LSET", key, num, value),
    cmd(b"LINSERT", key, one_of_words(b"BEFORE", b"AFTER", b"UP"), value, value),
    cmd(b"LREM", key, num, value), cmd(b"LTRIM", key, num, num),
    cmd(b"LPOS", key, value, options([b"RANK", b"1"], [b"RANK", b"-1"], [b"RANK", b"0"],
                                     [b"COUNT", b"0"], [b"COUNT", b"2"], [b"MAXLEN", b"2"],
                                     [b"COUNT", b"-1"])),
    cmd(b"LMOVE", key, key, where, where), cmd(b"RPOPLPUSH", key, key),
    cmd(b"LMPOP", one_of_words(b"1", b"2", b"0"), key, key, where,
        options([b"COUNT", b"2"], [b"COUNT", b"0"], most=1)),
)

SETS = st.one_of(
    cmd(one_of_words(b"SADD", b"SREM", b"SMISMEMBER"), key, members),
    cmd(one_of_words(b"SMEMBERS", b"SCARD"), key), cmd(b"SISMEMBER", key, member),
    cmd(b"SMOVE", key, key, member),
    cmd(one_of_words(b"SINTER", b"SUNION", b"SDIFF"), keys),
    cmd(one_of_words(b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"), key, keys),
    cmd(b"SINTERCARD", one_of_words(b"1", b"2"), key, key,
        options([b"LIMIT", b"1"], [b"LIMIT", b"x"])),
)

ZSETS = st.one_of(
    cmd(b"ZADD", key, options([b"NX"], [b"XX"], [b"GT"], [b"LT"], [b"CH"]), zpairs),
    cmd(b"ZADD", key, options([b"NX"], [b"XX"], [b"GT"], [b"LT"]), b"INCR", score, member),
    cmd(b"ZINCRBY", key, score, member), cmd(b"ZREM", key, members),
    cmd(one_of_words(b"ZCARD"), key), cmd(b"ZSCORE", key, member),
    cmd(b"ZMSCORE", key, members), cmd(one_of_words(b"ZRANK", b"ZREVRANK"), key, member),
    cmd(b"ZCOUNT", key, bound, bound),
    cmd(b"ZRANGE", key, num, num, options([b"REV"], [b"WITHSCORES"], [b"LIMIT", b"0", b"1"])),
    cmd(b"ZRANGE", key, bound, bound, b"BYSCORE", options([b"REV"], [b"WITHSCORES"]), limit),
    cmd(b"ZRANGEBYSCORE", key, bound, bound, options([b"WITHSCORES"]), limit),
    cmd(one_of_words(b"ZPOPMIN", b"ZPOPMAX"), key, options([b"1"], [b"3"], [b"0"], [b"-1"],
                                                          most=1)),
    cmd(b"ZMPOP", one_of_words(b"1", b"2"), key, key, one_of_words(b"MIN", b"MAX"),
        options([b"COUNT", b"2"], most=1)),
    cmd(one_of_words(b"ZUNIONSTORE", b"ZINTERSTORE"), key, b"2", key, key,
        options([b"WEIGHTS", b"2", b"0.5"], [b"WEIGHTS", b"1"], most=1),
        options([b"AGGREGATE", b"SUM"], [b"AGGREGATE", b"MIN"], [b"AGGREGATE", b"MAX"],
                [b"AGGREGATE", b"AVG"], most=1)),
    cmd(b"ZREVRANGE", key, num, num, options([b"WITHSCORES"], most=1)),
    cmd(b"ZREVRANGEBYSCORE", key, bound, bound, options([b"WITHSCORES"]), limit),
    cmd(b"ZRANGESTORE", key, key, num, num, options([b"REV"], most=1)),
    cmd(b"ZREMRANGEBYRANK", key, num, num), cmd(b"ZREMRANGEBYSCORE", key, bound, bound),
    cmd(b"ZDIFFSTORE", key, b"2", key, key),
    cmd(b"ZADD", LEX, b"0", member), cmd(b"ZLEXCOUNT", LEX, lexb, lexb),
    cmd(b"ZREMRANGEBYLEX", LEX, lexb, lexb),
    cmd(b"ZRANGE", LEX, lexb, lexb, b"BYLEX", options([b"REV"]), limit),
    cmd(b"ZRANGEBYLEX", LEX, lexb, lexb, limit),
)

MISTAKES = st.one_of(
    cmd(b"NOSUCHCMD", key), cmd(one_of_words(b"GET", b"HGET", b"LPUSH", b"ZADD", b"SADD")),
    cmd(b"SET", key), cmd(b"ZADD", key, b"1"), cmd(b"HSET", key, field),
)

COMMANDS = st.one_of(STRINGS, KEYSPACE, HASHES, LISTS, SETS, ZSETS, MISTAKES)
WRITES = st.one_of(  # what the other connection may do while a key is watched
    cmd(b"SET", key, value), cmd(b"DEL", key), cmd(b"LPUSH", key, value),
    cmd(b"SADD", key, member), cmd(b"EXPIRE", key, b"100000"), cmd(b"PERSIST", key),
    cmd(b"GET", key), cmd(b"HSET", key, field, value), cmd(b"INCR", key),
    # writes that may change nothing, which Redis does not count as a modification
    cmd(b"SREM", key, member), cmd(b"HDEL", key, field), cmd(b"ZADD", key, score, member),
    cmd(b"ZINCRBY", key, b"0", member), cmd(b"ZREMRANGEBYSCORE", key, b"5", b"6"),
    cmd(b"SPOP", key, b"0"), cmd(b"LREM", key, b"0", value), cmd(b"DEL", b"nokey"),
)
REFUSED = st.one_of(cmd(b"NOSUCHCMD", key), cmd(b"GET"), cmd(b"SET", key),
                    cmd(b"LPUSH", key))  # refused when queued: EXEC answers EXECABORT

READS = {b"string": [b"GET"], b"hash": [b"HGETALL"], b"list": [b"LRANGE", b"0", b"-1"],
         b"set": [b"SMEMBERS"], b"zset": [b"ZRANGE", b"0", b"-1", b"WITHSCORES"]}
# Compared sorted: Redis's order there is its hash table's. HGETALL/HKEYS/HVALS are
# compared in order: small hashes (listpack, as here) keep insertion order in both.
UNORDERED = {b"SMEMBERS", b"SINTER", b"SUNION", b"SDIFF", b"KEYS", b"SPOP", b"SRANDMEMBER"}
SCANS = {b"SCAN", b"SSCAN", b"HSCAN", b"ZSCAN"}
SIGN_ONLY = {b"TTL", b"PTTL"}
NULL_ARRAY = b"(null array)"


def normalise(argv: list[bytes], found: object) -> object:
    """A reply in a form both servers must agree on."""
    name = argv[0].upper()
    if isinstance(found, redis.ResponseError):
        return ("error", type(found).__name__, str(found))
    if name in UNORDERED and isinstance(found, list | set):
        return sorted(found)
    if name in SCANS and isinstance(found, list):  # [cursor, every item in one page]
        paired = name in (b"HSCAN", b"ZSCAN")
        return [found[0], normalise([b"HRANDFIELD", b"", b"", b"WITHVALUES"] if paired
                                    else [b"SMEMBERS"], found[1])]
    if name == b"HRANDFIELD" and isinstance(found, list):
        if len(argv) > 3 and found and not isinstance(found[0], list):  # RESP2: flat
            found = [found[i:i + 2] for i in range(0, len(found), 2)]
        return sorted(tuple(x) if isinstance(x, list) else x for x in found)
    if name in SIGN_ONLY and isinstance(found, int):
        return min(found, 1)
    return found


def exec_replies(queued: list[list[bytes]], found: object) -> object:
    if not isinstance(found, list):
        return normalise([b"EXEC"], found)
    return [normalise(argv, item) for argv, item in zip(queued, found, strict=True)]


class NullArrays(_RESP2Parser):
    """redis-py's RESP2 reader, except that a null array (``*-1``, LPOP key 2 on a missing
    key) reads as NULL_ARRAY where redis-py gives None, as for a null bulk (``$-1``)."""

    def on_connect(self, connection: redis.Connection) -> None:
        super().on_connect(connection)
        readline = self._buffer.readline

        def read(*args: object, **kw: object) -> bytes:
            line = readline(*args, **kw)
            return b"+" + NULL_ARRAY if line == b"*-1" else line
        self._buffer.readline = read  # type: ignore[method-assign]


@dataclass
class Side:
    """One server as two connections: the one under test and another writer."""

    port: int
    protocol: int
    auth: bool

    def connect(self) -> redis.Connection:
        creds = {"username": ROOT_KEY_ID, "password": ROOT_SECRET} if self.auth else {}
        parser = {"parser_class": NullArrays} if self.protocol == 2 else {}
        conn = redis.Connection(host="127.0.0.1", port=self.port, socket_timeout=10,
                                protocol=self.protocol, **parser, **creds)
        conn.connect()
        return conn


def call(conn: redis.Connection, argv: list[bytes]) -> object:
    conn.send_command(*argv)
    try:
        return conn.read_response()
    except redis.ResponseError as err:
        return err


class Differential(RuleBasedStateMachine):
    """The same steps on both servers; every reply compared."""

    def __init__(self, reference: Side, engine: Side) -> None:
        super().__init__()
        self.sides = (reference, engine)
        self.conns = [(side.connect(), side.connect()) for side in self.sides]

    def teardown(self) -> None:
        for main, other in self.conns:
            main.disconnect()
            other.disconnect()

    def both(self, argv: list[bytes], *, other: bool = False) -> object:
        """``argv``'s reply, the same from both servers."""
        replies = [normalise(argv, call(pair[1] if other else pair[0], argv))
                   for pair in self.conns]
        assert replies[1] == replies[0], (argv, "engine:", replies[1], "redis:", replies[0])
        return replies[0]

    def transaction(self, queued: list[list[bytes]]) -> None:
        self.both([b"MULTI"])
        for argv in queued:
            self.both(argv)
        replies = [exec_replies(queued, call(main, [b"EXEC"])) for main, _ in self.conns]
        assert replies[1] == replies[0], ("EXEC", queued, "engine:", replies[1],
                                          "redis:", replies[0])

    @initialize()
    def flush(self) -> None:
        self.both([b"FLUSHALL"])

    @rule(argv=COMMANDS)
    def command(self, argv: list[bytes]) -> None:
        self.both(argv)

    @rule()
    def same_data(self) -> None:
        """Every key's type, TTL and contents, so a difference no reply showed yet (a TTL
        lost, a write inside an aborted EXEC) is found where it happened."""
        for name in [*KEYS, LEX, b"t"]:
            kind = self.both([b"TYPE", name])
            self.both([b"PTTL", name])
            read = READS.get(kind if isinstance(kind, bytes) else b"")
            if read is not None:
                self.both([*read[:1], name, *read[1:]])

    @rule(queued=st.lists(COMMANDS, min_size=1, max_size=4),
          fails=st.booleans(), refused=st.one_of(st.none(), REFUSED), at=st.integers(0, 4))
    def multi_exec(self, queued: list[list[bytes]], fails: bool,
                   refused: list[bytes] | None, at: int) -> None:
        queued = list(queued)
        if fails:  # an error when EXEC runs it: the other commands still run
            queued[at % len(queued):at % len(queued)] = [[b"SET", b"t", b"x"], [b"INCR", b"t"]]
        if refused is not None:
            queued.insert(at % (len(queued) + 1), refused)
        self.transaction(queued)

    @rule(watched=key, write=st.one_of(st.none(), WRITES), unwatch=st.booleans(),
          queued=st.lists(COMMANDS, min_size=1, max_size=3))
    def watch_exec(self, watched: bytes, write: list[bytes] | None, unwatch: bool,
                   queued: list[list[bytes]]) -> None:
        self.both([b"WATCH", watched])
        if write is not None:
            self.both(write, other=True)
        if unwatch:
            self.both([b"UNWATCH"])
        self.transaction(queued)


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    with reference_redis() as port:
        yield port


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_sequences_reply_as_redis_server_does(redis_port, node, protocol):
    reference = Side(redis_port, protocol, auth=False)
    engine = Side(node.redis_port, protocol, auth=True)
    run_state_machine_as_test(lambda: Differential(reference, engine), settings=SETTINGS)


NULL_ARRAY_LINES = [[b"LPOP", b"none", b"2"], [b"RPOP", b"none", b"0"],
                    [b"LMPOP", b"1", b"none", b"LEFT"], [b"ZMPOP", b"1", b"none", b"MIN"],
                    [b"SPOP", b"none", b"2"], [b"ZPOPMIN", b"none", b"2"], [b"GET", b"none"]]


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_null_arrays_and_null_bulks_are_the_bytes_redis_sends(redis_port, node, protocol):
    """`*-1` (a popping command with a count finding nothing) is not `$-1` in RESP2."""
    replies = []
    for side in (Side(redis_port, protocol, auth=False),
                 Side(node.redis_port, protocol, auth=True)):
        conn = side.connect()
        try:
            raw = []
            for argv in NULL_ARRAY_LINES:
                conn.send_command(*argv)
                raw.append(conn._sock.recv(64))  # each reply is one short line
            replies.append(raw)
        finally:
            conn.disconnect()
    assert replies[1] == replies[0]
    if protocol == 2:
        assert replies[0][:4] == [b"*-1\r\n"] * 4 and replies[0][-1] == b"$-1\r\n"
