"""What one node runs to be observed, built from its config and assembly.

``engine serve`` builds this after assembling the node and before creating its gRPC
server (whose interceptors it provides), starts it once the server is up and stops it
before the drives close, so no scrape reads a closed LMDB. The request-id interceptor
is always there (logs need it); everything else only with ``--metrics-listen``, in a
registry of this node's own, so several nodes in one process never share series.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import cast

import grpc
from prometheus_client import (
    CollectorRegistry,
    Gauge,
    ProcessCollector,
    disable_created_metrics,
)

from engine import __version__
from engine.assembly import Assembly
from engine.cluster.peers import Peer
from engine.config import NodeConfig
from engine.observability.bucket_stats import BucketStats
from engine.observability.cache_stats import CacheStats
from engine.observability.heal_stats import HealStats
from engine.observability.metrics_server import MetricsServer
from engine.observability.peer_health import PeerHealth
from engine.observability.peer_metrics import ObservedChannel, PeerMetrics
from engine.observability.queue_stats import QueueStats
from engine.observability.rpc_metrics import RpcMetrics
from engine.observability.server_interceptor import ObservingInterceptor
from engine.storage.drive import LocalDrive

log = logging.getLogger("engine.metrics")


def scanned_drives(node: Assembly) -> list[LocalDrive]:
    """This node's drives that are the first drive of an erasure set: the sets it scans
    for healing, and counts for the bucket metrics (each set by exactly one node)."""
    firsts = {id(s.drives[0]) for s in node.objects.placement.sets() if s.drives}
    return [d for d in node.local if id(d) in firsts]


class NodeObservability:
    def __init__(self, config: NodeConfig, node: Assembly) -> None:
        self.registry: CollectorRegistry | None = None
        self.server: MetricsServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        rpc: RpcMetrics | None = None
        if config.metrics_listen:
            # No `_created` twin of every counter series: it doubles the exposition and
            # no dashboard here uses it (process-wide, and a node is its own process).
            disable_created_metrics()
            registry = self.registry = CollectorRegistry()
            rpc = RpcMetrics(registry)
            ProcessCollector(registry=registry)
            info = Gauge("engine_node_info", "This node: constant 1 with its identity",
                         ("node", "zone", "cluster", "version"), registry=registry)
            info.labels(node.node_id, node.zone, node.cluster_name, __version__).set(1)
            registry.register(BucketStats(lambda: scanned_drives(node),
                                          config.metrics_bucket_refresh))
            registry.register(QueueStats(node.queues))
            registry.register(CacheStats(node.cache))
            registry.register(HealStats(node.healer, node.lifecycle))
            if node.view.pool is not None:
                self._observe_peers(node, registry)
            self.server = MetricsServer(config.metrics_listen, registry)
        observing = ObservingInterceptor(rpc)
        self.in_flight = observing.in_flight
        self.interceptors: list[grpc.aio.ServerInterceptor] = [observing]

    @staticmethod
    def _observe_peers(node: Assembly, registry: CollectorRegistry) -> None:
        """Time every peer call, and export who answers (the node's Liveness prober)."""
        pool = node.view.pool
        assert pool is not None
        metrics = PeerMetrics(registry, node.zone)

        def wrap(channel: grpc.aio.Channel, peer: Peer) -> grpc.aio.Channel:
            return cast(grpc.aio.Channel,
                        ObservedChannel(channel, peer.node_id, peer.zone, metrics))

        pool.set_wrapper(wrap)
        registry.register(PeerHealth(node.view.liveness))

    def start(self) -> None:
        """Serve metrics and start probing peers (call with the gRPC server up)."""
        if self.server is not None:
            address = self.server.start()
            log.info("metrics on http://%s/metrics", address)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)
