"""An asyncio event loop on a virtual clock, for timed code under test that has no real
I/O: whenever every coroutine waits on a timer, the clock jumps to the next one instead
of sleeping. Time then passes only by sleeps and timeouts, never by the CPU work in
between, so a timed bench phase against an in-memory fake does exactly the same ops on a
fast machine, a slow one or a loaded one (and takes no wall time for its sleeps).

Everything under test must read time from the loop (`loop.time()`, as asyncio's timers
do, or engine.bench.runner.loop_ns); a thread or real socket would see time jump.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
START_S = 1000.0  # a monotonic clock is never near zero; neither is this one


class _JumpingSelector(selectors.DefaultSelector):
    """Polls real file descriptors without waiting; a wait it was asked for moves the
    loop's clock instead."""

    def __init__(self, loop: VirtualClockLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:  # no timer at all: only I/O can wake the loop, wait for it
            return super().select(None)
        events = super().select(0)
        if not events and timeout > 0:
            self._loop.now += timeout
        return events


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.now = START_S
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main) on a VirtualClockLoop."""
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        return runner.run(main)
