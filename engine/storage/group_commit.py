"""Group commit: concurrent metadata updates on a drive share one LMDB transaction.

LMDB has a single writer and every committed transaction is fsynced, so committing
each small PUT on its own makes writers queue behind one fsync each. A single committer
thread takes every update waiting at that moment and applies each in a nested
transaction of one outer transaction: an update that raises (a failed precondition)
rolls back alone, the others commit together with one fsync. Each caller is answered
only after that commit, so "acknowledged means durable" still holds.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import lmdb

Work = Callable[[lmdb.Transaction], Any]
MAX_BATCH = 256
_STOP = object()


class GroupCommitter:
    def __init__(self, env: lmdb.Environment, name: str) -> None:
        self._env = env
        self._queue: queue.SimpleQueue[tuple[Work, Future[Any]] | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"commit-{name}", daemon=True)
        self._thread.start()

    async def submit(self, work: Work) -> Any:
        """Run `work(txn)` in the next batch; its result once the batch is durable."""
        future: Future[Any] = Future()
        self._queue.put((work, future))
        return await asyncio.wrap_future(future)

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            batch: list[tuple[Work, Future[Any]]] = []
            item = self._queue.get()
            stopping = item is _STOP
            while not stopping:
                work, future = item  # type: ignore[misc]
                if future.set_running_or_notify_cancel():  # its caller may have left
                    batch.append((work, future))
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                stopping = item is _STOP
            if batch:
                self._commit(batch)
            if stopping:
                return

    def _commit(self, batch: list[tuple[Work, Future[Any]]]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._env.begin(write=True) as txn:
                for work, _ in batch:
                    nested = self._env.begin(write=True, parent=txn)
                    try:
                        result = work(nested)
                    except Exception as exc:
                        nested.abort()
                        outcomes.append((False, exc))
                    else:
                        nested.commit()
                        outcomes.append((True, result))
        except Exception as exc:
            outcomes = [(False, exc)] * len(batch)
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
