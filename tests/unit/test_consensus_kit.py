"""The consensus kit end to end in one process: real LMDB stores, real hosts and groups,
an in-process network that can drop a node's traffic. Protocol safety under adversarial
schedules is tested in test_consensus_simulation.py; real processes, gRPC and kill -9 in
tests/integration/test_consensus_processes.py. Here: the contract a state machine and
its callers see (results, rejections, op-id dedup, linearizable reads, failures,
snapshots, restarts)."""

from __future__ import annotations

import asyncio
import struct
from types import SimpleNamespace

import pytest
from helpers_consensus import MAP, LocalCluster

from engine.cluster.consensus.machine import Keyspace, Rejected, ReplicatedStateMachine
from engine.cluster.consensus.store import ConsensusStore
from engine.errors import EngineError
from engine.v1.raft_pb2 import RaftMessageType


class Counters(ReplicatedStateMachine):
    """add NAME N -> the new total; 'reject' refuses; 'boom' raises on nodes in `broken`."""

    name = "counters"

    def __init__(self, node: str = "", broken: frozenset[str] = frozenset()) -> None:
        self.node = node
        self.broken = broken
        self.restores = 0

    def apply(self, keys: Keyspace, command: bytes, index: int) -> bytes:
        op, _, rest = command.partition(b" ")
        if op == b"reject":
            keys.put(b"never", b"written")
            raise Rejected("NoSuchThing", "refused as asked")
        if op == b"boom" and self.node in self.broken:
            raise ValueError("a bug on this replica")
        name, _, amount = rest.partition(b" ")
        total = int(keys.get(name) or b"0") + int(amount or b"1")
        keys.put(name, str(total).encode())
        return str(total).encode()

    def restored(self) -> None:
        self.restores += 1


def value(keys, name: bytes) -> int:
    return int(keys.get(name) or b"0")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_single_node_commands_results_and_restart(tmp_path):
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a"])
        await c.start("a")
        g = c.group("a")
        assert await g.call("counters", b"add x 2") == b"2"
        assert await g.call("counters", b"add x 3") == b"5"
        assert await g.read("counters", lambda k: value(k, b"x")) == 5
        await c.stop("a")
        await c.start("a")  # the state and the applied index come back from disk
        g = c.group("a")
        assert await g.read("counters", lambda k: value(k, b"x")) == 5
        assert await g.call("counters", b"add x 1") == b"6"
        await c.close()

    run(main())


def test_a_retried_operation_applies_once(tmp_path):
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a"])
        await c.start("a")
        g = c.group("a")
        first = await g.call("counters", b"add x 5", op_id="op-1")
        again = await g.call("counters", b"add x 5", op_id="op-1")  # a retry
        assert first == again == b"5"
        assert await g.read("counters", lambda k: value(k, b"x")) == 5
        await c.close()

    run(main())


def test_a_command_proposed_without_memory_applies_again_and_costs_no_memo(tmp_path):
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a"])
        await c.start("a")
        g = c.group("a")
        await g.call("counters", b"add x 1", op_id="kept")
        kept = c.net.hosts["a"].store.record("g").memo_bytes
        assert kept > 0
        first = await g.call("counters", b"add x 5", op_id="op-1", remember=False)
        again = await g.call("counters", b"add x 5", op_id="op-1", remember=False)
        assert (first, again) == (b"6", b"11")  # each got its own result
        assert c.net.hosts["a"].store.record("g").memo_bytes == kept
        await c.close()

    run(main())


def test_rejection_reaches_the_caller_and_changes_nothing(tmp_path):
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a", "b", "c"])
        for n in c.ids:
            await c.start(n)
        leader = await c.leader()
        with pytest.raises(EngineError) as err:
            await c.group(leader).call("counters", b"reject")
        assert err.value.code == "NoSuchThing"
        assert err.value.message == "refused as asked"
        await c.group(leader).call("counters", b"add y 1")
        for n in c.ids:
            await c.group(n).barrier()
            assert c.group(n).read_local("counters", lambda k: k.get(b"never")) is None
        await c.close()

    run(main())


def test_calls_from_followers_and_leader_failover(tmp_path):
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a", "b", "c"])
        for n in c.ids:
            await c.start(n)
        leader = await c.leader()
        follower = next(n for n in c.ids if n != leader)
        assert await c.group(follower).call("counters", b"add x 1") == b"1"
        await c.stop(leader)
        survivor = next(n for n in c.ids if n not in (leader,))
        assert await c.group(survivor).call("counters", b"add x 1", timeout=10) == b"2"
        await c.start(leader)  # rejoins as a follower and catches up
        await c.group(leader).barrier(timeout=10)
        assert c.group(leader).read_local("counters", lambda k: value(k, b"x")) == 2
        await c.close()

    run(main())


@pytest.mark.parametrize("role", ["leader", "follower"])
def test_a_caller_reads_its_own_change_locally_as_soon_as_the_call_returns(tmp_path, role):
    """A group of several members hands a result over before the batch that applied it
    is committed on this node; the call still returns only after that commit, so a
    local read right after it sees the change (an account setting changed through a
    node was once refused by that same node right after, until its fsync landed)."""
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a", "b", "c"])
        for n in c.ids:
            await c.start(n)
        leader = await c.leader()
        node = leader if role == "leader" else next(n for n in c.ids if n != leader)
        group = c.group(node)
        for _ in range(30):
            total = int(await group.call("counters", b"add x 1"))
            assert group.read_local("counters", lambda k: value(k, b"x")) == total
        await c.close()

    run(main())


def test_linearizable_read_sees_every_acknowledged_write(tmp_path):
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a", "b", "c"])
        for n in c.ids:
            await c.start(n)
        leader = await c.leader()
        others = [n for n in c.ids if n != leader]
        c.net.down.add(others[0])  # a follower that hears nothing lags behind
        for _ in range(20):
            await c.group(leader).call("counters", b"add x 1")
        c.net.down.discard(others[0])
        # A stale read on the lagging follower may miss them; a linearizable one never.
        got = await c.group(others[0]).read("counters", lambda k: value(k, b"x"), timeout=10)
        assert got == 20
        await c.close()

    run(main())


def test_a_minority_cannot_commit_or_read(tmp_path):
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a", "b", "c"])
        for n in c.ids:
            await c.start(n)
        leader = await c.leader()
        for n in c.ids:
            if n != leader:
                c.net.down.add(n)
        with pytest.raises(EngineError) as err:
            await c.group(leader).call("counters", b"add x 1", timeout=1.0)
        assert err.value.code == "ServiceUnavailable"
        with pytest.raises(EngineError):
            await c.group(leader).read("counters", lambda k: 0, timeout=1.0)
        await c.close()

    run(main())


def test_a_failing_replica_stops_serving_the_group(tmp_path):
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a", "b", "c"], broken=frozenset({"c"}))
        await c.start("a")
        await c.start("b")
        leader = await c.leader()  # a or b: the broken replica joins a led group
        await c.start("c")
        await c.group(leader).call("counters", b"boom x 1")
        await c.group(leader).call("counters", b"add x 1")  # the majority goes on
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not c.group("c").failure and loop.time() < deadline:
            await asyncio.sleep(0.02)
        status = c.group("c").status()
        assert status.role == "failed" and "ValueError" in status.failure
        applied = status.applied_index
        await c.group(leader).call("counters", b"add x 1")
        assert c.group("c").status().applied_index == applied  # never applies over the gap
        with pytest.raises(EngineError) as err:
            await c.group("c").call("counters", b"add x 1", timeout=0.5)
        assert err.value.code == "ServiceUnavailable" and "stopped" in err.value.message
        await c.close()

    run(main())


def test_a_follower_behind_the_compacted_log_gets_a_snapshot(tmp_path):
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a", "b", "c"], keep=5)
        for n in c.ids:
            await c.start(n)
        leader = await c.leader()
        lagging = next(n for n in c.ids if n != leader)
        await c.stop(lagging)
        for i in range(60):
            await c.group(leader).call("counters", b"add k%d %d" % (i % 7, i))
        assert c.group(leader).core.log.snap_index > 0  # the log was compacted
        await c.start(lagging)
        g = c.group(lagging)
        await g.barrier(timeout=15)
        assert c.machines[lagging].restores == 1
        want = c.group(leader).read_local("counters", lambda k: list(k.range(b"")))
        assert g.read_local("counters", lambda k: list(k.range(b""))) == want
        # the op-id memo came along: a retry of an old command is still recognised
        await c.stop(lagging)
        await c.start(lagging)  # and the installed state survives a restart
        assert c.group(lagging).read_local("counters", lambda k: list(k.range(b""))) == want
        await c.close()

    run(main())


def test_a_node_stops_cleanly_in_the_middle_of_sending_a_snapshot(tmp_path):
    """The transfer ends its read transaction before the reader pool and store close."""
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a", "b", "c"], keep=5)
        for n in c.ids:
            await c.start(n)
        leader = await c.leader()
        lagging = next(n for n in c.ids if n != leader)
        await c.stop(lagging)
        for i in range(30):
            await c.group(leader).call("counters", b"add k%d %d" % (i % 7, i))
        host = await c.start(lagging)
        wire = host.transport  # its acknowledgements get lost: the transfer stalls
        host.transport = SimpleNamespace(send=lambda ms: wire.send(
            [m for m in ms if m.type != RaftMessageType.RAFT_SNAPSHOT_ACK]))
        sender = c.group(leader).sender
        for _ in range(500):
            if sender._tasks:
                break
            await asyncio.sleep(0.01)
        transfers = list(sender._tasks.values())
        assert transfers
        await c.stop(leader)
        assert all(t.done() for t in transfers)
        assert [t.exception() for t in transfers if not t.cancelled()] == []
        await c.close()

    run(main())


def test_term_and_vote_survive_a_restart(tmp_path):
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a", "b", "c"])
        for n in c.ids:
            await c.start(n)
        leader = await c.leader()
        terms = {n: c.group(n).term for n in c.ids}
        await c.close()
        for n in c.ids:
            store = ConsensusStore(tmp_path / n, MAP)
            record = store.record("g")
            store.close()
            assert record.term == terms[n]
            if n == leader:
                assert record.vote == leader
    run(main())


def test_store_layout_is_pinned(tmp_path):
    """The log's on-disk encoding is a format: index big-endian, then term, then command."""
    async def main():
        c = LocalCluster(tmp_path, Counters, ["a"])
        await c.start("a")
        await c.group("a").call("counters", b"add x 1", op_id="pinned")
        await c.close()
        store = ConsensusStore(tmp_path / "a", MAP)
        with store.env.begin(db=store._db(b"log:g")) as txn:
            items = [(bytes(k), bytes(v)) for k, v in txn.cursor()]
        store.close()
        assert items[0][0] == struct.pack(">Q", 1) and items[0][1] == struct.pack(">Q", 1)
        assert items[1][0] == struct.pack(">Q", 2)
        assert items[1][1].startswith(struct.pack(">Q", 1) + b"\n\x08counters\x12\x07add x 1")
    run(main())
