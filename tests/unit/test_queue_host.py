"""GroupHost: one node's membership of a queue replica group, on the consensus kit.

Groups run on a LocalCluster: real consensus hosts and LMDB stores in this process, an
in-process network that can cut a member off, and the cluster's ManualClock as the
engine clock (commands are stamped from it; delays and visibility timeouts are due on
it). ``engine serve`` alone runs the same code with a group of one member. Long-poll
waits are measured on the event loop's clock with generous bounds; the bounds that
matter are "promptly" (well under the wait's timeout) and "not before it was due".
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from google.protobuf.message import DecodeError
from helpers_consensus import LocalCluster

from engine.clock import Clock
from engine.errors import EngineError
from engine.queues.groups import group_name, single_group
from engine.queues.host import GroupHost
from engine.queues.partition import PartitionMachine
from engine.queues.router import GroupRouter
from engine.v1.queue_records_pb2 import (
    HandleCommand,
    HandleRef,
    NewMessage,
    PartitionCommand,
    PartitionPolicy,
    PartitionResult,
    QueueRef,
    ReceiveCommand,
    SendCommand,
    StoredMessage,
)

S = 1_000_000_000
REF = QueueRef(name="orders", incarnation="inc-1")
OTHER = QueueRef(name="other", incarnation="inc-1")
POLICY = PartitionPolicy(retention_ns=4 * 86_400 * S)
IDS = ["a", "b", "c"]


def send(clock: Clock, *bodies: str, partition: int = 0, delay: float = 0.0,
         queue: QueueRef = REF, op_id: str = "") -> PartitionCommand:
    messages = [NewMessage(entry_id=f"e{i}", delay_ns=int(delay * S),
                           message=StoredMessage(message_id=uuid.uuid4().hex, body=body))
                for i, body in enumerate(bodies)]
    return PartitionCommand(
        now_ns=clock.now_ns(), op_id=op_id or uuid.uuid4().hex,
        send=SendCommand(queue=queue, partition=partition, policy=POLICY, messages=messages))


def receive(clock: Clock, partition: int = 0, visibility: float = 30.0,
            max_messages: int = 10) -> PartitionCommand:
    return PartitionCommand(
        now_ns=clock.now_ns(), op_id=uuid.uuid4().hex,
        receive=ReceiveCommand(queue=REF, partition=partition, policy=POLICY,
                               max_messages=max_messages, visibility_ns=int(visibility * S)))


def delete(clock: Clock, msg: StoredMessage, partition: int = 0) -> PartitionCommand:
    handle = HandleRef(entry_id="d", message_id=msg.message_id, receipt_seq=msg.receipt_seq)
    return PartitionCommand(now_ns=clock.now_ns(), op_id=uuid.uuid4().hex,
                            delete=HandleCommand(queue=REF, partition=partition,
                                                 handles=[handle]))


def counts(host: GroupHost, queue: QueueRef = REF) -> list[tuple[int, int, int, int]]:
    return [(s.partition, s.visible, s.in_flight, s.delayed) for s in host.stats(queue)]


def partitions(node: str, broken: frozenset[str]) -> PartitionMachine:
    return PartitionMachine()


class Group:
    """A queue group on a LocalCluster, with a GroupHost on each running member."""

    def __init__(self, root: Path, ids: list[str], keep: int = 10_000) -> None:
        self.c = LocalCluster(root, partitions, ids, keep=keep, name=group_name(0))
        self.clock = self.c.clock
        self.hosts: dict[str, GroupHost] = {}

    async def start(self, node: str) -> GroupHost:
        await self.c.start(node)
        machine = self.c.machines[node]
        assert isinstance(machine, PartitionMachine)
        self.hosts[node] = GroupHost(0, self.c.group(node), machine, self.clock)
        return self.hosts[node]

    async def stop(self, node: str) -> None:
        del self.hosts[node]
        await self.c.stop(node)

    async def leader(self) -> str:
        return await self.c.leader()

    async def replicated(self) -> None:
        """Every running member has applied everything committed so far."""
        await asyncio.gather(*(h.group.barrier(10) for h in self.hosts.values()))

    async def close(self) -> None:
        await self.c.close()


async def started(root: Path, ids: list[str] = IDS, **kw) -> Group:
    g = Group(root, ids, **kw)
    for n in ids:
        await g.start(n)
    await g.leader()
    return g


def run(coro) -> None:
    asyncio.run(asyncio.wait_for(coro, 60))


def elapsed_since(start: float) -> float:
    return asyncio.get_running_loop().time() - start


def now() -> float:
    return asyncio.get_running_loop().time()


# -- apply ---------------------------------------------------------------------------------


def test_send_receive_delete_and_every_member_counts_alike(tmp_path: Path) -> None:
    async def main() -> None:
        g = await started(tmp_path)
        leader = await g.leader()
        follower = next(n for n in IDS if n != leader)
        host, clock = g.hosts[follower], g.clock  # a follower: its leader orders the log
        sent = await host.apply(send(clock, "hello", "world"))
        ids = [o.message_id for o in sent.send.outcomes]
        assert [o.entry_id for o in sent.send.outcomes] == ["e0", "e1"] and all(ids)
        await host.group.barrier()  # the call returns once committed; local reads catch up
        assert counts(host) == [(0, 2, 0, 0)]

        got = await host.apply(receive(clock, max_messages=10))
        assert [m.body for m in got.receive.messages] == ["hello", "world"]
        assert [m.message_id for m in got.receive.messages] == ids
        assert all(m.receive_count == 1 and m.in_flight for m in got.receive.messages)
        assert (await host.apply(receive(clock))).receive.messages == []  # all in flight
        await g.replicated()
        assert [counts(h) for h in g.hosts.values()] == [[(0, 0, 2, 0)]] * 3

        for msg in got.receive.messages:  # deleted through another member
            done = await g.hosts[next(n for n in IDS if n != follower)].apply(
                delete(clock, msg))
            assert [o.error_code for o in done.handles.outcomes] == [""]
        await g.replicated()
        assert [counts(h) for h in g.hosts.values()] == [[(0, 0, 0, 0)]] * 3
        await g.close()

    run(main())


def test_a_retried_command_applies_once(tmp_path: Path) -> None:
    """A node outside the group forwards the command bytes (apply_bytes); a retry with
    the same op id, on any member, answers the first outcome and sends nothing twice."""
    async def main() -> None:
        g = await started(tmp_path)
        a, b = g.hosts["a"], g.hosts["b"]
        command = send(g.clock, "once", op_id="fixed-op")
        first = await a.apply(command)
        again = PartitionResult.FromString(await b.apply_bytes(command.SerializeToString()))
        assert again == first and len(again.send.outcomes) == 1
        assert await a.apply(command) == first
        await g.replicated()
        assert [counts(h) for h in g.hosts.values()] == [[(0, 1, 0, 0)]] * 3
        await g.close()

    run(main())


def test_retried_receives_and_deletes_as_sqs_allows(tmp_path: Path) -> None:
    """A standard queue's receive and any delete keep no memo: a retried receive hides
    another batch (back after its visibility timeout, as a lost SQS reply does), a
    retried delete succeeds again. A FIFO receive retried answers the first outcome."""
    async def main() -> None:
        g = await started(tmp_path, ["a"])
        host, clock = g.hosts["a"], g.clock
        await host.apply(send(clock, "m1", "m2"))
        command = receive(clock, max_messages=1)
        first = await host.apply(command)
        again = await host.apply(command)
        assert [m.body for m in first.receive.messages] == ["m1"]
        assert [m.body for m in again.receive.messages] == ["m2"]
        gone = delete(clock, first.receive.messages[0])
        assert [o.error_code for o in (await host.apply(gone)).handles.outcomes] == [""]
        assert [o.error_code for o in (await host.apply(gone)).handles.outcomes] == [""]
        assert counts(host) == [(0, 0, 1, 0)]

        fifo = PartitionPolicy(fifo=True, retention_ns=POLICY.retention_ns)
        queued = send(clock, "f1", "f2", queue=OTHER)
        queued.send.policy.CopyFrom(fifo)
        for i, m in enumerate(queued.send.messages):
            m.message.group_id, m.message.dedup_id = f"g{i}", f"d{i}"
        await host.apply(queued)
        command = receive(clock, max_messages=1)
        command.receive.queue.CopyFrom(OTHER)
        command.receive.policy.CopyFrom(fifo)
        assert await host.apply(command) == await host.apply(command)
        await g.close()

    run(main())


def test_a_corrupt_forwarded_command_is_refused_and_the_group_goes_on(
        tmp_path: Path) -> None:
    """Bytes forwarded over QueueNode.Apply that are no PartitionCommand are refused
    before they reach the log (the peer gets an error); the group carries on."""
    async def main() -> None:
        g = await started(tmp_path, ["a"])
        host = g.hosts["a"]
        await host.apply(send(g.clock, "before"))
        applied = host.group.applied
        with pytest.raises(DecodeError):
            await host.apply_bytes(b"\xff\xff not a command")
        assert host.group.applied == applied  # nothing was logged
        assert len((await host.apply(send(g.clock, "after"))).send.outcomes) == 1
        assert counts(host) == [(0, 2, 0, 0)]
        await g.close()

    run(main())


def test_an_acknowledged_send_survives_the_loss_of_the_leader(tmp_path: Path) -> None:
    async def main() -> None:
        g = await started(tmp_path)
        leader = await g.leader()
        for i in range(5):
            await g.hosts[leader].apply(send(g.clock, f"m{i}", partition=i % 2))
        await g.stop(leader)
        survivor = g.hosts[await g.leader()]  # the new leader, once elected
        bodies = []
        for p in (0, 1):
            got = await survivor.apply(receive(g.clock, partition=p), timeout=10)
            bodies += [m.body for m in got.receive.messages]
        assert sorted(bodies) == [f"m{i}" for i in range(5)]
        await g.close()

    run(main())


def test_a_member_without_quorum_refuses_commands_in_time(tmp_path: Path) -> None:
    async def main() -> None:
        g = await started(tmp_path)
        lone = await g.leader()
        host = g.hosts[lone]
        await host.apply(send(g.clock, "known"))
        await g.replicated()
        for n in IDS:
            if n != lone:
                g.c.net.down.add(n)
        start = now()
        with pytest.raises(EngineError) as err:
            await host.apply(send(g.clock, "unacknowledged"), timeout=0.5)
        assert err.value.code == "ServiceUnavailable"
        assert elapsed_since(start) < 1.5
        # A command without a majority is never applied; its own copy still answers
        # counts and readiness (approximate, as SQS's are).
        assert counts(host) == [(0, 1, 0, 0)]
        assert await host.wait(REF, [0], 0.1) == [0]
        await g.close()

    run(main())


# -- wait (long polling) -------------------------------------------------------------------


def test_wait_on_an_empty_queue_returns_nothing_after_the_timeout(tmp_path: Path) -> None:
    async def main() -> None:
        g = await started(tmp_path, ["a"])
        host = g.hosts["a"]
        start = now()
        assert await host.wait(REF, [0, 1], 0.3) == []  # unknown queue
        assert 0.29 <= elapsed_since(start) < 1.0

        await host.apply(send(g.clock, "taken"))
        await host.apply(receive(g.clock))  # in flight for 30 s: nothing to deliver
        start = now()
        assert await host.wait(REF, [0, 1], 0.3) == []
        assert 0.29 <= elapsed_since(start) < 1.0
        assert await host.wait(REF, [0], 0) == []  # zero: an immediate answer
        await g.close()

    run(main())


def test_wait_returns_at_once_when_a_message_is_there(tmp_path: Path) -> None:
    async def main() -> None:
        g = await started(tmp_path, ["a"])
        host = g.hosts["a"]
        await host.apply(send(g.clock, "waiting", partition=2))
        start = now()
        assert await host.wait(REF, [0, 1, 2, 3], 5.0) == [2]
        assert await host.wait(REF, [0, 1], 0.05) == []  # only the partitions asked for
        assert elapsed_since(start) < 0.5
        await g.close()

    run(main())


def test_a_send_through_another_member_wakes_a_waiter_promptly(tmp_path: Path) -> None:
    async def main() -> None:
        g = await started(tmp_path)
        leader = await g.leader()
        waiting_on, sending_on = (n for n in IDS if n != leader)  # followers both
        waiter = asyncio.create_task(g.hosts[waiting_on].wait(REF, [0, 1], 5.0))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        await g.hosts[sending_on].apply(send(g.clock, "elsewhere", queue=OTHER))
        await g.hosts[waiting_on].group.barrier()
        await asyncio.sleep(0.05)
        assert not waiter.done()  # another queue's message: no answer

        start = now()
        await g.hosts[sending_on].apply(send(g.clock, "wake up", partition=1))
        assert await waiter == [1]
        assert elapsed_since(start) < 0.5, "the waiter woke long after the send"
        await g.close()

    run(main())


def test_a_delayed_message_wakes_the_waiter_when_the_engine_clock_says_so(
        tmp_path: Path) -> None:
    async def main() -> None:
        g = await started(tmp_path)
        host = g.hosts["b"]
        await g.hosts["a"].apply(send(g.clock, "in ten seconds", delay=10))
        await g.replicated()
        assert counts(host) == [(0, 0, 0, 1)]
        waiter = asyncio.create_task(host.wait(REF, [0], 5.0))
        await asyncio.sleep(0.2)
        assert not waiter.done()  # due in 10 s of engine time, which is not passing
        g.clock.advance(9.9)
        host.wake_all()
        await asyncio.sleep(0.1)
        assert not waiter.done()  # not before it is due
        g.clock.advance(0.1)
        start = now()
        host.wake_all()  # what Admin.AdvanceClock does
        assert await waiter == [0]
        assert elapsed_since(start) < 0.5
        await g.close()

    run(main())


def test_an_expiring_visibility_timeout_wakes_the_waiter_by_itself(tmp_path: Path) -> None:
    """With no command and no wake_all, a waiter re-checks when the earliest hidden
    message is due: here the engine clock passes that moment while it sleeps."""
    async def main() -> None:
        g = await started(tmp_path, ["a"])
        host = g.hosts["a"]
        await host.apply(send(g.clock, "retry me"))
        got = await host.apply(receive(g.clock, visibility=0.3))
        assert len(got.receive.messages) == 1
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, g.clock.advance, 0.3)  # engine time catches up meanwhile
        start = now()
        assert await host.wait(REF, [0], 5.0) == [0]
        assert 0.25 <= elapsed_since(start) < 1.0  # woken by its own timer at ~0.3 s
        again = await host.apply(receive(g.clock))
        assert [m.receive_count for m in again.receive.messages] == [2]
        await g.close()

    run(main())


def test_many_waiters_all_wake_and_unsubscribe(tmp_path: Path) -> None:
    async def main() -> None:
        g = await started(tmp_path)
        waiters = [asyncio.create_task(g.hosts[n].wait(REF, [0], 5.0))
                   for n in IDS for _ in range(3)]
        cancelled = asyncio.create_task(g.hosts["a"].wait(REF, [0], 5.0))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        start = now()
        await g.hosts["c"].apply(send(g.clock, "for everyone"))
        assert await asyncio.gather(*waiters) == [[0]] * 9
        assert elapsed_since(start) < 0.5
        assert all(h._waiters == {} for h in g.hosts.values())  # nobody left subscribed
        await g.close()

    run(main())


def test_a_waiter_on_a_member_that_catches_up_from_a_snapshot_wakes(tmp_path: Path) -> None:
    """A member far behind gets the state as a snapshot, not as commands: a long poll
    waiting there must still see the messages it brought."""
    async def main() -> None:
        g = await started(tmp_path, keep=5)
        leader = await g.leader()
        behind = next(n for n in IDS if n != leader)
        waiter = asyncio.create_task(g.hosts[behind].wait(REF, [0], 3.0))
        await asyncio.sleep(0.05)
        g.c.net.down.add(behind)
        for i in range(20):
            await g.hosts[leader].apply(send(g.clock, f"other-{i}", queue=OTHER))
        await g.hosts[leader].apply(send(g.clock, "for the waiter"))
        assert g.hosts[leader].group.core.log.snap_index > 0  # the log was compacted
        start = now()
        g.c.net.down.discard(behind)
        assert await waiter == [0]
        assert elapsed_since(start) < 1.0, "the waiter slept through the snapshot"
        await g.close()

    run(main())


# -- restarts ------------------------------------------------------------------------------


async def fill(host: GroupHost, clock: Clock) -> None:
    """Visible, delayed and in-flight messages over two partitions."""
    await host.apply(send(clock, "a", "b", "c", partition=0))
    await host.apply(send(clock, "d", partition=1, delay=600))
    await host.apply(receive(clock, partition=0, max_messages=1, visibility=300))


def test_compaction_during_a_long_poll_then_restarts(tmp_path: Path) -> None:
    async def main() -> None:
        g = await started(tmp_path, keep=3)
        leader = await g.leader()
        await fill(g.hosts[leader], g.clock)
        waiter = asyncio.create_task(g.hosts["a"].wait(OTHER, [0], 5.0))
        for i in range(12):  # past the kept log: compacted while the poll waits
            await g.hosts[leader].apply(send(g.clock, f"more-{i}", partition=2))
        assert g.hosts[leader].group.core.log.snap_index > 0
        assert not waiter.done()
        await g.hosts[leader].apply(send(g.clock, "wake", queue=OTHER))
        assert await waiter == [0]
        await g.replicated()
        expected = counts(g.hosts[leader])
        assert expected == [(0, 2, 1, 0), (1, 0, 0, 1), (2, 12, 0, 0)]

        await g.stop("b")  # one member restarts while the others run
        await g.start("b")
        await g.hosts["b"].group.barrier(10)
        assert counts(g.hosts["b"]) == expected
        for n in IDS:  # then the whole group
            await g.stop(n)
        for n in IDS:
            await g.start(n)
        await g.leader()
        assert [counts(h) for h in g.hosts.values()] == [expected] * 3
        bodies = [m.body for m in (await g.hosts["c"].apply(receive(g.clock))).receive.messages]
        assert bodies == ["b", "c"]
        g.clock.advance(600)  # the delayed message is due after the restart too
        assert await g.hosts["a"].wait(REF, [1], 1.0) == [1]
        await g.close()

    run(main())


# -- the router's local path ---------------------------------------------------------------


def test_router_status_and_local_calls(tmp_path: Path) -> None:
    async def main() -> None:
        g = await started(tmp_path, ["solo"])
        host = g.hosts["solo"]
        router = GroupRouter(single_group("solo", "az-1"), {0: host})
        assert router.count == 1
        sent = await router.apply(0, send(g.clock, "routed"))
        assert len(sent.send.outcomes) == 1
        assert await router.wait(0, REF, [0], 1.0) == [0]
        assert [s.visible for s in await router.stats(0, REF)] == [1]

        (status,) = router.status()
        assert status.index == 0
        assert list(status.members) == ["solo"]
        assert status.leader == "solo"
        assert status.term >= 1 and status.term == host.group.term
        await g.close()

    run(main())
