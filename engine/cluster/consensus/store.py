"""The consensus store: one LMDB environment per node for every group it hosts.

It holds, per group: the Raft log (index -> term + command), the group record (term,
vote, commit, applied index, log start, live generation, memo size), the op-id memo, and
every state machine's keyspace. One environment means one write transaction can append
the entries of several groups, apply their committed commands, record their new applied
indexes and memos, and make it all durable with one fsync: group commit across groups,
and no window in which the state and the applied index disagree after a crash.

Named databases (``g`` is the group, ``n`` the live generation):

| name | key -> value |
|---|---|
| ``groups`` | g -> RaftGroupRecord; g + STAGING -> the record a snapshot came with |
| ``log:g`` | index (8 bytes big-endian) -> term (8 bytes) + command |
| ``memo:g:n`` | op id -> result (RaftResult) of an applied command |
| ``memo-age:g:n`` | time (8 bytes) + op id -> b"" (eviction order) |
| ``sm:g:machine:n`` | the machine's own keys |

A snapshot is installed into the next generation's databases, chunk by chunk, and made
live by one transaction that switches ``generation``; until then the old state and log
stay intact, so a crash mid-transfer loses nothing.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import lmdb

from engine.cluster.consensus.machine import (
    Keyspace,
    ReadKeyspace,
    Rejected,
    ReplicatedStateMachine,
)
from engine.storage.durable_dirs import durable_store_dir, make_durable_dirs
from engine.v1.raft_pb2 import RaftCommand, RaftEntry, RaftGroupRecord, RaftResult, SnapshotPair

log = logging.getLogger("engine.consensus")
T = TypeVar("T")
_U64 = struct.Struct(">Q")
_I64 = struct.Struct(">q")
MEMO_WINDOW_NS = 120 * 1_000_000_000  # a retry comes within a call deadline; keep 2 min
MEMO_MAX_BYTES = 256 << 20  # per group
MEMO_EVICT_PER_COMMAND = 32
STAGING = b"\0staging"
# SnapshotPair.machine values that are not machines (machine names never start with \0)
RECORD, MEMO, AGES = "\0record", "\0memo", "\0ages"
COMPACT_PER_BATCH = 50_000  # log entries deleted per transaction at most


def _key(index: int) -> bytes:
    return _U64.pack(index)


@dataclass
class GroupWork:
    """What one batch does for one group (any part may be empty)."""

    group: str
    machines: dict[str, ReplicatedStateMachine]
    hard_state: tuple[int, str, int] | None = None  # term, vote, commit
    entries: list[RaftEntry] = field(default_factory=list)
    committed: list[RaftEntry] = field(default_factory=list)
    compact: tuple[int, int] | None = None  # drop entries up to (index, term)
    # snapshot chunks to stage: (generation, pairs, first of a transfer)
    chunks: list[tuple[int, list[SnapshotPair], bool]] = field(default_factory=list)
    install: tuple[int, int, bool, int] | None = None  # index, term, keep tail, generation
    discard: int = 0  # a staged generation to empty (snapshot abandoned)


@dataclass
class GroupOutcome:
    results: list[tuple[str, bytes]] = field(default_factory=list)  # op id -> RaftResult
    applied: list[tuple[str, bytes]] = field(default_factory=list)  # machine, payload
    applied_index: int = 0
    failure: str = ""  # set when an apply raised: the group must stop


class ConsensusStore:
    def __init__(self, path: Path, map_size: int, *, fsync: bool = True) -> None:
        make_durable_dirs(path)
        self.path = path
        # readahead off: state is read by key, and readahead would pull whole files into
        # the page cache (and into RSS) as the keyspaces grow.
        self.env = lmdb.open(str(path), map_size=map_size, max_dbs=4096, max_readers=1024,
                             sync=fsync, metasync=fsync, readahead=False)
        if fsync:
            durable_store_dir(path)
        self._dbs: dict[bytes, Any] = {}
        self._groups = self._db(b"groups")

    # -- databases ---------------------------------------------------------------------

    def _db(self, name: bytes, txn: lmdb.Transaction | None = None) -> Any:
        db = self._dbs.get(name)
        if db is None:
            db = self._dbs[name] = self.env.open_db(name, txn=txn, create=True)
        return db

    @staticmethod
    def _names(group: str, generation: int, machines: Iterable[str]) -> list[bytes]:
        return [f"memo:{group}:{generation}".encode(), f"memo-age:{group}:{generation}".encode(),
                *(f"sm:{group}:{m}:{generation}".encode() for m in machines)]

    def _machine_db(self, group: str, machine: str, generation: int,
                    txn: lmdb.Transaction | None = None) -> Any:
        return self._db(f"sm:{group}:{machine}:{generation}".encode(), txn)

    def open_group(self, group: str, machines: Iterable[str]) -> RaftGroupRecord:
        """Open (or create) a group's databases; drop leftovers of unfinished snapshots."""
        machines = list(machines)
        with self.env.begin(write=True) as txn:
            data = txn.get(group.encode(), db=self._groups)
            record = RaftGroupRecord.FromString(data) if data else RaftGroupRecord()
            self._db(f"log:{group}".encode(), txn)
            live = set(self._names(group, record.generation, machines))
            for name in live:
                self._db(name, txn)
            prefixes = tuple(f"{kind}:{group}:".encode() for kind in ("memo", "memo-age", "sm"))
            stale = [bytes(k) for k, _ in txn.cursor() if bytes(k).startswith(prefixes)
                     and bytes(k) not in live]
            for name in stale:
                txn.drop(self._db(name, txn), delete=True)
                self._dbs.pop(name, None)
            if not data:
                txn.put(group.encode(), record.SerializeToString(), db=self._groups)
        return record

    def record(self, group: str) -> RaftGroupRecord:
        with self.env.begin(db=self._groups) as txn:
            return RaftGroupRecord.FromString(txn.get(group.encode()) or b"")

    def last_index(self, group: str) -> int:
        with self.env.begin(db=self._db(f"log:{group}".encode())) as txn:
            cursor = txn.cursor()
            return _U64.unpack(cursor.key())[0] if cursor.last() else 0

    def stable_log(self, group: str) -> StoreLog:
        return StoreLog(self.env, self._db(f"log:{group}".encode()))

    def read(self, group: str, machine: str, generation: int,
             fn: Callable[[ReadKeyspace], T]) -> T:
        """Run a query on the machine's keyspace as of the last committed batch."""
        db = self._machine_db(group, machine, generation)
        with self.env.begin(db=db) as txn:
            return fn(ReadKeyspace(txn, db))

    def snapshot_view(self, group: str, machines: Iterable[str]) -> SnapshotView:
        """A consistent view of the group's state for a snapshot (a long read txn)."""
        txn = self.env.begin()
        record = RaftGroupRecord.FromString(txn.get(group.encode(), db=self._groups) or b"")
        gen = record.generation
        return SnapshotView(txn, record, self._db(f"memo:{group}:{gen}".encode()),
                            self._db(f"memo-age:{group}:{gen}".encode()),
                            {m: self._machine_db(group, m, gen) for m in machines})

    def close(self) -> None:
        self.env.close()

    # -- the batch (writer thread) -----------------------------------------------------

    def commit(self, works: list[GroupWork],
               written: Callable[[list[GroupOutcome]], None] | None = None
               ) -> list[GroupOutcome]:
        """Do every group's work in one transaction and fsync it. ``written`` gets the
        outcomes once the work is done, before the commit and its fsync (nothing, if
        the work failed)."""
        txn = self.env.begin(write=True)
        outcomes: list[GroupOutcome] = []
        try:
            outcomes = [self._group_work(txn, work) for work in works]
        except BaseException:
            txn.abort()
            raise
        finally:
            if written is not None:
                written(outcomes)
        txn.commit()
        return outcomes

    def _group_work(self, txn: lmdb.Transaction, work: GroupWork) -> GroupOutcome:
        group = work.group
        key = group.encode()
        record = RaftGroupRecord.FromString(txn.get(key, db=self._groups) or b"")
        logdb = self._db(f"log:{group}".encode(), txn)
        out = GroupOutcome()
        if work.discard:
            self._empty(txn, group, work.discard, work.machines)
        for chunk in work.chunks:
            self._stage(txn, group, record, chunk, work.machines)
        if work.install is not None:
            self._install(txn, group, logdb, record, work.install, work.machines)
        if work.hard_state is not None:
            record.term, record.vote, commit = work.hard_state
            record.commit = max(record.commit, commit)
        if work.entries:
            first = int(work.entries[0].index)
            cursor = txn.cursor(db=logdb)
            if cursor.set_range(_key(first)):
                while cursor.delete():  # the tail from `first` on is replaced
                    pass
            for e in work.entries:
                txn.put(_key(int(e.index)), _U64.pack(int(e.term)) + bytes(e.data), db=logdb,
                        append=True)
        if work.committed:
            self._apply(txn, group, record, work.committed, work.machines, out)
        if work.compact is not None:
            self._compact(txn, logdb, record, *work.compact)
        out.applied_index = record.applied
        txn.put(key, record.SerializeToString(), db=self._groups)
        return out

    def _apply(self, txn: lmdb.Transaction, group: str, record: RaftGroupRecord,
               entries: list[RaftEntry], machines: dict[str, ReplicatedStateMachine],
               out: GroupOutcome) -> None:
        gen = record.generation
        memo = self._db(f"memo:{group}:{gen}".encode(), txn)
        ages = self._db(f"memo-age:{group}:{gen}".encode(), txn)
        for entry in entries:
            index = int(entry.index)
            if index != record.applied + 1:
                raise AssertionError(f"group {group}: apply {index} after {record.applied}")
            if entry.data:
                try:
                    cmd = RaftCommand.FromString(entry.data)
                    result = self._apply_one(txn, group, gen, cmd, index, machines, memo)
                except _ReplicaFailed as exc:
                    out.failure = str(exc)
                    log.error("group %s: entry %d failed to apply, the group stops on this "
                              "node until it is restarted: %s", group, index, exc,
                              exc_info=exc.__cause__)
                    return
                except Exception as exc:  # an undecodable entry: the log is damaged
                    out.failure = f"entry {index} cannot be decoded: {exc}"
                    log.error("group %s: %s", group, out.failure)
                    return
                if cmd.op_id and not cmd.forget:
                    self._remember(txn, record, memo, ages, cmd, result)
                out.results.append((cmd.op_id, result))
                out.applied.append((cmd.machine, bytes(cmd.payload)))
            record.applied = index
            record.applied_term = int(entry.term)

    def _apply_one(self, txn: lmdb.Transaction, group: str, gen: int, cmd: RaftCommand,
                   index: int, machines: dict[str, ReplicatedStateMachine], memo: Any) -> bytes:
        if cmd.op_id and not cmd.forget:
            seen = txn.get(cmd.op_id.encode(), db=memo)
            if seen is not None:
                return bytes(seen)  # a retry of an applied command: the first outcome
        machine = machines.get(cmd.machine)
        if machine is None:
            return RaftResult(error_code="InternalError",
                              error_message=f"no state machine {cmd.machine!r}"
                              ).SerializeToString()
        nested = self.env.begin(write=True, parent=txn)
        try:
            keys = Keyspace(nested, self._machine_db(group, cmd.machine, gen, txn))
            payload = machine.apply(keys, bytes(cmd.payload), index)
        except Rejected as rej:
            nested.abort()  # a refusal leaves nothing behind
            return RaftResult(error_code=rej.code, error_message=rej.message
                              ).SerializeToString()
        except Exception as exc:
            nested.abort()
            raise _ReplicaFailed(f"{cmd.machine} raised {type(exc).__name__}: {exc} "
                                 f"(command {bytes(cmd.payload)[:200]!r})") from exc
        nested.commit()
        return RaftResult(payload=payload).SerializeToString()

    @staticmethod
    def _remember(txn: lmdb.Transaction, record: RaftGroupRecord, memo: Any, ages: Any,
                  cmd: RaftCommand, result: bytes) -> None:
        """Keep the outcome for retries; forget the oldest past the window or the size
        cap (deterministic: it depends only on the commands applied)."""
        op = cmd.op_id.encode()
        if txn.get(op, db=memo) is not None:
            return
        record.memo_clock_ns = max(record.memo_clock_ns, cmd.time_ns)
        txn.put(op, result, db=memo)
        txn.put(_I64.pack(cmd.time_ns) + op, b"", db=ages)
        record.memo_bytes += len(op) + len(result)
        cursor = txn.cursor(db=ages)
        horizon = record.memo_clock_ns - MEMO_WINDOW_NS
        for _ in range(MEMO_EVICT_PER_COMMAND):
            if not cursor.first():
                break
            age = bytes(cursor.key())
            if _I64.unpack(age[:8])[0] >= horizon and record.memo_bytes <= MEMO_MAX_BYTES:
                break
            old = age[8:]
            value = txn.get(old, db=memo)
            record.memo_bytes -= len(old) + (len(value) if value is not None else 0)
            txn.delete(old, db=memo)
            cursor.delete()

    @staticmethod
    def _compact(txn: lmdb.Transaction, logdb: Any, record: RaftGroupRecord, index: int,
                 term: int) -> None:
        index = min(index, record.applied)
        cursor = txn.cursor(db=logdb)
        done = 0
        if cursor.first():
            while done < COMPACT_PER_BATCH and _U64.unpack(cursor.key())[0] <= index:
                if not cursor.delete():
                    break
                done += 1
                if not cursor.key():
                    break
        if index > record.snap_index:
            record.snap_index = index
            record.snap_term = term

    # -- snapshots (receiver side) -----------------------------------------------------

    def _empty(self, txn: lmdb.Transaction, group: str, generation: int,
               machines: dict[str, ReplicatedStateMachine]) -> None:
        for name in self._names(group, generation, machines):
            txn.drop(self._db(name, txn), delete=False)
        txn.delete(group.encode() + STAGING, db=self._groups)

    def _stage(self, txn: lmdb.Transaction, group: str, record: RaftGroupRecord,
               chunk: tuple[int, list[SnapshotPair], bool],
               machines: dict[str, ReplicatedStateMachine]) -> None:
        generation, pairs, first = chunk
        assert generation != record.generation, "never stage over the live state"
        if first:
            self._empty(txn, group, generation, machines)
        memo = self._db(f"memo:{group}:{generation}".encode(), txn)
        ages = self._db(f"memo-age:{group}:{generation}".encode(), txn)
        for pair in pairs:
            if pair.machine == RECORD:
                txn.put(group.encode() + STAGING, pair.value, db=self._groups)
            elif pair.machine == MEMO:
                txn.put(pair.key, pair.value, db=memo)
            elif pair.machine == AGES:
                txn.put(pair.key, b"", db=ages)
            elif pair.machine in machines:
                keys = Keyspace(txn, self._machine_db(group, pair.machine, generation, txn))
                machines[pair.machine].restore(keys, [(bytes(pair.key), bytes(pair.value))])

    def _install(self, txn: lmdb.Transaction, group: str, logdb: Any,
                 record: RaftGroupRecord, install: tuple[int, int, bool, int],
                 machines: dict[str, ReplicatedStateMachine]) -> None:
        """Make the staged generation live at (index, term); keep the log after it only
        if it continues the snapshot's history."""
        index, term, keep_tail, generation = install
        cursor = txn.cursor(db=logdb)
        if cursor.first():
            while not keep_tail or _U64.unpack(cursor.key())[0] <= index:
                if not cursor.delete() or not cursor.key():
                    break
        sent = RaftGroupRecord.FromString(txn.get(group.encode() + STAGING, db=self._groups)
                                          or b"")
        txn.delete(group.encode() + STAGING, db=self._groups)
        for name in self._names(group, record.generation, machines):
            txn.drop(self._db(name, txn), delete=True)
            self._dbs.pop(name, None)
        record.generation = generation
        record.snap_index = record.applied = index
        record.snap_term = record.applied_term = term
        record.commit = max(record.commit, index)
        record.memo_bytes = sent.memo_bytes
        record.memo_clock_ns = sent.memo_clock_ns


class _ReplicaFailed(Exception):
    """An apply raised something other than Rejected: this replica cannot go on."""


class StoreLog:
    """The durable part of one group's log, read by the protocol (StableLog)."""

    def __init__(self, env: lmdb.Environment, db: Any) -> None:
        self._env = env
        self._db = db

    def term(self, index: int) -> int | None:
        with self._env.begin(db=self._db, buffers=True) as txn:
            value = txn.get(_key(index))
            return None if value is None else _U64.unpack(value[:8])[0]

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[RaftEntry]:
        out: list[RaftEntry] = []
        size = 0
        with self._env.begin(db=self._db) as txn:
            cursor = txn.cursor()
            if not cursor.set_key(_key(lo)):
                return out
            for key, value in cursor:
                index = _U64.unpack(key)[0]
                if index >= hi or (out and size + len(value) > max_bytes):
                    break
                out.append(RaftEntry(index=index, term=_U64.unpack(value[:8])[0],
                                     data=value[8:]))
                size += len(value)
        return out


class SnapshotView:
    """A group's state frozen in one read transaction: its record and every pair a
    snapshot carries, in order. Iterate it off the event loop; close it when done."""

    def __init__(self, txn: lmdb.Transaction, record: RaftGroupRecord, memo: Any, ages: Any,
                 machines: dict[str, Any]) -> None:
        self.txn = txn
        self.record = record
        self._memo = memo
        self._ages = ages
        self._machines = machines

    @property
    def index(self) -> int:
        return int(self.record.applied)

    @property
    def term(self) -> int:
        return int(self.record.applied_term)

    def pairs(self, machines: dict[str, ReplicatedStateMachine]) -> Iterable[SnapshotPair]:
        yield SnapshotPair(machine=RECORD, value=self.record.SerializeToString())
        for key, value in self.txn.cursor(db=self._memo):
            yield SnapshotPair(machine=MEMO, key=bytes(key), value=bytes(value))
        for key, _ in self.txn.cursor(db=self._ages):
            yield SnapshotPair(machine=AGES, key=bytes(key))
        for name, db in sorted(self._machines.items()):
            for key, value in machines[name].snapshot(ReadKeyspace(self.txn, db)):
                yield SnapshotPair(machine=name, key=key, value=value)

    def close(self) -> None:
        self.txn.abort()
