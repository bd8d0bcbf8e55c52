"""What a Raft dump of the queue partitions costs: the capture (taken in the tick
thread, so every command of the group waits for it) against the full pickle + zstd the
writer thread does, and against pysyncobj's own pickle + gzip-9 that used to run in the
tick thread. 100,000 messages of 100 bytes over 6 partitions, a twentieth in flight
(`MESSAGES`; raise it to see how the capture grows). The last test measures the stall a
dump causes to calls through a real Raft group."""

from __future__ import annotations

import asyncio
import gzip
import pickle
import time
import uuid
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from engine.cluster.raft_group import DUMP_FILE, RaftGroup
from engine.cluster.raft_snapshot import _compress
from engine.queues.host import PartitionLog
from engine.queues.partition import PartitionState
from engine.v1 import queue_records_pb2 as rec

MESSAGES = 100_000
S = 1_000_000_000
REF = rec.QueueRef(name="orders", incarnation="inc-1")
POLICY = rec.PartitionPolicy(retention_ns=4 * 86_400 * S)


@pytest.fixture(scope="module")
def state() -> PartitionState:
    state = PartitionState()
    now = 1_700_000_000 * S
    for i in range(MESSAGES // 10):
        messages = [rec.NewMessage(entry_id=str(j), message=rec.StoredMessage(
            message_id=str(uuid.uuid4()), body="x" * 100)) for j in range(10)]
        state.apply(rec.PartitionCommand(now_ns=now + i, send=rec.SendCommand(
            queue=REF, partition=i % 6, policy=POLICY, messages=messages)))
    for i in range(MESSAGES // 200):
        state.apply(rec.PartitionCommand(now_ns=now + MESSAGES, receive=rec.ReceiveCommand(
            queue=REF, partition=i % 6, policy=POLICY, max_messages=10, visibility_ns=30 * S)))
    return state


@pytest.mark.benchmark(group="raft-dump-100k")
def test_capture_in_tick_thread(benchmark: BenchmarkFixture, state: PartitionState) -> None:
    captured = benchmark(state.capture)
    assert len(captured[2]) == 1


@pytest.mark.benchmark(group="raft-dump-100k")
def test_pickle_and_zstd_in_writer_thread(benchmark: BenchmarkFixture,
                                          state: PartitionState) -> None:
    captured = state.capture()
    packed = benchmark(lambda: _compress(pickle.dumps(captured, protocol=5)))
    benchmark.extra_info["dump_bytes"] = len(packed)


@pytest.mark.benchmark(group="raft-dump-100k")
def test_pysyncobj_default_pickle_gzip9(benchmark: BenchmarkFixture,
                                        state: PartitionState) -> None:
    packed = benchmark.pedantic(lambda: gzip.compress(pickle.dumps(state), 9), rounds=2)
    benchmark.extra_info["dump_bytes"] = len(packed)


def test_longest_call_during_a_dump(tmp_path: Path, state: PartitionState) -> None:
    """Not a timing loop: two coroutines commit back to back through a real one-member
    group holding the state while a dump is forced; reports the longest call (the
    stall a dump causes) next to the typical one. Printed with -s."""
    log = PartitionLog()
    log.state = state
    group = RaftGroup("127.0.0.1:0", [], "", tmp_path, [log])
    sweep = rec.PartitionCommand(now_ns=state.now_ns, sweep=True).SerializeToString()

    async def run() -> list[float]:
        await group.call(log.apply, sweep)
        took: list[float] = []
        end = time.perf_counter() + 6

        async def caller() -> None:
            while time.perf_counter() < end:
                start = time.perf_counter()
                await group.call(log.apply, sweep)
                took.append(time.perf_counter() - start)

        async def dump() -> None:
            await asyncio.sleep(1)
            group.compact()

        await asyncio.gather(caller(), caller(), dump())
        return sorted(took)

    try:
        took = asyncio.run(run())
    finally:
        group.close()
    assert (tmp_path / DUMP_FILE).exists()
    print(f"\n{MESSAGES} messages: {len(took)} calls, p50 {took[len(took) // 2] * 1000:.1f} ms,"
          f" longest {took[-1] * 1000:.0f} ms (during the dump)")
