"""The RESP endpoint of a real `engine serve` and a real redis-server 7.0 answer the same
command lines with the same RESP2 bytes: every type's option grammar, arity and argument
errors (the endpoint's parsing in engine/cache/commands/, not only the store's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET
from reference_redis import needs_redis_server, reference_redis

pytestmark = needs_redis_server

LINES = """
SET s hello
SET s v EX 0
SET s v EX 10 PX 10
SET s v KEEPTTL EX 10
SET s v NX XX
SET s v FOO
GETEX s PERSIST EX 1
GETEX s EX
GETEX s EX 100
GETRANGE s 0 x
SETRANGE s -1 x
SETRANGE s 1 ELLO
APPEND s !
INCRBYFLOAT s 1
INCRBYFLOAT n 1e400
INCRBYFLOAT n 0.1
INCRBY n 1
DECRBY n -9223372036854775808
MSETNX a 1 b
MSETNX a 1 b 2
GETDEL a
EXPIRE s 10 FOO
EXPIRE s 10 NX XX
EXPIRE s 10 GT LT
PEXPIRE s x
TTL s
PERSIST s
TYPE s
RENAME nope x
RENAMENX s s
COPY s s
COPY s s2 DB 0
COPY s s2 REPLACE FOO
COPY s s2 REPLACE
OBJECT ENCODING s
OBJECT ENCODING nope
OBJECT FOO s
MEMORY USAGE nope
SCAN x
SCAN 0 COUNT 0
SCAN 0 MATCH
HSET h a 1 b
HSET h a 1 b 2
HMSET h a
HSETNX h a 5
HINCRBY h a x
HINCRBY h a 9223372036854775807
HINCRBYFLOAT h b x
HINCRBYFLOAT h b 0.5
HRANDFIELD h 1 FOO
HRANDFIELD h x
HRANDFIELD h 0 WITHVALUES
HRANDFIELD h 0
HSCAN h 0 COUNT
HSCAN h 0 MATCH a*
HGETALL h
HSTRLEN h a
HGET s a
RPUSH l a b c a
LPOP l -1
LPOP l x
RPOP l 1.5
LPOP l 0
LPOP l 1 2
LRANGE l 0 x
LINDEX l 5
LSET l 9 x
LSET nolist 0 x
LINSERT l MIDDLE a x
LINSERT l BEFORE zz x
LPOS l a RANK 0
LPOS l a COUNT -1
LPOS l a MAXLEN -1
LPOS l a FOO 1
LPOS l a RANK -1 COUNT 0
LMOVE l l2 UP LEFT
LMOVE l l2 RIGHT LEFT
LMPOP 0 l LEFT
LMPOP 2 l LEFT
LMPOP 1 l MIDDLE
LMPOP 1 l LEFT COUNT 0
LMPOP 1 l LEFT COUNT 2 FOO
LMPOP 2 nope l2 RIGHT COUNT 5
LTRIM l x 1
SADD st 1 2 3
SPOP st -1
SPOP st x
SPOP st 1 2
SRANDMEMBER st x
SINTERCARD 0 st
SINTERCARD 2 st
SINTERCARD 1 st LIMIT -1
SINTERCARD 1 st LIMIT 2
SINTERCARD 1 st FOO 2
SMISMEMBER st 1 9
SMOVE st l 1
ZADD z 1 a 2
ZADD z NX XX 1 a
ZADD z GT LT 1 a
ZADD z INCR 1 a 2 b
ZADD z x a
ZADD z 1 a 2 b 3 c
ZADD z XX CH 5 a 7 new
ZADD z INCR 1 a
ZADD z NX INCR 1 a
ZINCRBY z x a
ZRANGE z 0 -1 WITHSCORES
ZRANGE z 0 -1 LIMIT 0 1
ZRANGE z 0 -1 BYLEX WITHSCORES
ZRANGE z (1 +inf BYSCORE LIMIT 0 x
ZRANGE z +inf -inf BYSCORE REV LIMIT 1 1 WITHSCORES
ZRANGE z 0 -1 BYSCORE BYLEX
ZRANGE z 0 -1 FOO
ZRANGE z x 1
ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 1 5
ZRANGEBYSCORE z -inf +inf REV
ZRANGEBYSCORE z x 1
ZREVRANGEBYSCORE z +inf -inf LIMIT 0 2
ZRANGEBYLEX z - + WITHSCORES
ZREVRANGEBYLEX z + - WITHSCORES
ZREVRANGEBYLEX z + - LIMIT 0 1
ZRANGEBYLEX z x +
ZREVRANGE z 0 -1 WITHSCORES
ZREVRANGE z 0 -1 FOO
ZRANGESTORE zd z 0 -1 WITHSCORES
ZRANGESTORE zd z 0 1
ZPOPMIN z -1
ZPOPMIN z x
ZPOPMAX z 2
ZMSCORE z a nope
ZRANK z nope
ZREMRANGEBYRANK z x 1
ZUNIONSTORE zu 0 z
ZUNIONSTORE zu 3 z
ZUNIONSTORE zu 1 z WEIGHTS
ZUNIONSTORE zu 1 z WEIGHTS x
ZUNIONSTORE zu 1 z AGGREGATE FOO
ZUNIONSTORE zu 2 z zd WEIGHTS 2 3 AGGREGATE MAX
ZINTERSTORE zi 2 z zd AGGREGATE MIN
ZDIFFSTORE zf 2 z zd
ZDIFFSTORE zf 1 z WEIGHTS 1
ZSCAN z 0
ZCOUNT z (1 x
ZLEXCOUNT z x +
ZADD s 1 a
HGET h
ZADD z
LPOS l
OBJECT
OBJECT ENCODING
MEMORY USAGE s SAMPLES
MEMORY USAGE s SAMPLES x
KEYS *
SCAN 0 TYPE zset COUNT 1000
SCAN 0 MATCH z* COUNT 1000
SETEX k 0 v
SETEX k x v
PSETEX k 100000 v
SETNX k v
GETSET k w
EXPIRETIME k
PEXPIRETIME nope
LPUSH h x
SINTERSTORE dst st nope
SUNIONSTORE dst st nope
SDIFF st nope
SMEMBERS dst
SINTER st h
ZINTERSTORE zi 1 h
DBSIZE
"""

UNORDERED = {b"SMEMBERS", b"KEYS", b"SINTER", b"SUNION", b"SDIFF"}


def connect(port: int, **kw) -> redis.Connection:
    conn = redis.Connection(host="127.0.0.1", port=port, socket_timeout=5, protocol=2, **kw)
    conn.connect()
    return conn


@pytest.fixture(scope="module")
def redis_server() -> Iterator[redis.Connection]:
    with reference_redis() as port:
        yield connect(port)


@pytest.fixture(scope="module")
def engine(module_server_factory) -> redis.Connection:
    node = module_server_factory()
    return connect(node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET)


def reply(conn: redis.Connection, argv: list[bytes]) -> object:
    conn.send_command(*argv)
    try:
        found = conn.read_response()
    except redis.ResponseError as exc:
        return ("error", str(exc))
    if argv[0].upper() in UNORDERED and isinstance(found, list):
        return sorted(found)
    if argv[0].upper() == b"SCAN" and isinstance(found, list):  # one page: order aside
        return [found[0], sorted(found[1])]
    return found


def test_same_replies_and_errors_as_redis_server(redis_server, engine):
    for conn in (redis_server, engine):
        conn.send_command("FLUSHALL")
        conn.read_response()
    lines = [line.split() for line in LINES.strip().splitlines()]
    mismatches = []
    for words in lines:
        argv = [w.encode() for w in words]
        expected, got = reply(redis_server, argv), reply(engine, argv)
        if expected != got:
            mismatches.append(f"{' '.join(words)}: redis {expected!r} engine {got!r}")
    assert not mismatches, "\n".join(mismatches)
