"""CacheStore: Redis string semantics, exact LRU in a byte budget, TTLs on the engine clock."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cache.store import (
    DEFAULT_BUDGET,
    ENTRY_OVERHEAD,
    MAX_KEY_BYTES,
    MAX_VALUE_BYTES,
    CacheStats,
    CacheStore,
)
from engine.clock import ManualClock
from engine.errors import CATALOGUE, EngineError

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)
BAD = grpc.StatusCode.INVALID_ARGUMENT


def make(budget: int = DEFAULT_BUDGET, **kw) -> tuple[CacheStore, ManualClock]:
    clock = ManualClock()
    return CacheStore(budget, clock, **kw), clock


def now_ms(clock: ManualClock) -> int:
    return clock.now_ns() // 1_000_000


def cost(key: bytes, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD


def error(fn, *args, **kw) -> EngineError:
    with pytest.raises(EngineError) as info:
        fn(*args, **kw)
    return info.value


def code(fn, *args, **kw) -> str:
    return error(fn, *args, **kw).code


# -- limits and error catalogue ----------------------------------------------------------


def test_limits_are_what_the_api_documents() -> None:
    assert MAX_KEY_BYTES == 64 * 1024
    assert MAX_VALUE_BYTES == 8 * 1024 * 1024
    assert DEFAULT_BUDGET == 256 * 1024 * 1024
    # the charge per entry is realistic for CPython objects, not a token figure
    assert 100 <= ENTRY_OVERHEAD <= 300


@pytest.mark.parametrize(
    ("code_", "status", "message"),
    [
        ("NotAnInteger", BAD, "value is not an integer or out of range"),
        ("Overflow", BAD, "increment or decrement would overflow"),
        ("InvalidExpireTime", BAD, "invalid expire time"),
        ("SyntaxError", BAD, "syntax error"),
        ("ValueTooLarge", BAD, None),
        ("KeyTooLarge", BAD, None),
        ("OOM", grpc.StatusCode.RESOURCE_EXHAUSTED, None),
    ],
)
def test_cache_codes_are_catalogued(code_: str, status, message: str | None) -> None:
    http, grpc_status, text = CATALOGUE[code_]
    assert (http, grpc_status) == (400, status)
    if message is not None:
        assert text == message
    assert EngineError(code_).grpc_status == status


def test_oversized_key_and_value_are_refused_and_change_nothing() -> None:
    store, _ = make(max_key_bytes=8, max_value_bytes=16)
    store.set(b"k", b"v")
    assert store.set(b"k" * 8, b"v" * 16) == (True, None)  # exactly at the limits: fine
    assert code(store.set, b"k" * 9, b"v") == "KeyTooLarge"
    assert code(store.set, b"k", b"v" * 17) == "ValueTooLarge"
    assert code(store.mset, [(b"a", b"1"), (b"k", b"v" * 17)]) == "ValueTooLarge"
    assert code(store.incrby, b"k" * 9, 1) == "KeyTooLarge"
    assert store.get(b"k") == b"v"
    assert store.get(b"a") is None


def test_an_entry_larger_than_the_whole_budget_is_oom_and_evicts_nothing() -> None:
    budget = cost(b"k", b"x" * 100)
    store, _ = make(budget)
    store.set(b"k", b"x" * 100)  # exactly the budget fits
    assert store.stats().bytes_used == budget
    err = error(store.set, b"big", b"x" * 100)
    assert err.code == "OOM"
    assert "maxmemory" in err.message
    assert store.get(b"k") == b"x" * 100
    assert store.stats().evictions == 0


# -- SET ---------------------------------------------------------------------------------


def test_get_and_set_round_trip_bytes() -> None:
    store, _ = make()
    assert store.get(b"k") is None
    assert store.set(b"k", b"\x00\xffv") == (True, None)
    assert store.get(b"k") == b"\x00\xffv"
    assert store.set(b"k", b"") == (True, None)
    assert store.get(b"k") == b""  # an empty value exists, it is not a miss


def test_set_get_returns_the_previous_value() -> None:
    store, _ = make()
    assert store.set(b"k", b"1", get=True) == (True, None)
    assert store.set(b"k", b"2", get=True) == (True, b"1")
    assert store.get(b"k") == b"2"


def test_set_nx_writes_only_a_missing_key() -> None:
    store, _ = make()
    assert store.set(b"k", b"1", nx=True) == (True, None)
    assert store.set(b"k", b"2", nx=True) == (False, None)
    assert store.set(b"k", b"3", nx=True, get=True) == (False, b"1")
    assert store.get(b"k") == b"1"


def test_set_xx_writes_only_an_existing_key() -> None:
    store, _ = make()
    assert store.set(b"k", b"1", xx=True) == (False, None)
    assert store.get(b"k") is None
    store.set(b"k", b"1")
    assert store.set(b"k", b"2", xx=True, get=True) == (True, b"1")
    assert store.get(b"k") == b"2"


@pytest.mark.parametrize(
    "options",
    [
        {"nx": True, "xx": True},
        {"px": 10, "pxat": 10**13},
        {"keepttl": True, "px": 10},
        {"keepttl": True, "pxat": 10**13},
    ],
)
def test_set_conflicting_options_are_a_syntax_error(options: dict) -> None:
    store, _ = make()
    err = error(store.set, b"k", b"v", **options)
    assert (err.code, err.message) == ("SyntaxError", "syntax error")
    assert store.get(b"k") is None


@pytest.mark.parametrize("options", [{"px": 0}, {"px": -1}, {"pxat": 0}, {"pxat": -5}])
def test_set_non_positive_expiry_is_invalid(options: dict) -> None:
    store, _ = make()
    err = error(store.set, b"k", b"v", **options)
    assert (err.code, err.message) == ("InvalidExpireTime", "invalid expire time in 'set' command")
    assert store.get(b"k") is None


@pytest.mark.parametrize("options", [{"px": I64_MAX}, {"px": 2**63}, {"pxat": 2**63}])
def test_set_expiry_overflowing_int64_is_invalid(options: dict) -> None:
    store, _ = make()
    assert code(store.set, b"k", b"v", **options) == "InvalidExpireTime"


def test_set_px_and_pxat_expire_the_key() -> None:
    store, clock = make()
    store.set(b"rel", b"v", px=1500)
    store.set(b"abs", b"v", pxat=now_ms(clock) + 2500)
    assert (store.pttl(b"rel"), store.pttl(b"abs")) == (1500, 2500)
    clock.advance(1.5)
    assert store.get(b"rel") == b"v"  # live while now <= expiry, as Redis
    clock.advance(0.001)
    assert store.get(b"rel") is None
    assert store.get(b"abs") == b"v"
    clock.advance(1.0)
    assert store.get(b"abs") is None


def test_set_pxat_in_the_past_deletes_the_key() -> None:
    store, clock = make()
    store.set(b"k", b"old")
    assert store.set(b"k", b"new", pxat=now_ms(clock) - 1000, get=True) == (True, b"old")
    assert store.get(b"k") is None
    assert store.set(b"gone", b"v", pxat=1) == (True, None)  # > 0 but long past
    assert store.get(b"gone") is None
    assert store.set(b"k", b"v", pxat=now_ms(clock)) == (True, None)  # exactly now
    assert store.exists([b"k"]) == 0
    stats = store.stats()
    assert (stats.keys, stats.bytes_used, stats.expirations) == (0, 0, 0)


def test_set_pxat_in_the_past_with_nx_on_an_existing_key_keeps_it() -> None:
    store, clock = make()
    store.set(b"k", b"v")
    assert store.set(b"k", b"w", pxat=now_ms(clock) - 1, nx=True) == (False, None)
    assert store.get(b"k") == b"v"


def test_set_clears_the_ttl_unless_keepttl() -> None:
    store, _ = make()
    store.set(b"k", b"1", px=5000)
    store.set(b"k", b"2", keepttl=True)
    assert store.pttl(b"k") == 5000
    assert store.get(b"k") == b"2"
    store.set(b"k", b"3")
    assert store.pttl(b"k") == -1
    store.set(b"new", b"v", keepttl=True)
    assert store.pttl(b"new") == -1


def test_set_on_an_expired_key_behaves_as_missing() -> None:
    store, clock = make()
    store.set(b"k", b"old", px=10)
    clock.advance(1)
    assert store.set(b"k", b"new", nx=True, get=True) == (True, None)
    assert store.pttl(b"k") == -1
    assert store.stats().expirations == 1


# -- TTL, PTTL, lazy expiry ----------------------------------------------------------------


def test_pttl_is_minus_two_when_missing_and_minus_one_without_expiry() -> None:
    store, _ = make()
    assert store.pttl(b"nope") == -2
    store.set(b"k", b"v")
    assert store.pttl(b"k") == -1


def test_pttl_counts_down_in_whole_milliseconds() -> None:
    store, clock = make()
    store.set(b"k", b"v", px=1000)
    clock.advance(0.0009)  # under a millisecond: the engine clock reads whole ms
    assert store.pttl(b"k") == 1000
    clock.advance(0.2501)
    assert store.pttl(b"k") == 749
    clock.advance(0.749)
    assert store.pttl(b"k") == 0  # at the expiry instant: still there, 0 ms left
    clock.advance(0.001)
    assert store.pttl(b"k") == -2


def test_lazy_expiry_removes_the_key_on_access_and_counts() -> None:
    store, clock = make()
    store.set(b"k", b"v", px=100)
    store.set(b"p", b"v")
    clock.advance(1)
    before = store.stats()
    assert (before.keys, before.bytes_used) == (2, cost(b"k", b"v") + cost(b"p", b"v"))
    assert store.get(b"k") is None
    after = store.stats()
    assert (after.keys, after.bytes_used) == (1, cost(b"p", b"v"))
    assert (after.expirations, after.misses, after.hits) == (1, 1, 0)
    assert store.peek(b"k") is None


@pytest.mark.parametrize(
    "read",
    [
        lambda s: s.get(b"k"),
        lambda s: s.mget([b"k"]),
        lambda s: s.exists([b"k"]),
        lambda s: s.pttl(b"k"),
        lambda s: s.delete([b"k"]),
        lambda s: s.expire(b"k", px=1000),
        lambda s: s.set(b"k", b"x", xx=True),
    ],
)
def test_no_command_sees_an_expired_key(read) -> None:
    store, clock = make()
    store.set(b"k", b"v", px=10)
    clock.advance(0.011)
    result = read(store)
    assert result in (None, [None], 0, -2, False, (False, None))
    assert store.stats().expirations == 1
    assert store.stats().keys == 0


# -- DEL, EXISTS, MGET, MSET ---------------------------------------------------------------


def test_delete_counts_removed_keys() -> None:
    store, clock = make()
    store.mset([(b"a", b"1"), (b"b", b"2")])
    store.set(b"c", b"3", px=5)
    clock.advance(1)
    assert store.delete([b"a", b"a", b"c", b"zz"]) == 1  # c had expired: not counted
    assert store.get(b"a") is None
    assert store.get(b"b") == b"2"
    assert store.stats().bytes_used == cost(b"b", b"2")


def test_exists_counts_duplicates() -> None:
    store, _ = make()
    store.set(b"a", b"1")
    assert store.exists([b"a", b"a", b"b"]) == 2
    assert store.exists([]) == 0


def test_mget_returns_values_in_order_and_counts_hits() -> None:
    store, _ = make()
    store.mset([(b"a", b"1"), (b"c", b"3")])
    assert store.mget([b"a", b"b", b"c", b"a"]) == [b"1", None, b"3", b"1"]
    stats = store.stats()
    assert (stats.hits, stats.misses) == (3, 1)


def test_mset_clears_ttls_and_a_repeated_key_takes_the_last_value() -> None:
    store, _ = make()
    store.set(b"a", b"old", px=1000)
    store.mset([(b"a", b"1"), (b"b", b"2"), (b"a", b"3")])
    assert store.mget([b"a", b"b"]) == [b"3", b"2"]
    assert store.pttl(b"a") == -1
    assert store.stats().bytes_used == cost(b"a", b"3") + cost(b"b", b"2")


def test_mset_that_cannot_fit_writes_nothing() -> None:
    budget = 3 * cost(b"k", b"x" * 10)
    store, _ = make(budget)
    store.set(b"keep", b"v")
    pairs = [(bytes([97 + i]), b"x" * 10) for i in range(4)]
    assert code(store.mset, pairs) == "OOM"
    assert store.get(b"keep") == b"v"
    assert store.mget([key for key, _ in pairs]) == [None] * 4
    assert store.stats().evictions == 0


# -- INCRBY ------------------------------------------------------------------------------


def test_incrby_starts_missing_keys_at_zero() -> None:
    store, _ = make()
    assert store.incrby(b"n", 5) == 5
    assert store.incrby(b"n", -7) == -2
    assert store.get(b"n") == b"-2"
    assert store.incrby(b"m", -1) == -1


@pytest.mark.parametrize(
    "value",
    [b"abc", b"1.5", b" 1", b"1 ", b"+1", b"01", b"-0", b"00", b"", b"-", b"1_0", b"0x10",
     b"9223372036854775808", b"-9223372036854775809", b"\xd9\xa1", b"1e3"],
)
def test_incrby_refuses_values_redis_does_not_read_as_integers(value: bytes) -> None:
    store, _ = make()
    store.set(b"n", value)
    err = error(store.incrby, b"n", 1)
    assert (err.code, err.message) == ("NotAnInteger", "value is not an integer or out of range")
    assert store.get(b"n") == value


@pytest.mark.parametrize(
    ("value", "amount", "result"),
    [(b"0", 1, 1), (b"-1", 1, 0), (b"10", -15, -5), (b"9223372036854775806", 1, I64_MAX),
     (b"-9223372036854775808", 0, I64_MIN), (b"-9223372036854775807", -1, I64_MIN)],
)
def test_incrby_accepts_redis_integers(value: bytes, amount: int, result: int) -> None:
    store, _ = make()
    store.set(b"n", value)
    assert store.incrby(b"n", amount) == result
    assert store.get(b"n") == str(result).encode()


@pytest.mark.parametrize(
    ("value", "amount"),
    [(b"9223372036854775807", 1), (b"-9223372036854775808", -1), (b"1", I64_MAX),
     (b"-2", I64_MIN)],
)
def test_incrby_overflow_is_refused_and_keeps_the_value(value: bytes, amount: int) -> None:
    store, _ = make()
    store.set(b"n", value)
    err = error(store.incrby, b"n", amount)
    assert (err.code, err.message) == ("Overflow", "increment or decrement would overflow")
    assert store.get(b"n") == value


@pytest.mark.parametrize("amount", [2**63, I64_MIN - 1])
def test_incrby_amount_must_be_int64(amount: int) -> None:
    store, _ = make()
    assert code(store.incrby, b"n", amount) == "NotAnInteger"
    assert store.exists([b"n"]) == 0


def test_incrby_keeps_the_ttl() -> None:
    store, clock = make()
    store.set(b"n", b"1", px=1000)
    clock.advance(0.4)
    assert store.incrby(b"n", 1) == 2
    assert store.pttl(b"n") == 600
    clock.advance(0.601)
    assert store.get(b"n") is None
    assert store.incrby(b"n", 1) == 1  # the expired value is gone, so is its TTL
    assert store.pttl(b"n") == -1


def test_incrby_grows_the_charged_size() -> None:
    store, _ = make()
    store.set(b"n", b"9")
    store.incrby(b"n", 1)
    assert store.stats().bytes_used == cost(b"n", b"10")


# -- EXPIRE ------------------------------------------------------------------------------


def test_expire_missing_key_is_false() -> None:
    store, _ = make()
    assert store.expire(b"k", px=1000) is False
    assert store.exists([b"k"]) == 0


def test_expire_relative_and_absolute() -> None:
    store, clock = make()
    store.mset([(b"a", b"1"), (b"b", b"2")])
    assert store.expire(b"a", px=1234) is True
    assert store.expire(b"b", pxat=now_ms(clock) + 4321) is True
    assert (store.pttl(b"a"), store.pttl(b"b")) == (1234, 4321)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "syntax error"),
        ({"px": 1, "pxat": 10**13}, "syntax error"),
        ({"px": 1, "nx": True, "xx": True}, "NX and XX, GT or LT"),
        ({"px": 1, "nx": True, "gt": True}, "NX and XX, GT or LT"),
        ({"px": 1, "nx": True, "lt": True}, "NX and XX, GT or LT"),
        ({"px": 1, "gt": True, "lt": True}, "GT and LT"),
    ],
)
def test_expire_conflicting_options_are_a_syntax_error(options: dict, message: str) -> None:
    store, _ = make()
    store.set(b"k", b"v")
    err = error(store.expire, b"k", **options)
    assert err.code == "SyntaxError"
    assert err.message.startswith(message)
    assert store.pttl(b"k") == -1


@pytest.mark.parametrize("options", [{"px": I64_MAX}, {"px": 2**63}, {"pxat": 2**63},
                                     {"px": I64_MIN - 1}])
def test_expire_overflow_is_an_invalid_expire_time(options: dict) -> None:
    store, _ = make()
    store.set(b"k", b"v")
    assert code(store.expire, b"k", **options) == "InvalidExpireTime"
    assert store.pttl(b"k") == -1


@pytest.mark.parametrize(
    ("current", "options", "applied"),
    [
        (None, {"nx": True}, True),
        (5000, {"nx": True}, False),
        (None, {"xx": True}, False),
        (5000, {"xx": True}, True),
        (None, {"gt": True}, False),  # no expiry counts as infinite: nothing is greater
        (5000, {"gt": True}, True),  # new 8000 > 5000
        (9000, {"gt": True}, False),
        (8000, {"gt": True}, False),  # equal is not greater
        (None, {"lt": True}, True),  # anything is less than infinite
        (5000, {"lt": True}, False),
        (9000, {"lt": True}, True),
        (8000, {"lt": True}, False),
        (5000, {"xx": True, "gt": True}, True),
        (None, {"xx": True, "lt": True}, False),
    ],
)
def test_expire_conditions(current: int | None, options: dict, applied: bool) -> None:
    store, _ = make()
    store.set(b"k", b"v", px=current)
    assert store.expire(b"k", px=8000, **options) is applied
    assert store.pttl(b"k") == (8000 if applied else (current or -1))


@pytest.mark.parametrize("px", [0, -1, -(10**6)])
def test_expire_at_or_before_now_deletes_the_key(px: int) -> None:
    store, _ = make()
    store.set(b"k", b"v")
    assert store.expire(b"k", px=px) is True
    assert store.get(b"k") is None
    stats = store.stats()
    assert (stats.keys, stats.bytes_used, stats.expirations) == (0, 0, 0)  # a delete


def test_expire_pxat_now_deletes_and_lt_on_a_persistent_key_can_delete() -> None:
    store, clock = make()
    store.mset([(b"a", b"1"), (b"b", b"2")])
    assert store.expire(b"a", pxat=now_ms(clock)) is True
    assert store.expire(b"b", pxat=1, lt=True) is True
    assert store.exists([b"a", b"b"]) == 0


# -- FLUSHALL, stats ---------------------------------------------------------------------


def test_flushall_empties_the_store_but_keeps_counters() -> None:
    store, _ = make()
    store.set(b"a", b"1", px=100)
    store.set(b"b", b"2")
    store.get(b"a")
    store.flushall()
    assert store.stats() == CacheStats(
        hits=1, misses=0, evictions=0, expirations=0, keys=0, bytes_used=0,
        budget=DEFAULT_BUDGET,
    )
    assert store.get(b"a") is None
    assert store.sweep() == 0


def test_stats_count_keys_and_bytes() -> None:
    store, _ = make(10_000)
    store.set(b"key", b"value")
    store.set(b"k2", b"")
    stats = store.stats()
    assert (stats.keys, stats.bytes_used, stats.budget) == (
        2, cost(b"key", b"value") + cost(b"k2", b""), 10_000)
    store.set(b"key", b"v")  # overwrite re-charges the new size
    assert store.stats().bytes_used == cost(b"key", b"v") + cost(b"k2", b"")


def test_budget_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CacheStore(0, ManualClock())


# -- active expiry -----------------------------------------------------------------------


def test_sweep_removes_expired_keys_and_frees_their_bytes() -> None:
    store, clock = make()
    for i in range(10):
        store.set(b"t%d" % i, b"x" * 100, px=100 + i)
    store.set(b"live", b"v", px=10_000)
    store.set(b"forever", b"v")
    clock.advance(0.2)
    assert store.sweep() == 10
    stats = store.stats()
    assert (stats.keys, stats.expirations) == (2, 10)
    assert stats.bytes_used == cost(b"live", b"v") + cost(b"forever", b"v")
    assert store.sweep() == 0


def test_sweep_honours_its_limit_soonest_first() -> None:
    store, clock = make()
    for i in range(5):
        store.set(b"t%d" % i, b"v", px=100 - i)  # t4 expires first
    clock.advance(1)
    assert store.sweep(limit=2) == 2
    # peek hides expired keys, so look at what is still held
    assert sorted(store._data) == [b"t0", b"t1", b"t2"]
    assert store.stats().keys == 3
    assert store.sweep(limit=10) == 3


def test_sweep_skips_keys_whose_ttl_changed() -> None:
    store, clock = make()
    store.set(b"moved", b"v", px=100)
    store.expire(b"moved", px=10_000)
    store.set(b"cleared", b"v", px=100)
    store.set(b"cleared", b"w")
    store.set(b"deleted", b"v", px=100)
    store.delete([b"deleted"])
    clock.advance(1)
    assert store.sweep() == 0
    assert store.get(b"moved") == b"v"
    assert store.get(b"cleared") == b"w"
    assert store.stats().expirations == 0


def test_ttl_bookkeeping_stays_bounded_when_ttls_keep_changing() -> None:
    store, clock = make()
    store.set(b"a", b"v", px=50)
    for i in range(20_000):
        store.expire(b"a", px=1000 + i)
        store.set(b"b%d" % (i % 10), b"v", px=10 + i)
    # internal check: stale heap entries do not pile up (memory stays O(keys with a TTL))
    assert len(store._heap) <= 2 * 11 + 64 + 1
    clock.advance(100)
    assert store.sweep() == 11


# -- exact LRU ---------------------------------------------------------------------------


def lru_store(entries: int) -> tuple[CacheStore, ManualClock]:
    """A store whose budget holds exactly ``entries`` one-byte-key, 10-byte-value entries."""
    return make(entries * cost(b"k", b"0123456789"))


def test_eviction_removes_the_least_recently_used_key() -> None:
    store, _ = lru_store(3)
    for key in (b"a", b"b", b"c"):
        store.set(key, b"0123456789")
    store.get(b"a")  # a is now the most recently used; b is the LRU
    store.set(b"d", b"0123456789")
    assert store.exists([b"a", b"b", b"c", b"d"]) == 3
    assert store.peek(b"b") is None
    store.set(b"e", b"0123456789")  # c is now the LRU
    assert store.peek(b"c") is None
    assert store.stats().evictions == 2


@pytest.mark.parametrize(
    ("touch", "evicted"),
    [
        (lambda s: s.get(b"a"), b"b"),
        (lambda s: s.mget([b"a"]), b"b"),
        (lambda s: s.set(b"a", b"0123456789", nx=True), b"b"),  # a write lookup is a use
        (lambda s: s.expire(b"a", px=100_000), b"b"),
        (lambda s: s.exists([b"a"]), b"a"),  # EXISTS, PTTL and peek do not touch
        (lambda s: s.pttl(b"a"), b"a"),
        (lambda s: s.peek(b"a"), b"a"),
    ],
)
def test_which_commands_count_as_a_use(touch, evicted: bytes) -> None:
    store, _ = lru_store(3)
    for key in (b"a", b"b", b"c"):
        store.set(key, b"0123456789")
    touch(store)
    store.set(b"d", b"0123456789")
    assert store.peek(evicted) is None
    assert store.stats().keys == 3


def test_incrby_counts_as_a_use() -> None:
    store, _ = make(3 * cost(b"k", b"1234"))
    for key in (b"a", b"b", b"c"):
        store.set(key, b"1000")
    store.incrby(b"a", 1)
    store.set(b"d", b"1234")
    assert store.peek(b"b") is None
    assert store.get(b"a") == b"1001"


def test_a_large_write_evicts_as_many_lru_keys_as_it_needs() -> None:
    store, _ = lru_store(4)
    for key in (b"a", b"b", b"c", b"d"):
        store.set(key, b"0123456789")
    big = b"x" * (2 * cost(b"k", b"0123456789") - ENTRY_OVERHEAD - 1)
    store.set(b"z", big)
    assert [store.peek(k) is not None for k in (b"a", b"b", b"c", b"d", b"z")] == [
        False, False, True, True, True]
    assert store.stats().evictions == 2
    assert store.stats().bytes_used <= store.budget


def test_eviction_drops_expired_keys_before_live_ones() -> None:
    store, clock = lru_store(3)
    store.set(b"t", b"0123456789", px=10)
    store.set(b"a", b"0123456789")
    store.set(b"b", b"0123456789")
    store.get(b"t")  # t is most recently used, a is the LRU
    clock.advance(1)  # ... but t has expired
    store.set(b"c", b"0123456789")
    assert store.mget([b"a", b"b", b"c"]) == [b"0123456789"] * 3
    stats = store.stats()
    assert (stats.evictions, stats.expirations) == (0, 1)


def test_hot_set_survives_writing_many_times_the_budget() -> None:
    budget = 64 * 1024
    store, clock = make(budget)
    hot = [b"hot:%d" % i for i in range(16)]
    for key in hot:
        store.set(key, b"h" * 200)
    cold_value = b"c" * 500
    cold_keys = []
    written = 0
    i = 0
    while written < 5 * budget:
        key = b"cold:%d" % i
        store.set(key, cold_value)
        cold_keys.append(key)
        written += len(key) + len(cold_value)
        assert store.stats().bytes_used <= budget
        assert store.get(hot[i % len(hot)]) == b"h" * 200
        assert store.stats().bytes_used <= budget
        clock.advance(0.001)
        i += 1
    assert store.exists(hot) == len(hot)
    assert store.exists(cold_keys[: len(cold_keys) // 2]) == 0  # the old cold keys went
    assert store.exists(cold_keys[-5:]) == 5
    stats = store.stats()
    assert stats.evictions >= len(cold_keys) - budget // cost(b"cold:0", cold_value)
    assert stats.keys == len(hot) + len(cold_keys) - stats.evictions
    assert stats.hits == len(cold_keys) and stats.misses == 0
    assert budget - cost(b"cold:99999", cold_value) < stats.bytes_used <= budget


# -- replication hooks -------------------------------------------------------------------


def test_peek_reports_value_and_expiry_without_side_effects() -> None:
    store, clock = lru_store(2)
    store.set(b"a", b"0123456789", px=500)
    store.set(b"b", b"0123456789")
    before = store.stats()
    assert store.peek(b"a") == (b"0123456789", now_ms(clock) + 500)
    assert store.peek(b"b") == (b"0123456789", None)
    assert store.peek(b"zz") is None
    assert store.stats() == before
    store.set(b"c", b"0123456789")  # a stayed the LRU: peek did not touch it
    assert store.peek(b"a") is None
    clock.advance(1)
    assert store.peek(b"b") == (b"0123456789", None)


def test_peek_of_an_expired_key_is_none() -> None:
    store, clock = make()
    store.set(b"a", b"v", px=5)
    clock.advance(0.006)
    assert store.peek(b"a") is None


def test_load_installs_exact_state() -> None:
    store, clock = make()
    at = now_ms(clock) + 700
    store.load(b"k", b"v", at)
    assert store.peek(b"k") == (b"v", at)
    store.load(b"k", b"w", None)
    assert store.peek(b"k") == (b"w", None)
    store.load(b"k", None, None)
    assert store.peek(b"k") is None
    store.load(b"k", None, None)  # deleting a missing key is fine
    store.load(b"old", b"v", now_ms(clock) - 1)  # already expired: absent
    assert store.peek(b"old") is None
    stats = store.stats()
    assert (stats.hits, stats.misses, stats.keys, stats.bytes_used) == (0, 0, 0, 0)


def test_load_evicts_to_fit_and_a_refused_load_drops_the_stale_value() -> None:
    store, _ = lru_store(2)
    store.load(b"a", b"0123456789", None)
    store.load(b"b", b"0123456789", None)
    store.load(b"c", b"0123456789", None)
    assert store.peek(b"a") is None
    assert store.stats().evictions == 1
    assert code(store.load, b"b", b"x" * store.budget, None) == "OOM"
    assert store.peek(b"b") is None
    assert store.peek(b"c") is not None


# -- property test against a reference model --------------------------------------------


class Model:
    """A deliberately naive cache: dict + list for LRU order, linear scans everywhere."""

    def __init__(self, budget: int, clock: ManualClock) -> None:
        self.budget, self.clock = budget, clock
        self.data: dict[bytes, tuple[bytes, int | None]] = {}
        self.order: list[bytes] = []  # LRU first
        self.hits = self.misses = self.evictions = self.expirations = 0

    def now(self) -> int:
        return now_ms(self.clock)

    def used(self) -> int:
        return sum(cost(k, v) for k, (v, _) in self.data.items())

    def drop(self, key: bytes) -> None:
        del self.data[key]
        self.order.remove(key)

    def touch(self, key: bytes) -> None:
        self.order.remove(key)
        self.order.append(key)

    def live(self, key: bytes) -> bytes | None:
        if key not in self.data:
            return None
        value, at = self.data[key]
        if at is not None and self.now() > at:
            self.drop(key)
            self.expirations += 1
            return None
        return value

    def write(self, key: bytes, value: bytes, at: int | None) -> None:
        self.put(key, value, at)
        self.evict()

    def put(self, key: bytes, value: bytes, at: int | None) -> None:
        if key in self.data:
            self.order.remove(key)
        self.data[key] = (value, at)
        self.order.append(key)

    def evict(self) -> None:
        while self.used() > self.budget:
            expired = sorted((a, k) for k, (_, a) in self.data.items()
                             if a is not None and a < self.now())
            if expired:
                self.drop(expired[0][1])
                self.expirations += 1
            else:
                self.drop(self.order[0])
                self.evictions += 1

    def oom(self, size: int) -> None:
        if size > self.budget:
            raise EngineError("OOM")

    def get(self, key: bytes) -> bytes | None:
        value = self.live(key)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
            self.touch(key)
        return value

    def set(self, key, value, *, px=None, pxat=None, nx=False, xx=False, keepttl=False,
            get=False):
        at = self.now() + px if px is not None else pxat
        self.oom(cost(key, value))
        old = self.live(key)
        if old is not None:
            self.touch(key)
        result = old if get else None
        if (nx and old is not None) or (xx and old is None):
            return False, result
        if at is not None and at <= self.now():
            if old is not None:
                self.drop(key)
            return True, result
        if keepttl:
            at = self.data[key][1] if key in self.data else None
        self.write(key, value, at)
        return True, result

    def mset(self, pairs):
        final = {}
        for key, value in pairs:
            final.pop(key, None)
            final[key] = value
        self.oom(sum(cost(k, v) for k, v in final.items()))
        for key, value in final.items():  # every key written, then evicted for all at once
            self.put(key, value, None)
        self.evict()

    def delete(self, keys):
        n = 0
        for key in keys:
            if self.live(key) is not None:
                self.drop(key)
                n += 1
        return n

    def exists(self, keys):
        return sum(self.live(key) is not None for key in keys)

    def mget(self, keys):
        return [self.get(key) for key in keys]

    def incrby(self, key, amount):
        old = self.live(key)
        current = 0
        if old is not None:
            try:
                current = int(old)
            except ValueError:
                raise EngineError("NotAnInteger") from None
            if str(current).encode() != old or not I64_MIN <= current <= I64_MAX:
                raise EngineError("NotAnInteger")
        result = current + amount
        if not I64_MIN <= result <= I64_MAX:
            raise EngineError("Overflow")
        value = str(result).encode()
        self.oom(cost(key, value))
        at = self.data[key][1] if key in self.data else None
        self.write(key, value, at)
        return result

    def expire(self, key, *, px, gt=False, lt=False):
        at = self.now() + px
        if self.live(key) is None:
            return False
        current = self.data[key][1]
        if gt and (current is None or at <= current):
            return False
        if lt and current is not None and at >= current:
            return False
        if at <= self.now():
            self.drop(key)
            return True
        self.touch(key)
        self.data[key] = (self.data[key][0], at)
        return True

    def pttl(self, key):
        if self.live(key) is None:
            return -2
        at = self.data[key][1]
        return -1 if at is None else at - self.now()

    def sweep(self, limit):
        expired = sorted((a, k) for k, (_, a) in self.data.items()
                         if a is not None and a < self.now())[:limit]
        for _, key in expired:
            self.drop(key)
        self.expirations += len(expired)
        return len(expired)


KEYS = st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"{t}f", b"{t}g"])
VALUES = st.one_of(
    st.binary(max_size=120),
    st.sampled_from([b"0", b"-3", b"41", b"01", b"x", b"9223372036854775807"]),
)
OPS = st.one_of(
    st.tuples(st.just("set"), KEYS, VALUES, st.sampled_from([None, 1, 50, 400]),
              st.sampled_from([None, -50, 0, 30, 300]), st.booleans(), st.booleans(),
              st.booleans(), st.booleans()),
    st.tuples(st.just("get"), KEYS),
    st.tuples(st.just("mget"), st.lists(KEYS, max_size=4)),
    st.tuples(st.just("mset"), st.lists(st.tuples(KEYS, VALUES), max_size=3)),
    st.tuples(st.just("delete"), st.lists(KEYS, max_size=3)),
    st.tuples(st.just("exists"), st.lists(KEYS, max_size=3)),
    st.tuples(st.just("incrby"), KEYS, st.sampled_from([1, -1, 7, 2**62, -(2**63)])),
    st.tuples(st.just("expire"), KEYS, st.sampled_from([-10, 0, 20, 500]),
              st.sampled_from(["", "gt", "lt"])),
    st.tuples(st.just("pttl"), KEYS),
    # steps equal to the TTLs above land exactly on expiry instants (live until now > at)
    st.tuples(st.just("advance"), st.one_of(st.sampled_from([1, 20, 30, 50]),
                                            st.integers(0, 500))),
    st.tuples(st.just("sweep"), st.integers(1, 3)),
)


def apply(target, op: tuple, now: int):
    name = op[0]
    if name == "set":
        _, key, value, px, pxat_offset, nx, xx, keepttl, get = op
        if px is not None:
            pxat_offset = None  # at most one expiry form
        if nx and xx:
            xx = False
        if px is not None or pxat_offset is not None:
            keepttl = False
        pxat = None if pxat_offset is None else now + pxat_offset
        return target.set(key, value, px=px, pxat=pxat, nx=nx, xx=xx, keepttl=keepttl, get=get)
    if name == "expire":
        _, key, px, cond = op
        return target.expire(key, px=px, **({cond: True} if cond else {}))
    if name == "sweep":
        return target.sweep(op[1])
    return getattr(target, name)(*op[1:])


@settings(max_examples=300, deadline=None)
@given(
    budget=st.integers(200, 6 * cost(b"a", b"x" * 60)),  # some values do not fit: OOM
    ops=st.lists(OPS, max_size=60),
)
def test_store_matches_reference_model(budget: int, ops: list[tuple]) -> None:
    store, clock = make(budget)
    model = Model(budget, clock)
    for op in ops:
        if op[0] == "advance":
            clock.advance(op[1] / 1000)
            continue
        now = now_ms(clock)
        try:
            expected = ("ok", apply(model, op, now))
        except EngineError as exc:
            expected = ("error", exc.code)
        try:
            actual = ("ok", apply(store, op, now))
        except EngineError as exc:
            actual = ("error", exc.code)
        assert actual == expected, op
        stats = store.stats()
        assert stats.bytes_used <= budget
        assert stats.bytes_used == model.used()
        assert list(store._data) == model.order, op  # exact LRU order
        assert (stats.hits, stats.misses, stats.evictions, stats.expirations, stats.keys) == (
            model.hits, model.misses, model.evictions, model.expirations, len(model.data))
        for key, (value, at) in model.data.items():
            if at is None or now_ms(clock) <= at:
                assert store.peek(key) == (value, at)
