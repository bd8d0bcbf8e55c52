"""What every RESP connection of a node shares: the services, the cluster view, the
limits, the connected clients and the counters INFO reports."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.api.resp.cluster_view import ClusterView
from engine.api.resp.session import Session
from engine.api.resp.subscriber import PUBSUB_LIMIT, OutputLimit
from engine.cache.pubsub import Broker
from engine.cache.service import CacheService
from engine.clock import Clock, SystemClock
from engine.iam.cache_users import CacheUsers


@dataclass
class RespContext:
    cache: CacheService
    users: CacheUsers | None  # None: --insecure-no-auth, every client is unchecked
    cluster: ClusterView | None  # None: a single node (cluster support disabled)
    node_id: str
    clock: Clock = field(default_factory=SystemClock)
    max_clients: int = 10000
    max_bulk: int = 512 * 1024 * 1024
    pubsub: Broker = field(default_factory=Broker)  # the node's (cluster fan-out in it)
    pubsub_limit: OutputLimit = PUBSUB_LIMIT  # client-output-buffer-limit pubsub
    port: int = 0
    started: float = field(default_factory=time.monotonic)
    # connected clients: id -> (session, close it)
    clients: dict[int, tuple[Session, Callable[[], None]]] = field(default_factory=dict)
    next_id: int = 1
    connections_received: int = 0
    rejected_connections: int = 0
    output_limit_disconnections: int = 0
    commands_processed: int = 0
    run_id: str = field(default_factory=lambda: secrets.token_hex(20))

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1
