"""PartitionMachine micro-benchmarks: what one queue command costs the apply loop.

A keyspace already holding ``MESSAGES`` messages of ``BODY`` bytes in one standard
partition (and a FIFO queue of the same size in ``GROUPS`` groups of 10), then:

- send batch: a SendCommand of 10 new messages;
- receive: a ReceiveCommand of up to 10 (visibility 30 s, so each takes fresh ones);
- delete batch: a delete of 10 handles from earlier receives;
- FIFO send batch / receive: the same on the FIFO queue.

Each timed call is one LMDB write transaction around ``apply`` (sync off, as the
consensus kit batches commits and fsyncs once per batch), with the command already
serialized: the proposer pays for building it. ``extra_info["messages_per_call"]`` = 10.

Run with:
    .venv/bin/python -m pytest bench/test_bench_partition_machine.py --benchmark-only
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path

import lmdb
import pytest

from engine.cluster.consensus.machine import Keyspace
from engine.queues.partition import PartitionMachine
from engine.v1 import queue_records_pb2 as rec

MESSAGES = 100_000
BODY = 100  # the queue bench's default message size
GROUPS = MESSAGES // 10
ROUNDS = 1000
S = 1_000_000_000
T0 = 1_700_000_000 * S
STD = rec.QueueRef(name="bench", incarnation="inc-1")
FIFO = rec.QueueRef(name="bench.fifo", incarnation="inc-1")
STD_POLICY = rec.PartitionPolicy(retention_ns=4 * 86_400 * S)
FIFO_POLICY = rec.PartitionPolicy(fifo=True, retention_ns=4 * 86_400 * S)


class Machine:
    """PartitionMachine on its own LMDB environment, one write transaction per command."""

    def __init__(self, path: Path) -> None:
        self.machine = PartitionMachine()
        self.env = lmdb.open(str(path), map_size=1 << 34, max_dbs=4, sync=False,
                             metasync=False)  # fmt: skip
        self.db = self.env.open_db(self.machine.name.encode())
        self.ids = count()
        self.now = T0

    def apply(self, command: bytes) -> bytes:
        with self.env.begin(write=True) as txn:
            return self.machine.apply(Keyspace(txn, self.db), command, 0)

    def apply_many(self, commands: list[bytes]) -> None:
        with self.env.begin(write=True) as txn:
            keys = Keyspace(txn, self.db)
            for command in commands:
                self.machine.apply(keys, command, 0)

    def send_command(self, ref: rec.QueueRef, policy: rec.PartitionPolicy) -> bytes:
        messages = []
        for _ in range(10):
            i = next(self.ids)
            message = rec.StoredMessage(
                message_id=f"{i:036d}", body="x" * BODY, md5_of_body="0" * 32,
                group_id=f"g{i % GROUPS}",
            )  # fmt: skip
            messages.append(rec.NewMessage(entry_id=str(i % 10), message=message))
        self.now += 1000
        return rec.PartitionCommand(now_ns=self.now, op_id=f"op-{self.now}", send=rec.SendCommand(
            queue=ref, partition=0, policy=policy, messages=messages,
        )).SerializeToString()  # fmt: skip

    def receive_command(self, ref: rec.QueueRef, policy: rec.PartitionPolicy) -> bytes:
        return rec.PartitionCommand(now_ns=self.now, receive=rec.ReceiveCommand(
            queue=ref, partition=0, policy=policy, max_messages=10, visibility_ns=30 * S,
        )).SerializeToString()  # fmt: skip


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    m = Machine(Path(tmp_path_factory.mktemp("partitions")))
    for ref, policy in ((STD, STD_POLICY), (FIFO, FIFO_POLICY)):
        for _ in range(MESSAGES // 10 // 100):
            m.apply_many([m.send_command(ref, policy) for _ in range(100)])
    yield m
    m.env.close()


def _run(benchmark, machine: Machine, commands: list[bytes], name: str) -> list[bytes]:
    benchmark.group = f"partition machine, {MESSAGES:,} messages held"
    benchmark.name = name
    benchmark.extra_info["messages_per_call"] = 10
    todo = iter(commands)
    results: list[bytes] = []
    benchmark.pedantic(lambda: results.append(machine.apply(next(todo))), rounds=ROUNDS,
                       warmup_rounds=0, iterations=1)  # fmt: skip
    return results


def test_send_batch_of_10(benchmark, machine: Machine) -> None:
    commands = [machine.send_command(STD, STD_POLICY) for _ in range(ROUNDS)]
    results = _run(benchmark, machine, commands, "send batch of 10")
    assert all(len(rec.PartitionResult.FromString(r).send.outcomes) == 10 for r in results)


def test_receive_10(benchmark, machine: Machine) -> None:
    commands = [machine.receive_command(STD, STD_POLICY)] * ROUNDS
    results = _run(benchmark, machine, commands, "receive 10")
    assert all(len(rec.PartitionResult.FromString(r).receive.messages) == 10 for r in results)


def test_delete_batch_of_10(benchmark, machine: Machine) -> None:
    commands = []
    for _ in range(ROUNDS):
        got = rec.PartitionResult.FromString(
            machine.apply(machine.receive_command(STD, STD_POLICY))
        ).receive.messages
        handles = [rec.HandleRef(entry_id=str(i), message_id=m.message_id,
                                 receipt_seq=m.receipt_seq) for i, m in enumerate(got)]  # fmt: skip
        commands.append(rec.PartitionCommand(now_ns=machine.now, delete=rec.HandleCommand(
            queue=STD, partition=0, handles=handles)).SerializeToString())  # fmt: skip
    results = _run(benchmark, machine, commands, "delete batch of 10")
    outcomes = [rec.PartitionResult.FromString(r).handles.outcomes for r in results]
    assert all(len(o) == 10 and not any(x.error_code for x in o) for o in outcomes)


def test_fifo_send_batch_of_10(benchmark, machine: Machine) -> None:
    commands = [machine.send_command(FIFO, FIFO_POLICY) for _ in range(ROUNDS)]
    _run(benchmark, machine, commands, "FIFO send batch of 10")


def test_fifo_receive_10(benchmark, machine: Machine) -> None:
    commands = [machine.receive_command(FIFO, FIFO_POLICY)] * ROUNDS
    results = _run(benchmark, machine, commands, "FIFO receive 10")
    assert all(len(rec.PartitionResult.FromString(r).receive.messages) == 10 for r in results)
