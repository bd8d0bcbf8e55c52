"""A state machine on its own LMDB environment, without Raft: apply, read, snapshot copy.

Unit tests of a ReplicatedStateMachine drive it here exactly as the consensus kit does
(one write transaction per command, aborted when apply raises), so they test the real
keyspace code; the kit's own tests cover logs, votes and replication.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import lmdb

from engine.cluster.consensus.machine import Keyspace, ReadKeyspace, ReplicatedStateMachine

T = TypeVar("T")
SNAPSHOT_CHUNK = 1000  # pairs per restore call, as the kit streams them in chunks


class MachineHarness:
    def __init__(self, machine: ReplicatedStateMachine, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.machine = machine
        self.env = lmdb.open(str(path), map_size=1 << 34, max_dbs=4, sync=False,
                             metasync=False)
        self.db = self.env.open_db(machine.name.encode())
        self.index = 0

    def apply(self, command: bytes) -> bytes:
        """One committed entry; a raising apply leaves nothing behind (the txn aborts)."""
        self.index += 1
        with self.env.begin(write=True) as txn:
            return self.machine.apply(Keyspace(txn, self.db), command, self.index)

    def read(self, fn: Callable[[ReadKeyspace], T]) -> T:
        with self.env.begin() as txn:
            return fn(ReadKeyspace(txn, self.db))

    def pairs(self) -> list[tuple[bytes, bytes]]:
        return self.read(lambda keys: list(keys.range(b"")))

    def copy_to(self, other: MachineHarness) -> None:
        """Stream this state into ``other`` (which must be empty) the way a snapshot goes."""
        with self.env.begin() as txn:
            stream = self.machine.snapshot(ReadKeyspace(txn, self.db))
            chunk: list[tuple[bytes, bytes]] = []
            for pair in stream:
                chunk.append(pair)
                if len(chunk) == SNAPSHOT_CHUNK:
                    other._restore(chunk)
                    chunk = []
            if chunk:
                other._restore(chunk)
        other.index = self.index
        other.machine.restored()

    def _restore(self, chunk: list[tuple[bytes, bytes]]) -> None:
        with self.env.begin(write=True) as txn:
            self.machine.restore(Keyspace(txn, self.db), chunk)

    def close(self) -> None:
        self.env.close()
