"""CacheStore's string commands beyond GET/SET, and WRONGTYPE on every string command,
with the replies of Redis's documentation examples."""

from __future__ import annotations

import pytest

from engine.cache.store import ENTRY_OVERHEAD, WRONGTYPE, CacheStore
from engine.clock import ManualClock
from engine.errors import EngineError


def make(budget: int = 1 << 20) -> tuple[CacheStore, ManualClock]:
    clock = ManualClock()
    return CacheStore(budget, clock), clock


def error(fn, *args, **kw) -> EngineError:
    with pytest.raises(EngineError) as info:
        fn(*args, **kw)
    return info.value


@pytest.mark.parametrize("call", [
    lambda s: s.get(b"h"),
    lambda s: s.incrby(b"h", 1),
    lambda s: s.incrbyfloat(b"h", b"1"),
    lambda s: s.append(b"h", b"x"),
    lambda s: s.strlen(b"h"),
    lambda s: s.getrange(b"h", 0, 1),
    lambda s: s.setrange(b"h", 0, b"x"),
    lambda s: s.getdel(b"h"),
    lambda s: s.getex(b"h", persist=True),
    lambda s: s.set(b"h", b"v", get=True),
])
def test_string_commands_on_a_hash_are_wrongtype_and_change_nothing(call) -> None:
    store, _ = make()
    store.hset(b"h", [(b"f", b"v")])
    err = error(call, store)
    assert (err.code, err.message) == ("WrongType", WRONGTYPE)
    assert err.message == "WRONGTYPE Operation against a key holding the wrong kind of value"
    assert store.hgetall(b"h") == [(b"f", b"v")]


def test_set_replaces_a_key_of_any_type_and_mget_reads_other_types_as_nil() -> None:
    store, _ = make()
    store.rpush(b"l", [b"a"])
    store.sadd(b"s", [b"a"])
    assert store.mget([b"l", b"s", b"missing"]) == [None, None, None]
    assert store.set(b"l", b"now a string") == (True, None)
    assert store.type(b"l") == "string"
    assert store.get(b"l") == b"now a string"


def test_incrbyfloat_documentation_example() -> None:
    # INCRBYFLOAT's page: 10.50 +0.1 = 10.6, -5 = 5.6; 5.0e3 + 2.0e2 = 5200
    store, _ = make()
    store.set(b"mykey", b"10.50")
    assert store.incrbyfloat(b"mykey", b"0.1") == b"10.6"
    assert store.incrbyfloat(b"mykey", b"-5") == b"5.6"
    store.set(b"mykey", b"5.0e3")
    assert store.incrbyfloat(b"mykey", b"2.0e2") == b"5200"
    assert store.get(b"mykey") == b"5200"


def test_incrbyfloat_keeps_long_double_digits_and_refuses_bad_input() -> None:
    store, _ = make()
    store.set(b"k", b"1000")
    assert store.incrbyfloat(b"k", b"3.0e-2") == b"1000.03000000000000003"  # redis-server 7.0
    assert store.incrbyfloat(b"fresh", 0.1) == b"0.1"
    assert store.incrbyfloat(b"fresh", b"-0.1") == b"0"
    assert error(store.incrbyfloat, b"k", b"abc").message == "value is not a valid float"
    assert error(store.incrbyfloat, b"k", b" 1").message == "value is not a valid float"
    assert error(store.incrbyfloat, b"k", b"inf").message == (
        "increment would produce NaN or Infinity")
    store.set(b"text", b"hello")
    assert error(store.incrbyfloat, b"text", b"1").code == "NotAFloat"


def test_incrbyfloat_keeps_the_ttl() -> None:
    store, _ = make()
    store.set(b"k", b"1", px=5000)
    store.incrbyfloat(b"k", b"1.5")
    assert 0 < store.pttl(b"k") <= 5000


def test_append_strlen_and_getrange_as_documented() -> None:
    store, _ = make()
    assert store.append(b"mykey", b"Hello") == 5
    assert store.append(b"mykey", b" World") == 11
    assert store.get(b"mykey") == b"Hello World"
    assert store.strlen(b"mykey") == 11
    assert store.strlen(b"nosuchkey") == 0
    store.set(b"mykey", b"This is a string")
    assert store.getrange(b"mykey", 0, 3) == b"This"
    assert store.getrange(b"mykey", -3, -1) == b"ing"
    assert store.getrange(b"mykey", 0, -1) == b"This is a string"
    assert store.getrange(b"mykey", 10, 100) == b"string"
    assert store.getrange(b"mykey", -1, -5) == b""


def test_setrange_pads_with_zero_bytes_as_documented() -> None:
    store, _ = make()
    store.set(b"key1", b"Hello World")
    assert store.setrange(b"key1", 6, b"Redis") == 11
    assert store.get(b"key1") == b"Hello Redis"
    assert store.setrange(b"key2", 6, b"Redis") == 11
    assert store.get(b"key2") == b"\x00" * 6 + b"Redis"
    assert store.setrange(b"none", 3, b"") == 0
    assert store.exists([b"none"]) == 0  # an empty SETRANGE creates nothing
    assert error(store.setrange, b"key1", -1, b"x").message == "offset is out of range"


def test_append_and_setrange_charge_the_grown_string() -> None:
    store, _ = make()
    store.set(b"k", b"ab")
    store.append(b"k", b"cdef")
    assert store.stats().bytes_used == len(b"k") + 6 + ENTRY_OVERHEAD
    store.setrange(b"k", 10, b"x")
    assert store.stats().bytes_used == len(b"k") + 11 + ENTRY_OVERHEAD
    assert store.memory_usage(b"k") == len(b"k") + 11 + ENTRY_OVERHEAD


def test_getdel_and_getex() -> None:
    store, clock = make()
    store.set(b"k", b"v")
    assert store.getdel(b"k") == b"v"
    assert store.getdel(b"k") is None
    store.set(b"k", b"v")
    assert store.getex(b"k", px=1000) == b"v"
    assert store.pttl(b"k") == 1000
    assert store.getex(b"k", persist=True) == b"v"
    assert store.pttl(b"k") == -1
    assert store.getex(b"k", pxat=clock.now_ns() // 1_000_000 - 1) == b"v"
    assert store.exists([b"k"]) == 0  # an expiry in the past deletes the key
    assert error(store.getex, b"k", px=0).message == "invalid expire time in 'getex' command"
    assert error(store.getex, b"k", px=5, persist=True).code == "SyntaxError"


def test_msetnx_writes_all_or_nothing() -> None:
    store, _ = make()
    assert store.msetnx([(b"a", b"1"), (b"b", b"2")]) is True
    assert store.msetnx([(b"b", b"x"), (b"c", b"3")]) is False
    assert store.mget([b"a", b"b", b"c"]) == [b"1", b"2", None]
    store.sadd(b"s", [b"m"])
    assert store.msetnx([(b"s", b"x")]) is False  # a key of any type counts


@pytest.mark.parametrize(("write", "encoding"), [
    (lambda s: s.set(b"k", b"12345"), "int"),
    (lambda s: s.set(b"k", b"-9223372036854775808"), "int"),
    (lambda s: s.set(b"k", b"9223372036854775808"), "embstr"),  # past int64
    (lambda s: s.set(b"k", b"012"), "embstr"),
    (lambda s: s.set(b"k", b"x" * 44), "embstr"),
    (lambda s: s.set(b"k", b"x" * 45), "raw"),
    (lambda s: s.incrby(b"k", 5), "int"),
    (lambda s: s.incrbyfloat(b"k", b"3"), "embstr"),  # "3", but as Redis's embstr
    (lambda s: (s.set(b"k", b"ab"), s.append(b"k", b"c")), "raw"),
    (lambda s: s.setrange(b"k", 0, b"1"), "raw"),
])
def test_object_encoding_of_strings_is_redis_70s(write, encoding: str) -> None:
    store, _ = make()
    write(store)
    assert store.object_encoding(b"k") == encoding
