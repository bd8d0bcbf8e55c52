"""The cluster half of PUBLISH: pass each message to every other node (pubsub.proto).

One lane per peer: a queue bounded in bytes and one task that sends what is queued in
batches (``PubSubNode.Deliver``), so a node's order of PUBLISHes is kept on every peer
and the number of tasks is the number of peers, whatever the number of subscribers or
messages. Best effort, as Redis Cluster's bus is: a message that finds its lane full, or
whose batch a peer does not take within the deadline, is dropped (and counted); a peer
that failed is left alone for a moment so its lane does not spin on it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from engine.cluster.peers import Peer
from engine.errors import EngineError
from engine.v1 import pubsub_pb2 as pb
from engine.v1 import pubsub_pb2_grpc

log = logging.getLogger("engine.cache.pubsub")

LANE_BYTES = 64 * 1024 * 1024  # queued for one peer before new messages are dropped
BATCH_BYTES = 1024 * 1024  # per Deliver call (and one message, whatever its size)
BATCH_COUNT = 1024
DELIVER_SECONDS = 2.0  # a peer that takes longer loses the batch
PAUSE_SECONDS = 0.5  # after a failed batch, before the lane tries that peer again
LOG_EVERY = 10.0  # at most one warning per peer this often

Send = Callable[[str, pb.PubSubBatch, float], Awaitable[object]]


class _Lane:
    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.queue: collections.deque[pb.PubSubMessage] = collections.deque()
        self.bytes = 0
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.logged = 0.0


class Fanout:
    def __init__(self, node_id: str, peers: Sequence[str], send: Send, *,
                 lane_bytes: int = LANE_BYTES) -> None:
        self.node_id = node_id
        self._send = send
        self._lane_bytes = lane_bytes
        self._lanes = [_Lane(p) for p in peers if p != node_id]
        self.sent = 0  # messages peers took
        self.dropped = 0

    def forward(self, channel: bytes, message: bytes) -> None:
        """Queue for every peer; never waits (called from PUBLISH, on the event loop)."""
        size = len(channel) + len(message)
        for lane in self._lanes:
            if lane.bytes + size > self._lane_bytes:
                self._drop(lane, 1, "its queue is full")
                continue
            lane.queue.append(pb.PubSubMessage(channel=channel, message=message))
            lane.bytes += size
            if lane.task is None:
                lane.task = asyncio.get_running_loop().create_task(self._run(lane))
            lane.wake.set()

    async def _run(self, lane: _Lane) -> None:
        while True:
            await lane.wake.wait()
            lane.wake.clear()
            while lane.queue:
                batch = self._take(lane)
                try:
                    await self._send(lane.node_id, batch, DELIVER_SECONDS)
                    self.sent += len(batch.messages)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # best effort: any failure loses the batch only
                    self._drop(lane, len(batch.messages),
                               exc.code if isinstance(exc, EngineError) else repr(exc))
                    await asyncio.sleep(PAUSE_SECONDS)

    def _take(self, lane: _Lane) -> pb.PubSubBatch:
        batch = pb.PubSubBatch(origin=self.node_id)
        size = 0
        while lane.queue and len(batch.messages) < BATCH_COUNT:
            head = lane.queue[0]
            n = len(head.channel) + len(head.message)
            if batch.messages and size + n > BATCH_BYTES:
                break
            lane.queue.popleft()
            lane.bytes -= n
            size += n
            batch.messages.append(head)
        return batch

    def _drop(self, lane: _Lane, count: int, why: str) -> None:
        lane.dropped += count
        self.dropped += count
        now = time.monotonic()
        if now - lane.logged >= LOG_EVERY:
            lane.logged = now
            log.warning("pub/sub: %d message(s) not passed to %s so far (%s)",
                        lane.dropped, lane.node_id, why)

    async def close(self) -> None:
        for lane in self._lanes:
            if lane.task is not None:
                lane.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lane.task
                lane.task = None


def peer_sender(peer: Callable[[str], Peer]) -> Send:
    """``Send`` over the cluster's peer channels (engine/cluster/peers.py)."""

    async def send(node_id: str, batch: pb.PubSubBatch, timeout: float) -> object:
        target = peer(node_id)
        stub = pubsub_pb2_grpc.PubSubNodeStub(target.channel)
        return await target.call(stub.Deliver, batch, timeout=timeout)

    return send
