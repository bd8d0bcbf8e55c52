"""Sending a group's state to a follower that is behind the leader's log, in chunks.

The leader reads the state inside one LMDB read transaction (a consistent copy as of
one applied index, taken without pausing the log: writers carry on beside it), off the
event loop, in chunks of about 1 MiB. At most ``WINDOW`` chunks are unacknowledged; the
follower acknowledges a chunk once it is durable in its staging generation, so neither
side holds more than a few MiB however large the state. The follower installs the
snapshot with one transaction when the last chunk is durable (``store.py``).

A transfer that stalls (no acknowledgement for ``ACK_SECONDS``), loses its leader or is
refused is abandoned; the protocol asks for a new one when the follower is still behind.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

from engine.cluster.consensus.protocol import Role
from engine.cluster.consensus.store import GroupWork
from engine.v1.raft_pb2 import RaftMessage, SnapshotPair
from engine.v1.raft_pb2 import RaftMessageType as T

if TYPE_CHECKING:
    from engine.cluster.consensus.group import ConsensusGroup

log = logging.getLogger("engine.consensus")
CHUNK_BYTES = 1 << 20
WINDOW = 4
ACK_SECONDS = 10.0


class _Refused(Exception):
    pass


class _Transfer:
    def __init__(self, ident: int) -> None:
        self.ident = ident
        self.acked = -1
        self.refused = False
        self.changed = asyncio.Event()

    async def until(self, sequence: int) -> None:
        while self.acked < sequence:
            if self.refused:
                raise _Refused()
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), ACK_SECONDS)
        if self.refused:
            raise _Refused()


def _next_chunk(pairs: Iterator[SnapshotPair]) -> tuple[list[SnapshotPair], bool]:
    """Up to CHUNK_BYTES of pairs, and whether the stream ended (worker thread)."""
    out: list[SnapshotPair] = []
    size = 0
    for pair in pairs:
        out.append(pair)
        size += len(pair.key) + len(pair.value) + 16
        if size >= CHUNK_BYTES:
            return out, False
    return out, True


class SnapshotSender:
    def __init__(self, group: ConsensusGroup) -> None:
        self.group = group
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._transfers: dict[str, _Transfer] = {}

    def start(self, peer: str) -> None:
        if peer not in self._tasks:
            task = asyncio.ensure_future(self._send(peer))
            self._tasks[peer] = task
            task.add_done_callback(lambda _: self._tasks.pop(peer, None))

    def acked(self, message: RaftMessage) -> None:
        transfer = self._transfers.get(message.sender)
        if transfer is None or transfer.ident != message.snapshot_id:
            return
        if message.reject:
            transfer.refused = True
        transfer.acked = max(transfer.acked, int(message.sequence))
        transfer.changed.set()

    def stop(self) -> list[asyncio.Task[None]]:
        """Cancel the transfers; the caller awaits them before closing the reader pool
        and the store, since each still has to end its read transaction."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        return tasks

    async def _send(self, peer: str) -> None:
        group = self.group
        core = group.core
        term = core.term
        loop = asyncio.get_running_loop()
        pool = group.host.reader_pool
        view = await loop.run_in_executor(pool, group.store.snapshot_view, group.name,
                                          list(group.machines))
        transfer = _Transfer(secrets.randbits(62) + 1)
        self._transfers[peer] = transfer
        sent_index: int | None = None
        log.info("group %s: sending %s a snapshot at index %d", group.name, peer, view.index)
        try:
            pairs = iter(view.pairs(group.machines))
            sequence = 0
            while True:
                chunk, last = await loop.run_in_executor(pool, _next_chunk, pairs)
                if core.role is not Role.LEADER or core.term != term:
                    return
                msg = RaftMessage(group=group.name, type=T.RAFT_SNAPSHOT,
                                  sender=group.host.node_id, to=peer, term=term,
                                  index=view.index, log_term=view.term, snapshot_id=transfer.ident,
                                  sequence=sequence, last=last, pairs=chunk)
                group.host.send([msg])
                await transfer.until(sequence if last else sequence - WINDOW + 1)
                if last:
                    sent_index = view.index
                    return
                sequence += 1
        except (TimeoutError, _Refused):
            log.warning("group %s: snapshot to %s abandoned", group.name, peer)
        finally:
            self._transfers.pop(peer, None)
            await loop.run_in_executor(pool, view.close)
            if not group.failure:
                core.snapshot_done(peer, sent_index)
                group.host.wake(group)


class SnapshotReceiver:
    """A follower's side: stage chunks durably, acknowledge each, then install."""

    def __init__(self, group: ConsensusGroup) -> None:
        self.group = group
        self.generation = group.generation + 1  # where a transfer is staged
        self._transfer = 0
        self._expected = 0
        self._installing = False
        self._pending: list[tuple[int, list[SnapshotPair], bool]] = []
        self._acks: list[RaftMessage] = []  # for chunks in the batch being written
        self._queued_acks: list[RaftMessage] = []
        self._last: tuple[int, int] | None = None  # (index, term) once the last chunk came
        self._complete: tuple[int, int] | None = None

    def chunk(self, m: RaftMessage) -> None:
        """A chunk from the leader (after the protocol saw the message)."""
        core = self.group.core
        if core.term != m.term or core.leader != m.sender or self._installing:
            return  # stale, or we are installing one: the leader retries later
        if m.sequence == 0:
            self._transfer = m.snapshot_id
            self._expected = 0
            self._last = None
            self.generation = self.group.generation + 1
        ack = RaftMessage(group=m.group, type=T.RAFT_SNAPSHOT_ACK, sender=m.to,
                          to=m.sender, term=core.term, snapshot_id=m.snapshot_id,
                          sequence=m.sequence)
        if m.snapshot_id != self._transfer or m.sequence != self._expected:
            ack.reject = True
            self.group.host.send([ack])
            return
        self._expected += 1
        self._pending.append((self.generation, list(m.pairs), m.sequence == 0))
        self._queued_acks.append(ack)
        if m.last:
            self._last = (int(m.index), int(m.log_term))
        self.group.host.wake(self.group)

    def fill(self, work: GroupWork) -> None:
        """Hand the staged chunks to the next batch (the last one is always among them)."""
        work.chunks, self._pending = self._pending, []
        self._acks, self._queued_acks = self._queued_acks, []
        if self._last is not None:
            self._complete, self._last = self._last, None

    def committed(self) -> None:
        """The batch that held the staged chunks is durable: acknowledge them, and
        install once the last one is."""
        acks, self._acks = self._acks, []
        if acks:
            self.group.host.send(acks)
        if self._complete is not None:
            index, term = self._complete
            self._complete = None
            if self.group.core.restore(index, term):
                self._installing = True
            self.group.host.wake(self.group)

    def installed(self) -> None:
        self._installing = False
        self._transfer = 0
        self.generation = self.group.generation + 1

