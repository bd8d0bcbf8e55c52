"""One consensus member in its own process, for tests that crash it.

    python tests/consensus/member.py DATA LISTEN NODE_ID SECRET PEER=HOST:PORT... [--no-fsync]

Hosts group "g" whose members are NODE_ID and the peers (PEER=its raft address), with a
machine that stores what it is told, takes consensus traffic on LISTEN and prints "ready"
once up. Its election
timeout is very long, so it never campaigns by itself: the test plays the other members.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from engine.clock import SystemClock
from engine.cluster.consensus.host import ConsensusHost
from engine.cluster.consensus.machine import Keyspace, ReplicatedStateMachine
from engine.cluster.consensus.store import ConsensusStore
from engine.cluster.consensus.transport import RaftListener, RaftSender


class Notes(ReplicatedStateMachine):
    name = "notes"

    def apply(self, keys: Keyspace, command: bytes, index: int) -> bytes:
        keys.put(b"%020d" % index, command)
        return b""


async def main(argv: list[str]) -> None:
    data, listen, node, secret, *rest = argv
    fsync = "--no-fsync" not in rest
    peers = dict(p.split("=", 1) for p in rest if "=" in p)
    host = ConsensusHost(node, ConsensusStore(Path(data), 1 << 30, fsync=fsync),
                         SystemClock(), election_ticks=100_000)
    host.add_group("g", [node, *peers], [Notes()])
    host.transport = RaftSender(node, secret, peers.__getitem__, lambda peer: 0.0)
    await RaftListener(listen, secret, host.receive).start()
    await host.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
