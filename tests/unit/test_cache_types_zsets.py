"""CacheStore's sorted sets: ZADD's options, ranges by rank/score/lex, the algebra with
WEIGHTS/AGGREGATE, pops, ZSCAN and encodings, with Redis's documented replies."""

from __future__ import annotations

import math

import pytest

from engine.cache.store import ENTRY_OVERHEAD, WRONGTYPE, CacheStore
from engine.cache.types.values import ZSET_MEMBER_COST, ZSetValue
from engine.clock import ManualClock
from engine.errors import EngineError


@pytest.fixture
def store() -> CacheStore:
    return CacheStore(1 << 22, ManualClock())


def error(fn, *args, **kw) -> EngineError:
    with pytest.raises(EngineError) as info:
        fn(*args, **kw)
    return info.value


def test_zadd_and_zrange_documentation_example(store: CacheStore) -> None:
    assert store.zadd(b"myzset", [(b"1", b"one")]) == 1
    assert store.zadd(b"myzset", [(b"1", b"uno")]) == 1
    assert store.zadd(b"myzset", [(b"2", b"two"), (b"3", b"three")]) == 2
    assert store.zrange(b"myzset", 0, -1, withscores=True) == [
        (b"one", 1.0), (b"uno", 1.0), (b"two", 2.0), (b"three", 3.0)]
    assert store.zrange(b"myzset", 2, 3) == [b"two", b"three"]
    assert store.zrange(b"myzset", -2, -1) == [b"two", b"three"]
    assert store.zrange(b"myzset", b"(1", b"+inf", by="score", limit=(1, 1)) == [b"three"]
    assert store.zrange(b"myzset", 0, 1, rev=True) == [b"three", b"two"]
    assert store.zcard(b"myzset") == 4


def test_zadd_options(store: CacheStore) -> None:
    store.zadd(b"z", [(1.0, b"a"), (2.0, b"b")])
    assert store.zadd(b"z", [(b"5", b"a"), (b"1", b"c")], nx=True) == 1
    assert store.zscore(b"z", b"a") == 1.0
    assert store.zadd(b"z", [(b"5", b"a"), (b"1", b"d")], xx=True) == 0
    assert store.zscore(b"z", b"a") == 5.0 and store.zscore(b"z", b"d") is None
    assert store.zadd(b"z", [(b"3", b"a"), (b"9", b"b")], gt=True, ch=True) == 1
    assert store.zmscore(b"z", [b"a", b"b", b"nope"]) == [5.0, 9.0, None]
    assert store.zadd(b"z", [(b"2", b"a")], lt=True, ch=True) == 1
    assert store.zadd(b"z", [(b"10", b"a")], incr=True) == 12.0
    assert store.zadd(b"z", [(b"10", b"a")], incr=True, lt=True) is None
    assert store.zadd(b"z", [(b"1", b"new")], incr=True, xx=True) is None
    assert store.zadd(b"missing", [(b"1", b"a")], xx=True) == 0
    assert store.exists([b"missing"]) == 0
    assert store.zincrby(b"z", b"-0.5", b"a") == 11.5


@pytest.mark.parametrize(("kw", "message"), [
    ({"nx": True, "xx": True}, "XX and NX options at the same time are not compatible"),
    ({"nx": True, "gt": True}, "GT, LT, and/or NX options at the same time are not compatible"),
    ({"gt": True, "lt": True}, "GT, LT, and/or NX options at the same time are not compatible"),
])
def test_zadd_option_conflicts_are_redis_errors(store: CacheStore, kw, message) -> None:
    assert error(store.zadd, b"z", [(b"1", b"a")], **kw).message == message


def test_score_errors(store: CacheStore) -> None:
    assert error(store.zadd, b"z", [(b"1", b"a"), (b"2", b"b")], incr=True).message == (
        "INCR option supports a single increment-element pair")
    for bad in (b"abc", b"nan", b" 1", b"1e400", b"", b"1e-400"):
        assert error(store.zadd, b"z", [(bad, b"a")]).message == "value is not a valid float"
    assert store.exists([b"z"]) == 0
    store.zadd(b"z", [(b"+inf", b"a")])
    assert error(store.zincrby, b"z", b"-inf", b"a").message == (
        "resulting score is not a number (NaN)")
    assert error(store.zcount, b"z", b"x", b"1").message == "min or max is not a float"
    assert error(store.zlexcount, b"z", b"a", b"+").message == (
        "min or max not valid string range item")
    store.set(b"s", b"v")
    assert error(store.zadd, b"s", [(b"1", b"a")]).message == WRONGTYPE


def test_score_ranges(store: CacheStore) -> None:
    store.zadd(b"z", [(b"-inf", b"lo"), (b"1", b"one"), (b"2", b"two"), (b"3", b"three"),
                      (b"inf", b"hi")])
    assert store.zrangebyscore(b"z", b"-inf", b"+inf") == [
        b"lo", b"one", b"two", b"three", b"hi"]
    assert store.zrangebyscore(b"z", b"1", b"2") == [b"one", b"two"]
    assert store.zrangebyscore(b"z", b"(1", b"2") == [b"two"]
    assert store.zrangebyscore(b"z", b"(1", b"(2") == []
    assert store.zrangebyscore(b"z", b"(-inf", b"(inf") == [b"one", b"two", b"three"]
    assert store.zrevrangebyscore(b"z", b"+inf", b"-inf", limit=(1, 2)) == [b"three", b"two"]
    assert store.zcount(b"z", b"-inf", b"+inf") == 5
    assert store.zcount(b"z", b"(1", b"3") == 2
    assert store.zrangebyscore(b"z", b"(", b"1.5", withscores=True) == [(b"one", 1.0)]
    assert store.zrank(b"z", b"two") == 2 and store.zrevrank(b"z", b"two") == 2
    assert store.zrank(b"z", b"three", withscore=True) == (3, 3.0)
    assert store.zrank(b"z", b"nope") is None


def test_lex_ranges_documentation_example(store: CacheStore) -> None:
    store.zadd(b"myzset", [(b"0", m) for m in (b"a", b"b", b"c", b"d", b"e", b"f", b"g")])
    assert store.zrangebylex(b"myzset", b"-", b"[c") == [b"a", b"b", b"c"]
    assert store.zrangebylex(b"myzset", b"-", b"(c") == [b"a", b"b"]
    assert store.zrangebylex(b"myzset", b"[aaa", b"(g") == [b"b", b"c", b"d", b"e", b"f"]
    assert store.zrevrangebylex(b"myzset", b"[c", b"-") == [b"c", b"b", b"a"]
    assert store.zlexcount(b"myzset", b"-", b"+") == 7
    assert store.zlexcount(b"myzset", b"[b", b"[f") == 5
    assert store.zremrangebylex(b"myzset", b"[b", b"(e") == 3
    assert store.zrange(b"myzset", 0, -1) == [b"a", b"e", b"f", b"g"]
    assert error(store.zrange, b"myzset", b"-", b"+", by="lex", withscores=True).message == (
        "syntax error, WITHSCORES not supported in combination with BYLEX")
    assert error(store.zrange, b"myzset", 0, 1, limit=(0, 1)).message == (
        "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")


def test_algebra_documentation_examples(store: CacheStore) -> None:
    store.zadd(b"zset1", [(b"1", b"one"), (b"2", b"two")])
    store.zadd(b"zset2", [(b"1", b"one"), (b"2", b"two"), (b"3", b"three")])
    assert store.zunionstore(b"out", [b"zset1", b"zset2"], weights=[b"2", b"3"]) == 3
    assert store.zrange(b"out", 0, -1, withscores=True) == [
        (b"one", 5.0), (b"three", 9.0), (b"two", 10.0)]
    assert store.zinterstore(b"out", [b"zset1", b"zset2"], weights=[b"2", b"3"]) == 2
    assert store.zrange(b"out", 0, -1, withscores=True) == [(b"one", 5.0), (b"two", 10.0)]
    assert store.zinterstore(b"out", [b"zset1", b"zset2"], aggregate="max") == 2
    assert store.zrange(b"out", 0, -1, withscores=True) == [(b"one", 1.0), (b"two", 2.0)]
    assert store.zdiffstore(b"out", [b"zset2", b"zset1"]) == 1
    assert store.zrange(b"out", 0, -1, withscores=True) == [(b"three", 3.0)]
    store.sadd(b"plain", [b"one", b"x"])  # a set's members score 1
    assert store.zunionstore(b"out", [b"plain", b"zset1"], aggregate="MIN") == 3
    assert store.zscore(b"out", b"x") == 1.0
    store.zadd(b"inf", [(b"inf", b"one")])
    store.zadd(b"ninf", [(b"-inf", b"one")])
    assert store.zunionstore(b"out", [b"inf", b"ninf"]) == 1
    assert store.zscore(b"out", b"one") == 0.0  # inf + -inf counts as 0, as in Redis
    assert store.zunionstore(b"out", [b"inf"], weights=[b"0"]) == 1
    assert store.zscore(b"out", b"one") == 0.0  # 0 x inf too
    assert error(store.zunionstore, b"out", [b"zset1"], weights=[b"x"]).message == (
        "weight value is not a float")
    assert store.zinterstore(b"out", [b"zset1", b"missing"]) == 0
    assert store.exists([b"out"]) == 0


def test_pops_rank_removal_and_rangestore(store: CacheStore) -> None:
    store.zadd(b"z", [(b"1", b"one"), (b"2", b"two"), (b"3", b"three")])
    assert store.zpopmin(b"z") == [(b"one", 1.0)]
    assert store.zpopmax(b"z", 5) == [(b"three", 3.0), (b"two", 2.0)]
    assert store.exists([b"z"]) == 0 and store.zpopmin(b"z") == []
    assert error(store.zpopmin, b"z", -1).message == "value is out of range, must be positive"
    store.zadd(b"z", [(b"%d" % i, b"m%d" % i) for i in range(10)])
    assert store.zremrangebyrank(b"z", 0, 1) == 2
    assert store.zremrangebyscore(b"z", b"(7", b"+inf") == 2
    assert store.zrangestore(b"dst", b"z", b"-inf", b"5", by="score", rev=False) == 4
    assert store.zrange(b"dst", 0, -1) == [b"m2", b"m3", b"m4", b"m5"]
    assert store.zrangestore(b"dst", b"z", 5, 1) == 0 and store.exists([b"dst"]) == 0


def test_zscan_covers_every_member_with_its_score(store: CacheStore) -> None:
    members = [(float(i) / 3, b"m%d" % i) for i in range(300)]
    store.zadd(b"z", members)
    seen: list[tuple[bytes, float]] = []
    cursor = 0
    while True:
        cursor, page = store.zscan(b"z", cursor, count=30)
        seen.extend(page)
        if cursor == 0:
            break
    assert sorted(seen) == sorted((m, s) for s, m in members)
    store.zadd(b"small", [(b"2", b"b"), (b"1", b"a")])
    assert store.zscan(b"small", 0) == (0, [(b"a", 1.0), (b"b", 2.0)])


def test_encoding_and_charge(store: CacheStore) -> None:
    store.zadd(b"z", [(b"%d" % i, b"m%d" % i) for i in range(128)])
    assert store.object_encoding(b"z") == "listpack"
    store.zadd(b"z", [(b"1", b"one-more")])
    assert store.object_encoding(b"z") == "skiplist"
    store.zadd(b"long", [(b"1", b"m" * 65)])
    assert store.object_encoding(b"long") == "skiplist"
    store.zadd(b"c", [(b"1", b"ab")])
    assert store.memory_usage(b"c") == (len(b"c") + ENTRY_OVERHEAD + ZSetValue.BASE
                                        + ZSET_MEMBER_COST + 2)


def test_negative_zero_and_infinities_keep_their_order(store: CacheStore) -> None:
    store.zadd(b"z", [(b"-0", b"z"), (b"-inf", b"n"), (b"inf", b"p")])
    assert store.zscore(b"z", b"z") == 0.0 and not math.copysign(1, store.zscore(b"z", b"z")) < 0
    assert store.zrange(b"z", 0, -1) == [b"n", b"z", b"p"]
