"""Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, ...): one asyncio future each, no
thread, queued per store key in the order they blocked.

A blocked client hands over the non-blocking command that would serve it (LMPOP, LMOVE,
ZMPOP). After every write the node runs (``CacheService._local``), :meth:`Waiters.serve`
runs those commands for the clients blocked on the keys written, longest-waiting first,
in the same loop step as the write: as Redis serves its ready keys before the next
command, no other client can take the data in between, and the keys the pops wrote are
copied to the replica with the write that woke them. A pop that finds nothing (the key
is still empty, or holds another type) leaves its client blocked where it was.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterable

from engine.cache.local import execute
from engine.cache.store import CacheStore
from engine.errors import EngineError
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_records_pb2 as rec


class Waiter:
    """One blocked client: the store keys it waits on, the command that serves it, and
    the future its connection awaits (set to the command's reply)."""

    __slots__ = ("call", "future", "keys")

    def __init__(self, keys: list[bytes], call: rec.CacheCall,
                 future: asyncio.Future[pb.CacheValue | None]) -> None:
        self.keys = keys
        self.call = call
        self.future = future


class Waiters:
    def __init__(self, store: CacheStore) -> None:
        self._store = store
        self._by_key: dict[bytes, collections.deque[Waiter]] = {}

    def __len__(self) -> int:
        """How many keys have clients blocked on them (Redis's ``blocking_keys``)."""
        return len(self._by_key)

    def clients(self) -> int:
        return len({id(w) for queue in self._by_key.values() for w in queue})

    def any_stored(self, keys: Iterable[bytes]) -> bool:
        """Whether any of ``keys`` holds a value now (touching nothing)."""
        return any(self._store.peek(key) is not None for key in keys)

    def add(self, keys: Iterable[bytes], call: rec.CacheCall) -> Waiter:
        """Block on ``keys`` (store keys) until ``call`` returns something other than
        null after a write to one of them."""
        unique = list(dict.fromkeys(keys))
        waiter = Waiter(unique, call, asyncio.get_running_loop().create_future())
        for key in unique:
            self._by_key.setdefault(key, collections.deque()).append(waiter)
        return waiter

    def remove(self, waiter: Waiter) -> None:
        """Unblock (served, timed out, disconnected); again is harmless."""
        for key in waiter.keys:
            queue = self._by_key.get(key)
            if queue is None:
                continue
            try:
                queue.remove(waiter)
            except ValueError:
                continue
            if not queue:
                del self._by_key[key]

    def serve(self, written: Iterable[bytes]) -> list[bytes]:
        """After a write of ``written``: serve the clients blocked on those keys, FIFO
        per key, while their commands find data; the store keys those commands wrote."""
        if not self._by_key:
            return []
        extra: list[bytes] = []
        ready = collections.deque(dict.fromkeys(written))
        while ready:
            key = ready.popleft()
            queue = self._by_key.get(key)
            while queue:
                waiter = queue[0]
                if waiter.future.done():  # given up on without being removed: never served
                    self.remove(waiter)
                    queue = self._by_key.get(key)
                    continue
                try:
                    reply, wrote = execute(self._store, waiter.call)
                except EngineError:
                    break  # another type now: stays blocked, as in Redis 7.0
                if reply.value.WhichOneof("kind") in (None, "null"):
                    break
                self.remove(waiter)
                waiter.future.set_result(reply.value)
                extra += wrote
                ready.extend(k for k in wrote if k != key)  # BLMOVE's destination
                queue = self._by_key.get(key)
        return extra
