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

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pysyncobj import SyncObjConsumer, replicated

from engine.clock import Clock
from engine.cluster.raft_group import (
    DEFAULT_TIMEOUT,
    DUMP_FILE,
    JOURNAL_FILE,
    RaftGroup,
    new_op_id,
    remember,
)

__all__ = ["DUMP_FILE", "JOURNAL_FILE", "RaftBucketTable"]
from engine.v1.records_pb2 import BucketRecord

_NO_QUORUM = "bucket metadata has no quorum"


class _BucketLog(SyncObjConsumer):
    """The replicated state machine: ``dict[str, bytes]`` of serialized BucketRecords.

    Methods marked ``@replicated`` run on every node in log order, in pysyncobj's tick
    thread. They must be deterministic and must not raise: pysyncobj would re-apply the
    entry on the next tick. ``_memo`` remembers the result of the last raft_group.MEMO_LIMIT
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
        return remember(self._memo, op_id, result)

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
    ``extra_consumers`` share the group (the queue catalog is cluster-wide too).
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
        extra_consumers: Sequence[SyncObjConsumer] = (),
    ) -> None:
        if not secret:
            raise ValueError("the bucket table needs the cluster secret")
        self._clock = clock
        self._log = _BucketLog()
        self.group = RaftGroup(self_address, peer_addresses, secret, state_dir,
                               [self._log, *extra_consumers], timeout=timeout,
                               unavailable=_NO_QUORUM)
        self.address = self_address
        self.peers = self.group.peers

    # -- status (advisory: a node's view may be stale, as in any Raft) -------------------

    @property
    def leader(self) -> str | None:
        """The leader this node last heard of, or None during an election."""
        return self.group.leader

    @property
    def is_leader(self) -> bool:
        return self.group.is_leader

    @property
    def term(self) -> int:
        return self.group.term

    def connected_peers(self) -> list[str]:
        """Peers with an authenticated connection (a peer with another secret never is)."""
        return self.group.connected_peers()

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
        result = await self._call(self._log.create, stamped.name, data, new_op_id(),
                                  timeout=timeout)
        return bool(result)

    async def update(self, record: BucketRecord, *, timeout: float | None = None) -> bool:
        """Replace an existing bucket's record (e.g. versioning); False if it is missing."""
        if not record.name:
            raise ValueError("a bucket record needs a name")
        data = record.SerializeToString()
        result = await self._call(self._log.update, record.name, data, new_op_id(), timeout=timeout)
        return bool(result)

    async def delete(self, name: str, *, timeout: float | None = None) -> bool:
        """True if the bucket existed. Emptiness is the caller's rule, checked before."""
        return bool(await self._call(self._log.delete, name, new_op_id(), timeout=timeout))

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
        self.group.compact()

    def close(self) -> None:
        """Stop pysyncobj (see RaftGroup.close)."""
        self.group.close()

    async def _call(self, method: Callable[..., Any], *args: Any,
                    timeout: float | None) -> Any:
        return await self.group.call(method, *args, timeout=timeout)


