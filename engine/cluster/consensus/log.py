"""A group's Raft log as the protocol sees it: durable entries plus an unstable tail.

Entries reach disk in batches (group commit), so at any moment the newest entries exist
only in memory. ``RaftLog`` answers for both: entries at or after ``unstable_offset``
come from the in-memory tail, older ones from stable storage. A follower that must
overwrite a conflicting suffix replaces the tail from the conflict on; the stale
entries still on disk are shadowed until the batch that starts at the conflict deletes
them (the store deletes every entry at or after a batch's first index before writing).

Invariants: ``snap_index < unstable_offset <= last_index + 1``; ``applied <= committed
<= last_index``; every index in ``(snap_index, last_index]`` has exactly one entry.

The newest durable entries are also kept in memory (``RECENT`` of them): the leader reads
them back to send and to apply, and their terms on every append and commit, which would
otherwise cost a read transaction each.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from engine.v1.raft_pb2 import RaftEntry

RECENT = 4096  # durable entries kept in memory


class StableLog(Protocol):
    """Entries already durable (the consensus store, or memory in simulations)."""

    def term(self, index: int) -> int | None:
        """Term of a stored entry; None when it is not stored."""
        ...

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[RaftEntry]:
        """Stored entries lo <= index < hi, at least one, stopping past max_bytes."""
        ...


class RaftLog:
    def __init__(self, stable: StableLog, snap_index: int, snap_term: int,
                 stable_last: int, committed: int, applied: int) -> None:
        self.stable = stable
        self.snap_index = snap_index  # last entry covered by the state (compacted away)
        self.snap_term = snap_term
        self.stable_last = stable_last  # last index written by the last persisted batch
        self.unstable: list[RaftEntry] = []
        self.unstable_offset = stable_last + 1
        self.persist_next = stable_last + 1  # first entry not yet handed to a batch
        self.committed = max(committed, snap_index)
        self.applied = max(applied, snap_index)  # handed to the state machines
        self._recent: OrderedDict[int, RaftEntry] = OrderedDict()  # index -> entry

    # -- reading -----------------------------------------------------------------------

    def first_index(self) -> int:
        return self.snap_index + 1

    def last_index(self) -> int:
        if self.unstable:
            return self.unstable_offset + len(self.unstable) - 1
        return self.unstable_offset - 1

    def last_term(self) -> int:
        term = self.term(self.last_index())
        assert term is not None
        return term

    def term(self, index: int) -> int | None:
        """The term of entry ``index``; None if compacted or beyond the end."""
        if index == self.snap_index:
            return self.snap_term
        if index < self.snap_index or index > self.last_index():
            return None
        if index >= self.unstable_offset:
            return int(self.unstable[index - self.unstable_offset].term)
        entry = self._recent.get(index)
        if entry is not None:
            return int(entry.term)
        return self.stable.term(index)

    def match_term(self, index: int, term: int) -> bool:
        return self.term(index) == term

    def entries(self, lo: int, hi: int, max_bytes: int = 1 << 62) -> list[RaftEntry]:
        """Entries lo <= index < hi (at least one if any), up to about max_bytes."""
        hi = min(hi, self.last_index() + 1)
        if lo >= hi:
            return []
        assert lo > self.snap_index, "compacted entries are sent as a snapshot"
        out: list[RaftEntry] = []
        size = 0
        if lo < self.unstable_offset:
            end = min(hi, self.unstable_offset)
            out = self._from_recent(lo, end, max_bytes)
            nxt = int(out[-1].index) + 1 if out else lo
            # Disk only for what memory lacks: stopping on max_bytes leaves `nxt` in memory.
            if nxt < end and nxt not in self._recent:
                spent = sum(e.ByteSize() for e in out)
                out += self.stable.entries(nxt, end, max(max_bytes - spent, 1))
            size = sum(e.ByteSize() for e in out)
            if hi <= self.unstable_offset or int(out[-1].index) + 1 < self.unstable_offset:
                return out  # all from stable storage, or max_bytes reached there
            lo = self.unstable_offset
        for entry in self.unstable[max(lo - self.unstable_offset, 0):hi - self.unstable_offset]:
            if out and size + entry.ByteSize() > max_bytes:
                break
            out.append(entry)
            size += entry.ByteSize()
        return out

    def _from_recent(self, lo: int, hi: int, max_bytes: int) -> list[RaftEntry]:
        """Entries lo, lo+1, ... while they are in memory (stops at the first miss)."""
        out: list[RaftEntry] = []
        size = 0
        recent = self._recent
        for index in range(lo, hi):
            entry = recent.get(index)
            if entry is None or (out and size + entry.ByteSize() > max_bytes):
                break
            out.append(entry)
            size += entry.ByteSize()
        return out

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Is a log ending at (last_index, last_term) at least as new as ours (§5.4.1)?"""
        mine = self.last_term()
        return last_term > mine or (last_term == mine and last_index >= self.last_index())

    # -- writing -----------------------------------------------------------------------

    def append(self, entries: list[RaftEntry]) -> None:
        """Put entries after index entries[0].index - 1, dropping whatever follows it."""
        if not entries:
            return
        first = int(entries[0].index)
        assert first > self.committed, "a committed entry is never overwritten"
        if first >= self.unstable_offset:
            del self.unstable[first - self.unstable_offset:]
            self.unstable.extend(entries)
        else:  # the conflict is in stable storage: shadow it from `first` on
            self.unstable = list(entries)
            self.unstable_offset = first
        if self._recent and next(reversed(self._recent)) >= first:
            for index in [i for i in self._recent if i >= first]:
                del self._recent[index]
        self.persist_next = min(self.persist_next, first)

    def find_conflict(self, entries: list[RaftEntry]) -> int:
        """Index of the first entry we lack or hold with another term; 0 if none."""
        for entry in entries:
            if not self.match_term(int(entry.index), int(entry.term)):
                return int(entry.index)
        return 0

    def conflict_hint(self, index: int, term: int) -> int:
        """The largest index <= ``index`` whose term is <= ``term`` (fast back-off)."""
        while index > self.snap_index:
            mine = self.term(index)
            if mine is None or mine <= term:
                return index
            index -= 1
        return index

    def commit_to(self, index: int) -> bool:
        if index > self.committed:
            self.committed = min(index, self.last_index())
            return True
        return False

    # -- persistence handshake with the store ------------------------------------------

    def unpersisted(self) -> list[RaftEntry]:
        """Entries to hand to the next batch (from the first not yet handed out)."""
        if self.persist_next > self.last_index():
            return []
        start = self.persist_next - self.unstable_offset
        assert start >= 0
        out = self.unstable[start:]
        self.persist_next = self.last_index() + 1
        recent = self._recent
        for entry in out:  # durable once this batch is: keep them at hand
            recent[int(entry.index)] = entry
        while len(recent) > RECENT:
            recent.popitem(last=False)
        return out

    def persisted(self, index: int, term: int) -> None:
        """A batch ending at (index, term) is durable: drop the tail up to it if unchanged."""
        self.stable_last = index
        if index < self.unstable_offset or index > self.last_index():
            return
        if self.unstable[index - self.unstable_offset].term != term:
            return  # replaced since that batch was handed out; a later batch rewrites it
        del self.unstable[:index + 1 - self.unstable_offset]
        self.unstable_offset = index + 1

    def to_apply(self, max_entries: int, max_bytes: int) -> list[RaftEntry]:
        """Committed entries not yet handed to the state machines, in order."""
        if self.applied >= self.committed:
            return []
        hi = min(self.committed, self.applied + max_entries) + 1
        out = self.entries(self.applied + 1, hi, max_bytes)
        if out:
            self.applied = int(out[-1].index)
        return out

    def restore(self, index: int, term: int) -> bool:
        """The state is now a snapshot at (index, term). If our entry ``index`` has that
        term, the entries after it are the leader's too (Log Matching) and may already be
        acknowledged: keep them (§7). Otherwise the log restarts after the snapshot.
        Returns whether the tail was kept."""
        keep = self.match_term(index, term)
        if keep:
            if self.unstable_offset <= index:
                del self.unstable[:index + 1 - self.unstable_offset]
                self.unstable_offset = index + 1
            self.persist_next = max(self.persist_next, index + 1)
        else:
            self.stable_last = index
            self.unstable = []
            self.unstable_offset = index + 1
            self.persist_next = index + 1
            self._recent.clear()
        self.snap_index = index
        self.snap_term = term
        self.committed = max(self.committed, index)
        self.applied = index
        return keep

    def compacted(self, index: int, term: int) -> None:
        """The store dropped entries up to ``index`` (the state covers them)."""
        if index > self.snap_index:
            self.snap_index = index
            self.snap_term = term
