"""GroupHost, PartitionLog and GroupRouter on a real one-member pysyncobj group.

A single node runs its queues exactly like this: one group of one member that commits on
its own. Long-poll timings are measured with time.monotonic and asserted with generous
bounds; the bounds that matter are "promptly" (well under the wait's timeout) and "not
before it was due".
"""

from __future__ import annotations

import asyncio
import pickle
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.clock import Clock, ManualClock, SystemClock
from engine.cluster.raft_group import DUMP_FILE, RaftGroup
from engine.queues.groups import single_group
from engine.queues.host import LOG_COMPACTION_ENTRIES, GroupHost, PartitionLog
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


def open_host(state_dir: Path, clock: Clock) -> GroupHost:
    log = PartitionLog()
    group = RaftGroup(single_group()[0].members[0].raft_address, [], "", state_dir, [log],
                      log_compaction_entries=LOG_COMPACTION_ENTRIES)
    return GroupHost(0, group, log, clock)


@contextmanager
def hosted(state_dir: Path, clock: Clock) -> Iterator[GroupHost]:
    host = open_host(state_dir, clock)
    try:
        yield host
    finally:
        host.close()


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


async def ready(host: GroupHost) -> None:
    """The first commit waits out the one-member election; later ones must not."""
    await host.apply(PartitionCommand(now_ns=1, op_id=uuid.uuid4().hex, sweep=True))


async def poll(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def system_host(tmp_path: Path) -> Iterator[GroupHost]:
    with hosted(tmp_path, SystemClock()) as host:
        yield host


# -- apply ---------------------------------------------------------------------------------


def test_send_then_receive_then_delete(system_host: GroupHost) -> None:
    host, clock = system_host, SystemClock()

    async def body() -> None:
        sent = await host.apply(send(clock, "hello", "world"))
        ids = [o.message_id for o in sent.send.outcomes]
        assert [o.entry_id for o in sent.send.outcomes] == ["e0", "e1"] and all(ids)
        assert host.stats(REF)[0].visible == 2

        got = await host.apply(receive(clock, max_messages=10))
        assert [m.body for m in got.receive.messages] == ["hello", "world"]
        assert [m.message_id for m in got.receive.messages] == ids
        assert all(m.receive_count == 1 and m.in_flight for m in got.receive.messages)
        assert (await host.apply(receive(clock))).receive.messages == []  # all in flight
        stats = host.stats(REF)[0]
        assert (stats.visible, stats.in_flight) == (0, 2)

        for msg in got.receive.messages:
            done = await host.apply(delete(clock, msg))
            assert [o.error_code for o in done.handles.outcomes] == [""]
        stats = host.stats(REF)[0]
        assert (stats.visible, stats.in_flight, stats.delayed) == (0, 0, 0)

    run(body())


def test_retried_commands_apply_once_corrupt_ones_are_skipped(system_host: GroupHost) -> None:
    host, clock = system_host, SystemClock()

    async def body() -> None:
        command = send(clock, "once", op_id="fixed-op")
        first = await host.apply(command)
        again = PartitionResult.FromString(
            await host.apply_bytes(command.SerializeToString()))
        assert again == first and len(again.send.outcomes) == 1
        assert host.stats(REF)[0].visible == 1
        # A corrupt entry answers empty and does not stop the log.
        assert await host.apply_bytes(b"\xff\xff not a command") == b""
        assert len((await host.apply(send(clock, "after"))).send.outcomes) == 1
        assert host.stats(REF)[0].visible == 2

    run(body())


def test_a_group_of_one_commits_quickly(system_host: GroupHost) -> None:
    """pysyncobj alone would commit an entry only on its next 50 ms tick (100 applies:
    over 5 s); RaftGroup._poke_alone wakes its poller so each takes about a millisecond."""
    host, clock = system_host, SystemClock()

    async def body() -> None:
        await ready(host)
        start = time.monotonic()
        for i in range(100):
            await host.apply(send(clock, f"m{i}"))
        elapsed = time.monotonic() - start
        assert elapsed < 2.0, f"100 sequential applies took {elapsed:.2f} s"
        assert host.stats(REF)[0].visible == 100

    run(body())


# -- wait (long polling) -------------------------------------------------------------------


def test_wait_on_an_empty_queue_returns_nothing_after_the_timeout(
    system_host: GroupHost,
) -> None:
    host, clock = system_host, SystemClock()

    async def body() -> None:
        await ready(host)
        start = time.monotonic()
        assert await host.wait(REF, [0, 1], 0.3) == []  # unknown queue
        assert 0.29 <= time.monotonic() - start < 1.0

        await host.apply(send(clock, "taken"))
        await host.apply(receive(clock))  # in flight for 30 s: nothing to deliver
        start = time.monotonic()
        assert await host.wait(REF, [0, 1], 0.3) == []
        assert 0.29 <= time.monotonic() - start < 1.0
        assert await host.wait(REF, [0], 0) == []  # zero: an immediate answer

    run(body())


def test_wait_returns_at_once_when_a_message_is_there(system_host: GroupHost) -> None:
    host, clock = system_host, SystemClock()

    async def body() -> None:
        await host.apply(send(clock, "waiting", partition=2))
        start = time.monotonic()
        assert await host.wait(REF, [0, 1, 2, 3], 5.0) == [2]
        assert await host.wait(REF, [0, 1], 0.05) == []  # only the partitions asked for
        assert time.monotonic() - start < 0.5

    run(body())


def test_a_send_wakes_a_waiter_promptly(system_host: GroupHost) -> None:
    host, clock = system_host, SystemClock()

    async def body() -> None:
        await ready(host)
        waiter = asyncio.create_task(host.wait(REF, [0, 1], 5.0))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        await host.apply(send(clock, "elsewhere", queue=OTHER))  # another queue: no answer
        await asyncio.sleep(0.1)
        assert not waiter.done()

        start = time.monotonic()
        sender = asyncio.create_task(host.apply(send(clock, "wake up", partition=1)))
        ready_parts = await waiter
        elapsed = time.monotonic() - start
        await sender
        assert ready_parts == [1]
        assert elapsed < 0.5, f"the waiter woke {elapsed:.3f} s after the send"

    run(body())


def test_a_delayed_message_wakes_the_waiter_when_due(system_host: GroupHost) -> None:
    host, clock = system_host, SystemClock()

    async def body() -> None:
        await ready(host)
        start = time.monotonic()
        await host.apply(send(clock, "later", delay=0.3))
        assert await host.wait(REF, [0], 0.05) == []  # not yet
        assert await host.wait(REF, [0], 5.0) == [0]
        elapsed = time.monotonic() - start
        assert 0.28 <= elapsed < 1.0, elapsed

    run(body())


def test_an_expiring_visibility_timeout_wakes_the_waiter(system_host: GroupHost) -> None:
    host, clock = system_host, SystemClock()

    async def body() -> None:
        await ready(host)
        await host.apply(send(clock, "retry me"))
        start = time.monotonic()
        assert len((await host.apply(receive(clock, visibility=0.3))).receive.messages) == 1
        assert await host.wait(REF, [0], 5.0) == [0]
        assert 0.28 <= time.monotonic() - start < 1.0
        again = await host.apply(receive(clock))
        assert [m.receive_count for m in again.receive.messages] == [2]

    run(body())


def test_a_manual_clock_waiter_wakes_on_wake_all(tmp_path: Path) -> None:
    clock = ManualClock()
    with hosted(tmp_path, clock) as host:

        async def body() -> None:
            await host.apply(send(clock, "in ten seconds", delay=10))
            waiter = asyncio.create_task(host.wait(REF, [0], 5.0))
            await asyncio.sleep(0.2)
            assert not waiter.done()  # due in 10 s of engine time, which is not passing
            clock.advance(10)
            start = time.monotonic()
            host.log.wake_all()
            assert await waiter == [0]
            assert time.monotonic() - start < 0.5

        run(body())


def test_many_waiters_all_wake_and_unsubscribe(system_host: GroupHost) -> None:
    host, clock = system_host, SystemClock()

    async def body() -> None:
        await ready(host)
        waiters = [asyncio.create_task(host.wait(REF, [0], 5.0)) for _ in range(5)]
        await asyncio.sleep(0.05)
        start = time.monotonic()
        await host.apply(send(clock, "for everyone"))
        assert await asyncio.gather(*waiters) == [[0]] * 5
        assert time.monotonic() - start < 0.5
        assert dict(host.log._waiters) == {}  # nobody left subscribed

    run(body())


# -- snapshots -----------------------------------------------------------------------------


async def fill(host: GroupHost, clock: Clock) -> None:
    """Visible, delayed and in-flight messages over two partitions."""
    await host.apply(send(clock, "a", "b", "c", partition=0))
    await host.apply(send(clock, "d", partition=1, delay=600))
    await host.apply(receive(clock, partition=0, max_messages=1, visibility=300))


def test_partition_log_survives_pickling(tmp_path: Path) -> None:
    clock = ManualClock()
    with hosted(tmp_path, clock) as host:

        async def body() -> None:
            await fill(host, clock)
            # A pending long poll holds an event loop, which cannot be pickled.
            waiter = asyncio.create_task(host.wait(OTHER, [0], 5.0))
            await asyncio.sleep(0.05)
            data = pickle.dumps(host.log._serialize())
            waiter.cancel()

            restored = PartitionLog()
            restored._deserialize(pickle.loads(data))
            now = clock.now_ns()
            expected = host.log.stats(REF, now)
            assert [(s.visible, s.in_flight, s.delayed) for s in expected] == [
                (2, 1, 0), (0, 0, 1)]
            assert restored.stats(REF, now) == expected
            assert restored.ready(REF, [0, 1], now) == host.log.ready(REF, [0, 1], now)
            # Both copies go on identically.
            clock.advance(600)
            nxt = receive(clock, partition=1)
            assert host.log.state.apply(nxt) == restored.state.apply(nxt)

        run(body())


def test_compaction_during_a_long_poll_and_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    host = open_host(tmp_path, clock)
    try:
        expected: list[tuple[int, int, int]] = []

        async def before() -> None:
            await fill(host, clock)
            waiter = asyncio.create_task(host.wait(OTHER, [0], 5.0))
            await asyncio.sleep(0.05)
            host.group.compact()
            await poll((tmp_path / DUMP_FILE).exists, 5, "the full dump")
            assert not waiter.done()
            await host.apply(send(clock, "after the dump", partition=1))
            await host.apply(send(clock, "wake", queue=OTHER))
            assert await waiter == [0]
            expected.extend((s.visible, s.in_flight, s.delayed) for s in host.stats(REF))

        run(before())
        host.close()
        host = open_host(tmp_path, clock)

        async def after() -> None:
            await ready(host)
            got = [(s.visible, s.in_flight, s.delayed) for s in host.stats(REF)]
            assert got == expected == [(2, 1, 0), (1, 0, 1)]
            bodies = [m.body for m in (await host.apply(receive(clock))).receive.messages]
            assert bodies == ["b", "c"]

        run(after())
    finally:
        host.close()


# -- router --------------------------------------------------------------------------------


def test_router_status_and_local_calls(system_host: GroupHost) -> None:
    host, clock = system_host, SystemClock()
    router = GroupRouter(single_group(), {0: host})

    async def body() -> None:
        assert router.count == 1
        sent = await router.apply(0, send(clock, "routed"))
        assert len(sent.send.outcomes) == 1
        assert await router.wait(0, REF, [0], 1.0) == [0]
        assert [s.visible for s in await router.stats(0, REF)] == [1]

        (status,) = router.status()
        assert status.index == 0
        assert list(status.members) == ["local"]
        assert status.leader == "local"
        assert status.term >= 1 and status.term == host.group.term

    run(body())
