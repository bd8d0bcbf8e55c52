"""The bucket table: BucketMachine's rules, and BucketTable over a consensus group.

The machine's rules run through ``MachineHarness`` (one LMDB write transaction per
command, as the consensus kit applies them). BucketTable runs on a LocalCluster: real
consensus hosts and LMDB stores in this process, with an in-process network that can cut
a node off. Nothing sleeps to let replication happen: the API itself must make a bucket
visible everywhere once its creation returned; waits for an election are bounded polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_consensus import LocalCluster
from helpers_machines import MachineHarness

from engine.cluster.bucket_table import NO, YES, BucketMachine, BucketTable
from engine.errors import EngineError
from engine.v1.lifecycle_pb2 import (
    LifecycleConfiguration,
    LifecycleExpiration,
    LifecycleFilter,
    LifecycleRule,
)
from engine.v1.records_pb2 import BucketCommand, BucketRecord

IDS = ["a", "b", "c"]


def rec(name: str, **fields) -> BucketRecord:
    return BucketRecord(**{"name": name, "created_ns": 1, "region": "us-east-1", **fields})


def with_lifecycle(name: str) -> BucketRecord:
    rule = LifecycleRule(id="expire-logs", status="Enabled",
                         filter=LifecycleFilter(prefix="logs/"),
                         expiration=LifecycleExpiration(days=7))
    return rec(name, versioning="Enabled",
               lifecycle=LifecycleConfiguration(rules=[rule]))


def run(coro) -> None:
    asyncio.run(asyncio.wait_for(coro, 60))


# -- BucketMachine -------------------------------------------------------------------------


@pytest.fixture
def h(tmp_path: Path) -> Iterator[MachineHarness]:
    harness = MachineHarness(BucketMachine(), tmp_path / "machine")
    yield harness
    harness.close()


def create(h: MachineHarness, record: BucketRecord) -> bool:
    return h.apply(BucketCommand(create=record).SerializeToString()) == YES


def update(h: MachineHarness, record: BucketRecord) -> bool:
    return h.apply(BucketCommand(update=record).SerializeToString()) == YES


def delete(h: MachineHarness, name: str) -> bool:
    return h.apply(BucketCommand(delete=name).SerializeToString()) == YES


def get(h: MachineHarness, name: str) -> BucketRecord | None:
    return h.read(lambda k: BucketMachine.get(k, name))


def names(h: MachineHarness) -> list[str]:
    return [r.name for r in h.read(BucketMachine.all)]


def test_a_name_is_created_once(h: MachineHarness) -> None:
    assert create(h, rec("photos", region="eu-west-1")) is True
    assert create(h, rec("photos", region="us-west-2")) is False
    assert get(h, "photos") == rec("photos", region="eu-west-1")  # the first one stays
    assert get(h, "other") is None


def test_update_replaces_an_existing_bucket_only(h: MachineHarness) -> None:
    assert update(h, rec("ghost")) is False
    assert get(h, "ghost") is None  # an update never creates
    assert create(h, rec("logs"))
    assert update(h, with_lifecycle("logs")) is True
    assert get(h, "logs") == with_lifecycle("logs")  # the whole record, lifecycle included
    assert update(h, rec("logs")) is True  # a replacement, not a merge
    assert get(h, "logs") == rec("logs")


def test_delete_then_the_name_is_free_again(h: MachineHarness) -> None:
    assert create(h, rec("tmp"))
    assert delete(h, "tmp") is True
    assert delete(h, "tmp") is False
    assert get(h, "tmp") is None and names(h) == []
    assert update(h, rec("tmp")) is False
    assert create(h, rec("tmp", region="ap-south-1")) is True
    assert get(h, "tmp") == rec("tmp", region="ap-south-1")


def test_list_is_sorted_by_name(h: MachineHarness) -> None:
    for name in ("zeta", "alpha", "m-1", "m.0", "beta"):
        assert create(h, rec(name))
    assert names(h) == ["alpha", "beta", "m-1", "m.0", "zeta"]
    assert delete(h, "m-1")
    assert names(h) == ["alpha", "beta", "m.0", "zeta"]


def test_an_empty_command_changes_nothing(h: MachineHarness) -> None:
    assert create(h, rec("kept"))
    before = h.pairs()
    assert h.apply(BucketCommand().SerializeToString()) == NO
    assert h.pairs() == before


def test_replicas_store_identical_bytes_and_a_snapshot_copy_behaves_alike(
        h: MachineHarness, tmp_path: Path) -> None:
    """Every replica applies the same commands: their keyspaces must be byte-identical
    (records serialized deterministically), and a snapshot copy must answer alike."""
    other = MachineHarness(BucketMachine(), tmp_path / "other")
    copy = MachineHarness(BucketMachine(), tmp_path / "copy")
    try:
        commands = [BucketCommand(create=with_lifecycle("b1")),
                    BucketCommand(create=rec("b2")),
                    BucketCommand(create=rec("b1")),
                    BucketCommand(update=rec("b2", versioning="Suspended")),
                    BucketCommand(create=rec("b3")),
                    BucketCommand(delete="b3")]
        for command in commands:
            data = command.SerializeToString()
            assert h.apply(data) == other.apply(data)
        assert h.pairs() == other.pairs()
        stored = dict(h.pairs())
        assert set(stored) == {b"b/b1", b"b/b2"}
        assert stored[b"b/b1"] == with_lifecycle("b1").SerializeToString(deterministic=True)

        h.copy_to(copy)
        assert copy.pairs() == h.pairs()
        assert names(copy) == ["b1", "b2"]
        assert create(copy, rec("b1")) is False and create(copy, rec("b3")) is True
    finally:
        other.close()
        copy.close()


# -- BucketTable on a consensus group --------------------------------------------------------


def buckets(node: str, broken: frozenset[str]) -> BucketMachine:
    return BucketMachine()


async def started(tmp_path: Path, ids: list[str] = IDS, **kw) -> LocalCluster:
    c = LocalCluster(tmp_path, buckets, ids, **kw)
    for n in ids:
        await c.start(n)
    await c.leader()
    return c


def table(c: LocalCluster, node: str) -> BucketTable:
    return BucketTable(c.group(node))


def test_a_create_is_visible_on_every_node_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path)
        # From each node in turn (the leader and both followers): a get and a list on
        # every other node right after the create returned see it.
        for origin in IDS:
            name = f"visible-{origin}"
            assert await table(c, origin).create(rec(name)) is True
            for other in IDS:
                got = await table(c, other).get(name)
                assert got == rec(name)
                assert name in [r.name for r in await table(c, other).list()]
            assert await table(c, origin).create(rec(name)) is False  # created once
        await c.close()

    run(main())


def test_concurrent_creates_of_one_name_exactly_one_wins(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path)
        a, b, third = (table(c, n) for n in IDS)
        names = [f"race-{i}" for i in range(20)]
        results = await asyncio.gather(*(
            asyncio.gather(a.create(rec(n, region="from-a")), b.create(rec(n, region="from-b")))
            for n in names))
        for name, (ra, rb) in zip(names, results, strict=True):
            assert (ra, rb) in ((True, False), (False, True)), (name, ra, rb)
            stored = await third.get(name)  # the third node holds the winner's record
            assert stored is not None
            assert stored.region == ("from-a" if ra else "from-b")
        await c.close()

    run(main())


def test_update_delete_and_list_from_any_node(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path)
        a, b, third = (table(c, n) for n in IDS)
        assert await a.create(rec("udl-two"))
        assert await b.create(rec("udl-one"))
        assert await third.update(with_lifecycle("udl-one")) is True
        assert await a.get("udl-one") == with_lifecycle("udl-one")
        assert await a.update(rec("udl-missing")) is False
        assert await b.get("udl-missing") is None  # update never creates

        assert [r.name for r in await third.list()] == ["udl-one", "udl-two"]
        assert await b.delete("udl-two") is True
        assert await a.delete("udl-two") is False
        assert await third.get("udl-two") is None
        assert [r.name for r in await a.list()] == ["udl-one"]
        assert await third.create(rec("udl-two")) is True  # a deleted name is free again
        with pytest.raises(ValueError):
            await a.create(BucketRecord())  # a record needs a name
        with pytest.raises(ValueError):
            await a.update(BucketRecord(region="x"))
        await c.close()

    run(main())


def test_stale_ok_answers_hits_locally_and_rereads_misses(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path)
        leader = await c.leader()
        lagging = next(n for n in IDS if n != leader)
        lt = table(c, lagging)
        assert await table(c, leader).create(rec("known"))
        await c.group(lagging).barrier()

        # Cut off from the others, a node still answers a hit from its own copy...
        c.net.down.add(lagging)
        assert await lt.get("known", stale_ok=True) == rec("known")
        assert [r.name for r in await lt.list(stale_ok=True)] == ["known"]
        # ...but never trusts a miss, and a linearizable read needs the majority.
        refused = await asyncio.gather(lt.get("unknown", stale_ok=True, timeout=0.5),
                                       lt.get("known", timeout=0.5), lt.list(timeout=0.5),
                                       return_exceptions=True)
        assert [getattr(e, "code", e) for e in refused] == ["ServiceUnavailable"] * 3

        # A bucket created while it was away: its copy misses it, a stale_ok get still
        # finds it (the miss is read again through the leader).
        assert await table(c, leader).create(rec("created-meanwhile"))
        c.net.down.discard(lagging)
        assert c.group(lagging).read_local(
            "buckets", lambda k: BucketMachine.get(k, "created-meanwhile")) is None
        assert await lt.get("created-meanwhile", stale_ok=True) == rec("created-meanwhile")
        await c.close()

    run(main())


def test_without_a_majority_calls_fail_with_service_unavailable_in_time(
        tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path)
        lone = await c.leader()  # keep the leader: the hardest case (it must not hang)
        t = table(c, lone)
        assert await t.create(rec("known"))
        for n in IDS:
            if n != lone:
                c.net.down.add(n)
        loop = asyncio.get_running_loop()
        calls = [t.create(rec("no-quorum"), timeout=1.0), t.update(rec("known"), timeout=1.0),
                 t.delete("known", timeout=1.0), t.list(timeout=1.0),
                 t.get("unknown-here", timeout=1.0), t.get("known", timeout=1.0)]
        start = loop.time()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert loop.time() - start < 1.0 + 1.0
        for outcome in outcomes:
            assert isinstance(outcome, EngineError), outcome
            assert outcome.code == "ServiceUnavailable"
        # A local hit needs no quorum (documented: it may be stale).
        assert await t.get("known", stale_ok=True) == rec("known")
        # Back with a majority, the same node serves calls again.
        for n in IDS:
            c.net.down.discard(n)
        assert await t.create(rec("after-heal"), timeout=10) is True
        await c.close()

    run(main())


def test_losing_the_leader_elects_another_and_creates_go_on(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path)
        assert await table(c, "a").create(rec("before-failover"))
        old = await c.leader()
        await c.stop(old)
        survivors = [n for n in IDS if n != old]
        # The call waits out the election itself; its deadline bounds it.
        for i, node in enumerate(survivors):
            assert await table(c, node).create(rec(f"after-failover-{i}"), timeout=10) is True
        assert await c.leader() != old
        for node in survivors:
            assert [r.name for r in await table(c, node).list()] == [
                "after-failover-0", "after-failover-1", "before-failover"]
        await c.close()

    run(main())


def test_a_restarted_node_and_a_restarted_cluster_keep_the_table(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path, keep=5)  # short logs: restarts cross compactions
        for i in range(12):
            assert await table(c, IDS[i % 3]).create(rec(f"durable-{i:02}"))
        assert await table(c, "a").delete("durable-00")
        expected = [f"durable-{i:02}" for i in range(1, 12)]

        # One node restarts while the others run.
        await c.stop("b")
        await c.start("b")
        assert [r.name for r in await table(c, "b").list(timeout=10)] == expected

        # The whole cluster restarts: the table can only come from the stores.
        for n in IDS:
            await c.stop(n)
        for n in IDS:
            await c.start(n)
        for n in IDS:
            assert [r.name for r in await table(c, n).list(timeout=10)] == expected
        assert await table(c, "c").create(rec("durable-00")) is True  # the delete survived
        assert await table(c, "a").create(rec("durable-05")) is False
        await c.close()

    run(main())


def test_a_node_far_behind_catches_up_from_a_snapshot(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path, keep=5)
        leader = await c.leader()
        away = next(n for n in IDS if n != leader)
        await c.stop(away)
        for i in range(30):
            assert await table(c, leader).create(rec(f"while-away-{i:02}"))
        for i in range(0, 30, 3):
            assert await table(c, leader).delete(f"while-away-{i:02}")
        assert c.group(leader).core.log.snap_index > 0  # its log no longer reaches back
        await c.start(away)
        want = await table(c, leader).list()
        assert len(want) == 20
        assert await table(c, away).list(timeout=10) == want
        assert await table(c, away).create(rec("while-away-01")) is False
        assert await table(c, away).create(rec("while-away-00")) is True
        await c.close()

    run(main())


def test_close_fails_waiting_and_later_calls_promptly(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path)
        leader = await c.leader()
        node = next(n for n in IDS if n != leader)
        t = table(c, node)
        for n in IDS:
            if n != node:
                c.net.down.add(n)  # no majority: the create waits up to its 30 s deadline
        waiting = asyncio.create_task(t.create(rec("never-committed"), timeout=30))
        await asyncio.sleep(0.1)  # let it get under way (not a timing assertion)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await c.stop(node)
        with pytest.raises(EngineError) as err:
            await waiting
        assert err.value.code == "ServiceUnavailable"
        assert loop.time() - start < 1.0  # woken by the close, not by its deadline
        with pytest.raises(EngineError) as err:
            await t.create(rec("after-close"))
        assert err.value.code == "ServiceUnavailable"
        await c.close()

    run(main())
