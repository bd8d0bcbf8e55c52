"""``engine_peer_up{peer,zone}``: 1 when the peer's last Ping answered, 0 when it failed
or timed out (a killed, hung or partitioned node), absent until the first probe finished.

The probing is the node's one Liveness prober (engine/cluster/liveness.py); this
collector only reads it. The pings also feed the latency histogram between AZs
(peer_metrics.py), so it shows inter-AZ latency on an idle cluster too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from engine.cluster.liveness import PROBE_SECONDS, PROBE_TIMEOUT, Liveness


class PeerHealth(Collector):
    def __init__(self, liveness: Liveness) -> None:
        self.liveness = liveness

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "engine_peer_up", "1 if the peer answered this node's last Ping (every "
            f"{PROBE_SECONDS:g} s, {PROBE_TIMEOUT:g} s timeout), else 0", labels=("peer", "zone"))
        with contextlib.suppress(Exception):
            for peer in self.liveness.peers:
                state = self.liveness.up.get(peer.node_id)
                if state is not None:
                    family.add_metric((peer.node_id, peer.zone), 1.0 if state else 0.0)
        yield family
