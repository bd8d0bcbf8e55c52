"""One consensus group on this node: the asyncio face of a Raft member.

Callers submit commands (:meth:`ConsensusGroup.call`) and read state
(:meth:`ConsensusGroup.read`); the host (``host.py``) turns the protocol's output into
durable batches and network messages. A call returns once its command is committed by a
majority and applied on this node, with the machine's result or its rejection as an
``EngineError``. Commands carry an operation id, so a call re-proposed after a leader
change, a lost message or a timeout is applied once (the op-id memo returns the first
outcome).

Reads are linearizable by default: a ReadIndex round confirms that the leader still
leads and names the commit index the read must see, and the read runs once this node
has applied that far. ``stale_ok=True`` reads local state at once (it may lag the leader
by the replication delay); the caller says so explicitly.

A replica whose apply raises anything but ``Rejected`` stops serving the group
(``failure``): it answers nothing, votes for nobody and applies nothing further, so it
can never apply an entry over a gap. ``engine status`` shows it; a restart retries from
the failed entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from engine.clock import Clock
from engine.cluster.consensus.core import RaftCore
from engine.cluster.consensus.ids import new_op_id
from engine.cluster.consensus.log import RaftLog
from engine.cluster.consensus.machine import ReadKeyspace, ReplicatedStateMachine
from engine.cluster.consensus.protocol import Ready, Role
from engine.cluster.consensus.snapshot import SnapshotReceiver, SnapshotSender
from engine.cluster.consensus.store import ConsensusStore, GroupOutcome, GroupWork
from engine.errors import EngineError
from engine.v1.raft_pb2 import RaftCommand, RaftGroupStatus, RaftMessage, RaftResult
from engine.v1.raft_pb2 import RaftMessageType as T

if TYPE_CHECKING:
    from engine.cluster.consensus.host import ConsensusHost

log = logging.getLogger("engine.consensus")
R = TypeVar("R")
DEFAULT_TIMEOUT = 5.0
ATTEMPT_SECONDS = 1.5  # a proposal or read round not answered by then is sent again
# How long a call whose command was applied waits at least for its commit here (visible):
# reporting such a call unavailable would make its caller retry what already happened.
VISIBLE_GRACE_SECONDS = 5.0
KEEP_ENTRIES = 10_000  # log entries kept behind the applied index for slow followers
_rounds = itertools.count(1)


class ConsensusGroup:
    def __init__(self, host: ConsensusHost, name: str, members: list[str],
                 machines: list[ReplicatedStateMachine], store: ConsensusStore, clock: Clock,
                 *, election_ticks: int, unavailable: str) -> None:
        self.host = host
        self.name = name
        self.members = sorted(members)
        self.machines = {m.name: m for m in machines}
        self.store = store
        self.clock = clock
        self.unavailable = unavailable
        self.failure = ""
        record = store.open_group(name, self.machines)
        self.generation = int(record.generation)
        self.applied = int(record.applied)
        last = max(store.last_index(name), int(record.snap_index))
        raft_log = RaftLog(store.stable_log(name), int(record.snap_index),
                           int(record.snap_term), last, int(record.commit), self.applied)
        self.core = RaftCore(name, host.node_id, self.members, raft_log, term=int(record.term),
                             vote=record.vote, election_ticks=election_ticks)
        self._proposals: list[bytes] = []
        # op id -> (its RaftResult, the index its batch applied up to)
        self._waiting: dict[str, asyncio.Future[tuple[bytes, int]]] = {}
        self._round: asyncio.Future[int] | None = None  # readers waiting for the next round
        self._rounds: dict[bytes, asyncio.Future[int]] = {}
        self._applied_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._leader_seen = (self.core.term, self.core.leader)
        self._leader_event = asyncio.Event()
        self._listeners: list[Callable[[str, bytes], None]] = []
        self._restore_listeners: list[Callable[[], None]] = []
        self.sender = SnapshotSender(self)
        self.receiver = SnapshotReceiver(self)

    # -- state ---------------------------------------------------------------------------

    @property
    def leader(self) -> str:
        return self.core.leader if not self.failure else ""

    @property
    def is_leader(self) -> bool:
        return not self.failure and self.core.role is Role.LEADER

    @property
    def term(self) -> int:
        return self.core.term

    def status(self) -> RaftGroupStatus:
        core = self.core
        out = RaftGroupStatus(
            group=self.name, members=self.members, leader=self.leader, term=core.term,
            commit_index=core.log.committed, applied_index=self.applied,
            role="failed" if self.failure else core.role.value, failure=self.failure,
            first_index=core.log.first_index(), last_index=core.log.last_index())
        if core.role is Role.LEADER:
            out.match[self.host.node_id] = core.self_match
            for peer, pr in core.progress.items():
                out.match[peer] = pr.match
        return out

    def on_applied(self, listener: Callable[[str, bytes], None]) -> None:
        """Call ``listener(machine, payload)`` on the event loop after each applied
        command is durable (e.g. to wake long polls)."""
        self._listeners.append(listener)

    def on_restored(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after a snapshot replaced the state (no per-command
        notifications cover what it brought)."""
        self._restore_listeners.append(listener)

    # -- commands ------------------------------------------------------------------------

    async def call(self, machine: str, payload: bytes, *, op_id: str = "",
                   timeout: float | None = None, remember: bool = True,
                   visible: bool = True) -> bytes:
        """Propose a command and return its result once applied here.

        Raises the machine's rejection as ``EngineError(code)``; ``ServiceUnavailable``
        when no quorum commits it before the deadline (its outcome is then unknown: a
        retry with the same ``op_id`` is safe). ``remember=False`` is for commands whose
        second application is harmless: a retry applies them again, and they cost no
        memo entry (two B-tree writes, and the result kept for two minutes).

        A group of several members learns a result before the batch that applied it is
        committed here (host.py: it was durable on a majority already), and until that
        commit :meth:`read_local` still sees the state before it. With ``visible`` (the
        default) the call returns only once that commit is done, so whoever made a
        change reads it back on this node at once; ``visible=False`` is for callers that
        never read their own change locally (queue partitions: every read of theirs is
        a command too), saving them this node's fsync.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (DEFAULT_TIMEOUT if timeout is None else timeout)
        op_id = op_id or new_op_id()
        command = RaftCommand(machine=machine, payload=payload, op_id=op_id,
                              time_ns=self.clock.now_ns(), forget=not remember
                              ).SerializeToString()
        fut = self._waiting.get(op_id)
        if fut is None:
            fut = self._waiting[op_id] = loop.create_future()
        try:
            while True:
                self._check_serving()
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise EngineError("ServiceUnavailable", self.unavailable)
                if not self.core.leader:
                    await self._wait_leader(min(remaining, 0.2))
                    continue
                self._proposals.append(command)
                self.host.wake(self)
                await asyncio.wait((fut,), timeout=min(remaining, ATTEMPT_SECONDS))
                if fut.done():
                    data, applied_index = fut.result()
                    break
        finally:
            if self._waiting.get(op_id) is fut and not fut.done():
                del self._waiting[op_id]
        if visible:  # applied: its commit here is under way, give it time to land
            await self.wait_applied(applied_index,
                                    max(deadline - loop.time(), VISIBLE_GRACE_SECONDS))
        result = RaftResult.FromString(data)
        if result.error_code:
            raise EngineError(result.error_code, result.error_message or None)
        return bytes(result.payload)

    # -- reads ---------------------------------------------------------------------------

    async def read(self, machine: str, query: Callable[[ReadKeyspace], R], *,
                   stale_ok: bool = False, timeout: float | None = None) -> R:
        """Run ``query`` on the machine's state; linearizable unless ``stale_ok``."""
        if not stale_ok:
            await self.barrier(timeout)
        else:
            self._check_serving()
        return self.read_local(machine, query)

    def read_local(self, machine: str, query: Callable[[ReadKeyspace], R]) -> R:
        """This node's state as it is (what ``stale_ok`` reads use)."""
        return self.store.read(self.name, machine, self.generation, query)

    async def barrier(self, timeout: float | None = None) -> None:
        """Return once this node has applied everything committed before the call."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (DEFAULT_TIMEOUT if timeout is None else timeout)
        while True:
            self._check_serving()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise EngineError("ServiceUnavailable", self.unavailable)
            if not self.core.leader:
                await self._wait_leader(min(remaining, 0.2))
                continue
            if self._round is None:
                self._round = loop.create_future()
                self.host.wake(self)
            try:
                index = await asyncio.wait_for(asyncio.shield(self._round),
                                               min(remaining, ATTEMPT_SECONDS))
            except (TimeoutError, _RoundLost):
                continue
            await self.wait_applied(index, deadline - loop.time())
            return

    async def wait_applied(self, index: int, timeout: float) -> None:
        if self.applied >= index:
            return
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._applied_waiters, (index, id(fut), fut))
        try:
            await asyncio.wait_for(fut, max(timeout, 0.0))
        except TimeoutError:
            raise EngineError("ServiceUnavailable", self.unavailable) from None

    # -- the host's side -----------------------------------------------------------------

    def step(self, message: RaftMessage) -> None:
        if self.failure:
            return
        if message.type == T.RAFT_SNAPSHOT_ACK:
            self.sender.acked(message)
            return
        self.core.step(message)
        if message.type == T.RAFT_SNAPSHOT:
            self.receiver.chunk(message)

    def settle(self) -> None:
        """After the messages of a frame were stepped: send what they produced, wake the
        host if there is durable work (one pass per frame, not per message)."""
        if not self.failure:
            self._after_change()

    def tick(self) -> None:
        if not self.failure:
            self.core.tick()
            self._after_change()

    def prepare(self) -> tuple[Ready | None, GroupWork | None]:
        """Take what the protocol has to do now: messages to send at once, and the
        durable work for the next batch (None when there is none)."""
        if self.failure:
            return None, None
        core = self.core
        if self._proposals:
            proposals, self._proposals = self._proposals, []
            core.propose(proposals)  # without a leader they are dropped; callers retry
        if self._round is not None:
            fut, self._round = self._round, None
            context = next(_rounds).to_bytes(8, "big")
            if core.read_index(context):
                self._rounds[context] = fut
            else:
                fut.set_exception(_RoundLost())
                fut.exception()  # retrieved: the readers retry
        rd = core.ready() if core.has_ready() else None
        work = GroupWork(self.name, self.machines)
        if rd is not None:
            self.host.send(rd.messages)
            work.hard_state = rd.hard_state
            work.entries = rd.entries
            work.committed = rd.committed
            if rd.snapshot is not None:
                index, term, keep = rd.snapshot
                work.install = (index, term, keep, self.receiver.generation)
            if rd.snapshot_stale:
                work.discard = self.receiver.generation
        self.receiver.fill(work)
        self._compaction(work)
        busy = (work.hard_state or work.entries or work.committed or work.install
                or work.discard or work.chunks or work.compact)
        return rd, work if busy else None

    def finish(self, rd: Ready | None, outcome: GroupOutcome | None) -> None:
        """The batch holding this group's work is durable (or there was none)."""
        if outcome is not None and outcome.failure:
            self.fail(outcome.failure)
            return
        if rd is not None:
            self.host.send(rd.after_persist)
            if rd.snapshot is not None:
                self.generation = self.receiver.generation
                for machine in self.machines.values():
                    machine.restored()
                for listener in self._restore_listeners:
                    listener()
            if rd.snapshot is not None or rd.snapshot_stale:
                self.receiver.installed()
            for context, index in rd.reads:
                fut = self._rounds.pop(context, None)
                if fut is not None and not fut.done():
                    fut.set_result(index)
            for peer in rd.snapshots_wanted:
                self.sender.start(peer)
            self.core.advance(rd)
        self.receiver.committed()
        if outcome is not None:
            self.applied = max(self.applied, outcome.applied_index)
            self._deliver(outcome)
        self._after_change()

    def fail(self, reason: str, *, quiet: bool = False) -> None:
        """Stop serving the group on this node (an apply failed, or the disk did)."""
        if self.failure:
            return
        self.failure = reason
        if not quiet:
            log.error("group %s stops on this node: %s", self.name, reason)
        error = self._stopped()
        for fut in [*self._waiting.values(), *self._rounds.values(),
                    *(f for _, _, f in self._applied_waiters)]:
            if not fut.done():
                fut.set_exception(error)
                fut.exception()
        self._waiting.clear()
        self._rounds.clear()
        self._applied_waiters.clear()
        self.sender.stop()
        self._leader_event.set()

    def close(self) -> None:
        self.fail("the node is shutting down", quiet=True)

    # -- internals -----------------------------------------------------------------------

    def _check_serving(self) -> None:
        if self.failure:
            raise self._stopped()

    def _stopped(self) -> EngineError:
        return EngineError("ServiceUnavailable", f"group {self.name} stopped on this node "
                           f"({self.failure}); restart the node after fixing the cause")

    async def _wait_leader(self, timeout: float) -> None:
        event = self._leader_event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def _after_change(self) -> None:
        seen = (self.core.term, self.core.leader)
        if seen != self._leader_seen:
            self._leader_seen = seen
            lost = list(self._rounds.values())
            self._rounds.clear()
            for fut in lost:  # a round the old leader never answers: retry at once
                if not fut.done():
                    fut.set_exception(_RoundLost())
                    fut.exception()
            self._leader_event.set()
            self._leader_event = asyncio.Event()
        messages = self.core.messages()
        if messages:
            self.host.send(messages)
        if self.core.has_ready() or self._proposals:
            self.host.wake(self)

    def deliver_results(self, outcome: GroupOutcome) -> None:
        """Hand applied commands' results to the callers waiting for them."""
        for op_id, result in outcome.results:
            fut = self._waiting.pop(op_id, None) if op_id else None
            if fut is not None and not fut.done():
                fut.set_result((result, outcome.applied_index))

    def _deliver(self, outcome: GroupOutcome) -> None:
        self.deliver_results(outcome)  # if the host did not already
        for machine, payload in outcome.applied:
            for listener in self._listeners:
                try:
                    listener(machine, payload)
                except Exception:
                    log.exception("group %s: an apply listener failed", self.name)
        waiters = self._applied_waiters
        while waiters and waiters[0][0] <= self.applied:
            _, _, fut = heapq.heappop(waiters)
            if not fut.done():
                fut.set_result(None)

    def _compaction(self, work: GroupWork) -> None:
        """Drop log entries far behind the applied index: the state covers them."""
        raft_log = self.core.log
        if self.applied - raft_log.snap_index < 2 * self.host.keep_entries:
            return
        upto = self.applied - self.host.keep_entries
        term = raft_log.term(upto)
        if term is None:
            return
        raft_log.compacted(upto, term)  # the protocol forgets them before the disk does
        work.compact = (upto, term)


class _RoundLost(Exception):
    """A read round the leader will not answer (no leader, or it changed)."""
