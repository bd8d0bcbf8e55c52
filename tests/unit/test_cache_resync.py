"""A restarted cache replica's copy of its primary's keys (engine/cache/resync.py):
paged, restarted when the primary loses track of it, and never overwriting a key that
a newer copy (or a write in the primary's place) reached first."""

from __future__ import annotations

import asyncio

import pytest

from engine.cache import resync
from engine.cache.lease import PAGE_BYTES
from engine.cache.local import key_states, load
from engine.cache.resync import ResyncSource, ResyncTarget
from engine.cache.store import CacheStore
from engine.clock import ManualClock
from engine.errors import EngineError
from engine.v1 import cache_records_pb2 as rec


def store() -> CacheStore:
    return CacheStore(64 << 20, ManualClock())


def test_source_pages_a_snapshot_taken_at_start() -> None:
    primary = store()
    big = b"v" * (PAGE_BYTES // 2)
    for i in range(5):
        primary.set(b"u%d" % i, big)
    source = ResyncSource()
    snap = lambda: key_states(primary, primary.stored_keys())  # noqa: E731
    first = source.page(rec.CacheResyncRequest(replica="r", start=True), snap)
    primary.set(b"u9", b"later")  # after the snapshot: reaches the replica as a copy
    pages = [first]
    while pages[-1].more:
        pages.append(source.page(rec.CacheResyncRequest(replica="r"), snap))
    assert len(pages) == 3
    assert [s.key for p in pages for s in p.keys] == [b"u%d" % i for i in range(5)]
    with pytest.raises(EngineError, match="no copy under way"):
        source.page(rec.CacheResyncRequest(replica="r"), snap)


def test_target_skips_keys_copied_while_the_pages_arrive() -> None:
    """A key that arrives by Load (or is written here) during the copy is newer than
    the page that holds it; keys of other primaries, or after the copy, are not
    tracked."""
    primary, replica = store(), store()
    for i in range(4):
        primary.set(b"u%d" % i, b"old")
    source = ResyncSource()
    calls = 0

    async def call(node: str, request: rec.CacheResyncRequest) -> rec.CacheLeaseReply:
        nonlocal calls
        calls += 1
        if calls == 1:  # a newer copy of u1 lands before the page
            replica.set(b"u1", b"new")
            target.fresh("p", [b"u1"])
            target.fresh("other", [b"u2"])
        return source.page(request, lambda: key_states(primary, primary.stored_keys()))

    target = ResyncTarget("r", ["p"], call, lambda states: load(replica, states))
    asyncio.run(target.run())
    assert target.done == {"p"}
    assert [replica.get(b"u%d" % i) for i in range(4)] == [b"old", b"new", b"old", b"old"]
    target.fresh("p", [b"u3"])  # no copy under way: nothing to remember


def test_target_starts_over_until_the_primary_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resync, "RETRY_SECONDS", 0.0)
    primary, replica = store(), store()
    primary.set(b"ua", b"1")
    source = ResyncSource()
    answers = iter(["down", "lost", "ok", "ok"])

    async def call(node: str, request: rec.CacheResyncRequest) -> rec.CacheLeaseReply:
        what = next(answers)
        if what == "down":
            raise ConnectionError("refused")
        if what == "lost":  # the primary restarted between pages
            return source.page(rec.CacheResyncRequest(replica="r"), lambda: [])
        return source.page(request, lambda: key_states(primary, primary.stored_keys()))

    target = ResyncTarget("r", ["p"], call, lambda states: load(replica, states))
    asyncio.run(target.run())
    assert replica.get(b"ua") == b"1"
    assert target.done == {"p"}
