"""Raft dumps written off the tick thread (engine/cluster/raft_snapshot.py), on real
one-member pysyncobj groups with their journal and dump on disk.

The writer thread is held at its compression step through a module seam, so "the group
keeps committing while a dump is written" and "a failed dump loses nothing" are tested
without timing anything.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from pysyncobj import SyncObj, SyncObjConf, SyncObjConsumer, replicated

from engine.cluster import raft_snapshot
from engine.cluster.raft_group import DUMP_FILE, JOURNAL_FILE, RaftGroup
from engine.queues.host import PartitionLog
from engine.v1.queue_records_pb2 import (
    NewMessage,
    PartitionCommand,
    PartitionPolicy,
    QueueRef,
    ReceiveCommand,
    SendCommand,
    StoredMessage,
)

S = 1_000_000_000
REF = QueueRef(name="orders", incarnation="inc-1")
POLICY = PartitionPolicy(retention_ns=4 * 86_400 * S)


class Counter(SyncObjConsumer):
    def __init__(self) -> None:
        super().__init__()
        self.values: list[int] = []

    @replicated
    def add(self, value: int) -> int:
        self.values.append(value)
        return len(self.values)


def group_of(state_dir: Path, *consumers: SyncObjConsumer) -> RaftGroup:
    return RaftGroup("127.0.0.1:0", [], "", state_dir, list(consumers))


async def poll(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def journal_entries(group: RaftGroup) -> int:
    return len(group._obj._SyncObj__raftLog)


def send(now_ns: int, count: int, partition: int) -> PartitionCommand:
    messages = [NewMessage(entry_id=f"e{i}", message=StoredMessage(
        message_id=uuid.uuid4().hex, body=f"body {i}")) for i in range(count)]
    return PartitionCommand(now_ns=now_ns, op_id=uuid.uuid4().hex, send=SendCommand(
        queue=REF, partition=partition, policy=POLICY, messages=messages))


@pytest.fixture
def held_writer(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """(entered, release): the dump writer signals `entered` at compression and waits
    for `release`."""
    entered, release = threading.Event(), threading.Event()
    compress = raft_snapshot._compress

    def held(raw: bytes) -> bytes:
        entered.set()
        assert release.wait(30)
        return compress(raw)

    monkeypatch.setattr(raft_snapshot, "_compress", held)
    return entered, release


def test_group_commits_while_a_dump_is_written(
    tmp_path: Path, held_writer: tuple[threading.Event, threading.Event]
) -> None:
    entered, release = held_writer
    counter = Counter()
    group = group_of(tmp_path, counter)

    async def body() -> None:
        for i in range(20):
            await group.call(counter.add, i)
        group.compact()
        await poll(entered.is_set, "the writer thread")
        # The dump is stuck being written; commands still commit at once.
        start = time.monotonic()
        for i in range(20, 40):
            assert await group.call(counter.add, i, timeout=2.0) == i + 1
        assert time.monotonic() - start < 2.0
        assert not (tmp_path / DUMP_FILE).exists()
        before = journal_entries(group)
        release.set()
        await poll((tmp_path / DUMP_FILE).exists, "the dump")
        # Once written, pysyncobj drops the journal entries the dump covers.
        await poll(lambda: journal_entries(group) < before, "log compaction")

    try:
        asyncio.run(body())
    finally:
        release.set()
        group.close()
    reopened_counter = Counter()
    reopened = group_of(tmp_path, reopened_counter)
    try:
        asyncio.run(poll(lambda: reopened_counter.values == list(range(40)), "the replay"))
    finally:
        reopened.close()


def test_a_failed_dump_keeps_the_previous_one_and_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = Counter()
    group = group_of(tmp_path, counter)
    failures: list[int] = []

    def broken(raw: bytes) -> bytes:
        failures.append(len(raw))
        raise OSError("disk full")

    async def body() -> None:
        for i in range(5):
            await group.call(counter.add, i)
        group.compact()
        await poll((tmp_path / DUMP_FILE).exists, "the first dump")
        first = (tmp_path / DUMP_FILE).read_bytes()
        monkeypatch.setattr(raft_snapshot, "_compress", broken)
        for i in range(5, 10):
            await group.call(counter.add, i)
        group.compact()
        await poll(lambda: bool(failures), "the failing dump")
        await asyncio.sleep(0.2)  # a few ticks: pysyncobj sees FAILED and keeps its log
        assert (tmp_path / DUMP_FILE).read_bytes() == first
        assert not list(tmp_path.glob("*.part"))

    try:
        asyncio.run(body())
    finally:
        group.close()
    reopened_counter = Counter()
    reopened = group_of(tmp_path, reopened_counter)
    try:
        asyncio.run(poll(lambda: reopened_counter.values == list(range(10)), "the replay"))
    finally:
        reopened.close()


def test_queue_partitions_restart_from_a_dump(tmp_path: Path) -> None:
    log = PartitionLog()
    group = group_of(tmp_path, log)
    now = 1_700_000_000 * S

    async def fill() -> list[tuple[int, int, int]]:
        for i in range(300):
            await group.call(log.apply, send(now + i, 10, i % 3).SerializeToString())
        receive = PartitionCommand(now_ns=now + 1000, op_id="r", receive=ReceiveCommand(
            queue=REF, partition=1, policy=POLICY, max_messages=10, visibility_ns=60 * S))
        await group.call(log.apply, receive.SerializeToString())
        group.compact()
        await poll((tmp_path / DUMP_FILE).exists, "the dump")
        return [(s.visible, s.in_flight, s.delayed) for s in log.stats(REF, now + 2000)]

    try:
        expected = asyncio.run(fill())
        captured = log.state.capture()
    finally:
        group.close()
    assert expected == [(1000, 0, 0), (990, 10, 0), (1000, 0, 0)]
    (tmp_path / JOURNAL_FILE).unlink()  # only the dump is left to restore from
    for meta in tmp_path.glob(JOURNAL_FILE + "*"):
        meta.unlink()
    restored = PartitionLog()
    reopened = group_of(tmp_path, restored)
    try:
        asyncio.run(poll(lambda: restored.state.now_ns != 0, "the dump to load"))
        assert restored.state.capture() == captured
        got = [(s.visible, s.in_flight, s.delayed) for s in restored.stats(REF, now + 2000)]
        assert got == expected
    finally:
        reopened.close()


def test_dumps_written_by_pysyncobj_itself_still_load(tmp_path: Path) -> None:
    """Bucket-table groups made before the writer existed left gzip dumps behind."""
    counter = Counter()
    conf = SyncObjConf(journalFile=str(tmp_path / JOURNAL_FILE),
                       fullDumpFile=str(tmp_path / DUMP_FILE), useFork=False,
                       dynamicMembershipChange=False, bindAddress="127.0.0.1:0")
    old = SyncObj("127.0.0.1:0", [], conf=conf, consumers=[counter])
    try:
        for i in range(3):
            counter.add(i, sync=True, timeout=10)
        old.forceLogCompaction()
        deadline = time.monotonic() + 10
        while not (tmp_path / DUMP_FILE).exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        old.destroy_synchronous()
    assert (tmp_path / DUMP_FILE).read_bytes()[:2] == raft_snapshot.GZIP_MAGIC
    (tmp_path / JOURNAL_FILE).unlink()
    for meta in tmp_path.glob(JOURNAL_FILE + "*"):
        meta.unlink()
    reopened_counter = Counter()
    reopened = group_of(tmp_path, reopened_counter)
    try:
        asyncio.run(poll(lambda: reopened_counter.values == [0, 1, 2], "the dump to load"))

        async def more() -> None:
            assert await reopened.call(reopened_counter.add, 3) == 4

        asyncio.run(more())
    finally:
        reopened.close()
