"""The cluster-wide bucket table: bucket name -> BucketRecord, replicated with Raft.

Bucket names are global and few, so every node keeps the whole table, replicated by
pysyncobj (the Raft library Patroni uses): a change is an entry in the Raft log and
takes effect once a majority has stored it; every node applies the log in the same
order. Decisions that must be unique ("does this name exist yet?") are made inside
the replicated apply functions, so of two concurrent creations of a name on
different nodes exactly one wins.

pysyncobj runs a tick thread per node (its own TCP server and poller, traffic
encrypted with the cluster secret). This module bridges its completion callbacks to
asyncio futures, bounds every call with a deadline (no quorum ->
``ServiceUnavailable``) and makes retries safe with per-operation ids. Reads of a
name this node does not know first pass a replicated no-op (a read barrier), so a
bucket created on any node is visible on every node as soon as creation returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, SyncObjConsumer, replicated
from pysyncobj.node import TCPNode
from pysyncobj.syncobj import SyncObjException

from engine.clock import Clock
from engine.errors import EngineError
from engine.v1.records_pb2 import BucketRecord

JOURNAL_FILE = "raft.journal"  # every log entry (pysyncobj adds raft.journal.meta beside it)
DUMP_FILE = "raft.dump"  # the full table as of the last log compaction
DEFAULT_TIMEOUT = 5.0
# One attempt waits at most this long for its outcome; then the call is re-sent (safe:
# the operation id makes it idempotent). Covers messages lost on a dropped connection.
ATTEMPT_TIMEOUT = 2.0
MEMO_LIMIT = 10_000  # operation ids whose outcome the state machine remembers

_NO_QUORUM = "bucket metadata has no quorum"
_CLOSED = -1  # a failure code of our own, for calls woken by close()


def _unavailable() -> EngineError:
    return EngineError("ServiceUnavailable", _NO_QUORUM)


class _BucketLog(SyncObjConsumer):
    """The replicated state machine: ``dict[str, bytes]`` of serialized BucketRecords.

    Methods marked ``@replicated`` run on every node in log order, in pysyncobj's tick
    thread. They must be deterministic and must not raise: pysyncobj would re-apply the
    entry on the next tick. ``_memo`` remembers the result of the last MEMO_LIMIT
    operations by id, so a call re-sent after an unknown outcome (leader change) returns
    the first outcome instead of applying twice. Both dicts are serialized into the
    full dump; the lock is created before ``SyncObjConsumer.__init__`` so it is not.
    A consumer rather than state on a SyncObj subclass: it exists before pysyncobj's
    tick thread starts replaying the journal, which a subclass's attributes would not.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        super().__init__()
        self._buckets: dict[str, bytes] = {}
        self._memo: dict[str, bool] = {}

    def _remember(self, op_id: str, result: bool) -> bool:
        self._memo[op_id] = result
        while len(self._memo) > MEMO_LIMIT:
            del self._memo[next(iter(self._memo))]
        return result

    @replicated
    def create(self, name: str, data: bytes, op_id: str) -> bool:
        with self._lock:
            if op_id in self._memo:
                return self._memo[op_id]
            if name in self._buckets:
                return self._remember(op_id, False)
            self._buckets[name] = data
            return self._remember(op_id, True)

    @replicated
    def update(self, name: str, data: bytes, op_id: str) -> bool:
        with self._lock:
            if op_id in self._memo:
                return self._memo[op_id]
            if name not in self._buckets:
                return self._remember(op_id, False)
            self._buckets[name] = data
            return self._remember(op_id, True)

    @replicated
    def delete(self, name: str, op_id: str) -> bool:
        with self._lock:
            if op_id in self._memo:
                return self._memo[op_id]
            return self._remember(op_id, self._buckets.pop(name, None) is not None)

    @replicated
    def barrier(self) -> None:
        """A no-op entry: when it is applied here, so is everything committed before it."""

    def lookup(self, name: str) -> bytes | None:
        with self._lock:
            return self._buckets.get(name)

    def snapshot(self) -> list[bytes]:
        with self._lock:
            return [self._buckets[k] for k in sorted(self._buckets)]


class RaftBucketTable:
    """This node's replica of the cluster-wide bucket table, with an asyncio API.

    Construct it on a long-lived thread (the main thread): pysyncobj's tick thread stops
    when the thread that created it ends. ``peer_addresses`` is the whole fixed
    membership (it may include ``self_address``); every address is ``host:port`` of a
    node's Raft listener. Mutations return once the change is committed and applied on
    this node; without a quorum they raise ``ServiceUnavailable`` after ``timeout``
    seconds, and their outcome is then unknown (a retry is safe to make).
    """

    def __init__(
        self,
        self_address: str,
        peer_addresses: list[str],
        secret: str,
        state_dir: Path,
        *,
        clock: Clock,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not secret:
            raise ValueError("the bucket table needs the cluster secret")
        state_dir.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._timeout = timeout
        self._closed = False
        self._pending: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = set()
        self.address = self_address
        self.peers = sorted({p for p in peer_addresses if p != self_address})
        self._log = _BucketLog()
        conf = SyncObjConf(
            password=secret,  # Fernet (AES-CBC + HMAC) on every frame, key from PBKDF2
            journalFile=str(state_dir / JOURNAL_FILE),
            fullDumpFile=str(state_dir / DUMP_FILE),
            dynamicMembershipChange=False,  # membership comes from the topology file
            # pysyncobj binds 0.0.0.0 unless told otherwise; listen where we were told.
            bindAddress=self_address,
            maxBindRetries=1,  # a taken port fails the constructor instead of retrying forever
            # Timeouts for a LAN (pysyncobj's defaults for elections, shorter otherwise).
            raftMinTimeout=0.4,
            raftMaxTimeout=1.4,
            appendEntriesPeriod=0.1,
            connectionTimeout=2.0,
            connectionRetryTime=0.5,
            leaderFallbackTimeout=2.5,  # a leader cut off from the majority steps down
            # Latency over throughput: send entries and commit indexes at once, not per tick.
            appendEntriesUseBatch=False,
            # Fail fast without a leader (we retry until our deadline) rather than queueing
            # commands that would apply long after the caller was told ServiceUnavailable.
            commandsWaitLeader=False,
            useFork=False,  # no fork() in a process with gRPC threads; the table is small
        )
        self._obj = SyncObj(self_address, self.peers, conf=conf, consumers=[self._log])
        try:
            self._obj.waitBinded()
        except SyncObjException as exc:
            self._obj._doDestroy()  # the tick thread has already exited
            self._closed = True
            raise OSError(f"cannot listen for Raft on {self_address}") from exc

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
        return [p for p in self.peers if self._obj.isNodeConnected(_node(p))]

    # -- mutations -------------------------------------------------------------------------

    async def create(self, record: BucketRecord, *, timeout: float | None = None) -> bool:
        """True if the bucket was created, False if the name already exists.

        ``created_ns`` is filled from the engine clock when the caller left it 0.
        """
        if not record.name:
            raise ValueError("a bucket record needs a name")
        stamped = BucketRecord()
        stamped.CopyFrom(record)
        if not stamped.created_ns:
            stamped.created_ns = self._clock.now_ns()
        data = stamped.SerializeToString()
        result = await self._call(self._log.create, stamped.name, data, _op_id(), timeout=timeout)
        return bool(result)

    async def update(self, record: BucketRecord, *, timeout: float | None = None) -> bool:
        """Replace an existing bucket's record (e.g. versioning); False if it is missing."""
        if not record.name:
            raise ValueError("a bucket record needs a name")
        data = record.SerializeToString()
        result = await self._call(self._log.update, record.name, data, _op_id(), timeout=timeout)
        return bool(result)

    async def delete(self, name: str, *, timeout: float | None = None) -> bool:
        """True if the bucket existed. Emptiness is the caller's rule, checked before."""
        return bool(await self._call(self._log.delete, name, _op_id(), timeout=timeout))

    # -- reads -----------------------------------------------------------------------------

    async def get(
        self, name: str, *, consistent: bool = False, timeout: float | None = None
    ) -> BucketRecord | None:
        """The bucket's record, or None if no such bucket.

        A local hit is answered at once (a bucket leaves the table only through the log,
        so a hit can at worst be a bucket deleted a moment ago on another node). A miss
        first waits for the read barrier, so a bucket whose creation returned anywhere is
        found. ``consistent=True`` passes the barrier on hits too (fresh versioning).
        """
        if not consistent:
            data = self._log.lookup(name)
            if data is not None:
                return BucketRecord.FromString(data)
        await self.sync(timeout=timeout)
        data = self._log.lookup(name)
        return None if data is None else BucketRecord.FromString(data)

    async def list(self, *, timeout: float | None = None) -> list[BucketRecord]:
        """Every bucket, sorted by name, as of a read barrier."""
        await self.sync(timeout=timeout)
        return [BucketRecord.FromString(d) for d in self._log.snapshot()]

    async def sync(self, *, timeout: float | None = None) -> None:
        """Return once this node has applied everything committed before the call.

        A no-op goes through the log: the leader appends it after every entry it has
        committed, and its callback fires here only when this node has applied it.
        A leader cut off from the majority cannot commit it, so no stale answer leaks.
        """
        await self._call(self._log.barrier, timeout=timeout)

    async def wait_ready(self, timeout: float) -> None:
        """Until this node knows a leader and has applied the committed log."""
        await self.sync(timeout=timeout)

    def compact(self) -> None:
        """Ask for a log compaction now: writes the full dump, truncates the journal."""
        self._obj.forceLogCompaction()

    def close(self) -> None:
        """Stop pysyncobj: close its sockets and journal and join its tick thread.

        Blocks for at most about one tick (50 ms). Calls made afterwards, and calls still
        waiting, end with ServiceUnavailable.
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

    # -- the bridge ------------------------------------------------------------------------

    async def _call(
        self, method: Callable[..., Any], *args: Any, timeout: float | None
    ) -> Any:
        """Submit a replicated call and await its outcome, re-sending until the deadline.

        Every failure pysyncobj reports (no leader yet, leader changed, entry discarded,
        queue full) and every attempt that hears nothing within ATTEMPT_TIMEOUT leads to
        another attempt with the same arguments; the operation id inside them makes
        that idempotent.
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
        raise _unavailable()


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


def _op_id() -> str:
    return uuid.uuid4().hex


def _node(address: str) -> TCPNode:
    return TCPNode(address)
