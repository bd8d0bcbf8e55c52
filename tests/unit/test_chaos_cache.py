"""The cache checkers: stale reads from the owner, counters, failover windows."""

from __future__ import annotations

from engine.chaos.checkers import cache
from tests.unit.helpers_chaos import NS, History


def set_(h: History, value, at, type="ok"):
    return h.op("set", "k", value, at=at, type=type)


def get(h: History, result, at, **extra):
    return h.op("get", "k", at=at, result=result, **extra)


def incr(h: History, result, at, key="n", type="ok"):
    return h.op("incr", key, 1, at=at, result=result, type=type)


def kinds(report: cache.CacheReport) -> list[str]:
    return [a.kind for a in report.anomalies]


def test_reads_after_acknowledged_writes_see_them():
    h = History()
    get(h, None, (0, 1))
    set_(h, "a", (2, 3))
    get(h, "a", (4, 5))
    set_(h, "b", (6, 10))
    get(h, "a", (7, 8))  # concurrent with the write of b: either value
    get(h, "b", (11, 12))
    h.op("del", "k", at=(13, 14))
    get(h, None, (15, 16))
    assert cache.check(h.ops).anomalies == []


def test_stale_read_after_an_acknowledged_write_is_an_anomaly():
    h = History()
    a = set_(h, "a", (0, 1))
    b = set_(h, "b", (2, 3))
    r = get(h, "a", (4, 5))
    report = cache.check(h.ops)
    assert kinds(report) == ["stale-read"]
    assert report.anomalies[0].excerpt == (a, b, r)
    assert "after set 1 of 'b' was acknowledged" in report.anomalies[0].message


def test_miss_after_a_write_is_stale_unless_evictions_are_possible():
    h = History()
    set_(h, "a", (0, 1))
    get(h, None, (2, 3))
    assert kinds(cache.check(h.ops)) == ["stale-read"]
    assert cache.check(h.ops, misses_allowed=True).anomalies == []


def test_stale_read_in_a_failover_window_is_allowed_but_counted():
    h = History()
    set_(h, "a", (0, 1))
    set_(h, "b", (2, 3))
    get(h, "a", (6, 7))
    get(h, "a", (8, 9))
    report = cache.check(h.ops, failover_windows=[(4 * NS, 5 * NS)])
    assert report.anomalies == []
    assert report.failover_lost_writes == 1  # one write lost, seen missing twice


def test_replica_reads_and_indeterminate_writes():
    h = History()
    set_(h, "a", (0, 1))
    set_(h, "b", (2, 3))
    get(h, "a", (4, 5), replica=True)  # replicas lag by design
    set_(h, "c", (6, None), type="info")
    get(h, "c", (20, 21))
    assert cache.check(h.ops).anomalies == []


def test_value_no_write_produced_is_an_anomaly():
    h = History()
    set_(h, "a", (0, 1))
    set_(h, "x", (2, 3), type="fail")
    get(h, "x", (4, 5))
    report = cache.check(h.ops)
    assert kinds(report) == ["unwritten-read"]
    assert "only a failed write" in report.anomalies[0].message


def test_counter_never_goes_backwards():
    h = History()
    incr(h, 1, (0, 1))
    incr(h, 2, (2, 3))
    h.op("get", "n", at=(4, 5), result="2")
    incr(h, 4, (6, 8))
    incr(h, 3, (7, 9))  # concurrent: either order
    assert cache.check(h.ops).anomalies == []


def test_counter_regression_is_an_anomaly_outside_failover():
    h = History()
    incr(h, 1, (0, 1))
    high = incr(h, 2, (2, 3))
    low = h.op("get", "n", at=(4, 5), result="1")
    report = cache.check(h.ops)
    assert kinds(report) == ["counter-regression"]
    assert report.anomalies[0].excerpt == (high, low)
    repeated = History()
    incr(repeated, 1, (0, 1))
    incr(repeated, 1, (2, 3))  # an INCR must move the counter
    assert kinds(cache.check(repeated.ops)) == ["counter-regression"]
    forgiven = cache.check(h.ops, failover_windows=[(3 * NS, 4 * NS)])
    assert forgiven.anomalies == [] and forgiven.failover_counter_regressions == 1
