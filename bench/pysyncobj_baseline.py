"""pysyncobj 0.3.17 on the workload of bench/consensus_kit.py, through the engine's
RaftGroup bridge as it was before the consensus kit (commit f5523f6), stock (journal
never synced) or with the smallest change that makes it durable (fsync each entry and
the meta file). Not part of the suite; run it against a worktree of that commit:

    git worktree add /tmp/before f5523f6 && (cd /tmp/before && make build)
    PYTHONPATH=/tmp/before .venv/bin/python bench/pysyncobj_baseline.py stock|fsync \\
        NODES CALLERS SECONDS
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import pysyncobj.journal as journal  # type: ignore[import-not-found]
from closed_loop import drive
from pysyncobj import SyncObjConsumer, replicated  # type: ignore[import-not-found]


def make_durable() -> None:
    add = journal.FileJournal.add
    store = journal.MetaStorer.storeMeta

    def durable_add(self: Any, command: Any, idx: int, term: int) -> None:
        add(self, command, idx, term)
        f = self._FileJournal__journalFile
        f.flush()  # msync of the mmap
        os.fsync(f._ResizableFile__f.fileno())

    def durable_store(self: Any, meta: Any) -> None:
        store(self, meta)
        fd = os.open(self.getPath(), os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)

    journal.FileJournal.add = durable_add
    journal.MetaStorer.storeMeta = durable_store


class Puts(SyncObjConsumer):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, bytes] = {}

    @replicated  # type: ignore[misc]
    def put(self, key: str, value: bytes) -> int:
        self.values[key] = value
        return len(self.values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main(mode: str, nodes: int, callers: int, seconds: float, root: Path) -> str:
    from engine.cluster.raft_group import RaftGroup  # type: ignore[import-not-found]

    addresses = [f"127.0.0.1:{free_port()}" for _ in range(nodes)]
    machines = [Puts() for _ in range(nodes)]
    groups = [RaftGroup(addresses[i] if nodes > 1 else "127.0.0.1:0",
                        addresses if nodes > 1 else [],
                        "bench-secret-bench-secret" if nodes > 1 else "", root / f"n{i}",
                        [machines[i]]) for i in range(nodes)]
    while not any(g.is_leader for g in groups):
        await asyncio.sleep(0.05)
    leader = next(i for i, g in enumerate(groups) if g.is_leader)
    put = machines[leader].put
    summary = await drive(lambda c, n: groups[leader].call(put, f"k{c}-{n}", b"x" * 100),
                          callers, seconds)
    for g in groups:
        g.close()
    return f"pysyncobj-{mode} nodes={nodes} callers={callers}: {summary}"


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "fsync":
        make_durable()
    with tempfile.TemporaryDirectory() as d:
        print(asyncio.run(main(mode, int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
                               Path(d))))
