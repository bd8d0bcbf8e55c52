"""The thread that writes the consensus store's batches, and the handoff to it.

py-lmdb releases the GIL around every LMDB call. A writer thread that applied a batch
while the event loop kept running waited a GIL switch interval to get the GIL back
after each of those calls: a batch of four queue sends took 160 ms instead of 2 ms
against one busy thread. So the event loop blocks while the writer applies a batch (the
loop would hold the GIL anyway) and runs again while the writer commits and fsyncs,
with the GIL released; calls arriving meanwhile make the next batch. One plain thread
and two locks used as semaphores: an executor's submit and future chaining, then
threading.Event's condition variables, showed in profiles.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from engine.cluster.consensus.store import ConsensusStore, GroupOutcome, GroupWork


class BatchWriter:
    def __init__(self, store: ConsensusStore) -> None:
        self._store = store
        self._go = threading.Lock()  # released: a job (or the stop) is there
        self._written = threading.Lock()  # released: the job is applied
        self._go.acquire()
        self._written.acquire()
        self._job: tuple[asyncio.AbstractEventLoop, list[GroupWork],
                         asyncio.Future[list[GroupOutcome]]] | None = None
        self._computed: list[GroupOutcome] = []
        self._handed = False
        self._thread = threading.Thread(target=self._run, name="raft-writer", daemon=True)
        self._thread.start()

    def write(self, works: list[GroupWork]
              ) -> tuple[list[GroupOutcome], asyncio.Future[list[GroupOutcome]]]:
        """Apply ``works`` (blocking this thread until they are applied) and return the
        outcomes computed so far, and a future that resolves once they are durable."""
        loop = asyncio.get_running_loop()
        durable: asyncio.Future[list[GroupOutcome]] = loop.create_future()
        self._computed = []
        self._job = (loop, works, durable)
        self._go.release()
        self._written.acquire()
        return self._computed, durable

    def stop(self) -> None:
        """Wait for the batch in flight (if any) and end the thread."""
        if not self._thread.is_alive():
            return
        self._job = None
        self._go.release()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._go.acquire()
            job = self._job
            if job is None:
                return
            loop, works, durable = job
            self._handed = False
            try:
                outcomes = self._store.commit(works, self._done)
            except BaseException as exc:
                if not self._handed:  # failed before the work was done (begin)
                    self._done([])
                loop.call_soon_threadsafe(_settle, durable, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, durable, outcomes, None)

    def _done(self, outcomes: list[GroupOutcome]) -> None:
        self._computed = outcomes
        self._handed = True
        self._written.release()


def _settle(fut: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)
