"""Who is up, as this node sees it: one Ping to every peer every few seconds.

One prober per node; everything that asks "does that node answer?" reads it: readiness
(engine/cluster/readiness.py), the ``engine_peer_up`` metric
(engine/observability/peer_health.py). A peer is up when its last Ping answered within
PROBE_TIMEOUT; killed, hung (SIGSTOPped) and partitioned nodes are down.
"""

from __future__ import annotations

import asyncio
import contextlib

from engine.cluster.peers import Peer
from engine.errors import EngineError
from engine.v1 import node_pb2

PROBE_SECONDS = 2.0
PROBE_TIMEOUT = 1.0


class Liveness:
    def __init__(self, peers: list[Peer]) -> None:
        self.peers = peers
        # Keys fixed up front: a metrics scrape thread reads while the loop writes values.
        self.up: dict[str, bool | None] = dict.fromkeys((p.node_id for p in peers), None)

    async def probe(self, peer: Peer) -> bool:
        up = False
        with contextlib.suppress(EngineError):
            await peer.call(peer.stub.Ping, node_pb2.PingRequest(),
                            timeout=min(PROBE_TIMEOUT, peer.timeout))
            up = True
        self.up[peer.node_id] = up
        return up

    async def probe_all(self) -> dict[str, bool]:
        """Ping every peer now; node id -> answered."""
        results = await asyncio.gather(*(self.probe(p) for p in self.peers))
        return {p.node_id: up for p, up in zip(self.peers, results, strict=True)}

    async def run(self, interval: float = PROBE_SECONDS) -> None:
        while True:
            await self.probe_all()
            await asyncio.sleep(interval)
