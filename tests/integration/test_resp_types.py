"""Redis's data types through the RESP endpoint of a real `engine serve`, with redis-py
(RESP2 and RESP3) as the client: hashes, lists, sets, sorted sets, the remaining string
and key commands, Redis 7's error texts, and data shared both ways with the gRPC SDK."""

from __future__ import annotations

import socket

import pytest
import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET

from engine.client import client


@pytest.fixture(scope="module")
def node(module_server_factory):
    return module_server_factory()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(node, request):
    with redis.Redis(port=node.redis_port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                     protocol=request.param) as c:
        c.flushall()
        yield c


@pytest.fixture
def sdk(node):
    with client("cache", endpoint=node.endpoint) as c:
        yield c


def pairs(found: list) -> list[tuple]:
    """redis-py gives (member, score) tuples over RESP2 and [member, score] over RESP3."""
    return [tuple(x) for x in found]


def raw(port: int, data: bytes) -> bytes:
    """The node's bytes for ``data`` (several commands), read until it goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.settimeout(0.5)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def test_hashes(r):
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hset("h", "a", "10") == 0
    assert r.hsetnx("h", "a", "x") == 0
    assert r.hget("h", "a") == b"10" and r.hget("h", "zz") is None
    assert r.hmget("h", ["a", "zz", "b"]) == [b"10", None, b"2"]
    assert r.hgetall("h") == {b"a": b"10", b"b": b"2"}
    assert r.hincrby("h", "a", 5) == 15
    assert r.hincrbyfloat("h", "f", "10.5") == 10.5
    assert r.hincrbyfloat("h", "f", "0.1") == pytest.approx(10.6)
    assert r.hget("h", "f") == b"10.6"
    assert r.hexists("h", "a") is True and r.hexists("h", "zz") is False
    assert r.hlen("h") == 3 and r.hstrlen("h", "a") == 2
    assert sorted(r.hkeys("h")) == [b"a", b"b", b"f"]
    assert r.hrandfield("h") in (b"a", b"b", b"f")
    assert sorted(r.hrandfield("h", 5)) == [b"a", b"b", b"f"]
    cursor, fields = r.hscan("h", 0, match="a*")
    assert cursor == 0 and fields == {b"a": b"15"}
    assert r.hdel("h", "a", "b", "f") == 3 and r.exists("h") == 0
    assert r.object("encoding", "h") is None


def test_lists(r):
    assert r.rpush("l", "a", "b", "c") == 3 and r.lpush("l", "z") == 4
    assert r.lrange("l", 0, -1) == [b"z", b"a", b"b", b"c"]
    assert r.lpushx("nolist", "x") == 0 and r.exists("nolist") == 0
    assert r.lindex("l", -1) == b"c" and r.llen("l") == 4
    assert r.lset("l", 0, "y") is True
    assert r.linsert("l", "BEFORE", "b", "x") == 5
    assert r.lpos("l", "b") == 3 and r.lpos("l", "nope") is None
    assert r.lrem("l", 0, "x") == 1
    assert r.lmove("l", "l2", "LEFT", "RIGHT") == b"y"
    assert r.rpoplpush("l", "l2") == b"c"
    assert r.lpop("l") == b"a" and r.rpop("l", 5) == [b"b"]
    assert r.lpop("l") is None and r.lpop("l", 2) is None
    assert r.lmpop(2, "l", "l2", direction="LEFT", count=5) == [b"l2", [b"c", b"y"]]
    assert r.rpush("t", *"abcdef") == 6 and r.ltrim("t", 1, 2) is True
    assert r.lrange("t", 0, -1) == [b"b", b"c"]
    assert r.type("t") == b"list"


def test_sets(r):
    assert r.sadd("s1", "a", "b", "c") == 3 and r.sadd("s2", "b", "c", "d") == 3
    assert r.smembers("s1") == {b"a", b"b", b"c"}
    assert r.sismember("s1", "a") == 1 and r.smismember("s1", ["a", "x"]) == [1, 0]
    assert r.scard("s1") == 3
    assert r.sinter("s1", "s2") == {b"b", b"c"}
    assert r.sunion("s1", "s2") == {b"a", b"b", b"c", b"d"}
    assert r.sdiff("s1", "s2") == {b"a"}
    assert r.sinterstore("s3", ["s1", "s2"]) == 2 and r.smembers("s3") == {b"b", b"c"}
    assert r.sintercard(2, ["s1", "s2"], limit=1) == 1
    assert r.smove("s1", "s2", "a") is True and r.srem("s2", "a", "zz") == 1
    assert sorted(r.spop("s3", 5)) == [b"b", b"c"] and r.exists("s3") == 0
    assert r.object("encoding", "s1") == b"hashtable"  # Redis 7.0's names
    assert r.sadd("ints", 1, 2, 3) == 3 and r.object("encoding", "ints") == b"intset"
    cursor, members = r.sscan("s2", 0)
    assert cursor == 0 and sorted(members) == [b"b", b"c", b"d"]


def test_sorted_sets(r):
    assert r.zadd("z", {"a": 1, "b": 2, "c": 3.5}) == 3
    assert r.zadd("z", {"a": 5}, nx=True) == 0
    assert r.zadd("z", {"a": 0.5}, gt=True, ch=True) == 0
    assert r.zadd("z", {"a": 0.1}, xx=True, ch=True) == 1
    assert r.zadd("z", {"a": 1}, incr=True) == pytest.approx(1.1)
    assert r.zscore("z", "c") == 3.5 and r.zscore("z", "nope") is None
    assert r.zrange("z", 0, -1) == [b"a", b"b", b"c"]
    assert pairs(r.zrange("z", 0, -1, withscores=True)) == [
        (b"a", pytest.approx(1.1)), (b"b", 2.0), (b"c", 3.5)]
    assert r.zrange("z", "(1.5", "+inf", byscore=True) == [b"b", b"c"]
    assert r.zrange("z", "+inf", "-inf", byscore=True, desc=True, offset=0, num=1) == [b"c"]
    assert pairs(r.zrevrange("z", 0, 0, withscores=True)) == [(b"c", 3.5)]
    assert pairs(r.zrangebyscore("z", 2, 3.5, withscores=True)) == [(b"b", 2.0), (b"c", 3.5)]
    assert r.zrank("z", "b") == 1 and r.zrevrank("z", "b") == 1
    assert r.zincrby("z", 10, "b") == 12.0
    assert r.zmscore("z", ["a", "x", "b"]) == [pytest.approx(1.1), None, 12.0]
    assert r.zcount("z", "-inf", "+inf") == 3 and r.zcard("z") == 3
    assert r.zadd("lex", {"a": 0, "b": 0, "c": 0}) == 3
    assert r.zrangebylex("lex", "[b", "+") == [b"b", b"c"] and r.zlexcount("lex", "-", "+") == 3
    assert r.zadd("z2", {"a": 1, "x": 2}) == 2
    assert r.zunionstore("zu", {"z": 1, "z2": 10}, aggregate="MAX") == 4
    assert r.zscore("zu", "x") == 20.0 and r.zscore("zu", "a") == 10.0
    assert r.zinterstore("zi", ["z", "z2"]) == 1 and r.zscore("zi", "a") == pytest.approx(2.1)
    assert pairs(r.zpopmin("z", 1)) == [(b"a", pytest.approx(1.1))]
    assert pairs(r.zpopmax("z", 2)) == [(b"b", 12.0), (b"c", 3.5)] and r.exists("z") == 0
    assert r.zremrangebyrank("zu", 0, 1) == 2 and r.zcard("zu") == 2
    cursor, found = r.zscan("z2", 0)
    assert cursor == 0 and pairs(found) == [(b"a", 1.0), (b"x", 2.0)]


def test_strings_and_keys(r):
    assert r.set("s", "hello") is True and r.append("s", " world") == 11
    assert r.getrange("s", 0, 4) == b"hello" and r.strlen("s") == 11
    assert r.setrange("s", 6, "W") == 11 and r.get("s") == b"hello World"
    assert r.incrbyfloat("n", 10.5) == 10.5 and r.incrbyfloat("n", 0.1) == pytest.approx(10.6)
    assert r.get("n") == b"10.6"
    assert r.msetnx({"m1": "a", "m2": "b"}) is True and r.msetnx({"m2": "x", "m3": "y"}) is False
    assert r.getdel("m1") == b"a" and r.exists("m1") == 0
    assert r.getex("m2", ex=100) == b"b" and r.ttl("m2") == 100
    assert r.persist("m2") is True and r.ttl("m2") == -1
    assert r.type("m2") == b"string" and r.type("nope") == b"none"
    assert r.rename("m2", "m4") is True and r.get("m4") == b"b"
    assert r.renamenx("m4", "s") is False
    assert r.copy("m4", "m5") is True and r.get("m5") == b"b"
    assert sorted(r.keys("m*")) == [b"m4", b"m5"]
    assert sorted(r.scan_iter(match="m*", count=1)) == [b"m4", b"m5"]
    assert sorted(r.scan_iter(_type="STRING")) == sorted(r.keys("*"))
    assert r.randomkey() in r.keys("*")
    assert r.dbsize() == len(r.keys("*"))
    assert r.object("encoding", "s") == b"raw"
    assert r.memory_usage("s") > 11
    assert r.unlink("m4", "m5") == 2


ERRORS = [
    (["HSET", "h", "f"], "wrong number of arguments for 'hset' command"),
    (["HSET", "h", "f", "v", "g"], "wrong number of arguments for 'hset' command"),
    (["HINCRBY", "h", "f", "x"], "value is not an integer or out of range"),
    (["LPOP", "l", "-1"], "value is out of range, must be positive"),
    (["ZADD", "z", "NX", "XX", "1", "a"],
     "XX and NX options at the same time are not compatible"),
    (["ZADD", "z", "1"], "wrong number of arguments for 'zadd' command"),
    (["ZADD", "z", "1", "a", "2"], "syntax error"),
    (["ZADD", "z", "x", "a"], "value is not a valid float"),
    (["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"],
     "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
    (["ZRANGE", "z", "0", "1", "BOGUS"], "syntax error"),
    (["ZUNIONSTORE", "d", "0", "z"], "at least 1 input key is needed for 'zunionstore' "
                                     "command"),
    (["LINSERT", "l", "MIDDLE", "a", "b"], "syntax error"),
    (["RENAME", "nope", "x"], "no such key"),
    (["SCAN", "x"], "invalid cursor"),
    (["OBJECT", "FOO", "k"], "unknown subcommand 'FOO'. Try OBJECT HELP."),
    (["INCRBYFLOAT", "k", "abc"], "value is not a valid float"),
]


@pytest.mark.parametrize(("argv", "text"), ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_error_texts_are_redis_s(r, argv, text):
    with pytest.raises(redis.ResponseError) as info:
        r.execute_command(*argv)
    assert str(info.value) == text


def test_wrongtype_on_every_type(r):
    r.set("str", "v")
    r.rpush("lst", "v")
    for argv in (["HGET", "str", "f"], ["LPUSH", "str", "x"], ["SADD", "lst", "x"],
                 ["ZADD", "lst", "1", "x"], ["GET", "lst"], ["INCR", "lst"]):
        with pytest.raises(redis.ResponseError, match=r"^WRONGTYPE Operation against a key "
                           r"holding the wrong kind of value$"):
            r.execute_command(*argv)


AUTH = b"AUTH %s %s\r\n" % (ROOT_KEY_ID.encode(), ROOT_SECRET.encode())


def test_resp3_native_replies(node, r):
    r.zadd("z3", {"a": 0.1})
    r.hset("h3", "f", "v")
    r.sadd("s3", "m")
    out = raw(node.redis_port, AUTH + b"HELLO 3\r\nZSCORE z3 a\r\nHGETALL h3\r\n"
              b"SMEMBERS s3\r\nZRANGE z3 0 -1 WITHSCORES\r\nZPOPMIN nope\r\n")
    assert out.endswith(b",0.1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n~1\r\n$1\r\nm\r\n"
                        b"*1\r\n*2\r\n$1\r\na\r\n,0.1\r\n*0\r\n")


def test_resp2_doubles_are_redis_s_text(node, r):
    r.zadd("zd", {"a": 0.1, "b": 3})
    out = raw(node.redis_port, AUTH + b"ZSCORE zd a\r\nZRANGE zd 0 -1 WITHSCORES\r\n"
              b"HGETALL nope\r\n")
    assert out == (b"+OK\r\n$19\r\n0.10000000000000001\r\n*4\r\n$1\r\na\r\n"
                   b"$19\r\n0.10000000000000001\r\n$1\r\nb\r\n$1\r\n3\r\n*0\r\n")


def test_resp_writes_read_back_through_the_sdk(r, sdk):
    r.hset("rt:h", mapping={"a": "1", "b": "2"})
    r.rpush("rt:l", "x", "y")
    r.sadd("rt:s", "m", "n")
    r.zadd("rt:z", {"p": 1.5, "q": 2})
    assert sdk.hgetall("rt:h") == {b"a": b"1", b"b": b"2"}
    assert sdk.lrange("rt:l", 0, -1) == [b"x", b"y"]
    assert sdk.smembers("rt:s") == {b"m", b"n"}
    assert sdk.zrange("rt:z", 0, -1, withscores=True) == [(b"p", 1.5), (b"q", 2.0)]
    assert sdk.type("rt:h") == b"hash" and sdk.type("rt:z") == b"zset"


def test_sdk_writes_read_back_through_resp(r, sdk):
    assert sdk.hset("sr:h", mapping={"a": 1}) == 1 and sdk.hincrby("sr:h", "a", 2) == 3
    assert sdk.rpush("sr:l", "x", "y", "z") == 3 and sdk.lpop("sr:l") == b"x"
    assert sdk.sadd("sr:s", "a", "b") == 2 and sdk.sismember("sr:s", "a") == 1
    assert sdk.zadd("sr:z", {"a": 1, "b": 2}) == 2
    assert sdk.zadd("sr:z", {"a": 5}, incr=True) == 6.0
    assert r.hgetall("sr:h") == {b"a": b"3"}
    assert r.lrange("sr:l", 0, -1) == [b"y", b"z"]
    assert r.smembers("sr:s") == {b"a", b"b"}
    assert pairs(r.zrange("sr:z", 0, -1, withscores=True)) == [(b"b", 2.0), (b"a", 6.0)]
    assert sorted(sdk.scan_iter(match="sr:*")) == [b"sr:h", b"sr:l", b"sr:s", b"sr:z"]


def test_sdk_errors_carry_redis_s_text_and_code(sdk):
    sdk.set("se:str", "v")
    cases = [
        (lambda: sdk.hget("se:str", "f"), "WrongType",
         "WRONGTYPE Operation against a key holding the wrong kind of value"),
        (lambda: sdk.execute_command("NOPE", "a"), "UnknownCommand",
         "unknown command 'NOPE', with args beginning with: 'a' "),
        (lambda: sdk.execute_command("HSET", "h"), "SyntaxError",
         "wrong number of arguments for 'hset' command"),
        (lambda: sdk.lrange("se:l", 0, "x"), "NotAnInteger",
         "value is not an integer or out of range"),
        (lambda: sdk.zadd("se:z", {"a": "x"}), "NotAFloat", "value is not a valid float"),
        (lambda: sdk.rename("se:nope", "x"), "NoSuchKey", "no such key"),
    ]
    for call, code, message in cases:
        with pytest.raises(sdk.ResponseError) as info:
            call()
        assert info.value.response["Error"]["Code"] == code
        assert info.value.response["Error"]["Message"] == message
    with pytest.raises(sdk.DataError):
        sdk.hset("se:h")
