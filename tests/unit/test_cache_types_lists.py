"""CacheStore's lists: Redis's documented replies (LPOS, LINSERT, LTRIM...), error texts."""

from __future__ import annotations

import pytest

from engine.cache.store import ENTRY_OVERHEAD, WRONGTYPE, CacheStore
from engine.cache.types.values import LIST_ITEM_COST, ListValue
from engine.clock import ManualClock
from engine.errors import EngineError


@pytest.fixture
def store() -> CacheStore:
    return CacheStore(1 << 22, ManualClock())


def error(fn, *args, **kw) -> EngineError:
    with pytest.raises(EngineError) as info:
        fn(*args, **kw)
    return info.value


def test_pushes_pops_and_ranges(store: CacheStore) -> None:
    assert store.rpush(b"mylist", [b"one", b"two", b"three"]) == 3
    assert store.lpush(b"mylist", [b"zero", b"minus"]) == 5  # each onto the head in turn
    assert store.lrange(b"mylist", 0, -1) == [b"minus", b"zero", b"one", b"two", b"three"]
    assert store.lrange(b"mylist", -3, 2) == [b"one"]
    assert store.lrange(b"mylist", 5, 10) == []
    assert store.lindex(b"mylist", -1) == b"three"
    assert store.lindex(b"mylist", 9) is None
    assert store.lpop(b"mylist") == b"minus"
    assert store.rpop(b"mylist", 2) == [b"three", b"two"]
    assert store.lpop(b"mylist", 0) == []
    assert store.lpop(b"missing", 2) is None
    assert store.llen(b"mylist") == 2
    assert store.lpushx(b"missing", [b"x"]) == 0 and store.exists([b"missing"]) == 0
    assert store.rpushx(b"mylist", [b"x"]) == 3
    assert error(store.lpop, b"mylist", -1).message == "value is out of range, must be positive"


def test_popping_the_last_element_deletes_the_list(store: CacheStore) -> None:
    store.rpush(b"l", [b"a"])
    assert store.rpop(b"l", 5) == [b"a"]
    assert store.type(b"l") == "none"
    assert store.stats().bytes_used == 0


def test_lset_linsert_lrem_ltrim_as_documented(store: CacheStore) -> None:
    store.rpush(b"mylist", [b"one", b"two", b"three"])
    store.lset(b"mylist", 0, b"four")
    store.lset(b"mylist", -2, b"five")
    assert store.lrange(b"mylist", 0, -1) == [b"four", b"five", b"three"]
    assert error(store.lset, b"mylist", 3, b"x").message == "index out of range"
    assert error(store.lset, b"nosuch", 0, b"x").message == "no such key"

    store.delete([b"mylist"])
    store.rpush(b"mylist", [b"Hello", b"World"])
    assert store.linsert(b"mylist", True, b"World", b"There") == 3
    assert store.lrange(b"mylist", 0, -1) == [b"Hello", b"There", b"World"]
    assert store.linsert(b"mylist", False, b"nope", b"x") == -1
    assert store.linsert(b"nosuch", False, b"a", b"x") == 0

    store.delete([b"mylist"])
    store.rpush(b"mylist", [b"hello", b"hello", b"foo", b"hello"])
    assert store.lrem(b"mylist", -2, b"hello") == 2
    assert store.lrange(b"mylist", 0, -1) == [b"hello", b"foo"]

    store.delete([b"mylist"])
    store.rpush(b"mylist", [b"one", b"two", b"three"])
    store.ltrim(b"mylist", 1, -1)
    assert store.lrange(b"mylist", 0, -1) == [b"two", b"three"]
    store.ltrim(b"mylist", 5, 10)
    assert store.exists([b"mylist"]) == 0


def test_lpos_documentation_examples(store: CacheStore) -> None:
    store.rpush(b"mylist", [b"a", b"b", b"c", b"d", b"1", b"2", b"3", b"4", b"3", b"3", b"3"])
    assert store.lpos(b"mylist", b"3") == 6
    assert store.lpos(b"mylist", b"3", count=0, rank=2) == [8, 9, 10]
    store.delete([b"mylist"])
    store.rpush(b"mylist", [b"a", b"b", b"c", b"1", b"2", b"3", b"c", b"c"])
    assert store.lpos(b"mylist", b"c", rank=2) == 6
    assert store.lpos(b"mylist", b"c", rank=-1) == 7
    assert store.lpos(b"mylist", b"c", count=2) == [2, 6]
    assert store.lpos(b"mylist", b"c", rank=-1, count=2) == [7, 6]
    assert store.lpos(b"mylist", b"c", count=0, maxlen=3) == [2]
    assert store.lpos(b"mylist", b"x") is None
    assert store.lpos(b"missing", b"x", count=1) == []
    assert error(store.lpos, b"mylist", b"c", rank=0).message.startswith(
        "RANK can't be zero: use 1 to start from the first match")
    assert error(store.lpos, b"mylist", b"c", count=-1).message == "COUNT can't be negative"
    assert error(store.lpos, b"mylist", b"c", maxlen=-1).message == "MAXLEN can't be negative"


def test_lmove_and_lmpop(store: CacheStore) -> None:
    store.rpush(b"mylist", [b"one", b"two", b"three"])
    assert store.lmove(b"mylist", b"myother", "RIGHT", "LEFT") == b"three"
    assert store.lmove(b"mylist", b"myother", "LEFT", "RIGHT") == b"one"
    assert store.lrange(b"mylist", 0, -1) == [b"two"]
    assert store.lrange(b"myother", 0, -1) == [b"three", b"one"]
    assert store.lmove(b"myother", b"myother", "LEFT", "RIGHT") == b"three"  # rotate
    assert store.lrange(b"myother", 0, -1) == [b"one", b"three"]
    assert store.lmove(b"mylist", b"mylist", "LEFT", "LEFT") == b"two"  # one element
    assert store.lrange(b"mylist", 0, -1) == [b"two"]
    assert store.lmove(b"nosuch", b"x", "LEFT", "LEFT") is None
    store.set(b"str", b"v")
    assert error(store.lmove, b"mylist", b"str", "LEFT", "LEFT").message == WRONGTYPE
    assert store.lrange(b"mylist", 0, -1) == [b"two"]  # nothing moved

    assert store.lmpop([b"empty", b"myother"], "LEFT", 5) == (b"myother", [b"one", b"three"])
    assert store.lmpop([b"empty"], "RIGHT") is None
    assert error(store.lmpop, [b"x"], "LEFT", 0).message == "count should be greater than 0"


def test_a_list_is_charged_per_element(store: CacheStore) -> None:
    store.rpush(b"l", [b"abc", b"de"])
    expected = len(b"l") + ENTRY_OVERHEAD + ListValue.BASE + 2 * LIST_ITEM_COST + 5
    assert store.stats().bytes_used == expected
    store.lset(b"l", 0, b"a")
    assert store.stats().bytes_used == expected - 2
    assert store.object_encoding(b"l") == "quicklist"  # every list, in Redis 7.0
