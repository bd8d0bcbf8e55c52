"""Copies of written keys, from a slot's primary to its replica in another AZ.

Per replica node one sender drains a queue in write order, so the replica applies a
key's states in the order the primary produced them. Concurrent writes share one Load
call (batching keeps replication at a fraction of a call per write under load). A write
waits for its batch up to ``WAIT_SECONDS`` and never fails because of its replica: the
replication is asynchronous, as ElastiCache's is, and a replica that misses states while
unreachable stays behind until those keys are written again (docs/cache.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from engine.cluster.peers import Peer
from engine.errors import EngineError
from engine.v1 import cache_records_pb2 as rec

log = logging.getLogger("engine.cache")

WAIT_SECONDS = 0.5  # how long a write waits for its copy before answering anyway
CALL_SECONDS = 2.0
BATCH_BYTES = 4 * 1024 * 1024  # a Load stays well inside the 16 MiB message limit

_Item = tuple[list[rec.CacheKeyState], asyncio.Future[None], str, int]


class Replicator:
    def __init__(self, peer: Callable[[str], Peer]) -> None:
        self._peer = peer
        self._pending: dict[str, deque[_Item]] = {}
        self._senders: dict[str, asyncio.Task[None]] = {}

    async def copy(self, node_id: str, states: list[rec.CacheKeyState], primary: str,
                   token: int) -> None:
        """Queue ``states`` for ``node_id`` and wait (briefly) until they were sent.
        ``token`` is the replica's, from ``primary``'s lease (engine/cache/lease.py)."""
        if not states:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(node_id, deque()).append((states, fut, primary, token))
        sender = self._senders.get(node_id)
        if sender is None or sender.done():
            self._senders[node_id] = asyncio.ensure_future(self._drain(node_id))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(fut), WAIT_SECONDS)

    async def close(self) -> None:
        for task in self._senders.values():
            task.cancel()
        for task in self._senders.values():
            with contextlib.suppress(BaseException):
                await task

    async def _drain(self, node_id: str) -> None:
        queue = self._pending.get(node_id)
        while queue:
            batch: list[_Item] = []
            size = 0
            _, _, primary, token = queue[0]
            while queue and (not batch or size < BATCH_BYTES) and queue[0][3] == token:
                item = queue.popleft()
                batch.append(item)
                size += sum(len(s.key) + len(s.value) for s in item[0])
            keys = [state for states, *_ in batch for state in states]
            peer = self._peer(node_id)
            try:
                await peer.call(peer.cache_stub.Load, rec.CacheLoadRequest(
                    keys=keys, primary=primary, token=token), timeout=CALL_SECONDS)
            except EngineError as exc:
                log.debug("cache replica %s missed %d key states: %s", node_id, len(keys),
                          exc.code)
            finally:
                for _, fut, *_ in batch:
                    if not fut.done():
                        fut.set_result(None)
