"""RaftBucketTable: several Raft nodes in this process on loopback ports.

Each test drives its nodes from one asyncio loop; pysyncobj runs a thread per node.
Nothing sleeps to let replication happen: the API itself must make a bucket visible
everywhere once creation returned. Waits for elections are bounded polls.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from engine.clock import ManualClock, SystemClock
from engine.cluster.raft_buckets import DUMP_FILE, JOURNAL_FILE, RaftBucketTable
from engine.errors import EngineError
from engine.v1.records_pb2 import BucketRecord

SECRET = "unit-test-cluster-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rec(name: str, **fields) -> BucketRecord:
    return BucketRecord(**{"name": name, "created_ns": 1, "region": "us-east-1", **fields})


def run(coro: Awaitable) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


class Cluster:
    """Nodes on fresh loopback ports, each with its own state dir; restartable."""

    def __init__(self, root: Path, n: int = 3, timeout: float = 5.0) -> None:
        self.root = root
        self.timeout = timeout
        self.addresses = [f"127.0.0.1:{free_port()}" for _ in range(n)]
        self.nodes: list[RaftBucketTable | None] = [None] * n
        self.extra: list[RaftBucketTable] = []
        for i in range(n):
            self.start(i)

    def start(self, i: int) -> RaftBucketTable:
        node = RaftBucketTable(
            self.addresses[i], self.addresses, SECRET, self.root / f"node{i}",
            clock=SystemClock(), timeout=self.timeout,
        )
        self.nodes[i] = node
        return node

    def stop(self, i: int) -> None:
        node = self.nodes[i]
        assert node is not None
        node.close()
        self.nodes[i] = None

    def __getitem__(self, i: int) -> RaftBucketTable:
        node = self.nodes[i]
        assert node is not None
        return node

    def alive(self) -> list[RaftBucketTable]:
        return [n for n in self.nodes if n is not None]

    def leader_index(self) -> int:
        return next(i for i, n in enumerate(self.nodes) if n is not None and n.is_leader)

    async def ready(self, timeout: float = 15.0) -> None:
        await asyncio.gather(*(n.wait_ready(timeout) for n in self.alive()))

    def close(self) -> None:
        for n in [*self.alive(), *self.extra]:
            n.close()


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(n: int = 3, timeout: float = 5.0) -> Cluster:
        c = Cluster(tmp_path / f"c{len(made)}", n, timeout)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One healthy 3-node cluster for the tests that only need distinct bucket names."""
    c = Cluster(tmp_path_factory.mktemp("raft"))
    run(c.ready())
    yield c
    c.close()


async def poll(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def tick_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "_autoTickThread" in t.name and t.is_alive()]


# -- a healthy cluster ---------------------------------------------------------------------


def test_create_is_visible_on_every_node_at_once(shared: Cluster) -> None:
    async def body() -> None:
        # From a follower and from the leader: get on the others right after create.
        for i, origin in enumerate(shared.nodes):
            assert origin is not None
            name = f"visible-{i}"
            assert await origin.create(rec(name)) is True
            for other in shared.alive():
                got = await other.get(name)
                assert got is not None and got.name == name
            assert await origin.create(rec(name)) is False  # a name is created once

    run(body())


def test_concurrent_creates_of_one_name_exactly_one_wins(shared: Cluster) -> None:
    a, b, c = shared[0], shared[1], shared[2]

    async def body() -> None:
        names = [f"race-{i}" for i in range(20)]
        results = await asyncio.gather(*(
            asyncio.gather(a.create(rec(n, region="from-a")), b.create(rec(n, region="from-b")))
            for n in names
        ))
        for name, (ra, rb) in zip(names, results, strict=True):
            assert (ra, rb) in ((True, False), (False, True)), (name, ra, rb)
            stored = await c.get(name)  # the third node holds the winner's record
            assert stored is not None
            assert stored.region == ("from-a" if ra else "from-b")

    run(body())


def test_update_delete_and_list(shared: Cluster) -> None:
    a, b, c = shared[0], shared[1], shared[2]

    async def body() -> None:
        assert await a.create(rec("udl-one"))
        assert await b.create(rec("udl-two"))
        assert await c.update(rec("udl-one", versioning="Enabled")) is True
        got = await a.get("udl-one", consistent=True)
        assert got is not None and got.versioning == "Enabled"
        assert await a.update(rec("udl-missing")) is False

        listed = [r.name for r in await c.list()]
        assert listed == sorted(listed)
        assert {"udl-one", "udl-two"} <= set(listed)

        assert await b.delete("udl-two") is True
        assert await a.delete("udl-two") is False
        assert await c.get("udl-two", consistent=True) is None
        assert "udl-two" not in [r.name for r in await a.list()]
        assert await a.get("udl-never") is None  # a miss answers None once it passed the barrier
        # A deleted name can be created again.
        assert await c.create(rec("udl-two")) is True

    run(body())


def test_created_ns_comes_from_the_clock_when_unset(tmp_path: Path) -> None:
    clock = ManualClock(start_ns=42_000)
    address = f"127.0.0.1:{free_port()}"
    node = RaftBucketTable(address, [address], SECRET, tmp_path, clock=clock)

    async def body() -> None:
        await node.wait_ready(10)
        assert await node.create(BucketRecord(name="stamped"))
        got = await node.get("stamped")
        assert got is not None and got.created_ns == 42_000

    try:
        run(body())
    finally:
        node.close()


# -- security ------------------------------------------------------------------------------


def test_a_node_with_the_wrong_secret_can_neither_join_nor_change_anything(
    cluster_factory: Callable[..., Cluster], tmp_path: Path
) -> None:
    c = cluster_factory()

    async def body() -> None:
        await c.ready()
        assert await c[0].create(rec("before-impostor"))
        # The impostor takes a real member's address, so the others would accept it as
        # that member if only it could authenticate.
        victim = 2 if c.leader_index() != 2 else 1
        c.stop(victim)
        impostor = RaftBucketTable(
            c.addresses[victim], c.addresses, "wrong-secret", tmp_path / "impostor",
            clock=SystemClock(), timeout=1.5,
        )
        c.extra.append(impostor)
        honest = c.alive()
        terms = [n.term for n in honest]

        with pytest.raises(EngineError) as exc:
            await impostor.create(rec("from-impostor"))
        assert exc.value.code == "ServiceUnavailable"
        with pytest.raises(EngineError):
            await impostor.list()
        with pytest.raises(EngineError):
            await impostor.get("before-impostor")  # it never received the table
        assert impostor.connected_peers() == []
        assert impostor.leader is None

        for node in honest:  # the others never let it in and carry on undisturbed
            assert c.addresses[victim] not in node.connected_peers()
            assert await node.get("from-impostor") is None
        assert [n.term for n in honest] == terms
        assert await honest[0].create(rec("after-impostor")) is True
        assert await honest[1].get("after-impostor") is not None

    run(body())


def test_an_empty_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        RaftBucketTable("127.0.0.1:1", [], "", tmp_path, clock=SystemClock())


def test_a_taken_port_fails_the_constructor(tmp_path: Path) -> None:
    before = set(tick_threads())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        address = f"127.0.0.1:{s.getsockname()[1]}"
        with pytest.raises(OSError):
            RaftBucketTable(address, [address], SECRET, tmp_path, clock=SystemClock())
    assert set(tick_threads()) <= before


# -- failures ------------------------------------------------------------------------------


def test_losing_the_leader_elects_another_and_creates_go_on(
    cluster_factory: Callable[..., Cluster],
) -> None:
    c = cluster_factory(timeout=10.0)

    async def body() -> None:
        await c.ready()
        assert await c[0].create(rec("before-failover"))
        old = c.leader_index()
        c.stop(old)
        survivors = c.alive()
        # The API waits out the election itself; the deadline bounds it.
        for i, node in enumerate(survivors):
            assert await node.create(rec(f"after-failover-{i}")) is True
        new_leaders = {n.leader for n in survivors}
        assert len(new_leaders) == 1 and c.addresses[old] not in new_leaders
        for node in survivors:
            names = [r.name for r in await node.list()]
            assert {"before-failover", "after-failover-0", "after-failover-1"} <= set(names)

    run(body())


def test_without_a_majority_calls_fail_with_service_unavailable_in_time(
    cluster_factory: Callable[..., Cluster],
) -> None:
    c = cluster_factory(timeout=1.5)

    async def body() -> None:
        await c.ready()
        assert await c[0].create(rec("known"))
        for node in c[1], c[2]:
            await node.get("known")  # applied everywhere before we cut the cluster down
        lone = c.leader_index()  # keep the leader: the hardest case (it must not hang)
        for i in range(3):
            if i != lone:
                c.stop(i)
        node = c[lone]
        for call in (
            lambda: node.create(rec("no-quorum")),
            lambda: node.delete("known"),
            lambda: node.list(),
            lambda: node.get("unknown-here"),
        ):
            start = time.monotonic()
            with pytest.raises(EngineError) as exc:
                await call()
            assert exc.value.code == "ServiceUnavailable"
            assert time.monotonic() - start < 1.5 + 1.0
        # A local hit needs no quorum (documented: it may be stale).
        assert await node.get("known") is not None

    run(body())


def test_a_restarted_node_keeps_the_table(
    cluster_factory: Callable[..., Cluster],
) -> None:
    c = cluster_factory()

    async def body() -> None:
        await c.ready()
        for i in range(5):
            assert await c[i % 3].create(rec(f"durable-{i}"))
        # Snapshot on every node, then more entries that live only in the journal.
        for node in c.alive():
            await node.sync()
            node.compact()

        async def dumped() -> bool:
            return all((c.root / f"node{i}" / DUMP_FILE).exists() for i in range(3))

        await poll(dumped, 10, "full dumps")
        for i in range(5, 8):
            assert await c[i % 3].create(rec(f"durable-{i}"))
        assert await c[0].delete("durable-0")
        for node in c.alive():
            await node.sync()
        expected = [f"durable-{i}" for i in range(1, 8)]

        # One node restarts while the others run.
        c.stop(1)
        c.start(1)
        await c[1].wait_ready(15)
        assert [r.name for r in await c[1].list()] == expected

        # The whole cluster restarts: the table can only come from the state dirs.
        for i in range(3):
            c.stop(i)
        for i in range(3):
            assert (c.root / f"node{i}" / JOURNAL_FILE).exists()
            c.start(i)
        await c.ready()
        for node in c.alive():
            assert [r.name for r in await node.list()] == expected
        assert await c[2].create(rec("durable-0")) is True  # deletion survived too

    run(body())


def test_close_leaves_no_pysyncobj_thread_and_fails_later_calls(
    cluster_factory: Callable[..., Cluster],
) -> None:
    before = set(tick_threads())
    c = cluster_factory(n=2, timeout=30.0)

    async def body() -> None:
        await c.ready()
        node = c[0]
        c.stop(1)  # no majority: the next create waits for one, up to its 30 s deadline
        waiting = asyncio.create_task(node.create(rec("never-committed")))
        await asyncio.sleep(0.2)  # let it get under way (not a timing assertion)
        start = time.monotonic()
        node.close()
        with pytest.raises(EngineError) as exc:
            await waiting
        assert exc.value.code == "ServiceUnavailable"
        assert time.monotonic() - start < 1.0  # woken by close, not by its deadline
        with pytest.raises(EngineError) as exc:
            await node.create(rec("after-close"))
        assert exc.value.code == "ServiceUnavailable"

    run(body())
    assert set(tick_threads()) <= before
