"""The cache tier through the SDK against a real `engine serve --manual-clock`: every
command with every return value as redis-py gives it, TTLs on the engine clock (moved by
hand, never slept for), lazy and active expiry, bad input rejected with Redis's error and
our code, and a 1 MiB server that keeps its hot set while several times its budget is
written through it.
"""

from __future__ import annotations

import datetime
import time
import uuid

import pytest
from helpers_cache import (
    DEFAULT_BUDGET,
    KIB,
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    MIB,
    SMALL_BUDGET,
    assert_cache_error,
    cache_fixture,  # noqa: F401  (fixture "cache")
    cache_server_fixture,  # noqa: F401  (fixture "cache_server")
    key_fixture,  # noqa: F401  (fixture "key")
    small_cache_fixture,  # noqa: F401  (fixture "small_cache")
    small_cache_server_fixture,  # noqa: F401  (fixture "small_cache_server")
)

from engine.client import ClientError, DataError, ResponseError, signed_channels
from engine.v1 import admin_pb2, admin_pb2_grpc

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
UTC = datetime.UTC


def now_ms(server) -> int:
    """The engine clock, in Unix ms, exactly (AdvanceClock by 0)."""
    with signed_channels.insecure_channel(server.endpoint) as channel:
        resp = admin_pb2_grpc.AdminStub(channel).AdvanceClock(
            admin_pb2.AdvanceClockRequest(seconds=0), timeout=10
        )
    return resp.now_ns // 1_000_000


def total(cache) -> dict:
    return cache.stats()["total"]


# -- GET / SET ---------------------------------------------------------------------------


def test_get_of_a_missing_key_is_none(cache, key):
    assert cache.get(key()) is None


def test_set_returns_true_and_get_returns_bytes(cache, key):
    assert cache.set(key(), b"value") is True
    value = cache.get(key())
    assert value == b"value"
    assert type(value) is bytes


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (b"bytes", b"bytes"),
        (bytes(range(256)), bytes(range(256))),
        ("text", b"text"),
        ("héllo wörld ✓ 🙂", "héllo wörld ✓ 🙂".encode()),
        (42, b"42"),
        (-7, b"-7"),
        (1.5, b"1.5"),
        (0.1, b"0.1"),
        (1e100, b"1e+100"),
        (memoryview(b"view"), b"view"),
    ],
    ids=lambda v: type(v).__name__ + ":" + repr(v)[:20],
)
def test_values_are_stored_as_redis_py_encodes_them(cache, key, value, stored):
    assert cache.set(key(), value) is True
    assert cache.get(key()) == stored


def test_an_empty_value_is_found_not_missing(cache, key):
    assert cache.set(key(), b"") is True
    assert cache.get(key()) == b""
    assert cache.exists(key()) == 1
    assert cache.mget([key(), key("missing")]) == [b"", None]


def test_str_bytes_int_and_float_keys(cache, key):
    text = key("ключ")
    assert cache.set(text, "a") is True
    assert cache.get(text.encode()) == b"a"  # the str key is its UTF-8 bytes
    binary = key().encode() + b"\x00\xff\r\n"
    assert cache.set(binary, "b") is True
    assert cache.get(binary) == b"b"
    assert cache.get(key().encode() + b"\x00\xfe\r\n") is None
    number = uuid.uuid4().int % 10**15 + 10**15
    assert cache.set(number, "c") is True
    assert cache.get(str(number)) == b"c"
    assert cache.get(number) == b"c"
    real = number + 0.5
    assert cache.set(real, "d") is True
    assert cache.get(repr(real)) == b"d"
    assert cache.delete(text, binary, number, real) == 4


def test_set_overwrites_and_clears_the_expiry(cache, key):
    assert cache.set(key(), "one", ex=100) is True
    assert cache.set(key(), "two") is True
    assert cache.get(key()) == b"two"
    assert cache.ttl(key()) == -1


def test_set_nx_writes_only_a_missing_key(cache, key):
    assert cache.set(key(), "first", nx=True) is True
    assert cache.set(key(), "second", nx=True) is None
    assert cache.get(key()) == b"first"


def test_set_xx_writes_only_an_existing_key(cache, key):
    assert cache.set(key(), "first", xx=True) is None
    assert cache.get(key()) is None
    assert cache.exists(key()) == 0
    cache.set(key(), "first")
    assert cache.set(key(), "second", xx=True) is True
    assert cache.get(key()) == b"second"


def test_set_get_returns_the_previous_value(cache, key):
    assert cache.set(key(), "one", get=True) is None
    assert cache.get(key()) == b"one"
    assert cache.set(key(), "two", get=True) == b"one"
    assert cache.get(key()) == b"two"
    assert cache.set(key(), b"", get=True) == b"two"
    assert cache.set(key(), "three", get=True) == b""


def test_set_get_with_nx_and_xx(cache, key):
    # Redis 7: NX and GET together; the old value comes back whether or not it wrote.
    assert cache.set(key(), "one", nx=True, get=True) is None
    assert cache.get(key()) == b"one"
    assert cache.set(key(), "two", nx=True, get=True) == b"one"
    assert cache.get(key()) == b"one"
    assert cache.set(key("other"), "x", xx=True, get=True) is None
    assert cache.exists(key("other")) == 0
    assert cache.set(key(), "three", xx=True, get=True) == b"one"
    assert cache.get(key()) == b"three"


# -- TTLs on the engine clock ------------------------------------------------------------


def test_ttl_and_pttl_of_a_missing_key_and_a_key_without_expiry(cache, key):
    assert cache.ttl(key()) == -2
    assert cache.pttl(key()) == -2
    cache.set(key(), "v")
    assert cache.ttl(key()) == -1
    assert cache.pttl(key()) == -1


def test_ex_counts_down_with_the_clock_and_ttl_rounds_as_redis(cache, cache_server, key):
    assert cache.set(key(), "v", ex=10) is True
    assert cache.pttl(key()) == 10_000
    assert cache.ttl(key()) == 10
    cache_server.advance(3.5)
    assert cache.pttl(key()) == 6_500
    assert cache.ttl(key()) == 7  # 6.5 s rounds up
    cache_server.advance(0.001)
    assert cache.pttl(key()) == 6_499
    assert cache.ttl(key()) == 6
    cache_server.advance(6)
    assert cache.pttl(key()) == 499
    assert cache.ttl(key()) == 0
    cache_server.advance(0.499)
    assert cache.pttl(key()) == 0  # live up to and including its expiry instant
    assert cache.get(key()) == b"v"
    cache_server.advance(0.001)
    assert cache.get(key()) is None
    assert cache.ttl(key()) == -2


def test_px_and_timedelta_expiries(cache, cache_server, key):
    assert cache.set(key("px"), "v", px=1500) is True
    assert cache.pttl(key("px")) == 1500
    assert cache.set(key("td-ex"), "v", ex=datetime.timedelta(minutes=2)) is True
    assert cache.pttl(key("td-ex")) == 120_000
    assert cache.set(key("td-px"), "v", px=datetime.timedelta(seconds=2.5)) is True
    assert cache.pttl(key("td-px")) == 2500
    assert cache.set(key("str-ex"), "v", ex="30") is True
    assert cache.ttl(key("str-ex")) == 30


def test_exat_and_pxat_are_unix_times_on_the_engine_clock(cache, cache_server, key):
    now = now_ms(cache_server)
    assert cache.set(key("pxat"), "v", pxat=now + 5000) is True
    assert cache.pttl(key("pxat")) == 5000
    exat = now // 1000 + 100
    assert cache.set(key("exat"), "v", exat=exat) is True
    assert cache.pttl(key("exat")) == exat * 1000 - now
    when = datetime.datetime.fromtimestamp(now / 1000 + 60, UTC)
    assert cache.set(key("exat-dt"), "v", exat=when) is True
    assert cache.pttl(key("exat-dt")) == int(when.timestamp()) * 1000 - now
    assert cache.set(key("pxat-dt"), "v", pxat=when) is True
    assert cache.pttl(key("pxat-dt")) == int(when.timestamp() * 1000) - now


def test_set_with_an_absolute_time_already_past_leaves_no_key(cache, cache_server, key):
    cache.set(key(), "old")
    assert cache.set(key(), "new", pxat=now_ms(cache_server) - 1000) is True
    assert cache.get(key()) is None
    assert cache.exists(key()) == 0


def test_keepttl_keeps_the_expiry(cache, cache_server, key):
    cache.set(key(), "one", ex=100)
    cache_server.advance(10)
    assert cache.set(key(), "two", keepttl=True) is True
    assert cache.get(key()) == b"two"
    assert cache.pttl(key()) == 90_000
    assert cache.set(key("fresh"), "x", keepttl=True) is True  # no expiry to keep
    assert cache.ttl(key("fresh")) == -1


def test_incr_keeps_the_expiry_and_mset_clears_it(cache, key):
    cache.set(key("n"), 5, ex=100)
    assert cache.incr(key("n")) == 6
    assert cache.pttl(key("n")) == 100_000
    cache.set(key("m"), "x", ex=100)
    assert cache.mset({key("m"): "y"}) is True
    assert cache.ttl(key("m")) == -1


def test_an_expired_key_is_gone_at_the_next_access(cache, cache_server, key):
    before = total(cache)
    cache.set(key(), "v", px=1000)
    cache.set(key("other"), "w", px=1000)
    cache_server.advance(1.0)
    assert cache.get(key()) == b"v"
    cache_server.advance(0.001)
    assert cache.get(key()) is None
    assert cache.exists(key("other")) == 0
    assert cache.mget([key(), key("other")]) == [None, None]
    assert cache.pttl(key()) == -2
    assert cache.delete(key(), key("other")) == 0  # an expired key is not deleted again
    assert cache.expire(key(), 100) is False
    after = total(cache)
    assert after["expirations"] - before["expirations"] >= 2
    assert after["keys"] <= before["keys"]


def test_expired_keys_are_swept_without_being_read(cache, cache_server, key):
    names = [key(str(i)) for i in range(50)]
    cache.mset(dict.fromkeys(names, b"x" * 1000))
    for name in names:
        cache.pexpire(name, 500)
    with_keys = total(cache)
    cache_server.advance(1)

    def swept(stats: dict) -> bool:
        return (stats["expirations"] - with_keys["expirations"] >= 50
                and stats["bytes_used"] <= with_keys["bytes_used"] - 50 * 1000)

    deadline = time.monotonic() + 15
    stats = total(cache)
    while not swept(stats) and time.monotonic() < deadline:
        time.sleep(0.2)
        stats = total(cache)
    assert swept(stats), (
        f"{stats['expirations'] - with_keys['expirations']} expirations and "
        f"{with_keys['bytes_used'] - stats['bytes_used']} bytes freed within 15 s without "
        "reading the 50 expired keys of 1000 bytes")
    assert cache.exists(*names) == 0


# -- DELETE / EXISTS ---------------------------------------------------------------------


def test_delete_returns_how_many_existed(cache, key):
    cache.mset({key("a"): 1, key("b"): 2})
    assert cache.delete(key("a"), key("b"), key("c")) == 2
    assert cache.delete(key("a")) == 0
    assert cache.get(key("a")) is None


def test_delete_of_a_key_named_twice_counts_it_once(cache, key):
    cache.set(key(), "v")
    assert cache.delete(key(), key()) == 1


def test_exists_counts_a_key_named_twice_twice(cache, key):
    cache.mset({key("a"): 1, key("b"): 2})
    assert cache.exists(key("a")) == 1
    assert cache.exists(key("a"), key("a"), key("b"), key("c")) == 3
    assert cache.exists(key("c")) == 0


def test_multi_key_commands_without_keys_are_refused(cache):
    for call in (cache.delete, cache.exists, lambda: cache.mget([]),
                 lambda: cache.mset({})):
        with pytest.raises(ResponseError) as info:
            call()
        assert "wrong number of arguments" in str(info.value)


# -- INCR / DECR -------------------------------------------------------------------------


def test_incr_of_a_missing_key_starts_at_zero(cache, key):
    value = cache.incr(key())
    assert value == 1
    assert type(value) is int
    assert cache.get(key()) == b"1"
    assert cache.ttl(key()) == -1


def test_incrby_decr_and_decrby(cache, key):
    assert cache.incrby(key(), 10) == 10
    assert cache.incr(key(), 5) == 15
    assert cache.decr(key()) == 14
    assert cache.decr(key(), 4) == 10
    assert cache.decrby(key(), 20) == -10
    assert cache.incrby(key(), -5) == -15
    assert cache.incr(key(), "3") == -12
    assert cache.get(key()) == b"-12"


def test_incr_of_a_value_set_as_int_or_str(cache, key):
    cache.set(key("int"), 41)
    assert cache.incr(key("int")) == 42
    cache.set(key("str"), "-9")
    assert cache.incr(key("str")) == -8


@pytest.mark.parametrize(
    "value",
    [b"abc", b"1.5", b"", b" 1", b"1 ", b"01", b"+1", b"-0", b"0x10", b"1e3",
     b"9223372036854775808", b"99999999999999999999"],
    ids=repr,
)
def test_incr_of_a_value_that_is_not_an_integer(cache, key, value):
    cache.set(key(), value)
    with pytest.raises(ResponseError) as info:
        cache.incr(key())
    assert_cache_error(info, "NotAnInteger")
    assert str(info.value) == "value is not an integer or out of range"
    assert cache.get(key()) == value


def test_incr_past_int64_overflows_and_changes_nothing(cache, key):
    cache.set(key("max"), INT64_MAX)
    with pytest.raises(ResponseError) as info:
        cache.incr(key("max"))
    assert_cache_error(info, "Overflow")
    assert cache.get(key("max")) == str(INT64_MAX).encode()
    cache.set(key("min"), INT64_MIN)
    with pytest.raises(ResponseError) as info:
        cache.decr(key("min"))
    assert_cache_error(info, "Overflow")
    with pytest.raises(ResponseError) as info:
        cache.incrby(key("min"), INT64_MIN)
    assert_cache_error(info, "Overflow")
    assert cache.get(key("min")) == str(INT64_MIN).encode()
    assert cache.incrby(key("min"), INT64_MAX) == -1


@pytest.mark.parametrize("amount", [1.5, "x", 2**63], ids=repr)
def test_incr_by_an_amount_that_is_not_an_integer(cache, key, amount):
    with pytest.raises(ResponseError) as info:
        cache.incrby(key(), amount)
    assert_cache_error(info, "NotAnInteger")
    assert cache.exists(key()) == 0


# -- MGET / MSET -------------------------------------------------------------------------


def test_mget_keeps_order_with_none_for_missing_keys(cache, key):
    cache.mset({key("a"): "1", key("b"): "2"})
    assert cache.mget([key("b"), key("missing"), key("a"), key("b")]) == [
        b"2", None, b"1", b"2"]


def test_mget_takes_a_list_or_arguments(cache, key):
    cache.mset({key("a"): "1", key("b"): "2", key("c"): "3"})
    assert cache.mget(key("a"), key("b")) == [b"1", b"2"]
    assert cache.mget([key("a"), key("b")], key("c")) == [b"1", b"2", b"3"]
    assert cache.mget((key("c"),)) == [b"3"]
    assert cache.mget(key("a")) == [b"1"]


def test_mset_returns_true_sets_every_key_and_overwrites(cache, key):
    cache.set(key("a"), "old")
    mapping = {key("a"): "new", key("b"): b"\x00", key("c"): 3, key("d"): 2.5}
    assert cache.mset(mapping) is True
    assert cache.mget(list(mapping)) == [b"new", b"\x00", b"3", b"2.5"]


def test_mget_and_mset_across_many_slots(cache, key):
    mapping = {key(str(i)): str(i) for i in range(500)}
    assert cache.mset(mapping) is True
    assert cache.mget(list(mapping)) == [str(i).encode() for i in range(500)]
    assert cache.exists(*mapping) == 500
    assert cache.delete(*mapping) == 500


def test_keys_with_the_same_hash_tag(cache, key):
    tag = "{" + key("user") + "}"
    assert cache.mset({f"{tag}:name": "ana", f"{tag}:age": 31}) is True
    assert cache.mget(f"{tag}:name", f"{tag}:age") == [b"ana", b"31"]


# -- EXPIRE family -----------------------------------------------------------------------


def test_expire_of_a_missing_key_is_false(cache, key):
    assert cache.expire(key(), 10) is False
    assert cache.pexpire(key(), 10) is False
    assert cache.expireat(key(), 2_000_000_000) is False
    assert cache.pexpireat(key(), 2_000_000_000_000) is False
    assert cache.exists(key()) == 0


def test_expire_and_pexpire(cache, key):
    cache.set(key(), "v")
    assert cache.expire(key(), 10) is True
    assert cache.pttl(key()) == 10_000
    assert cache.expire(key(), datetime.timedelta(minutes=1)) is True
    assert cache.pttl(key()) == 60_000
    assert cache.pexpire(key(), 1234) is True
    assert cache.pttl(key()) == 1234
    assert cache.pexpire(key(), datetime.timedelta(seconds=2.5)) is True
    assert cache.pttl(key()) == 2500
    assert cache.get(key()) == b"v"


def test_expireat_and_pexpireat(cache, cache_server, key):
    now = now_ms(cache_server)
    cache.set(key(), "v")
    assert cache.pexpireat(key(), now + 7777) is True
    assert cache.pttl(key()) == 7777
    at = now // 1000 + 50
    assert cache.expireat(key(), at) is True
    assert cache.pttl(key()) == at * 1000 - now
    when = datetime.datetime.fromtimestamp(now / 1000 + 30, UTC)
    assert cache.expireat(key(), when) is True
    assert cache.pttl(key()) == int(when.timestamp()) * 1000 - now
    assert cache.pexpireat(key(), when) is True
    assert cache.pttl(key()) == int(when.timestamp() * 1000) - now


@pytest.mark.parametrize("how", ["expire-0", "expire-negative", "pexpire-0", "expireat-past",
                                 "pexpireat-now"])
def test_an_expire_time_at_or_before_now_deletes_the_key(cache, cache_server, key, how):
    cache.set(key(), "v")
    now = now_ms(cache_server)
    calls = {
        "expire-0": lambda: cache.expire(key(), 0),
        "expire-negative": lambda: cache.expire(key(), -10),
        "pexpire-0": lambda: cache.pexpire(key(), 0),
        "expireat-past": lambda: cache.expireat(key(), now // 1000 - 10),
        "pexpireat-now": lambda: cache.pexpireat(key(), now),
    }
    assert calls[how]() is True
    assert cache.get(key()) is None
    assert cache.ttl(key()) == -2


def test_expire_nx_and_xx(cache, key):
    cache.set(key(), "v")
    assert cache.expire(key(), 100, xx=True) is False  # no expiry yet
    assert cache.ttl(key()) == -1
    assert cache.expire(key(), 100, nx=True) is True
    assert cache.ttl(key()) == 100
    assert cache.expire(key(), 200, nx=True) is False
    assert cache.ttl(key()) == 100
    assert cache.expire(key(), 200, xx=True) is True
    assert cache.ttl(key()) == 200


def test_expire_gt_and_lt(cache, key):
    cache.set(key(), "v")
    assert cache.expire(key(), 100, gt=True) is False  # no expiry counts as infinite
    assert cache.ttl(key()) == -1
    assert cache.expire(key(), 100, lt=True) is True
    assert cache.expire(key(), 50, gt=True) is False
    assert cache.expire(key(), 150, gt=True) is True
    assert cache.ttl(key()) == 150
    assert cache.expire(key(), 200, lt=True) is False
    assert cache.expire(key(), 150, lt=True) is False  # equal is not less
    assert cache.expire(key(), 120, lt=True) is True
    assert cache.ttl(key()) == 120
    assert cache.expire(key(), 300, xx=True, gt=True) is True
    assert cache.ttl(key()) == 300


@pytest.mark.parametrize(
    "flags",
    [{"nx": True, "xx": True}, {"nx": True, "gt": True}, {"nx": True, "lt": True},
     {"gt": True, "lt": True}],
    ids=lambda f: "+".join(sorted(f)),
)
def test_expire_with_incompatible_flags_is_a_syntax_error(cache, key, flags):
    cache.set(key(), "v")
    with pytest.raises(ResponseError) as info:
        cache.expire(key(), 100, **flags)
    assert_cache_error(info, "SyntaxError")
    assert cache.ttl(key()) == -1


def test_expire_time_that_overflows_is_invalid(cache, cache_server, key):
    cache.set(key(), "v")
    for call in (
        lambda: cache.expire(key(), INT64_MAX // 1000),  # fits in ms, not once now is added
        lambda: cache.pexpire(key(), INT64_MAX - now_ms(cache_server) + 1),
        lambda: cache.expire(key(), 2**62),  # its milliseconds do not fit
        lambda: cache.expireat(key(), 2**62),
    ):
        with pytest.raises(ResponseError) as info:
            call()
        assert_cache_error(info, "InvalidExpireTime")
        assert "invalid expire time" in str(info.value)
    assert cache.ttl(key()) == -1


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"ex": 0}, {"ex": -1}, {"px": 0}, {"px": -1}, {"exat": 0}, {"exat": -5}, {"pxat": 0},
     {"pxat": -5}, {"ex": INT64_MAX // 1000}, {"px": INT64_MAX}, {"ex": 2**62},
     {"exat": 2**62}],
    ids=repr,
)
def test_set_with_an_invalid_expire_time_writes_nothing(cache, key, kwargs):
    cache.set(key(), "old")
    with pytest.raises(ResponseError) as info:
        cache.set(key(), "new", **kwargs)
    assert_cache_error(info, "InvalidExpireTime")
    assert str(info.value).startswith("invalid expire time")
    assert cache.get(key()) == b"old"
    assert cache.ttl(key()) == -1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c, k: c.set(k, None), "Invalid input of type: 'NoneType'"),
        (lambda c, k: c.set(None, "v"), "Invalid input of type: 'NoneType'"),
        (lambda c, k: c.set(k, True), "Invalid input of type: 'bool'"),
        (lambda c, k: c.set(k, {"a": 1}), "Invalid input of type: 'dict'"),
        (lambda c, k: c.set(k, "v", nx=True, xx=True), "mutually exclusive"),
        (lambda c, k: c.set(k, "v", ex=1, px=1000), "mutually exclusive"),
        (lambda c, k: c.set(k, "v", ex=1, keepttl=True), "mutually exclusive"),
        (lambda c, k: c.set(k, "v", ex=1.5), "ex must be datetime.timedelta or int"),
        (lambda c, k: c.set(k, "v", px="10"), "px must be datetime.timedelta or int"),
        (lambda c, k: c.get(None), "Invalid input of type: 'NoneType'"),
        (lambda c, k: c.mset({k: None}), "Invalid input of type: 'NoneType'"),
        (lambda c, k: c.mget([k, None]), "Invalid input of type: 'NoneType'"),
        (lambda c, k: c.delete(k, [k]), "Invalid input of type: 'list'"),
        (lambda c, k: c.incrby(k, None), "Invalid input of type: 'NoneType'"),
        (lambda c, k: c.expire(k, None), "Invalid input of type: 'NoneType'"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_arguments_redis_py_refuses_are_data_errors(cache, key, call, message):
    with pytest.raises(DataError) as info:
        call(cache, key())
    assert message in str(info.value)
    assert info.value.response["Error"]["Code"] == "DataError"
    assert cache.exists(key()) == 0


def test_values_up_to_8_mib_are_accepted_and_larger_ones_rejected(cache, key):
    big = bytes(range(256)) * (MAX_VALUE_BYTES // 256)
    assert len(big) == MAX_VALUE_BYTES
    assert cache.set(key(), big) is True
    assert cache.get(key()) == big
    with pytest.raises(ResponseError) as info:
        cache.set(key(), big + b"!")
    assert_cache_error(info, "ValueTooLarge")
    assert cache.get(key()) == big  # the old value stays
    with pytest.raises(ResponseError) as info:
        cache.mset({key("small"): "v", key("huge"): big + b"!"})
    assert_cache_error(info, "ValueTooLarge")
    assert cache.exists(key("small"), key("huge")) == 0  # all or nothing
    with pytest.raises(ResponseError) as info:  # more than a request can carry
        cache.set(key(), big * 3)
    assert_cache_error(info, "ValueTooLarge")
    assert cache.delete(key()) == 1


def test_keys_up_to_64_kib_are_accepted_and_longer_ones_rejected(cache, key):
    longest = (key() + "x" * MAX_KEY_BYTES)[:MAX_KEY_BYTES]
    assert cache.set(longest, "v") is True
    assert cache.get(longest) == b"v"
    too_long = longest + "x"
    for call in (lambda: cache.set(too_long, "v"), lambda: cache.incr(too_long),
                 lambda: cache.mset({too_long: "v"})):
        with pytest.raises(ResponseError) as info:
            call()
        assert_cache_error(info, "KeyTooLarge")
    assert cache.delete(longest) == 1


def test_the_node_keeps_serving_after_bad_input(cache, key):
    for call in (lambda: cache.set(key(), "v", ex=0), lambda: cache.incr(key("x")),
                 lambda: cache.set(key(), b"x" * (MAX_VALUE_BYTES + 1))):
        cache.set(key("x"), "nan")
        with pytest.raises(ClientError):
            call()
    assert cache.set(key(), "fine") is True
    assert cache.get(key()) == b"fine"


# -- FLUSHALL and STATS ------------------------------------------------------------------


def test_flushall_removes_every_key(cache, key):
    cache.mset({key(str(i)): i for i in range(20)})
    cache.set(key("ttl"), "v", ex=100)
    assert cache.flushall() is True
    assert cache.exists(*[key(str(i)) for i in range(20)], key("ttl")) == 0
    stats = total(cache)
    assert stats["keys"] == 0
    assert stats["bytes_used"] == 0
    cache.set(key(), "v")
    assert cache.flushall(asynchronous=True) is True
    assert cache.get(key()) is None


def test_stats_shape_and_counters(cache, key):
    before = cache.stats()
    assert set(before) == {"nodes", "total"}
    assert len(before["nodes"]) == 1
    [(node_id, node)] = before["nodes"].items()
    assert isinstance(node_id, str) and node_id
    fields = {"hits", "misses", "evictions", "expirations", "keys", "bytes_used", "budget",
              "object_hits", "object_misses", "reachable"}
    assert set(node) == fields
    assert set(before["total"]) == fields
    assert node["reachable"] is True
    assert node["budget"] == DEFAULT_BUDGET
    assert before["total"]["budget"] == DEFAULT_BUDGET
    for name in fields - {"reachable"}:
        assert type(node[name]) is int and node[name] >= 0, name
        assert before["total"][name] == node[name], name

    cache.set(key(), "v" * 100)
    assert cache.get(key()) == b"v" * 100  # a hit
    assert cache.get(key("missing")) is None  # a miss
    assert cache.mget([key(), key("missing")]) == [b"v" * 100, None]  # one of each
    after = cache.stats()["total"]
    assert after["hits"] - before["total"]["hits"] == 2
    assert after["misses"] - before["total"]["misses"] == 2
    assert after["keys"] == before["total"]["keys"] + 1
    assert after["bytes_used"] - before["total"]["bytes_used"] >= len(key()) + 100
    assert 0 < after["bytes_used"] <= after["budget"]


# -- a 1 MiB budget ----------------------------------------------------------------------


def test_small_server_budget(small_cache):
    stats = small_cache.stats()
    assert stats["total"]["budget"] == SMALL_BUDGET
    assert all(n["budget"] == SMALL_BUDGET for n in stats["nodes"].values())


def test_writing_several_times_the_budget_keeps_the_hot_set(small_cache, key):
    cache = small_cache
    cache.flushall()
    start = cache.stats()["total"]
    value = bytes(range(256)) * (KIB // 256)
    hot = {key(f"hot-{i}"): bytes([i]) * KIB for i in range(16)}
    assert cache.mset(hot) is True
    cold = [key(f"cold-{i}") for i in range(4 * MIB // KIB)]  # 4x the budget
    batch = 16
    for n in range(0, len(cold), batch):
        assert cache.mset(dict.fromkeys(cold[n : n + batch], value)) is True
        for name, expected in hot.items():
            assert cache.get(name) == expected, f"hot key evicted after {n + batch} cold keys"
        if n % (32 * batch) == 0:
            stats = cache.stats()["total"]
            assert stats["bytes_used"] <= SMALL_BUDGET, stats
    stats = cache.stats()["total"]
    assert stats["budget"] == SMALL_BUDGET
    assert stats["bytes_used"] <= SMALL_BUDGET
    assert stats["keys"] * KIB <= SMALL_BUDGET
    evicted = stats["evictions"] - start["evictions"]
    assert evicted > 0
    # every key written is either still there or was evicted (none expired or vanished)
    assert evicted == len(hot) + len(cold) - stats["keys"]
    assert stats["expirations"] == start["expirations"]
    assert cache.mget(list(hot)) == list(hot.values())
    first_quarter = cold[: len(cold) // 4]
    assert cache.exists(*first_quarter) == 0, "cold keys written first should have gone"
    assert cache.exists(*cold[-batch:]) == batch, "the most recent writes should stay"


def test_a_value_larger_than_the_budget_is_refused_with_oom(small_cache, key):
    small_cache.set(key("kept"), "v")
    with pytest.raises(ResponseError) as info:
        small_cache.set(key(), b"x" * (2 * MIB))
    assert_cache_error(info, "OOM")
    assert small_cache.get(key()) is None
    assert small_cache.get(key("kept")) == b"v"
    stats = small_cache.stats()["total"]
    assert stats["bytes_used"] <= SMALL_BUDGET


def test_an_mset_larger_than_the_budget_is_refused_with_oom(small_cache, key):
    small_cache.set(key("kept"), "v")
    with pytest.raises(ResponseError) as info:
        small_cache.mset({key("a"): b"x" * (600 * KIB), key("b"): b"y" * (600 * KIB)})
    assert_cache_error(info, "OOM")
    assert small_cache.exists(key("a"), key("b")) == 0
    assert small_cache.get(key("kept")) == b"v"
