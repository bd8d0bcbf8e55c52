"""Commands per second through the consensus kit: NODES members in one process, Raft
over the real TCP transport on loopback, CALLERS concurrent callers on the leader, each
command a 100-byte put, every batch fsynced. The figure in docs/benchmarks.md
("Consensus"), beside pysyncobj's (bench/pysyncobj_baseline.py).

    .venv/bin/python bench/consensus_kit.py NODES CALLERS SECONDS [DIR]
"""

from __future__ import annotations

import asyncio
import socket
import sys
import tempfile
from pathlib import Path

from closed_loop import drive

from engine.clock import SystemClock
from engine.cluster.consensus.host import ConsensusHost
from engine.cluster.consensus.machine import Keyspace, ReplicatedStateMachine
from engine.cluster.consensus.store import ConsensusStore
from engine.cluster.consensus.transport import RaftListener, RaftSender

SECRET = "bench-secret-bench-secret"


class Puts(ReplicatedStateMachine):
    name = "puts"

    def apply(self, keys: Keyspace, command: bytes, index: int) -> bytes:
        key, _, value = command.partition(b"=")
        keys.put(key, value)
        return b""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main(nodes: int, callers: int, seconds: float, root: Path) -> str:
    ids = [f"n{i}" for i in range(nodes)]
    addresses = {n: f"127.0.0.1:{free_port()}" for n in ids}
    hosts: list[ConsensusHost] = []
    parts: list[RaftListener | RaftSender] = []
    for n in ids:
        host = ConsensusHost(n, ConsensusStore(root / n, 1 << 32), SystemClock())
        host.add_group("g", ids, [Puts()])
        if nodes > 1:
            listener = RaftListener(addresses[n], SECRET, host.receive)
            await listener.start()
            host.transport = RaftSender(n, SECRET, addresses.__getitem__, lambda peer: 0.0)
            parts += [listener, host.transport]
        await host.start()
        hosts.append(host)
    while not any(h.groups["g"].is_leader for h in hosts):
        await asyncio.sleep(0.05)
    leader = next(h for h in hosts if h.groups["g"].is_leader).groups["g"]
    summary = await drive(
        lambda c, n: leader.call("puts", b"k%d-%d=" % (c, n) + b"x" * 100), callers, seconds)
    for part in parts:
        await part.close()
    for host in hosts:
        await host.close()
    return f"kit nodes={nodes} callers={callers}: {summary}"


if __name__ == "__main__":
    nodes, callers, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    with tempfile.TemporaryDirectory(dir=sys.argv[4] if len(sys.argv) > 4 else None) as d:
        print(asyncio.run(main(nodes, callers, seconds, Path(d))))
