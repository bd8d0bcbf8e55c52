"""One Raft group: a pysyncobj instance and the asyncio bridge to its replicated calls.

pysyncobj (the Raft library Patroni uses) runs a tick thread per group, with its own
TCP listener whose frames are encrypted with the cluster secret. A group hosts one or
more *consumers* (state machines whose ``@replicated`` methods run on every member in
log order). This module bridges pysyncobj's completion callbacks to asyncio futures,
bounds every call with a deadline (no quorum -> ``ServiceUnavailable``) and re-sends a
call whose outcome it did not hear; consumers make that safe with operation ids.

A group of one member (a single node) commits on its own. pysyncobj then has nothing
that wakes its poller after it appends an entry, so the commit would wait for the next
tick (50 ms); the group pokes the poller while calls are pending instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, SyncObjConsumer
from pysyncobj.node import TCPNode
from pysyncobj.syncobj import SyncObjException

from engine.cluster.raft_snapshot import SnapshotWriter
from engine.errors import EngineError

JOURNAL_FILE = "raft.journal"  # every log entry (pysyncobj adds raft.journal.meta beside it)
DUMP_FILE = "raft.dump"  # the full state as of the last log compaction
DUMP_JOIN_SECONDS = 30.0  # close() waits this long for a dump being written
DEFAULT_TIMEOUT = 5.0
# One attempt waits at most this long for its outcome; then the call is re-sent (safe:
# operation ids make it idempotent). Covers messages lost on a dropped connection.
ATTEMPT_TIMEOUT = 2.0
_CLOSED = -1  # a failure code of our own, for calls woken by close()
MEMO_LIMIT = 10_000  # operation ids whose outcome a state machine remembers
T = TypeVar("T")


def new_op_id() -> str:
    """An operation id: replicated calls carry one so a re-sent call applies once."""
    return uuid.uuid4().hex


def remember(memo: dict[str, Any], op_id: str, result: T, limit: int = MEMO_LIMIT) -> T:
    """Record an operation's outcome in a state machine's memo, oldest out past limit."""
    memo[op_id] = result
    while len(memo) > limit:
        del memo[next(iter(memo))]
    return result


class RaftGroup:
    """This node's member of one Raft group, with an asyncio API.

    Construct it on a long-lived thread (the main thread): pysyncobj's tick thread stops
    when the thread that created it ends. ``peer_addresses`` is the whole fixed
    membership (it may include ``self_address``); every address is ``host:port`` of a
    member's Raft listener. ``self_address`` may use port 0 for a group of one.
    """

    def __init__(
        self,
        self_address: str,
        peer_addresses: Sequence[str],
        secret: str,
        state_dir: Path,
        consumers: Sequence[SyncObjConsumer],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        unavailable: str = "no quorum",
        log_compaction_entries: int = 5000,
    ) -> None:
        self.peers = sorted({p for p in peer_addresses if p != self_address})
        if not secret:
            if self.peers:
                raise ValueError("a Raft group with peers needs the cluster secret")
            secret = secrets.token_hex(16)  # a group of one: nobody may join it
        state_dir.mkdir(parents=True, exist_ok=True)
        self._timeout = timeout
        self._unavailable = unavailable
        self._closed = False
        self._pending: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = set()
        self.address = self_address
        self._snapshots = SnapshotWriter(state_dir / DUMP_FILE, consumers)
        conf = SyncObjConf(
            password=secret,  # Fernet (AES-CBC + HMAC) on every frame, key from PBKDF2
            journalFile=str(state_dir / JOURNAL_FILE),
            fullDumpFile=str(state_dir / DUMP_FILE),
            dynamicMembershipChange=False,  # membership comes from the topology file
            # pysyncobj binds 0.0.0.0 unless told otherwise; listen where we were told.
            bindAddress=self_address,
            maxBindRetries=1,  # a taken port fails the constructor instead of retrying forever
            # Timeouts for a LAN (pysyncobj's defaults for elections, shorter otherwise).
            raftMinTimeout=0.4 if self.peers else 0.31,
            raftMaxTimeout=1.4 if self.peers else 0.4,
            appendEntriesPeriod=0.1,
            connectionTimeout=2.0,
            connectionRetryTime=0.5,
            leaderFallbackTimeout=2.5,  # a leader cut off from the majority steps down
            # Latency over throughput: send entries and commit indexes at once, not per tick.
            appendEntriesUseBatch=False,
            # Fail fast without a leader (we retry until our deadline) rather than queueing
            # commands that would apply long after the caller was told ServiceUnavailable.
            commandsWaitLeader=False,
            useFork=False,  # no fork() in a process with gRPC threads
            logCompactionMinEntries=log_compaction_entries,
            # Dumps captured in the tick thread, written by another (raft_snapshot.py).
            serializer=self._snapshots.serialize,
            deserializer=self._snapshots.deserialize,
            serializeChecker=self._snapshots.check,
        )
        self._obj = SyncObj(self_address, self.peers, conf=conf, consumers=list(consumers))
        try:
            self._obj.waitBinded()
        except SyncObjException as exc:
            self._obj._doDestroy()  # the tick thread has already exited
            self._closed = True
            raise OSError(f"cannot listen for Raft on {self_address}") from exc
        if not self.peers:
            self._obj.addOnTickCallback(self._poke_alone)

    # -- status (advisory: a node's view may be stale, as in any Raft) -------------------

    @property
    def leader(self) -> str | None:
        """The leader this node last heard of, or None during an election."""
        node = self._obj._getLeader()
        return None if node is None else str(node.id)

    @property
    def is_leader(self) -> bool:
        return bool(self._obj._isLeader())

    @property
    def term(self) -> int:
        return int(self._obj.raftCurrentTerm)

    def connected_peers(self) -> list[str]:
        """Peers with an authenticated connection (a peer with another secret never is)."""
        return [p for p in self.peers if self._obj.isNodeConnected(TCPNode(p))]

    def compact(self) -> None:
        """Ask for a log compaction now: writes the full dump, truncates the journal."""
        self._obj.forceLogCompaction()

    # -- calls -----------------------------------------------------------------------------

    async def call(self, method: Callable[..., Any], *args: Any,
                   timeout: float | None = None) -> Any:
        """Submit a replicated call and await its outcome, re-sending until the deadline.

        Every failure pysyncobj reports (no leader yet, leader changed, entry discarded,
        queue full) and every attempt that hears nothing within ATTEMPT_TIMEOUT leads to
        another attempt with the same arguments; the operation id inside them makes
        that idempotent. The result is returned once the entry is committed by a
        majority and applied on this node.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._timeout if timeout is None else timeout)
        delay = 0.02
        while not self._closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            fut: asyncio.Future[tuple[Any, int]] = loop.create_future()
            self._pending.add((loop, fut))
            try:
                method(*args, callback=_bridge(loop, fut))
                result, err = await asyncio.wait_for(fut, min(remaining, ATTEMPT_TIMEOUT))
            except TimeoutError:
                continue
            finally:
                self._pending.discard((loop, fut))
            if err == FAIL_REASON.SUCCESS:
                return result
            await asyncio.sleep(max(0.0, min(delay, deadline - loop.time())))
            delay = min(delay * 2, 0.25)
        raise EngineError("ServiceUnavailable", self._unavailable)

    def close(self) -> None:
        """Stop pysyncobj: close its sockets and journal and join its tick thread.

        Blocks for about one tick (50 ms), or until a dump being written is on disk.
        Calls made afterwards, and calls still waiting, end with ServiceUnavailable.
        """
        if self._closed:
            return
        self._closed = True
        for loop, fut in list(self._pending):
            with contextlib.suppress(RuntimeError):  # that loop is closed already
                loop.call_soon_threadsafe(_resolve, fut, None, _CLOSED)
        if self._obj.tick_thread_alive():
            self._obj.destroy_synchronous()
        else:  # the tick thread ended on its own (its creator thread ended)
            self._obj._doDestroy()
        self._snapshots.join(DUMP_JOIN_SECONDS)

    def _poke_alone(self) -> None:
        """Tick callback of a one-member group: when this tick appended entries, wake the
        poller so they commit on the next tick instead of 50 ms later."""
        obj = self._obj
        log = obj._SyncObj__raftLog  # pysyncobj's journal; [-1] is (command, index, term)
        if len(log) and log[-1][1] > obj.raftCommitIndex:
            obj._SyncObj__pipeNotifier.notify()  # pysyncobj's own wake-up pipe


def _bridge(
    loop: asyncio.AbstractEventLoop, fut: asyncio.Future[tuple[Any, int]]
) -> Callable[[Any, int], None]:
    """A pysyncobj callback that resolves ``fut`` on its loop.

    It runs in the tick thread, in the middle of applying the log: an exception there
    would make pysyncobj apply the entry again, so it swallows everything (a closed loop
    means nobody waits any more).
    """

    def callback(result: Any, err: int) -> None:
        with contextlib.suppress(Exception):  # loop closed: nobody waits any more
            loop.call_soon_threadsafe(_resolve, fut, result, err)

    return callback


def _resolve(fut: asyncio.Future[tuple[Any, int]], result: Any, err: int) -> None:
    if not fut.done():
        fut.set_result((result, err))
