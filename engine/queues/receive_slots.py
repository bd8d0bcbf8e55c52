"""Turns for long polls: at most a few receive commands of one queue in flight per node.

A send wakes every long poll of its queue. If each of a thousand woken polls put a
receive command in the partition's log, all but the first few would come back empty and
the log would pay for a thousand replicated commands per message: a thundering herd that
slows every other call of the group. Instead the woken polls take turns, a few at a time,
and each checks again that the queue still has something before it proposes a receive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

PER_QUEUE = 4


class ReceiveSlots:
    def __init__(self, per_queue: int = PER_QUEUE) -> None:
        self._per_queue = per_queue
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, queue: str) -> AsyncIterator[bool]:
        """Hold one of the queue's turns; yields whether it had to wait for it (then what
        woke the caller may be gone: check again)."""
        slot = self._slots.get(queue)
        if slot is None:
            slot = self._slots[queue] = (asyncio.Semaphore(self._per_queue), [0])
        semaphore, users = slot
        users[0] += 1
        try:
            waited = semaphore.locked()
            async with semaphore:
                yield waited
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._slots[queue]
