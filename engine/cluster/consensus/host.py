"""Every consensus group of one node, driven by one loop and one writer thread.

The host turns each group's protocol output into work: messages go to the transport at
once; durable work (votes, new entries, committed commands to apply, snapshot chunks,
log compaction) of *all* groups that have some is written in one LMDB transaction on a
single writer thread and fsynced once. While that batch is being written, messages
keep arriving and commands keep being proposed; they form the next batch. That is the
group commit: the fsync rate, not the command rate, bounds the batches, and many
commands share each fsync.

Ordering per group: a batch's messages that promise durability (votes, append
acknowledgements) leave only after the batch is durable; a leader's appends leave at
once, and the leader counts its own copy only once durable (``core.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from engine.clock import Clock
from engine.cluster.consensus.group import KEEP_ENTRIES, ConsensusGroup
from engine.cluster.consensus.machine import ReplicatedStateMachine
from engine.cluster.consensus.store import ConsensusStore, GroupOutcome, GroupWork
from engine.cluster.consensus.writer import BatchWriter
from engine.v1.raft_pb2 import RaftMessage

log = logging.getLogger("engine.consensus")
TICK_SECONDS = 0.1  # heartbeat interval
ELECTION_TICKS = 10  # election timeout: 10-20 ticks (1-2 s)


class Transport(Protocol):
    def send(self, messages: list[RaftMessage]) -> None:
        """Queue messages for their recipients; never blocks, may drop (Raft retries)."""
        ...


class ConsensusHost:
    def __init__(self, node_id: str, store: ConsensusStore, clock: Clock, *,
                 tick_seconds: float | None = TICK_SECONDS,
                 election_ticks: int = ELECTION_TICKS,
                 keep_entries: int = KEEP_ENTRIES) -> None:
        self.node_id = node_id
        self.store = store
        self.clock = clock
        self.transport: Transport | None = None
        self.groups: dict[str, ConsensusGroup] = {}
        self.keep_entries = keep_entries
        self.reader_pool = ThreadPoolExecutor(2, "raft-snapshot")
        self._writer = BatchWriter(store)
        self._tick_seconds = tick_seconds
        self._election_ticks = election_ticks
        self._dirty: dict[ConsensusGroup, None] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    def add_group(self, name: str, members: Iterable[str],
                  machines: Iterable[ReplicatedStateMachine], *,
                  unavailable: str = "") -> ConsensusGroup:
        """Host this node's member of a group (before ``start``)."""
        if name in self.groups:
            raise ValueError(f"group {name} is already hosted")
        group = ConsensusGroup(self, name, list(members), list(machines), self.store,
                               self.clock, election_ticks=self._election_ticks,
                               unavailable=unavailable or f"group {name} has no quorum")
        self.groups[name] = group
        return group

    async def start(self) -> None:
        for group in self.groups.values():
            if len(group.members) == 1:
                group.core.campaign()  # a group of one leads at once
            self.wake(group)
        self._tasks.append(asyncio.ensure_future(self._flush_forever()))
        if self._tick_seconds is not None:
            self._tasks.append(asyncio.ensure_future(self._tick_forever(self._tick_seconds)))

    async def close(self) -> None:
        """Stop: callers still waiting get ServiceUnavailable; the store is closed once
        the batch being written (if any) is on disk. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        transfers = [t for group in self.groups.values() for t in group.sender.stop()]
        for group in self.groups.values():
            group.close()
        for task in transfers:  # each ends its read transaction in the reader pool
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # At most one batch is being written: waiting for it blocks the loop briefly, at
        # shutdown only (the loop's default executor may already be gone).
        self._writer.stop()
        self.reader_pool.shutdown(wait=True, cancel_futures=True)
        self.store.close()

    # -- what groups and the transport call ----------------------------------------------

    def wake(self, group: ConsensusGroup) -> None:
        self._dirty[group] = None
        self._wake.set()

    def send(self, messages: list[RaftMessage]) -> None:
        if messages and self.transport is not None and not self._closed:
            self.transport.send(messages)

    def receive(self, messages: Iterable[RaftMessage]) -> None:
        """Messages from peers (the transport's server side)."""
        if self._closed:
            return
        touched: dict[ConsensusGroup, None] = {}
        for message in messages:
            group = self.groups.get(message.group)
            if group is not None and message.to == self.node_id:
                self._guarded(group, group.step, message)
                touched[group] = None
        for group in touched:
            self._guarded(group, group.settle)

    def tick(self) -> None:
        for group in self.groups.values():
            self._guarded(group, group.tick)

    @staticmethod
    def _guarded(group: ConsensusGroup, step: Callable[..., None], *args: object) -> None:
        """A protocol invariant broken (a bug): that group stops here, the others go on."""
        try:
            step(*args)
        except Exception as exc:
            log.exception("group %s: the protocol failed", group.name)
            group.fail(f"internal error: {type(exc).__name__}: {exc}")

    # -- the loops -----------------------------------------------------------------------

    async def _write(self, prepared: list[tuple[ConsensusGroup, GroupWork]]
                     ) -> list[GroupOutcome]:
        """One batch, through the writer thread (writer.py says why this thread blocks
        while the batch is applied).

        Results of commands a group of several members applied are handed to their
        callers before the fsync: those commands were committed, i.e. durable on a
        majority, before this batch; this batch only records their effect here, which a
        restart would recompute from the log. (A group of one commits in the batch that
        makes its entries durable: its callers wait for the fsync.)"""
        computed, durable = self._writer.write([work for _, work in prepared])
        if computed:
            for (group, _), outcome in zip(prepared, computed, strict=True):
                if len(group.members) > 1 and not outcome.failure:
                    group.deliver_results(outcome)
        return await durable

    async def _tick_forever(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.tick()

    async def _flush_forever(self) -> None:
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            dirty = list(self._dirty)
            self._dirty.clear()
            prepared = []
            for group in dirty:
                try:
                    rd, work = group.prepare()
                except Exception as exc:
                    log.exception("group %s: preparing a batch failed", group.name)
                    group.fail(f"internal error: {exc}")
                    continue
                if rd is not None or work is not None:
                    prepared.append((group, rd, work))
            works = [w for _, _, w in prepared if w is not None]
            outcomes = []
            if works:
                try:
                    outcomes = await self._write([(g, w) for g, _, w in prepared
                                                  if w is not None])
                except Exception as exc:  # disk full, I/O error: nothing of it is durable
                    log.exception("the consensus store could not write a batch")
                    for group, _, work in prepared:
                        if work is not None:
                            group.fail(f"the consensus store failed: {exc}")
                    continue
            by_work = {id(w): o for w, o in zip(works, outcomes, strict=True)}
            for group, rd, work in prepared:
                try:
                    group.finish(rd, by_work.get(id(work)) if work is not None else None)
                except Exception as exc:
                    log.exception("group %s: finishing a batch failed", group.name)
                    group.fail(f"internal error: {exc}")
