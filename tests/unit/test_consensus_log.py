"""RaftLog directly: which entries and terms it answers with across stable storage, the
in-memory durable window and the unstable tail, how it overwrites a conflicting suffix,
the persistence handshake, applying in bounded batches, and snapshots. The simulation
(test_consensus_simulation.py) checks the safety this builds; these pin the pieces."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from engine.cluster.consensus import log as log_module
from engine.cluster.consensus.log import RaftLog
from engine.v1.raft_pb2 import RaftEntry


def entry(index: int, term: int, size: int = 100) -> RaftEntry:
    return RaftEntry(index=index, term=term, data=bytes([index % 251]) * size)


class Stable:
    """Durable entries in a dict; counts reads, since the log exists to avoid them."""

    def __init__(self, entries: Sequence[RaftEntry] = ()) -> None:
        self.log = {int(e.index): e for e in entries}
        self.reads = 0

    def term(self, index: int) -> int | None:
        self.reads += 1
        e = self.log.get(index)
        return None if e is None else int(e.term)

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[RaftEntry]:
        self.reads += 1
        out: list[RaftEntry] = []
        size = 0
        for i in range(lo, hi):
            e = self.log[i]
            if out and size + e.ByteSize() > max_bytes:
                break
            out.append(e)
            size += e.ByteSize()
        return out


def indexes(entries: list[RaftEntry]) -> list[int]:
    return [int(e.index) for e in entries]


def stable_log(last: int = 5, term: int = 1, committed: int = 0) -> tuple[RaftLog, Stable]:
    """Entries 1..last on disk (term ``term``), nothing in memory: a restarted node."""
    stable = Stable([entry(i, term) for i in range(1, last + 1)])
    return RaftLog(stable, 0, 0, last, committed, 0), stable


def test_a_restarted_log_answers_from_stable_storage() -> None:
    log, stable = stable_log(5, term=2, committed=3)
    assert (log.first_index(), log.last_index(), log.last_term()) == (1, 5, 2)
    assert (log.committed, log.applied) == (3, 0)
    assert log.term(0) == 0  # the empty snapshot at index 0
    assert log.term(6) is None and log.term(-1) is None
    assert indexes(log.entries(2, 4)) == [2, 3]
    assert indexes(log.entries(4, 100)) == [4, 5]  # clipped to the end
    assert log.entries(6, 9) == [] and log.entries(3, 3) == []
    assert stable.reads > 0


def test_an_empty_log() -> None:
    log = RaftLog(Stable(), 0, 0, 0, 0, 0)
    assert (log.first_index(), log.last_index(), log.last_term()) == (1, 0, 0)
    assert log.unpersisted() == [] and log.to_apply(10, 1 << 20) == []
    assert log.is_up_to_date(0, 0) and log.is_up_to_date(0, 1)


def test_appended_entries_are_read_from_memory_until_and_after_they_are_durable() -> None:
    log, stable = stable_log(3)
    log.append([entry(4, 2), entry(5, 2)])
    assert (log.last_index(), log.last_term(), log.term(4)) == (5, 2, 2)
    assert indexes(log.unpersisted()) == [4, 5]
    assert log.unpersisted() == []  # handed out once
    log.persisted(5, 2)
    assert (log.unstable, log.unstable_offset, log.stable_last) == ([], 6, 5)
    stable.log.update({4: entry(4, 2), 5: entry(5, 2)})
    stable.reads = 0
    assert indexes(log.entries(4, 6)) == [4, 5] and log.term(5) == 2
    assert stable.reads == 0  # the durable window answers without a read transaction
    assert indexes(log.entries(2, 6)) == [2, 3, 4, 5]  # disk first, then memory


def test_entries_stop_near_max_bytes_but_return_at_least_one() -> None:
    log, _ = stable_log(3)
    log.append([entry(i, 1) for i in range(4, 9)])
    one = entry(1, 1).ByteSize()
    assert indexes(log.entries(1, 9, max_bytes=1)) == [1]
    assert indexes(log.entries(1, 9, max_bytes=2 * one)) == [1, 2]
    assert indexes(log.entries(1, 9, max_bytes=4 * one)) == [1, 2, 3, 4]
    assert indexes(log.entries(1, 9, max_bytes=3 * one)) == [1, 2, 3]
    assert indexes(log.entries(5, 9, max_bytes=1)) == [5]
    assert indexes(log.entries(5, 9, max_bytes=2 * one)) == [5, 6]
    assert indexes(log.entries(1, 9)) == list(range(1, 9))


def test_entries_from_the_durable_window_also_stop_near_max_bytes() -> None:
    log = RaftLog(Stable(), 0, 0, 0, 0, 0)
    log.append([entry(i, 1) for i in range(1, 7)])
    log.unpersisted()
    log.persisted(6, 1)  # in the window, not in (this fake's) storage
    one = entry(1, 1).ByteSize()
    assert indexes(log.entries(2, 7, max_bytes=2 * one)) == [2, 3]
    assert indexes(log.entries(1, 7)) == list(range(1, 7))


def test_a_conflicting_suffix_is_replaced_from_the_conflict_on() -> None:
    log, stable = stable_log(3)
    log.append([entry(4, 1), entry(5, 1), entry(6, 1)])
    log.append([entry(5, 2)])  # in the unstable tail
    assert (log.last_index(), log.term(4), log.term(5)) == (5, 1, 2)
    log.append([entry(2, 3), entry(3, 3)])  # in stable storage: shadowed, not deleted
    assert (log.last_index(), log.term(1), log.term(2), log.term(3)) == (3, 1, 3, 3)
    assert log.unstable_offset == 2 and stable.log[2].term == 1
    assert indexes(log.unpersisted()) == [2, 3]
    log.append([])
    assert log.last_index() == 3


def test_a_replacement_drops_the_old_entries_from_the_durable_window() -> None:
    log = RaftLog(Stable(), 0, 0, 0, 0, 0)
    log.append([entry(i, 1) for i in range(1, 5)])
    log.unpersisted()
    log.persisted(4, 1)
    log.append([entry(3, 2)])
    assert (log.last_index(), log.term(3), log.term(4)) == (3, 2, None)
    assert log.persist_next == 3 and indexes(log.unpersisted()) == [3]


def test_a_committed_entry_is_never_overwritten() -> None:
    log, _ = stable_log(5, committed=3)
    with pytest.raises(AssertionError):
        log.append([entry(3, 2)])
    log.append([entry(4, 2)])
    assert log.term(4) == 2


def test_persisted_ignores_a_batch_whose_entries_were_replaced() -> None:
    log, _ = stable_log(2)
    log.append([entry(3, 1), entry(4, 1)])
    log.unpersisted()
    log.append([entry(4, 2)])  # replaced after the batch was handed out
    log.persisted(4, 1)
    assert log.unstable_offset == 3 and log.term(4) == 2 and log.stable_last == 4
    log.persisted(3, 1)  # the part that did not change is durable
    assert log.unstable_offset == 4 and indexes(log.unstable) == [4]
    log.persisted(9, 2)  # beyond the end: nothing to drop
    assert log.unstable_offset == 4
    log.persisted(2, 1)  # before the tail: nothing to drop
    assert log.unstable_offset == 4 and log.stable_last == 2


def test_the_durable_window_keeps_the_newest_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_module, "RECENT", 3)
    stable = Stable()
    log = RaftLog(stable, 0, 0, 0, 0, 0)
    log.append([entry(i, 1) for i in range(1, 6)])
    stable.log.update({int(e.index): e for e in log.unpersisted()})
    log.persisted(5, 1)
    assert indexes(log.entries(3, 6)) == [3, 4, 5] and stable.reads == 0
    assert log.term(2) == 1 and stable.reads == 1  # evicted: read from disk


def test_up_to_date_compares_last_term_then_length() -> None:
    log, _ = stable_log(3, term=1)
    log.append([entry(4, 2)])
    assert log.is_up_to_date(1, 3)  # a higher last term wins whatever the length
    assert log.is_up_to_date(4, 2) and log.is_up_to_date(9, 2)
    assert not log.is_up_to_date(3, 2)  # same term, shorter
    assert not log.is_up_to_date(9, 1)  # lower term, longer


def test_find_conflict_and_the_back_off_hint() -> None:
    log, _ = stable_log(3, term=1)
    log.append([entry(4, 3), entry(5, 3), entry(6, 5)])
    assert log.find_conflict([entry(4, 3), entry(5, 3)]) == 0
    assert log.find_conflict([entry(5, 3), entry(6, 4), entry(7, 4)]) == 6
    assert log.find_conflict([entry(6, 5), entry(7, 5)]) == 7  # one we lack
    assert log.find_conflict([]) == 0
    assert log.conflict_hint(6, 4) == 5  # skip the term-5 entry
    assert log.conflict_hint(6, 2) == 3  # skip every entry newer than term 2
    assert log.conflict_hint(6, 5) == 6
    assert log.conflict_hint(9, 1) == 9  # beyond our end: the follower's own hint stands
    assert log.conflict_hint(6, 0) == 0  # down to the snapshot


def test_commit_to_only_moves_forward_and_not_past_the_end() -> None:
    log, _ = stable_log(5)
    assert log.commit_to(3) and log.committed == 3
    assert not log.commit_to(3) and not log.commit_to(2) and log.committed == 3
    assert log.commit_to(9) and log.committed == 5


def test_to_apply_hands_out_committed_entries_in_bounded_batches() -> None:
    log, _ = stable_log(6)
    assert log.to_apply(10, 1 << 20) == []  # nothing committed
    log.commit_to(5)
    assert indexes(log.to_apply(2, 1 << 20)) == [1, 2]
    assert indexes(log.to_apply(10, 1)) == [3]  # at least one, then max_bytes
    assert indexes(log.to_apply(10, 1 << 20)) == [4, 5]
    assert log.applied == 5 and log.to_apply(10, 1 << 20) == []


def test_restore_keeps_a_matching_tail() -> None:
    log, _ = stable_log(3)
    log.append([entry(4, 2), entry(5, 2), entry(6, 2)])
    assert log.restore(5, 2)
    assert (log.snap_index, log.snap_term, log.first_index(), log.last_index()) == (5, 2, 6, 6)
    assert (log.committed, log.applied, log.unstable_offset) == (5, 5, 6)
    assert log.term(5) == 2 and log.term(4) is None
    assert indexes(log.unpersisted()) == [6]


def test_restore_of_a_stable_prefix_keeps_the_tail_untouched() -> None:
    log, _ = stable_log(5, term=1)
    log.append([entry(6, 1)])
    assert log.restore(2, 1)
    assert (log.unstable_offset, log.last_index(), log.first_index()) == (6, 6, 3)
    assert log.persist_next == 6


def test_restore_restarts_a_log_that_disagrees() -> None:
    log, _ = stable_log(3, committed=2)
    log.append([entry(4, 1)])
    assert not log.restore(7, 3)
    assert (log.first_index(), log.last_index(), log.last_term()) == (8, 7, 3)
    assert (log.committed, log.applied, log.stable_last, log.persist_next) == (7, 7, 7, 8)
    assert log.unpersisted() == [] and log.term(4) is None


def test_compaction_moves_the_snapshot_forward_only() -> None:
    log, _ = stable_log(5)
    log.compacted(3, 1)
    assert (log.snap_index, log.snap_term, log.first_index(), log.term(3)) == (3, 1, 4, 1)
    assert log.term(2) is None
    log.compacted(2, 1)
    assert log.snap_index == 3


def test_a_log_opened_from_a_snapshot() -> None:
    stable = Stable([entry(i, 4) for i in range(11, 13)])
    log = RaftLog(stable, 10, 3, 12, 5, 2)
    assert (log.committed, log.applied) == (10, 10)  # never behind the snapshot
    assert (log.first_index(), log.last_index(), log.term(10)) == (11, 12, 3)
    with pytest.raises(AssertionError):
        log.entries(10, 12)  # compacted entries are sent as a snapshot


def test_the_durable_window_holds_4096_entries() -> None:
    stable = Stable()
    log = RaftLog(stable, 0, 0, 0, 0, 0)
    log.append([entry(i, 1, size=1) for i in range(1, 4098)])
    stable.log.update({int(e.index): e for e in log.unpersisted()})
    log.persisted(4097, 1)
    assert log.term(2) == 1 and stable.reads == 0
    assert log.term(1) == 1 and stable.reads == 1  # the oldest fell out of the window


def test_max_bytes_reached_in_memory_does_not_read_on_from_disk() -> None:
    """An append message or an apply batch stays near its budget, and costs no read
    transaction when memory holds what it needs."""
    stable = Stable()
    log = RaftLog(stable, 0, 0, 0, 0, 0)
    log.append([entry(i, 1) for i in range(1, 6)])
    stable.log.update({int(e.index): e for e in log.unpersisted()})
    log.persisted(5, 1)
    one = entry(1, 1).ByteSize()
    assert indexes(log.entries(1, 6, max_bytes=2 * one + one // 2)) == [1, 2]
    assert stable.reads == 0


def test_entries_missing_from_memory_come_from_disk_within_the_budget() -> None:
    log, stable = stable_log(4)  # restarted: memory holds nothing durable
    log.append([entry(5, 1), entry(6, 1)])
    stable.log.update({int(e.index): e for e in log.unpersisted()})
    log.persisted(6, 1)  # 5 and 6 in memory too, 1..4 on disk only
    one = entry(1, 1).ByteSize()
    assert indexes(log.entries(2, 7, max_bytes=2 * one)) == [2, 3]
    assert indexes(log.entries(3, 7)) == [3, 4, 5, 6]
    assert indexes(log.entries(4, 7, max_bytes=2 * one)) == [4, 5]


def test_a_batch_never_skips_an_entry_to_fit_a_smaller_one() -> None:
    log = RaftLog(Stable(), 0, 0, 0, 0, 0)
    log.append([entry(1, 1, size=10), entry(2, 1, size=500), entry(3, 1, size=10)])
    small = entry(1, 1, size=10).ByteSize()
    assert indexes(log.entries(1, 4, max_bytes=3 * small)) == [1]
    log2, _ = stable_log(4)
    log2.append([entry(5, 1, size=1)])  # unstable, and tiny
    one = entry(1, 1).ByteSize()
    assert indexes(log2.entries(1, 6, max_bytes=3 * one + one // 2)) == [1, 2, 3]


def test_back_off_stops_at_the_snapshot() -> None:
    log, _ = stable_log(3, term=5)
    log.append([entry(4, 6), entry(5, 6)])
    log.compacted(3, 5)
    assert log.conflict_hint(5, 1) == 3  # nothing older to offer than the snapshot


def test_restore_at_the_first_unstable_entry_drops_it_from_the_tail() -> None:
    log, _ = stable_log(3)
    log.append([entry(4, 2), entry(5, 2)])
    assert log.restore(4, 2)
    assert (log.unstable_offset, indexes(log.unstable), log.last_index()) == (5, [5], 5)


def test_compaction_to_the_same_index_keeps_the_snapshot_term() -> None:
    log, _ = stable_log(5)
    log.compacted(3, 1)
    log.compacted(3, 9)
    assert (log.snap_index, log.snap_term, log.term(3)) == (3, 1, 1)
