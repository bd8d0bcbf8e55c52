"""The IAM checker: a deactivated key stops working on every node within the bound."""

from __future__ import annotations

from engine.chaos.checkers import iam
from tests.unit.helpers_chaos import NS, History

KEY = "AKIAEXAMPLE"


def request(h: History, node: str, at, type="ok", error=None):
    extra = {"access_key": KEY, "node": node}
    if error:
        extra["error"] = error
    return h.op("read", "b/k", at=at, type=type, **extra)


def test_requests_within_the_bound_or_refused_pass():
    h = History()
    h.op("deactivate_key", KEY, at=(0, 1))
    request(h, "n1", (1.5, 1.6))  # the node may not have applied it yet
    request(h, "n2", (5, 6), type="fail", error="InvalidAccessKeyId")
    request(h, "n3", (5, 6), type="info")
    report = iam.check(h.ops, bound_ns=1 * NS)
    assert report.anomalies == []


def test_key_accepted_after_the_bound_is_flagged_per_node():
    h = History()
    off = h.op("deactivate_key", KEY, at=(0, 1))
    request(h, "n1", (3, 4))
    first = request(h, "n2", (2.5, 2.6), type="fail", error="NoSuchKey")  # authenticated
    request(h, "n2", (5, 6))
    request(h, "n3", (5, 6), type="fail", error="InvalidClientTokenId")
    report = iam.check(h.ops, bound_ns=1 * NS)
    assert [(a.kind, a.message.split()[1]) for a in report.anomalies] == [
        ("key-still-active", "n1"), ("key-still-active", "n2")]
    assert report.anomalies[1].excerpt == (off, first)
    assert report.late_acceptances == 3


def test_reactivated_key_works_again():
    h = History()
    h.op("deactivate_key", KEY, at=(0, 1))
    h.op("activate_key", KEY, at=(10, 11))
    request(h, "n1", (12, 13))
    assert iam.check(h.ops, bound_ns=1 * NS).anomalies == []


def test_deleted_key_counts_as_deactivated():
    h = History()
    h.op("delete_access_key", KEY, at=(0, 1))
    request(h, "n1", (12, 13))
    assert [a.kind for a in iam.check(h.ops).anomalies] == ["key-still-active"]
