"""A replica that has just started copies the keys of its primaries (Redis's full sync).

Without it a replica restarted empty received only the keys written after it came back,
so losing the primary soon after lost every key not written since. Once at start, for
each primary it replicates, the replica pulls the states of every key of the slots they
share in pages (``CacheNode.Resync``), retrying until the primary answers.

Copies keep arriving meanwhile (``CacheNode.Load``), and each is newer than any page of
a copy begun before it: a key that arrives that way, or that this node writes in the
primary's place (engine/cache/lease.py), is not overwritten by a page.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from engine.cache.lease import take_page
from engine.errors import EngineError
from engine.v1 import cache_records_pb2 as rec

log = logging.getLogger("engine.cache")

RETRY_SECONDS = 1.0  # between attempts while the primary does not answer

Snapshot = Callable[[], list[rec.CacheKeyState]]
ResyncCall = Callable[[str, rec.CacheResyncRequest], Awaitable[rec.CacheLeaseReply]]


class ResyncSource:
    """The primary's side: one copy under way per replica, served page by page."""

    def __init__(self) -> None:
        self._pending: dict[str, deque[rec.CacheKeyState]] = {}

    def page(self, request: rec.CacheResyncRequest, snapshot: Snapshot) -> rec.CacheLeaseReply:
        if request.start:
            self._pending[request.replica] = deque(snapshot())
        pending = self._pending.get(request.replica)
        if pending is None:  # this node restarted mid-copy: the replica starts over
            raise EngineError("InvalidArgument", "no copy under way: start a new one")
        states = take_page(pending)
        if not pending:
            del self._pending[request.replica]
        return rec.CacheLeaseReply(keys=states, more=bool(pending))


class ResyncTarget:
    """The replica's side: pulls each primary's keys once, skipping keys already newer."""

    def __init__(self, node_id: str, primaries: Iterable[str], call: ResyncCall,
                 install: Callable[[list[rec.CacheKeyState]], None]) -> None:
        self.node_id = node_id
        self.primaries = list(primaries)
        self.done: set[str] = set()
        self._call = call
        self._install = install
        self._fresh: dict[str, set[bytes]] = {}  # primary -> keys newer than any page

    def fresh(self, primary: str, keys: Iterable[bytes]) -> None:
        """``keys`` of ``primary``'s slots were just written here (a copy, or in its place)."""
        under_way = self._fresh.get(primary)
        if under_way is not None:
            under_way.update(keys)

    async def run(self) -> None:
        await asyncio.gather(*(self.pull(p) for p in self.primaries))

    async def pull(self, primary: str) -> None:
        while True:
            self._fresh[primary] = set()
            try:
                start = True
                while True:
                    reply = await self._call(primary, rec.CacheResyncRequest(
                        replica=self.node_id, start=start))
                    skip = self._fresh[primary]
                    self._install([s for s in reply.keys if s.key not in skip])
                    if not reply.more:
                        self.done.add(primary)
                        return
                    start = False
            except Exception as exc:  # any failure: start over once the primary answers
                log.debug("cache copy from %s failed: %r", primary, exc)
            finally:
                del self._fresh[primary]
            await asyncio.sleep(RETRY_SECONDS)
