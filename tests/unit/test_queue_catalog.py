"""CatalogLog + QueueCatalog on real pysyncobj groups (loopback, fresh ports).

Most tests use a group of one member (it commits on its own); the racing tests use three
members in this process. Time-window rules (QueueDeletedRecently, PurgeQueueInProgress)
are driven by a ManualClock: the catalog stamps its time into each replicated command.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.clock import ManualClock
from engine.cluster.raft_group import DUMP_FILE, RaftGroup
from engine.queues.catalog import (
    CREATED,
    DELETED_RECENTLY,
    DONE,
    EXISTS,
    IN_PROGRESS,
    MISSING,
    CatalogLog,
    QueueCatalog,
)
from engine.v1.queue_records_pb2 import QueueRecord

SECRET = "unit-test-cluster-secret-0123456789"
S = 1_000_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def record(name: str, **fields: object) -> QueueRecord:
    return QueueRecord(name=name, attributes={"VisibilityTimeout": "30"}, partitions=4,
                       **fields)  # type: ignore[arg-type]


class Single:
    """A one-member group hosting a CatalogLog, restartable on the same state dir."""

    def __init__(self, state_dir: Path, clock: ManualClock) -> None:
        self.state_dir = state_dir
        self.clock = clock
        self.log = CatalogLog()
        self.group = RaftGroup("127.0.0.1:0", [], "", state_dir, [self.log])
        self.catalog = QueueCatalog(self.log, self.group.call, clock)

    def restart(self) -> None:
        self.group.close()
        self.log = CatalogLog()
        self.group = RaftGroup("127.0.0.1:0", [], "", self.state_dir, [self.log])
        self.catalog = QueueCatalog(self.log, self.group.call, self.clock)

    def close(self) -> None:
        self.group.close()


@contextmanager
def single(state_dir: Path, clock: ManualClock | None = None) -> Iterator[Single]:
    node = Single(state_dir, clock or ManualClock())
    try:
        yield node
    finally:
        node.close()


@contextmanager
def three_members(root: Path, clock: ManualClock) -> Iterator[list[QueueCatalog]]:
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    groups: list[RaftGroup] = []
    try:
        catalogs = []
        for i, address in enumerate(addresses):
            log = CatalogLog()
            group = RaftGroup(address, addresses, SECRET, root / f"m{i}", [log])
            groups.append(group)
            catalogs.append(QueueCatalog(log, group.call, clock))
        yield catalogs
    finally:
        for group in groups:
            group.close()


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


async def poll(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# -- create / exists -----------------------------------------------------------------------


def test_create_then_exists_with_the_first_record(tmp_path: Path) -> None:
    with single(tmp_path) as node:
        cat, now = node.catalog, node.clock.now_ns()

        async def body() -> None:
            outcome, created = await cat.create(record("orders"))
            assert outcome == CREATED
            assert created is not None and created.name == "orders"
            assert len(created.incarnation) == 32  # a fresh id was stamped
            assert created.created_ns == now and created.modified_ns == now
            assert created.partitions == 4

            node.clock.advance(5)
            other = record("orders")
            other.attributes["VisibilityTimeout"] = "99"
            outcome, existing = await cat.create(other)
            assert outcome == EXISTS
            assert existing == created  # the stored record, not the one offered

            assert await cat.get("orders") == created
            assert cat.cached("orders") == created
            assert await cat.get("nothing") is None
            assert (await cat.create(record("alpha")))[0] == CREATED
            assert [r.name for r in await cat.list()] == ["alpha", "orders"]

            outcome, kept = await cat.create(  # stamps the caller set are kept
                record("kept", incarnation="inc-given", created_ns=7, modified_ns=8))
            assert outcome == CREATED and kept is not None
            assert (kept.incarnation, kept.created_ns, kept.modified_ns) == ("inc-given", 7, 8)

        run(body())


# -- delete / QueueDeletedRecently ---------------------------------------------------------


def test_recreate_within_60_s_of_delete_is_refused(tmp_path: Path) -> None:
    with single(tmp_path) as node:
        cat, clock = node.catalog, node.clock

        async def body() -> None:
            _, first = await cat.create(record("short-lived"))
            assert first is not None
            assert await cat.delete("short-lived") is True
            assert await cat.delete("short-lived") is False  # gone already
            assert await cat.get("short-lived") is None
            assert "short-lived" not in [r.name for r in await cat.list()]

            for step in (0, 30, 29.9):
                clock.advance(step)
                assert await cat.create(record("short-lived")) == (DELETED_RECENTLY, None)
            assert await cat.get("short-lived") is None  # a refused create stores nothing

            clock.advance(0.1)  # exactly 60 s after the delete
            outcome, second = await cat.create(record("short-lived"))
            assert outcome == CREATED and second is not None
            assert second.incarnation != first.incarnation  # a new incarnation
            assert second.created_ns == clock.now_ns()

            # Deleting a given incarnation only.
            assert await cat.delete("short-lived", first.incarnation) is False
            assert await cat.get("short-lived") == second
            assert await cat.delete("short-lived", second.incarnation) is True
            assert await cat.get("short-lived") is None
            assert await cat.delete("never-created") is False

        run(body())


# -- purge / PurgeQueueInProgress ----------------------------------------------------------


def test_purge_once_per_60_s(tmp_path: Path) -> None:
    with single(tmp_path) as node:
        cat, clock = node.catalog, node.clock

        async def body() -> None:
            _, created = await cat.create(record("purged"))
            assert created is not None
            inc = created.incarnation
            first = clock.now_ns()
            assert await cat.purge("purged", inc) == DONE
            got = await cat.get("purged")
            assert got is not None and got.purged_ns == first

            clock.advance(30)
            assert await cat.purge("purged", inc) == IN_PROGRESS
            clock.advance(29.9)
            assert await cat.purge("purged", inc) == IN_PROGRESS
            got = await cat.get("purged")
            assert got is not None and got.purged_ns == first  # refusals change nothing

            clock.advance(0.1)
            assert await cat.purge("purged", inc) == DONE
            got = await cat.get("purged")
            assert got is not None and got.purged_ns == clock.now_ns()

            assert await cat.purge("purged", "stale-incarnation") == MISSING
            assert await cat.purge("no-such-queue", inc) == MISSING

        run(body())


def test_an_update_from_a_record_read_before_a_purge_keeps_the_purge(tmp_path: Path) -> None:
    """SetQueueAttributes/TagQueue read the record, change it and write it back. If a
    PurgeQueue landed in between, writing back must not erase its time: otherwise a
    second purge within 60 s succeeds instead of PurgeQueueInProgress."""
    with single(tmp_path) as node:
        cat, clock = node.catalog, node.clock

        async def body() -> None:
            _, created = await cat.create(record("tagged"))
            assert created is not None
            read_before = await cat.get("tagged")  # e.g. TagQueue's read
            assert read_before is not None
            assert await cat.purge("tagged", created.incarnation) == DONE
            read_before.tags["team"] = "billing"
            assert await cat.update(read_before) is True
            clock.advance(10)
            assert await cat.purge("tagged", created.incarnation) == IN_PROGRESS

        run(body())


# -- update --------------------------------------------------------------------------------


def test_update_only_for_the_same_incarnation(tmp_path: Path) -> None:
    with single(tmp_path) as node:
        cat, clock = node.catalog, node.clock

        async def body() -> None:
            _, old = await cat.create(record("versioned"))
            assert old is not None
            changed = QueueRecord()
            changed.CopyFrom(old)
            changed.attributes["DelaySeconds"] = "5"
            changed.tags["env"] = "test"
            assert await cat.update(changed) is True
            assert await cat.get("versioned") == changed

            stranger = QueueRecord()
            stranger.CopyFrom(changed)
            stranger.incarnation = "someone-else"
            stranger.attributes["DelaySeconds"] = "9"
            assert await cat.update(stranger) is False
            assert await cat.get("versioned") == changed
            assert await cat.update(record("absent", incarnation="x")) is False
            assert await cat.get("absent") is None  # update never creates

            # Delete and re-create: the old incarnation can no longer write.
            assert await cat.delete("versioned")
            clock.advance(60)
            outcome, new = await cat.create(record("versioned"))
            assert outcome == CREATED and new is not None
            assert new.incarnation != old.incarnation
            assert await cat.update(changed) is False
            assert await cat.get("versioned") == new
            assert await cat.delete("versioned", old.incarnation) is False
            assert await cat.purge("versioned", old.incarnation) == MISSING

        run(body())


# -- operation ids -------------------------------------------------------------------------


def test_a_retried_operation_applies_once(tmp_path: Path) -> None:
    with single(tmp_path) as node:
        log, call, clock = node.log, node.group.call, node.clock

        async def body() -> None:
            data = record("memo", incarnation="inc-1").SerializeToString()
            now = clock.now_ns()
            first = await call(log.create, "memo", data, now, "op-create")
            assert first == (CREATED, data)
            # The same call again (a retry after a lost answer) gets the same outcome...
            assert await call(log.create, "memo", data, now, "op-create") == (CREATED, data)
            # ...while a new operation sees the queue exists.
            assert await call(log.create, "memo", data, now, "op-other") == (EXISTS, data)

            updated = record("memo", incarnation="inc-1", tags={"v": "2"}).SerializeToString()
            assert await call(log.update, "memo", "inc-1", updated, "op-update") is True

            assert await call(log.purge, "memo", "inc-1", now, "op-purge") == DONE
            assert await call(log.purge, "memo", "inc-1", now, "op-purge") == DONE
            assert await call(log.purge, "memo", "inc-1", now, "op-purge-2") == IN_PROGRESS

            assert await call(log.delete, "memo", "inc-1", now, "op-delete") is True
            assert await call(log.delete, "memo", "inc-1", now, "op-delete") is True
            assert await call(log.delete, "memo", "inc-1", now, "op-delete-2") is False
            # The memo answers even though the queue is gone now.
            assert await call(log.update, "memo", "inc-1", updated, "op-update") is True
            assert log.lookup("memo") is None
            # A retried create does not resurrect the deleted queue either.
            assert await call(log.create, "memo", data, now, "op-create") == (CREATED, data)
            assert log.lookup("memo") is None
            assert await call(log.create, "memo", data, now, "op-new") == (DELETED_RECENTLY, b"")

        run(body())


# -- durability ----------------------------------------------------------------------------


async def populate(node: Single) -> dict[str, QueueRecord]:
    """Queues a, b, c, d; b deleted; a purged; c updated. Returns the live records."""
    cat = node.catalog
    made = {}
    for name in "abcd":
        outcome, rec = await cat.create(record(name))
        assert outcome == CREATED and rec is not None
        made[name] = rec
    assert await cat.delete("b")
    del made["b"]
    assert await cat.purge("a", made["a"].incarnation) == DONE
    made["a"].purged_ns = node.clock.now_ns()
    made["c"].tags["k"] = "v"
    assert await cat.update(made["c"])
    return made


async def check_restored(node: Single, expected: dict[str, QueueRecord]) -> None:
    cat = node.catalog
    assert [r.name for r in await cat.list()] == sorted(expected)
    for name, rec in expected.items():
        assert await cat.get(name) == rec
    a = expected["a"]
    assert await cat.purge("a", a.incarnation) == IN_PROGRESS  # the purge time survived
    assert await cat.create(record("b")) == (DELETED_RECENTLY, None)  # so did the delete
    assert (await cat.create(record("a")))[0] == EXISTS


def test_state_survives_a_restart(tmp_path: Path) -> None:
    with single(tmp_path) as node:
        expected: dict[str, QueueRecord] = {}

        async def before() -> None:
            expected.update(await populate(node))
            # A retried create after the restart must still be recognised.
            data = record("retried", incarnation="inc-r").SerializeToString()
            now = node.clock.now_ns()
            assert await node.group.call(node.log.create, "retried", data, now, "op-r") == (
                CREATED, data)

        run(before())
        node.restart()

        async def after() -> None:
            await node.catalog.sync()
            data = record("retried", incarnation="inc-r").SerializeToString()
            assert await node.group.call(node.log.create, "retried", data,
                                         node.clock.now_ns(), "op-r") == (CREATED, data)
            retried = node.log.lookup("retried")
            assert retried is not None
            expected["retried"] = retried
            await check_restored(node, expected)

        run(after())


def test_state_survives_a_restart_after_compaction(tmp_path: Path) -> None:
    with single(tmp_path) as node:
        expected: dict[str, QueueRecord] = {}

        async def before() -> None:
            expected.update(await populate(node))
            await node.catalog.sync()
            node.group.compact()
            await poll((tmp_path / DUMP_FILE).exists, 10, "the full dump")
            # More entries after the dump: they live in the journal only.
            outcome, e = await node.catalog.create(record("e"))
            assert outcome == CREATED and e is not None
            expected["e"] = e
            assert await node.catalog.delete("d")
            del expected["d"]

        run(before())
        node.restart()

        async def after() -> None:
            await check_restored(node, expected)
            assert await node.catalog.create(record("d")) == (DELETED_RECENTLY, None)
            node.clock.advance(60)
            assert (await node.catalog.create(record("d")))[0] == CREATED

        run(after())


def test_a_dump_alone_restores_the_catalog(tmp_path: Path) -> None:
    """Compact as the last thing before closing: the journal holds nothing new."""
    with single(tmp_path) as node:
        expected: dict[str, QueueRecord] = {}

        async def before() -> None:
            expected.update(await populate(node))
            await node.catalog.sync()
            node.group.compact()
            await poll((tmp_path / DUMP_FILE).exists, 10, "the full dump")

        run(before())
        node.restart()
        run(check_restored(node, expected))


# -- three members -------------------------------------------------------------------------


@pytest.fixture
def trio(tmp_path: Path) -> Iterator[tuple[list[QueueCatalog], ManualClock]]:
    clock = ManualClock()
    with three_members(tmp_path, clock) as catalogs:
        yield catalogs, clock


def test_racing_creates_on_two_members_have_one_winner(
    trio: tuple[list[QueueCatalog], ManualClock],
) -> None:
    (a, b, c), _ = trio

    async def body() -> None:
        names = [f"race-{i}" for i in range(10)]
        results = await asyncio.gather(*(
            asyncio.gather(a.create(record(n, tags={"from": "a"})),
                           b.create(record(n, tags={"from": "b"})))
            for n in names
        ))
        for name, ((oa, ra), (ob, rb)) in zip(names, results, strict=True):
            assert sorted([oa, ob]) == sorted([CREATED, EXISTS]), (name, oa, ob)
            assert ra == rb  # the loser is told the winner's record
            assert ra is not None and ra.tags["from"] == ("a" if oa == CREATED else "b")
            assert await c.get(name) == ra  # and the third member agrees

    run(body())


def test_three_members_share_deletes_and_purges(
    trio: tuple[list[QueueCatalog], ManualClock],
) -> None:
    (a, b, c), clock = trio

    async def body() -> None:
        outcome, created = await a.create(record("shared"))
        assert outcome == CREATED and created is not None
        assert await c.get("shared") == created  # found at once, through the barrier
        assert await b.get("missing-everywhere") is None

        purges = await asyncio.gather(b.purge("shared", created.incarnation),
                                      c.purge("shared", created.incarnation))
        assert sorted(purges) == sorted([DONE, IN_PROGRESS])

        assert await b.delete("shared", created.incarnation) is True
        assert await c.create(record("shared")) == (DELETED_RECENTLY, None)
        await a.sync()
        assert a.cached("shared") is None
        clock.advance(60)
        assert (await a.create(record("shared")))[0] == CREATED

    run(body())
