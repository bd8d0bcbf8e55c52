"""engine/client/cache_replies.py: a Cache.Command reply as redis-py's method returns it."""

from __future__ import annotations

from engine.client.cache_replies import convert, plain
from engine.v1 import cache_pb2 as pb


def bulk(b: bytes) -> pb.CacheValue:
    return pb.CacheValue(bulk=b)


def array(*items: pb.CacheValue, kind: str = "array") -> pb.CacheValue:
    return pb.CacheValue(**{kind: pb.CacheValues(items=list(items))})


def scored(member: bytes, score: float) -> pb.CacheValue:
    return array(bulk(member), pb.CacheValue(double=score), kind="pair")


def test_maps_sets_and_score_pairs_as_redis_py_returns_them():
    assert convert("HGETALL", array(bulk(b"f"), bulk(b"v"), kind="map"), {}) == {b"f": b"v"}
    assert convert("SMEMBERS", array(bulk(b"a"), bulk(b"b"), kind="set"), {}) == {b"a", b"b"}
    zrange = array(scored(b"a", 1.5), scored(b"b", 2.0))
    assert convert("ZRANGE", zrange, {"withscores": True}) == [(b"a", 1.5), (b"b", 2.0)]
    assert plain(zrange) == [b"a", 1.5, b"b", 2.0]  # RESP2's flat shape underneath
    assert convert("ZSCORE", pb.CacheValue(null=True), {}) is None
    assert convert("ZADD", pb.CacheValue(double=3.0), {"incr": True}) == 3.0
    assert convert("HSCAN", array(bulk(b"0"), array(bulk(b"f"), bulk(b"v"))), {}) == (
        0, {b"f": b"v"})
    assert convert("ZSCAN", array(bulk(b"7"), array(bulk(b"m"), bulk(b"0.5"))), {}) == (
        7, [(b"m", 0.5)])


def test_status_and_integer_replies_become_redis_py_s_bools():
    assert convert("LSET", pb.CacheValue(simple="OK"), {}) is True
    assert convert("HEXISTS", pb.CacheValue(integer=0), {}) is False
    assert convert("TYPE", pb.CacheValue(simple="hash"), {}) == b"hash"
    assert convert("INCRBYFLOAT", bulk(b"10.6"), {}) == 10.6
    assert convert("HLEN", pb.CacheValue(integer=3), {}) == 3
