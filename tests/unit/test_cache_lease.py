"""The lease protocol between a cache slot's primary and its replica
(engine/cache/lease.py), on a fake monotonic clock.

What it must guarantee: the replica writes for the primary only after the primary's
lease has run out; the primary serves only with a lease (or once its replica has stopped
answering); everything the replica wrote in the primary's place reaches the primary
before it serves again, including writes that land while the hand-back is under way.
"""

from __future__ import annotations

import asyncio

import pytest

from engine.cache.lease import (
    ALONE_AFTER,
    LEASE_SECONDS,
    MARGIN_SECONDS,
    PAGE_BYTES,
    LeaseKeeper,
    StandIn,
)
from engine.cache.local import key_states
from engine.cache.store import CacheStore
from engine.clock import ManualClock
from engine.v1 import cache_records_pb2 as rec


class Now:
    """A monotonic clock the test moves; every read also moves it by ``step``."""

    def __init__(self, step: float = 0.0) -> None:
        self.t = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def store() -> CacheStore:
    return CacheStore(64 << 20, ManualClock())


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


# -- the replica's side ------------------------------------------------------------------


def test_a_new_replica_assumes_the_primary_holds_a_lease() -> None:
    """A replica that has just started cannot know whether its primary is serving, so
    a failover write waits out a whole lease before it may go ahead."""
    now = Now()
    stand_in = StandIn("p", now())
    now.t += LEASE_SECONDS - 0.01
    assert run(stand_in.wait_expired(now, 0.0)) is False
    now.t += 0.02
    assert run(stand_in.wait_expired(now, 0.0)) is True


def test_failover_write_waits_for_the_lease_to_run_out() -> None:
    now = Now(step=0.25)  # time passes while the write polls
    stand_in = StandIn("p", now())
    assert run(stand_in.wait_expired(now, LEASE_SECONDS + 1)) is True
    assert now.t >= 1000.0 + LEASE_SECONDS


def test_failover_write_gives_way_when_the_primary_renews() -> None:
    """The primary renewing while a failover write waits means it is alive: the write
    must go back to it (TryAgain), not be taken by the replica."""
    now = Now()
    stand_in = StandIn("p", now())

    async def scenario() -> bool:
        waiting = asyncio.ensure_future(stand_in.wait_expired(now, LEASE_SECONDS + 1))
        await asyncio.sleep(0)
        stand_in.renew(now() + 0.5)
        return await waiting

    assert run(scenario()) is False


def test_taking_over_draws_one_new_token_per_stand_in_period() -> None:
    stand_in = StandIn("p", 0.0)
    first = stand_in.token
    stand_in.take_over()
    taken = stand_in.token
    assert taken != first
    stand_in.take_over()
    assert stand_in.token == taken  # still the same period
    stand_in.wrote([b"uk"])
    stand_in.begin([])
    assert stand_in.page(lambda keys: [])[1] is False  # handed back: period over
    stand_in.take_over()
    assert stand_in.token not in (first, taken)


def test_copies_from_before_a_take_over_are_refused() -> None:
    """A copy the primary queued under an older token must not overwrite what the
    replica wrote in its place; before any take-over, any token is accepted (the
    primary may not have renewed since this replica started)."""
    stand_in = StandIn("p", 0.0)
    assert stand_in.accepts(12345) and stand_in.accepts(0)
    stand_in.take_over()
    assert not stand_in.accepts(12345)
    assert stand_in.accepts(stand_in.token)


def test_hand_back_returns_every_written_key_once_then_nothing() -> None:
    s = store()
    stand_in = StandIn("p", 0.0)
    s.set(b"ua", b"1")
    s.set(b"ub", b"2")
    stand_in.wrote([b"ua", b"ub", b"ua", b"uc"])  # uc written then deleted
    stand_in.begin(key_states(s, stand_in.dirty_keys()))
    states, more = stand_in.page(lambda keys: key_states(s, keys))
    assert more is False
    assert [(st.key, st.present, st.value) for st in states] == [
        (b"ub", True, b"2"), (b"ua", True, b"1"), (b"uc", False, b"")]
    assert stand_in.dirty_keys() == []
    stand_in.begin(key_states(s, stand_in.dirty_keys()))
    assert stand_in.page(lambda keys: key_states(s, keys)) == ([], False)


def test_writes_during_a_hand_back_start_another_round() -> None:
    """If the primary's lease lapsed mid-hand-back and the replica wrote again, the last
    page is not the last: the new write is handed back too."""
    s = store()
    stand_in = StandIn("p", 0.0)
    s.set(b"ua", b"1")
    stand_in.wrote([b"ua"])
    stand_in.begin(key_states(s, stand_in.dirty_keys()))
    s.set(b"ua", b"2")
    stand_in.wrote([b"ua"])  # after the snapshot
    states, more = stand_in.page(lambda keys: key_states(s, keys))
    assert [st.value for st in states] == [b"1"] and more is True
    states, more = stand_in.page(lambda keys: key_states(s, keys))
    assert [st.value for st in states] == [b"2"] and more is False


def test_hand_back_pages_stay_under_the_page_size() -> None:
    value = b"x" * (PAGE_BYTES // 3)
    states = [rec.CacheKeyState(key=b"u%d" % i, present=True, value=value) for i in range(7)]
    stand_in = StandIn("p", 0.0)
    stand_in.begin(states)
    pages = []
    more = True
    while more:
        page, more = stand_in.page(lambda keys: [])
        pages.append(page)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [st.key for p in pages for st in p] == [st.key for st in states]


# -- the primary's side ------------------------------------------------------------------


class FakeReplica:
    """Answers Lease calls as a replica would, from a StandIn over a real store."""

    def __init__(self, now: Now) -> None:
        self.now = now
        self.store = store()
        self.stand_in = StandIn("p", now())
        self.requests: list[rec.CacheLeaseRequest] = []
        self.down = False

    async def call(self, replica: str, request: rec.CacheLeaseRequest) -> rec.CacheLeaseReply:
        self.requests.append(request)
        if self.down:
            raise ConnectionError("refused")
        return self.stand_in.answer(request, self.now(),
                                    lambda keys: key_states(self.store, keys),
                                    self.store.stored_keys)


def keeper(now: Now, replica: FakeReplica, primary_store: CacheStore) -> LeaseKeeper:
    return LeaseKeeper("p", ["r"], replica.call,
                       lambda states: [primary_store.load(s.key, s.value if s.present else None,
                                                          s.expire_at_ms or None)
                                       for s in states], now)


def test_a_started_primary_copies_everything_before_it_serves() -> None:
    now = Now()
    replica = FakeReplica(now)
    big = b"v" * (PAGE_BYTES // 2)
    for i in range(5):
        replica.store.set(b"u%d" % i, big)
    mine = store()
    k = keeper(now, replica, mine)
    assert k.serving("r") is False
    run(k.renew("r"))
    assert k.serving("r") is True
    assert [r.full for r in replica.requests] == [True] * len(replica.requests)
    assert len(replica.requests) >= 3  # paged
    assert all(mine.get(b"u%d" % i) == big for i in range(5))
    run(k.renew("r"))
    assert replica.requests[-1].full is False  # only the first sync is a full one


def test_the_lease_ends_before_the_replica_takes_over() -> None:
    now = Now()
    replica = FakeReplica(now)
    k = keeper(now, replica, store())
    run(k.renew("r"))
    granted_on_replica = replica.stand_in.lease_until
    assert k.leases["r"].valid_until == pytest.approx(
        granted_on_replica - MARGIN_SECONDS, abs=1e-6)
    now.t = k.leases["r"].valid_until
    assert k.serving("r") is False
    assert now.t < replica.stand_in.lease_until  # the replica still waits


def test_a_paused_primary_gets_the_replicas_writes_before_serving() -> None:
    now = Now()
    replica = FakeReplica(now)
    mine = store()
    k = keeper(now, replica, mine)
    mine.set(b"ukey", b"old")
    replica.store.set(b"ukey", b"old")
    run(k.renew("r"))
    old_token = k.leases["r"].token
    now.t += LEASE_SECONDS + 1  # paused: the lease ran out on both sides
    assert k.serving("r") is False
    replica.stand_in.take_over()
    replica.store.set(b"ukey", b"new")
    replica.stand_in.wrote([b"ukey"])
    replica.store.delete([b"ugone"])
    mine.set(b"ugone", b"stale")
    replica.stand_in.wrote([b"ugone"])

    run(k.renew("r"))
    assert k.serving("r") is True
    assert mine.get(b"ukey") == b"new"
    assert mine.get(b"ugone") is None
    assert k.leases["r"].token == replica.stand_in.token != old_token


def test_ensure_renews_at_once_through_the_running_loop() -> None:
    now = Now()
    replica = FakeReplica(now)
    k = keeper(now, replica, store())

    async def scenario() -> bool:
        task = asyncio.ensure_future(k.run())
        try:
            await asyncio.sleep(0.01)
            now.t += LEASE_SECONDS + 1
            assert not k.serving("r")
            return await k.ensure("r", 0.3)
        finally:
            task.cancel()

    assert run(scenario()) is True


def test_a_primary_serves_alone_once_its_replica_stops_answering() -> None:
    now = Now()
    replica = FakeReplica(now)
    k = keeper(now, replica, store())
    run(k.renew("r"))
    replica.down = True
    now.t += LEASE_SECONDS
    for _ in range(ALONE_AFTER - 1):
        run(k.renew("r"))
        assert k.serving("r") is False
    run(k.renew("r"))
    assert k.serving("r") is True
    replica.down = False
    run(k.renew("r"))
    assert k.serving("r") is True and k.leases["r"].failures == 0
