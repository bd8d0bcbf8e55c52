"""The queue catalog: CatalogMachine's rules, and QueueCatalog over a consensus group.

The rules (QueueDeletedRecently for 60 s, PurgeQueueInProgress for 60 s, incarnations,
the purge time kept across updates) are decided in ``apply`` from the time stamped into
each command, so the machine tests drive time through ``now_ns`` explicitly
(``MachineHarness``: one LMDB write transaction per command, as the kit applies them).
QueueCatalog runs on a LocalCluster (a group of one member, as ``engine serve`` alone
runs it, or three), stamping commands from the cluster's ManualClock. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers_consensus import LocalCluster
from helpers_machines import MachineHarness

from engine.cluster.bucket_table import BucketMachine, BucketTable
from engine.queues.catalog import (
    CREATED,
    DELETED_RECENTLY,
    DONE,
    EXISTS,
    FORGET_PER_COMMAND,
    IN_PROGRESS,
    MISSING,
    UPDATED,
    CatalogMachine,
    QueueCatalog,
)
from engine.v1.queue_records_pb2 import CatalogCommand, CatalogResult, QueueRecord, QueueRef
from engine.v1.records_pb2 import BucketRecord

S = 1_000_000_000
T0 = 1_700_000_000 * S


def record(name: str, **fields) -> QueueRecord:
    return QueueRecord(**{"name": name, "attributes": {"VisibilityTimeout": "30"},
                          "partitions": 4, **fields})


def run(coro) -> None:
    asyncio.run(asyncio.wait_for(coro, 60))


# -- CatalogMachine: the rules, time given explicitly ----------------------------------------


class Catalog:
    """Readable calls on a CatalogMachine in a harness."""

    def __init__(self, h: MachineHarness) -> None:
        self.h = h

    def _run(self, now: int, **op) -> CatalogResult:
        data = self.h.apply(CatalogCommand(now_ns=now, **op).SerializeToString())
        return CatalogResult.FromString(data)

    def create(self, now: int, rec: QueueRecord) -> tuple[str, QueueRecord | None]:
        result = self._run(now, create=rec)
        return result.outcome, (result.record if result.HasField("record") else None)

    def update(self, now: int, rec: QueueRecord) -> str:
        return self._run(now, update=rec).outcome

    def delete(self, now: int, name: str, incarnation: str = "") -> str:
        return self._run(now, delete=QueueRef(name=name, incarnation=incarnation)).outcome

    def purge(self, now: int, name: str, incarnation: str) -> str:
        return self._run(now, purge=QueueRef(name=name, incarnation=incarnation)).outcome

    def get(self, name: str) -> QueueRecord | None:
        return self.h.read(lambda k: CatalogMachine.get(k, name))

    def names(self) -> list[str]:
        return [r.name for r in self.h.read(CatalogMachine.all)]


@pytest.fixture
def h(tmp_path: Path) -> Iterator[MachineHarness]:
    harness = MachineHarness(CatalogMachine(), tmp_path / "machine")
    yield harness
    harness.close()


@pytest.fixture
def cat(h: MachineHarness) -> Catalog:
    return Catalog(h)


def test_create_then_exists_with_the_first_record(cat: Catalog) -> None:
    first = record("orders", incarnation="inc-1", created_ns=T0, modified_ns=T0)
    assert cat.create(T0, first) == (CREATED, first)
    other = record("orders", incarnation="inc-2", attributes={"VisibilityTimeout": "99"})
    assert cat.create(T0 + 5 * S, other) == (EXISTS, first)  # the stored one, not the offer
    assert cat.get("orders") == first
    assert cat.get("nothing") is None
    assert cat.create(T0, record("alpha", incarnation="inc-a"))[0] == CREATED
    assert cat.names() == ["alpha", "orders"]  # listed by name


def test_recreate_within_60_s_of_delete_is_refused(cat: Catalog) -> None:
    first = record("short-lived", incarnation="inc-1")
    assert cat.create(T0, first)[0] == CREATED
    deleted = T0 + 10 * S
    assert cat.delete(deleted, "short-lived") == DONE
    assert cat.delete(deleted, "short-lived") == MISSING  # gone already
    assert cat.get("short-lived") is None and cat.names() == []
    for later in (0, 30 * S, 59_900_000_000, 60 * S - 1):
        assert cat.create(deleted + later, record("short-lived", incarnation="inc-2")) == (
            DELETED_RECENTLY, None)
    assert cat.get("short-lived") is None  # a refused create stores nothing
    second = record("short-lived", incarnation="inc-2")
    assert cat.create(deleted + 60 * S, second) == (CREATED, second)  # exactly 60 s later


def test_delete_of_a_given_incarnation_only(cat: Catalog) -> None:
    rec = record("q", incarnation="inc-2")
    assert cat.create(T0, rec)[0] == CREATED
    assert cat.delete(T0, "q", "inc-1") == MISSING  # an older incarnation's delete
    assert cat.get("q") == rec
    assert cat.create(T0 + S, record("x", incarnation="x"))[0] == CREATED  # no window opened
    assert cat.delete(T0, "q", "inc-2") == DONE
    assert cat.get("q") is None
    assert cat.delete(T0, "never-created") == MISSING
    assert cat.create(T0, record("never-created", incarnation="n"))[0] == CREATED


def test_purge_once_per_60_s(cat: Catalog) -> None:
    assert cat.create(T0, record("purged", incarnation="inc"))[0] == CREATED
    first = T0 + S
    assert cat.purge(first, "purged", "inc") == DONE
    assert cat.get("purged").purged_ns == first
    for later in (0, 30 * S, 60 * S - 1):
        assert cat.purge(first + later, "purged", "inc") == IN_PROGRESS
    assert cat.get("purged").purged_ns == first  # refusals change nothing
    assert cat.purge(first + 60 * S, "purged", "inc") == DONE
    assert cat.get("purged").purged_ns == first + 60 * S
    assert cat.purge(first + 200 * S, "purged", "stale-incarnation") == MISSING
    assert cat.purge(first + 200 * S, "no-such-queue", "inc") == MISSING


def test_an_update_from_a_record_read_before_a_purge_keeps_the_purge(cat: Catalog) -> None:
    """SetQueueAttributes/TagQueue read the record, change it and write it back. If a
    PurgeQueue landed in between, writing back must not erase its time: otherwise a
    second purge within 60 s succeeds instead of PurgeQueueInProgress."""
    assert cat.create(T0, record("tagged", incarnation="inc"))[0] == CREATED
    read_before = cat.get("tagged")  # e.g. TagQueue's read
    assert cat.purge(T0 + S, "tagged", "inc") == DONE
    read_before.tags["team"] = "billing"
    assert cat.update(T0 + 2 * S, read_before) == UPDATED
    stored = cat.get("tagged")
    assert stored.tags["team"] == "billing" and stored.purged_ns == T0 + S
    assert cat.purge(T0 + 10 * S, "tagged", "inc") == IN_PROGRESS


def test_update_only_for_the_same_incarnation(cat: Catalog) -> None:
    old = record("versioned", incarnation="inc-1")
    assert cat.create(T0, old)[0] == CREATED
    changed = QueueRecord()
    changed.CopyFrom(old)
    changed.attributes["DelaySeconds"] = "5"
    changed.tags["env"] = "test"
    assert cat.update(T0, changed) == UPDATED
    assert cat.get("versioned") == changed

    stranger = QueueRecord()
    stranger.CopyFrom(changed)
    stranger.incarnation = "someone-else"
    stranger.attributes["DelaySeconds"] = "9"
    assert cat.update(T0, stranger) == MISSING
    assert cat.get("versioned") == changed
    assert cat.update(T0, record("absent", incarnation="x")) == MISSING
    assert cat.get("absent") is None  # update never creates

    # Deleted and created again: the old incarnation can no longer write.
    assert cat.delete(T0, "versioned") == DONE
    new = record("versioned", incarnation="inc-2")
    assert cat.create(T0 + 60 * S, new) == (CREATED, new)
    assert cat.update(T0 + 61 * S, changed) == MISSING
    assert cat.get("versioned") == new
    assert cat.delete(T0 + 61 * S, "versioned", "inc-1") == MISSING
    assert cat.purge(T0 + 61 * S, "versioned", "inc-1") == MISSING


def test_old_deletions_are_forgotten_a_few_per_command(cat: Catalog, h: MachineHarness) -> None:
    """Deletion marks only matter for 60 s: later commands drop them, a bounded number
    each, so the catalog does not grow with every queue ever deleted."""
    count = 2 * FORGET_PER_COMMAND + 5
    for i in range(count):
        assert cat.create(T0, record(f"gone-{i:02}", incarnation="i"))[0] == CREATED
        assert cat.delete(T0, f"gone-{i:02}") == DONE
    assert cat.create(T0, record("alive", incarnation="a"))[0] == CREATED
    marks = len(h.pairs()) - 1
    assert marks == 2 * count  # a mark by name and one by time for each deletion
    # Within the window, many commands forget nothing: the refusals stand.
    for _ in range(3):
        assert cat.create(T0 + 60 * S - 1, record("gone-00"))[0] == DELETED_RECENTLY
    assert len(h.pairs()) - 1 == marks
    # After it, each command forgets FORGET_PER_COMMAND deletions, oldest first.
    later = T0 + 61 * S
    assert cat.purge(later, "alive", "a") == DONE
    assert len(h.pairs()) - 1 == marks - 2 * FORGET_PER_COMMAND
    assert cat.purge(later, "alive", "a") == IN_PROGRESS  # a refusal forgets too
    assert cat.purge(later, "alive", "a") == IN_PROGRESS
    assert [k for k, _ in h.pairs()] == [b"q/alive"]
    assert cat.create(later, record("gone-07", incarnation="b"))[0] == CREATED


def test_a_name_deleted_twice_keeps_only_its_last_deletion(cat: Catalog, h: MachineHarness
                                                            ) -> None:
    assert cat.create(T0, record("again", incarnation="1"))[0] == CREATED
    assert cat.delete(T0, "again") == DONE
    assert cat.create(T0 + 60 * S, record("again", incarnation="2"))[0] == CREATED
    second = T0 + 70 * S
    assert cat.delete(second, "again") == DONE
    assert len(h.pairs()) == 2  # one mark by name, one by time: the first is gone
    assert cat.create(second + 59 * S, record("again", incarnation="3"))[0] == DELETED_RECENTLY
    assert cat.create(second + 60 * S, record("again", incarnation="3"))[0] == CREATED


def test_replicas_store_identical_bytes_and_a_snapshot_copy_behaves_alike(
        h: MachineHarness, tmp_path: Path) -> None:
    """Records hold maps (attributes, tags): replicas given the same commands must still
    store byte-identical keyspaces, and a snapshot copy must keep every window."""
    other = MachineHarness(CatalogMachine(), tmp_path / "other")
    copy = MachineHarness(CatalogMachine(), tmp_path / "copy")
    try:
        tags = {f"k{i}": f"v{i}" for i in range(20)}
        forward = record("maps", incarnation="m", tags=tags)
        backward = record("maps", incarnation="m", tags=dict(reversed(tags.items())))
        commands = [
            CatalogCommand(now_ns=T0, create=record("a", incarnation="a")),
            CatalogCommand(now_ns=T0, create=forward),
            CatalogCommand(now_ns=T0 + S, update=backward),
            CatalogCommand(now_ns=T0 + S, purge=QueueRef(name="a", incarnation="a")),
            CatalogCommand(now_ns=T0 + 2 * S, create=record("b", incarnation="b")),
            CatalogCommand(now_ns=T0 + 2 * S, delete=QueueRef(name="b")),
        ]
        for command in commands:
            data = command.SerializeToString()
            assert h.apply(data) == other.apply(data)
        assert h.pairs() == other.pairs()
        h.copy_to(copy)
        assert copy.pairs() == h.pairs()
        restored = Catalog(copy)
        assert restored.names() == ["a", "maps"]
        assert restored.get("maps") == forward
        assert restored.purge(T0 + 30 * S, "a", "a") == IN_PROGRESS
        assert restored.create(T0 + 30 * S, record("b"))[0] == DELETED_RECENTLY
        assert restored.create(T0 + 62 * S, record("b"))[0] == CREATED
    finally:
        other.close()
        copy.close()


# -- QueueCatalog on a consensus group -----------------------------------------------------


def catalog_machine(node: str, broken: frozenset[str]) -> CatalogMachine:
    return CatalogMachine()


async def started(tmp_path: Path, ids: list[str], make=catalog_machine, **kw) -> LocalCluster:
    c = LocalCluster(tmp_path, make, ids, **kw)
    for n in ids:
        await c.start(n)
    await c.leader()
    return c


def catalog(c: LocalCluster, node: str) -> QueueCatalog:
    return QueueCatalog(c.group(node), c.clock)


def test_create_stamps_the_record_and_answers_exists(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path, ["a"])
        cat, now = catalog(c, "a"), c.clock.now_ns()
        outcome, created = await cat.create(record("orders"))
        assert outcome == CREATED
        assert created is not None and created.name == "orders"
        assert len(created.incarnation) == 32  # a fresh id was stamped
        assert created.created_ns == now and created.modified_ns == now
        assert created.partitions == 4

        c.clock.advance(5)
        other = record("orders", attributes={"VisibilityTimeout": "99"})
        assert await cat.create(other) == (EXISTS, created)  # the stored record

        assert await cat.get("orders") == created
        assert await cat.get("orders", stale_ok=True) == created
        assert cat.cached("orders") == created
        assert await cat.get("nothing") is None
        assert (await cat.create(record("alpha")))[0] == CREATED
        assert [r.name for r in await cat.list()] == ["alpha", "orders"]
        assert [r.name for r in cat.known()] == ["alpha", "orders"]

        outcome, kept = await cat.create(  # stamps the caller set are kept
            record("kept", incarnation="inc-given", created_ns=7, modified_ns=8))
        assert outcome == CREATED and kept is not None
        assert (kept.incarnation, kept.created_ns, kept.modified_ns) == ("inc-given", 7, 8)
        await c.close()

    run(main())


def test_time_windows_run_on_the_engine_clock(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path, ["a"])
        cat, clock = catalog(c, "a"), c.clock
        _, first = await cat.create(record("short-lived"))
        assert await cat.delete("short-lived") is True
        assert await cat.delete("short-lived") is False
        for step in (0, 30, 29.9):
            clock.advance(step)
            assert await cat.create(record("short-lived")) == (DELETED_RECENTLY, None)
        clock.advance(0.1)  # exactly 60 s after the delete
        outcome, second = await cat.create(record("short-lived"))
        assert outcome == CREATED and second.incarnation != first.incarnation
        assert second.created_ns == clock.now_ns()
        assert await cat.delete("short-lived", first.incarnation) is False
        assert await cat.get("short-lived") == second

        inc = second.incarnation
        purged = clock.now_ns()
        assert await cat.purge("short-lived", inc) == DONE
        assert (await cat.get("short-lived")).purged_ns == purged
        clock.advance(59.9)
        assert await cat.purge("short-lived", inc) == IN_PROGRESS
        clock.advance(0.1)
        assert await cat.purge("short-lived", inc) == DONE
        assert await cat.purge("short-lived", first.incarnation) == MISSING

        stale = await cat.get("short-lived")
        stale.purged_ns = 0  # a record read before the purge, written back after it
        stale.tags["team"] = "billing"
        assert await cat.update(stale) is True
        assert await cat.purge("short-lived", inc) == IN_PROGRESS
        assert await cat.update(record("absent", incarnation="x")) is False
        await c.close()

    run(main())


def test_a_retried_operation_applies_once(tmp_path: Path) -> None:
    """A call retried with its operation id (after a lost answer) gets the first outcome,
    even when the state has moved on since."""
    async def main() -> None:
        c = await started(tmp_path, ["a"])
        group, now = c.group("a"), c.clock.now_ns()

        async def call(op_id: str, **op) -> CatalogResult:
            data = CatalogCommand(now_ns=now, **op).SerializeToString()
            return CatalogResult.FromString(
                await group.call(CatalogMachine.name, data, op_id=op_id))

        rec = record("memo", incarnation="inc-1")
        ref = QueueRef(name="memo", incarnation="inc-1")
        assert (await call("op-create", create=rec)).outcome == CREATED
        assert await call("op-create", create=rec) == CatalogResult(outcome=CREATED, record=rec)
        assert (await call("op-other", create=rec)).outcome == EXISTS

        assert (await call("op-purge", purge=ref)).outcome == DONE
        assert (await call("op-purge", purge=ref)).outcome == DONE
        assert (await call("op-purge-2", purge=ref)).outcome == IN_PROGRESS

        assert (await call("op-delete", delete=ref)).outcome == DONE
        assert (await call("op-delete", delete=ref)).outcome == DONE
        assert (await call("op-delete-2", delete=ref)).outcome == MISSING
        # A retried create does not resurrect the deleted queue.
        assert (await call("op-create", create=rec)).outcome == CREATED
        assert await catalog(c, "a").get("memo") is None
        assert (await call("op-new", create=rec)).outcome == DELETED_RECENTLY
        await c.close()

    run(main())


async def populate(c: LocalCluster, cat: QueueCatalog) -> dict[str, QueueRecord]:
    """Queues a, b, c, d; b deleted; a purged; c updated. Returns the live records."""
    made = {}
    for name in "abcd":
        outcome, rec = await cat.create(record(name))
        assert outcome == CREATED and rec is not None
        made[name] = rec
    assert await cat.delete("b")
    del made["b"]
    assert await cat.purge("a", made["a"].incarnation) == DONE
    made["a"].purged_ns = c.clock.now_ns()
    made["c"].tags["k"] = "v"
    assert await cat.update(made["c"])
    return made


async def check_restored(cat: QueueCatalog, expected: dict[str, QueueRecord]) -> None:
    assert [r.name for r in await cat.list()] == sorted(expected)
    for name, rec in expected.items():
        assert await cat.get(name) == rec
    a = expected["a"]
    assert await cat.purge("a", a.incarnation) == IN_PROGRESS  # the purge time survived
    assert await cat.create(record("b")) == (DELETED_RECENTLY, None)  # so did the delete
    assert (await cat.create(record("a")))[0] == EXISTS


def test_state_and_operation_memo_survive_a_restart(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path, ["a"], keep=3)  # a short log: compacted on the way
        expected = await populate(c, catalog(c, "a"))
        retry = CatalogCommand(now_ns=c.clock.now_ns(),
                               create=record("retried", incarnation="inc-r"))
        first = await c.group("a").call(CatalogMachine.name, retry.SerializeToString(),
                                        op_id="op-r")
        for name in "efgh":  # more entries than the log keeps
            outcome, expected[name] = await catalog(c, "a").create(record(name))
            assert outcome == CREATED
        assert c.group("a").core.log.snap_index > 0
        await c.stop("a")
        await c.start("a")

        # The retried create after the restart is still recognised...
        assert await c.group("a").call(CatalogMachine.name, retry.SerializeToString(),
                                       op_id="op-r") == first
        expected["retried"] = record("retried", incarnation="inc-r")
        await check_restored(catalog(c, "a"), expected)  # ...and every rule holds
        c.clock.advance(60)
        assert (await catalog(c, "a").create(record("b")))[0] == CREATED
        await c.close()

    run(main())


def test_racing_creates_on_two_members_have_one_winner(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path, ["a", "b", "c"])
        a, b, third = (catalog(c, n) for n in "abc")
        names = [f"race-{i}" for i in range(10)]
        results = await asyncio.gather(*(
            asyncio.gather(a.create(record(n, tags={"from": "a"})),
                           b.create(record(n, tags={"from": "b"})))
            for n in names))
        for name, ((oa, ra), (ob, rb)) in zip(names, results, strict=True):
            assert sorted([oa, ob]) == sorted([CREATED, EXISTS]), (name, oa, ob)
            assert ra == rb  # the loser is told the winner's record
            assert ra is not None and ra.tags["from"] == ("a" if oa == CREATED else "b")
            assert await third.get(name) == ra  # and the third member agrees
        await c.close()

    run(main())


def test_three_members_share_deletes_and_purges(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path, ["a", "b", "c"])
        a, b, third = (catalog(c, n) for n in "abc")
        outcome, created = await a.create(record("shared"))
        assert outcome == CREATED and created is not None
        assert await third.get("shared") == created  # found at once, through the barrier
        assert await b.get("missing-everywhere") is None

        purges = await asyncio.gather(b.purge("shared", created.incarnation),
                                      third.purge("shared", created.incarnation))
        assert sorted(purges) == sorted([DONE, IN_PROGRESS])

        assert await b.delete("shared", created.incarnation) is True
        assert await third.create(record("shared")) == (DELETED_RECENTLY, None)
        await c.group("a").barrier()
        assert a.cached("shared") is None
        c.clock.advance(60)
        assert (await a.create(record("shared")))[0] == CREATED
        await c.close()

    run(main())


def test_stale_ok_answers_hits_locally_and_rereads_misses(tmp_path: Path) -> None:
    async def main() -> None:
        c = await started(tmp_path, ["a", "b", "c"])
        leader = await c.leader()
        away = next(n for n in "abc" if n != leader)
        _, known = await catalog(c, leader).create(record("known"))
        await c.group(away).barrier()
        c.net.down.add(away)  # cut off: only its own copy answers
        assert await catalog(c, away).get("known", stale_ok=True) == known
        assert catalog(c, away).cached("known") == known
        _, latest = await catalog(c, leader).create(record("latest"))  # while it is away
        c.net.down.discard(away)
        assert catalog(c, away).cached("latest") is None  # its copy lags...
        assert await catalog(c, away).get("latest", stale_ok=True) == latest  # ...not a get
        await c.close()

    run(main())


def test_a_followers_parsed_copy_follows_every_change_it_applies(tmp_path: Path) -> None:
    """Message operations look their queue up through ``cached`` on every call; the
    parsed copy it keeps must change when this node applies an update, a purge or a
    delete, and when it installs a snapshot."""
    async def main() -> None:
        c = await started(tmp_path, ["a", "b", "c"])
        leader = await c.leader()
        away = next(n for n in "abc" if n != leader)
        there, here = catalog(c, leader), catalog(c, away)
        _, created = await there.create(record("q"))
        assert created is not None
        await c.group(away).barrier()
        assert here.cached("q") == created
        changed = QueueRecord()
        changed.CopyFrom(created)
        changed.attributes["VisibilityTimeout"] = "45"
        assert await there.update(changed) is True
        await c.group(away).barrier()
        assert here.cached("q").attributes["VisibilityTimeout"] == "45"
        assert await there.purge("q", created.incarnation) == DONE
        await c.group(away).barrier()
        assert here.cached("q").purged_ns == c.clock.now_ns()
        assert await there.delete("q", created.incarnation) is True
        await c.group(away).barrier()
        assert here.cached("q") is None
        assert await here.get("q", stale_ok=True) is None
        await c.close()

    run(main())


def test_the_catalog_shares_the_meta_group_with_the_bucket_table(tmp_path: Path) -> None:
    """A cluster's meta group hosts both machines: a queue and a bucket of one name are
    independent, and both survive a restart of the whole group."""
    def meta(node: str, broken: frozenset[str]) -> list:
        return [BucketMachine(), CatalogMachine()]

    async def main() -> None:
        c = await started(tmp_path, ["a", "b", "c"], make=meta)
        assert (await catalog(c, "a").create(record("shared-name")))[0] == CREATED
        assert await BucketTable(c.group("b")).create(BucketRecord(name="shared-name"))
        assert await catalog(c, "c").delete("shared-name") is True
        assert await BucketTable(c.group("c")).get("shared-name") is not None
        for n in "abc":
            await c.stop(n)
        for n in "abc":
            await c.start(n)
        assert await catalog(c, "b").create(record("shared-name")) == (DELETED_RECENTLY, None)
        assert await BucketTable(c.group("a")).create(BucketRecord(name="shared-name")) is False
        await c.close()

    run(main())
