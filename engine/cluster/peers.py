"""Channels to the other nodes of the cluster, and the one way to call a peer.

One channel per peer, created on first use and kept: gRPC multiplexes calls over it and
reconnects by itself. Reconnect backoff is short so a restarted node is used again
within seconds. With metrics on, the node installs ``PeerPool.wrap_channel``
(engine/observability/peer_metrics.py) to time every call.

Every unary node-to-node call goes through :meth:`Peer.call`: the simulated one-way
latency between availability zones both ways, the cluster secret and the id of the
request being served (engine/observability/request_id.py) in the metadata, a deadline,
failures decoded into ``EngineError`` (transport failures keep their gRPC status name as
the code), and, for calls the caller declares idempotent, a retry of transport failures
within the same deadline. Shard streams use ``delay`` and ``metadata`` the same way;
consensus messages have a transport of their own (engine/cluster/consensus/transport.py).
In a TLS cluster the channel goes to the peer's ``peer_address`` over mutual TLS
(engine/cluster/tls.py); otherwise to its gRPC address in plaintext.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from engine.cluster.tls import PeerTls
from engine.cluster.wire import SECRET_HEADER
from engine.errors import EngineError
from engine.observability import request_id
from engine.v1 import (
    cache_records_pb2_grpc,
    node_pb2_grpc,
    queue_records_pb2_grpc,
)

R = TypeVar("R")
# Transport failures a retry may cure (an idempotent call only): nothing reached the peer,
# or its answer was lost.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                       grpc.StatusCode.CANCELLED})
RETRY_PAUSE = 0.05
CHANNEL_OPTIONS: list[tuple[str, object]] = [
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]


class Peer:
    """One remote node as seen from this one."""

    def __init__(self, node_id: str, address: str, zone: str, pool: PeerPool) -> None:
        self.node_id = node_id
        self.address = address
        self.zone = zone
        self._pool = pool
        self._raw: grpc.aio.Channel | None = None  # the connection, made once
        self._channel: grpc.aio.Channel | None = None  # the same, maybe observed
        self._stub: node_pb2_grpc.NodeStub | None = None
        self._queue_stub: queue_records_pb2_grpc.QueueNodeStub | None = None
        self._cache_stub: cache_records_pb2_grpc.CacheNodeStub | None = None

    @property
    def channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            if self._raw is None:
                tls = self._pool.tls
                self._raw = (grpc.aio.insecure_channel(self.address, options=CHANNEL_OPTIONS)
                             if tls is None else tls.channel(self.node_id, CHANNEL_OPTIONS))
                self._pool.channels.append(self._raw)
            wrap = self._pool.wrap_channel
            self._channel = self._raw if wrap is None else wrap(self._raw, self)
        return self._channel

    def rewrap(self) -> None:
        """The pool's wrapper changed: build the channel and stubs anew on next use."""
        self._channel = None
        self._stub = self._queue_stub = self._cache_stub = None

    @property
    def stub(self) -> node_pb2_grpc.NodeStub:
        if self._stub is None:
            self._stub = node_pb2_grpc.NodeStub(self.channel)
        return self._stub

    @property
    def queue_stub(self) -> queue_records_pb2_grpc.QueueNodeStub:
        """The peer's queue groups (queue_records.proto), on the same channel."""
        if self._queue_stub is None:
            self._queue_stub = queue_records_pb2_grpc.QueueNodeStub(self.channel)
        return self._queue_stub

    @property
    def cache_stub(self) -> cache_records_pb2_grpc.CacheNodeStub:
        """The peer's share of the cache tier (cache_records.proto), on the same channel."""
        if self._cache_stub is None:
            self._cache_stub = cache_records_pb2_grpc.CacheNodeStub(self.channel)
        return self._cache_stub

    @property
    def latency(self) -> float:
        """The simulated one-way latency to this peer in seconds (zero within an AZ)."""
        return self._pool.az_latency if self.zone != self._pool.zone else 0.0

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The cluster secret, and the current request's id when serving one."""
        rid = request_id.current()
        if rid is None:
            return self._pool.metadata
        return (*self._pool.metadata, (request_id.HEADER, rid))

    @property
    def timeout(self) -> float:
        return self._pool.timeout

    async def delay(self) -> None:
        """The simulated one-way latency to this peer (zero within an AZ)."""
        if self.zone != self._pool.zone and self._pool.az_latency > 0:
            await asyncio.sleep(self._pool.az_latency)

    async def call(self, rpc: Callable[..., Awaitable[R]], request: Any, *,
                   timeout: float | None = None, idempotent: bool = False,
                   wait_for_ready: bool = False) -> R:
        """One unary call to this peer, e.g. ``peer.call(peer.stub.Ping, PingRequest())``.

        Raises ``EngineError``: the peer's own error as it sent it, or a transport failure
        as ``EngineError(<gRPC status name>)``. An ``idempotent`` call is tried again
        after a transport failure until its deadline (default: the pool's timeout).
        ``wait_for_ready``: a channel still backing off from an earlier failure (a peer
        that restarted) holds the call until it connects, within the deadline, instead
        of failing it at once; the call is sent at most once either way.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout if timeout is None else timeout)
        while True:
            await self.delay()
            try:
                result = await rpc(request, metadata=self.metadata,
                                   timeout=max(deadline - loop.time(), 0.001),
                                   **({"wait_for_ready": True} if wait_for_ready else {}))
            except grpc.RpcError as exc:
                err = EngineError.from_rpc_error(exc)
                if not (idempotent and err.grpc_status in RETRYABLE
                        and deadline - loop.time() > RETRY_PAUSE):
                    raise err from None
                await asyncio.sleep(RETRY_PAUSE)
                continue
            await self.delay()
            return result


class PeerPool:
    def __init__(self, zone: str, secret: str, *, timeout: float = 5.0,
                 az_latency_ms: float = 0.0, tls: PeerTls | None = None) -> None:
        self.zone = zone
        self.tls = tls
        self.metadata = ((SECRET_HEADER, secret),)
        self.timeout = timeout
        self.az_latency = az_latency_ms / 1000.0
        self.channels: list[grpc.aio.Channel] = []
        # Observes every peer channel (metrics on); see set_wrapper.
        self.wrap_channel: Callable[[grpc.aio.Channel, Peer], grpc.aio.Channel] | None = None
        self._peers: dict[str, Peer] = {}

    def set_wrapper(self, wrap: Callable[[grpc.aio.Channel, Peer], grpc.aio.Channel]) -> None:
        """Observe every peer call from now on, also on channels already in use."""
        self.wrap_channel = wrap
        for peer in self._peers.values():
            peer.rewrap()

    def peer(self, node_id: str, address: str, zone: str) -> Peer:
        if node_id not in self._peers:
            self._peers[node_id] = Peer(node_id, address, zone, self)
        return self._peers[node_id]

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
        self.channels.clear()
