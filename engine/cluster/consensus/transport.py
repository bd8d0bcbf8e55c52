"""Raft messages between nodes: one gRPC client stream per peer, on the node's channel.

Messages are one-way (a reply is a message on the other node's own stream), protobuf
encoded (never pickle: holding the cluster secret is not running code on a node), and
sent over the channel every other node-to-node call uses, with the cluster secret in its
metadata. The receiving servicer checks that secret before it reads a single message,
and gRPC bounds every message (16 MiB) before anything is decoded.

Each peer has a queue drained by one task, which writes whatever has accumulated as one
batch. The queue is bounded: when a peer is slow or gone, the oldest messages are
dropped (Raft tolerates loss and re-sends what matters). A write that does not complete
within ``WRITE_SECONDS`` (a paused or black-holed peer) abandons the stream and reconnects.
Between availability zones every batch pays the simulated one-way latency, measured from
when its first message was queued, so batches stay pipelined.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

import grpc

from engine.cluster.peers import Peer
from engine.v1.raft_pb2 import RaftBatch, RaftMessage

log = logging.getLogger("engine.consensus")
MAX_QUEUED = 20_000  # messages per peer
MAX_BATCH_BYTES = 4 << 20
WRITE_SECONDS = 3.0
RECONNECT_SECONDS = (0.05, 1.0)


class GrpcTransport:
    def __init__(self, peer: Callable[[str], Peer]) -> None:
        self._peer = peer
        self._links: dict[str, _Link] = {}

    def send(self, messages: list[RaftMessage]) -> None:
        now = time.monotonic()
        for message in messages:
            link = self._links.get(message.to)
            if link is None:
                link = self._links[message.to] = _Link(self._peer(message.to))
            link.put(now, message)

    async def close(self) -> None:
        for link in self._links.values():
            await link.close()


class _Link:
    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.queue: deque[tuple[float, RaftMessage]] = deque()
        self.ready = asyncio.Event()
        self.wrote = False
        self.task = asyncio.ensure_future(self._run())

    def put(self, when: float, message: RaftMessage) -> None:
        if len(self.queue) >= MAX_QUEUED:
            self.queue.popleft()
        self.queue.append((when, message))
        self.ready.set()

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task

    async def _run(self) -> None:
        backoff = RECONNECT_SECONDS[0]
        while True:
            call = self.peer.raft_stub.Stream(metadata=self.peer.metadata)
            self.wrote = False
            try:
                await self._pump(call)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # not up yet, gone, reset, hung: reconnect
                log.debug("raft stream to %s: %r", self.peer.node_id, exc)
            finally:
                call.cancel()
            self.queue.clear()  # stale by the time we reconnect; Raft re-sends
            backoff = RECONNECT_SECONDS[0] if self.wrote else min(backoff * 2,
                                                                  RECONNECT_SECONDS[1])
            await asyncio.sleep(backoff)

    async def _pump(self, call: grpc.aio.StreamUnaryCall) -> None:
        latency = self.peer.latency
        while True:
            while not self.queue:
                self.ready.clear()
                await self.ready.wait()
            first = self.queue[0][0]
            batch = RaftBatch()
            size = 0
            while self.queue and size < MAX_BATCH_BYTES:
                _, message = self.queue.popleft()
                batch.messages.append(message)
                size += message.ByteSize()
            if latency > 0:
                wait = first + latency - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            await asyncio.wait_for(call.write(batch), WRITE_SECONDS)
            self.wrote = True
