"""Is each peer up? A Ping to every other node every few seconds answers it.

``engine_peer_up{peer,zone}`` is 1 when the peer's last Ping answered within
PROBE_TIMEOUT, 0 when it failed or timed out (a killed, hung or partitioned node), and
is absent until the first probe finished. One Ping per peer per PROBE_SECONDS is the
whole cost; the pings also feed the latency histogram between AZs (peer_metrics.py),
so it shows inter-AZ latency on an idle cluster too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from engine.cluster.peers import Peer
from engine.v1 import node_pb2

PROBE_SECONDS = 2.0
PROBE_TIMEOUT = 1.0


class PeerHealth(Collector):
    def __init__(self, peers: list[Peer]) -> None:
        self.peers = peers
        # Keys fixed up front: the scrape thread reads while the loop writes values.
        self.up: dict[str, bool | None] = dict.fromkeys((p.node_id for p in peers), None)

    async def probe(self, peer: Peer) -> None:
        try:
            await peer.stub.Ping(node_pb2.PingRequest(), metadata=peer.metadata,
                                 timeout=min(PROBE_TIMEOUT, peer.timeout))
            self.up[peer.node_id] = True
        except Exception:  # any failure, transport or not, counts as not answering
            self.up[peer.node_id] = False

    async def run(self, interval: float = PROBE_SECONDS) -> None:
        while True:
            await asyncio.gather(*(self.probe(p) for p in self.peers))
            await asyncio.sleep(interval)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "engine_peer_up", "1 if the peer answered this node's last Ping (every "
            f"{PROBE_SECONDS:g} s, {PROBE_TIMEOUT:g} s timeout), else 0", labels=("peer", "zone"))
        with contextlib.suppress(Exception):
            for peer in self.peers:
                state = self.up.get(peer.node_id)
                if state is not None:
                    family.add_metric((peer.node_id, peer.zone), 1.0 if state else 0.0)
        yield family
