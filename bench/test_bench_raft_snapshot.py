"""What a Raft dump of the queue partitions costs: the capture (taken in the tick
thread, so every command of the group waits for it) against the full pickle + zstd the
writer thread does, and against pysyncobj's own pickle + gzip-9 that used to run in the
tick thread. 100,000 messages of 100 bytes over 6 partitions, a twentieth in flight."""

from __future__ import annotations

import gzip
import pickle
import uuid

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from engine.cluster.raft_snapshot import _compress
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
