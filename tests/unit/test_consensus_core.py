"""RaftCore message by message: what one member sends, makes durable and decides for a
given input. The simulation (test_consensus_simulation.py) proves safety over random
schedules; these pin the protocol's individual rules (PreVote, votes durable before
they are announced, log matching and back-off, commit by quorum of the current term,
CheckQuorum and the leader lease, ReadIndex), so a change to one is noticed at once."""

from __future__ import annotations

import random
from collections.abc import Sequence

from engine.cluster.consensus.core import RaftCore, _fewer_acks
from engine.cluster.consensus.log import RaftLog
from engine.cluster.consensus.protocol import (
    APPEND,
    APPEND_RESP,
    COMMIT,
    HEARTBEAT,
    HEARTBEAT_RESP,
    PREVOTE,
    PREVOTE_RESP,
    PROPOSE,
    READ_INDEX,
    READ_INDEX_RESP,
    VOTE,
    VOTE_RESP,
    Ready,
    Role,
    Track,
)
from engine.v1.raft_pb2 import RaftEntry, RaftMessage


class Disk:
    """Stable storage for one core: what `advance` made durable."""

    def __init__(self) -> None:
        self.log: dict[int, RaftEntry] = {}

    def term(self, index: int) -> int | None:
        e = self.log.get(index)
        return None if e is None else int(e.term)

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[RaftEntry]:
        return [self.log[i] for i in range(lo, hi)]


def member(node: str = "a", members: tuple[str, ...] = ("a", "b", "c"),
           entries: Sequence[tuple[int, int]] = (), term: int = 0, vote: str = "",
           committed: int = 0) -> tuple[RaftCore, Disk]:
    disk = Disk()
    for index, t in entries:
        disk.log[index] = RaftEntry(index=index, term=t, data=b"x%d" % index)
    log = RaftLog(disk, 0, 0, len(entries), committed, committed)
    core = RaftCore("g", node, list(members), log, term=term, vote=vote, election_ticks=10,
                    rng=random.Random(7))
    return core, disk


def turn(core: RaftCore, disk: Disk) -> Ready:
    """One driver turn: take the Ready, make it durable, advance."""
    rd = core.ready()
    if rd.entries:  # the store deletes from the batch's first index on, then writes
        first = int(rd.entries[0].index)
        disk.log = {i: x for i, x in disk.log.items() if i < first}
        disk.log.update({int(e.index): e for e in rd.entries})
    core.advance(rd)
    return rd


def msg(kind: int, sender: str, to: str, term: int, **fields: object) -> RaftMessage:
    m = RaftMessage(group="g", type=kind, sender=sender, to=to, term=term)
    for name, value in fields.items():
        if name == "entries":
            m.entries.extend(value)  # type: ignore[arg-type]
        else:
            setattr(m, name, value)
    return m


def kinds(messages: list[RaftMessage]) -> list[tuple[int, str]]:
    return sorted((m.type, m.to) for m in messages)


def leader(members: tuple[str, ...] = ("a", "b", "c")) -> tuple[RaftCore, Disk]:
    """`a` as leader of term 1, its term-start entry durable on itself only."""
    core, disk = member(members=members)
    core.campaign(pre_vote=False)
    turn(core, disk)
    for peer in members[1:]:
        if core.role is not Role.LEADER:
            core.step(msg(VOTE_RESP, peer, "a", 1))
    assert core.role is Role.LEADER
    turn(core, disk)
    return core, disk


# -- elections -------------------------------------------------------------------------


def test_a_follower_asks_for_pre_votes_when_its_timeout_runs_out() -> None:
    core, _ = member(entries=[(1, 1), (2, 1)], term=1)
    ticks = 0
    while core.role is Role.FOLLOWER and ticks < 100:
        core.tick()
        ticks += 1
    assert 10 <= ticks < 20  # randomised in [election_ticks, 2 * election_ticks)
    assert (core.role, core.term, core.vote) == (Role.PRE_CANDIDATE, 1, "")
    rd = core.ready()
    assert rd.after_persist == [] and rd.hard_state is None  # a pre-vote claims nothing
    assert kinds(rd.messages) == [(PREVOTE, "b"), (PREVOTE, "c")]
    assert all((m.term, m.index, m.log_term) == (2, 2, 1) for m in rd.messages)


def test_a_pre_vote_majority_starts_a_real_election_with_a_durable_vote() -> None:
    core, disk = member()
    core.campaign()
    core.ready()
    core.step(msg(PREVOTE_RESP, "b", "a", 1))  # granted pre-votes name the future term
    assert (core.role, core.term, core.vote) == (Role.CANDIDATE, 1, "a")
    rd = turn(core, disk)
    assert rd.hard_state == (1, "a", 0)
    assert rd.messages == [] and kinds(rd.after_persist) == [(VOTE, "b"), (VOTE, "c")]


def test_rejections_from_a_majority_end_a_candidacy() -> None:
    core, _ = member(term=3)
    core.campaign(pre_vote=False)
    core.step(msg(VOTE_RESP, "b", "a", 4, reject=True))
    assert core.role is Role.CANDIDATE
    core.step(msg(VOTE_RESP, "c", "a", 4, reject=True))
    assert (core.role, core.term) == (Role.FOLLOWER, 4)
    pre, _ = member(term=3)
    pre.campaign()
    pre.step(msg(PREVOTE_RESP, "b", "a", 3, reject=True))
    pre.step(msg(PREVOTE_RESP, "c", "a", 3, reject=True))
    assert (pre.role, pre.term) == (Role.FOLLOWER, 3)


def test_a_new_leader_appends_a_term_start_entry_and_probes_every_peer() -> None:
    core, disk = member(entries=[(1, 1)], term=1)
    core.campaign(pre_vote=False)
    turn(core, disk)
    core.step(msg(VOTE_RESP, "c", "a", 2))
    assert (core.role, core.leader, core.term) == (Role.LEADER, "a", 2)
    rd = turn(core, disk)
    assert [(e.index, e.term, e.data) for e in rd.entries] == [(2, 2, b"")]
    appends = [m for m in rd.messages if m.type == APPEND]
    assert kinds(appends) == [(APPEND, "b"), (APPEND, "c")]
    assert all((m.index, m.log_term, len(m.entries)) == (1, 1, 1) for m in appends)
    assert all(core.progress[p].track is Track.PROBE and core.progress[p].paused
               for p in ("b", "c"))


def test_a_group_of_one_elects_and_commits_by_itself() -> None:
    core, disk = member(members=("a",))
    core.tick()
    for _ in range(20):
        core.tick()
    assert core.role is Role.LEADER and core.term == 1
    rd = turn(core, disk)
    assert rd.hard_state == (1, "a", 1) and [e.index for e in rd.committed] == [1]
    assert core.propose([b"cmd"])
    rd = turn(core, disk)
    assert [e.data for e in rd.committed] == [b"cmd"]


def test_votes_go_to_the_first_up_to_date_candidate_of_a_term() -> None:
    core, _ = member("b", entries=[(1, 1), (2, 2)], term=2)
    core.step(msg(VOTE, "a", "b", 3, index=2, log_term=2))
    rd = core.ready()
    assert core.vote == "a" and rd.hard_state == (3, "a", 0)
    granted = rd.after_persist  # announced only once the vote is durable
    assert [(m.type, m.to, m.term, m.reject) for m in granted] == [(VOTE_RESP, "a", 3, False)]
    core.step(msg(VOTE, "c", "b", 3, index=9, log_term=2))
    rd = core.ready()
    assert [(m.type, m.to, m.reject) for m in rd.messages] == [(VOTE_RESP, "c", True)]
    assert core.vote == "a"
    core.step(msg(VOTE, "a", "b", 3, index=2, log_term=2))  # a retry gets the same answer
    assert not core.ready().after_persist[0].reject


def test_a_candidate_with_a_stale_log_is_refused() -> None:
    for index, log_term in ((1, 2), (5, 1), (0, 0)):
        core, _ = member("b", entries=[(1, 1), (2, 2)], term=2)
        core.step(msg(VOTE, "a", "b", 3, index=index, log_term=log_term))
        rd = core.ready()
        assert [m.reject for m in rd.messages] == [True] and core.vote == ""
        assert core.term == 3  # the term is still learned


def test_a_pre_vote_is_granted_without_changing_anything() -> None:
    core, _ = member("b", entries=[(1, 1)], term=1, vote="c")
    core.step(msg(PREVOTE, "a", "b", 2, index=1, log_term=1))
    rd = core.ready()
    assert (core.term, core.vote) == (1, "c") and rd.hard_state is None
    assert [(m.type, m.term, m.reject) for m in rd.after_persist] == [(PREVOTE_RESP, 2, False)]


def test_the_leader_lease_ignores_disruptive_candidates() -> None:
    core, _ = member("b", term=1)
    core.step(msg(HEARTBEAT, "a", "b", 1))
    core.ready()
    for kind in (VOTE, PREVOTE):
        core.step(msg(kind, "c", "b", 2, index=5, log_term=1))
        rd = core.ready()
        assert rd.messages == [] and rd.after_persist == [] and core.term == 1
    for _ in range(10):
        core.elapsed += 1
    core.step(msg(VOTE, "c", "b", 2, index=5, log_term=1))  # lease over
    assert core.term == 2 and core.vote == "c"


def test_stale_terms_are_told_the_current_one() -> None:
    core, _ = member("b", term=5)
    core.step(msg(APPEND, "a", "b", 3, index=0, log_term=0))
    core.step(msg(PREVOTE, "c", "b", 4, index=9, log_term=4))
    core.step(msg(VOTE_RESP, "c", "b", 4))
    rd = core.ready()
    assert [(m.type, m.to, m.term, m.reject) for m in rd.messages] == [
        (APPEND_RESP, "a", 5, False), (PREVOTE_RESP, "c", 5, True)]
    assert (core.term, core.role) == (5, Role.FOLLOWER)


def test_a_newer_term_deposes_a_leader() -> None:
    core, _ = leader()
    core.step(msg(APPEND_RESP, "b", "a", 2, index=0, reject=True))
    assert (core.role, core.term, core.leader) == (Role.FOLLOWER, 2, "")
    core2, _ = leader()
    core2.step(msg(HEARTBEAT, "c", "a", 3))
    assert (core2.role, core2.term, core2.leader) == (Role.FOLLOWER, 3, "c")


# -- replication -----------------------------------------------------------------------


def test_a_follower_accepts_matching_appends_and_acknowledges_after_persisting() -> None:
    core, disk = member("b", entries=[(1, 1)], term=1)
    entries = [RaftEntry(index=2, term=1, data=b"p"), RaftEntry(index=3, term=1, data=b"q")]
    core.step(msg(APPEND, "a", "b", 1, index=1, log_term=1, entries=entries, commit=9))
    assert core.leader == "a" and core.log.committed == 3
    rd = turn(core, disk)
    assert [e.index for e in rd.entries] == [2, 3] and rd.messages == []
    assert [(m.type, m.index, m.reject) for m in rd.after_persist] == [(APPEND_RESP, 3, False)]
    assert [e.index for e in rd.committed] == [1, 2, 3]
    # a duplicate append changes nothing and is acknowledged with all we hold
    core.step(msg(APPEND, "a", "b", 1, index=2, log_term=1, entries=entries[1:], commit=3))
    rd = turn(core, disk)
    assert rd.entries == [] and [m.index for m in rd.after_persist] == [3]


def test_an_append_below_the_commit_index_is_answered_with_it() -> None:
    core, _ = member("b", entries=[(1, 1), (2, 1), (3, 1)], term=1, committed=3)
    core.step(msg(APPEND, "a", "b", 1, index=1, log_term=1))
    assert [(m.index, m.reject) for m in core.ready().after_persist] == [(3, False)]


def test_a_mismatch_is_rejected_with_a_hint_past_the_conflicting_term() -> None:
    core, _ = member("b", entries=[(1, 1), (2, 2), (3, 2), (4, 2)], term=3)
    core.step(msg(APPEND, "a", "b", 3, index=4, log_term=3))
    core.step(msg(APPEND, "a", "b", 3, index=9, log_term=3))
    rd = core.ready()
    assert [(m.reject, m.index, m.reject_hint, m.hint_term) for m in rd.messages] == [
        (True, 4, 4, 2), (True, 9, 4, 2)]
    core.step(msg(APPEND, "a", "b", 3, index=4, log_term=1))
    rd = core.ready()
    assert [(m.reject_hint, m.hint_term) for m in rd.messages] == [(1, 1)]


def test_a_conflicting_suffix_is_replaced() -> None:
    core, disk = member("b", entries=[(1, 1), (2, 1), (3, 1)], term=2)
    core.step(msg(APPEND, "a", "b", 2, index=1, log_term=1,
                  entries=[RaftEntry(index=2, term=2, data=b"n")], commit=0))
    rd = turn(core, disk)
    assert [(e.index, e.term) for e in rd.entries] == [(2, 2)]
    assert core.log.last_index() == 2 and core.log.term(2) == 2


def test_the_leader_commits_once_a_majority_holds_an_entry_of_its_term() -> None:
    core, disk = leader(("a", "b", "c", "d", "e"))
    assert core.log.committed == 0
    core.step(msg(APPEND_RESP, "b", "a", 1, index=1))
    assert core.log.committed == 0  # 2 of 5
    core.step(msg(APPEND_RESP, "c", "a", 1, index=1))
    assert core.log.committed == 1
    rd = turn(core, disk)
    assert [e.index for e in rd.committed] == [1]
    # b and c hold it and learn the commit; d and e are told nothing they do not hold
    notices = [(m.type, m.to, m.commit) for m in rd.messages if m.type == COMMIT]
    assert sorted(notices) == [(COMMIT, "b", 1), (COMMIT, "c", 1)]


def test_entries_of_an_earlier_term_commit_only_under_a_current_one() -> None:
    core, disk = member(entries=[(1, 1)], term=1)
    core.campaign(pre_vote=False)
    turn(core, disk)
    core.step(msg(VOTE_RESP, "b", "a", 2))
    turn(core, disk)  # term-start entry 2 (term 2) durable on a
    core.step(msg(APPEND_RESP, "b", "a", 2, index=1))
    assert core.log.committed == 0  # index 1 is term 1: counting replicas cannot commit it
    core.step(msg(APPEND_RESP, "b", "a", 2, index=2))
    assert core.log.committed == 2


def test_a_leader_counts_its_own_entries_only_once_durable() -> None:
    core, disk = leader()
    core.step(msg(APPEND_RESP, "b", "a", 1, index=1))
    assert core.log.committed == 1
    assert core.propose([b"cmd"])
    core.step(msg(APPEND_RESP, "b", "a", 1, index=2))
    assert core.log.committed == 1  # b holds 2, but a has not made it durable yet
    assert [e.data for e in turn(core, disk).committed] == [b""]
    assert core.log.committed == 2  # durable on a: now a majority
    assert [e.data for e in turn(core, disk).committed] == [b"cmd"]


def elected(entries: Sequence[tuple[int, int]]) -> tuple[RaftCore, Disk]:
    """`a` leading term 2 over a log it already had; its term-start entry durable."""
    core, disk = member(entries=entries, term=1)
    core.campaign(pre_vote=False)
    turn(core, disk)
    core.step(msg(VOTE_RESP, "b", "a", 2))
    turn(core, disk)
    return core, disk


def test_a_rejected_probe_backs_off_past_the_followers_conflicting_term() -> None:
    core, _ = elected([(1, 1), (2, 1), (3, 1)])
    core.step(msg(APPEND_RESP, "b", "a", 2, index=3, reject=True, reject_hint=1, hint_term=1))
    sent = [m for m in core.messages() if m.to == "b"]
    assert [(m.type, m.index, m.log_term, [e.index for e in m.entries]) for m in sent] == [
        (APPEND, 1, 1, [2, 3, 4])]
    core.step(msg(APPEND_RESP, "b", "a", 2, index=3, reject=True, reject_hint=1, hint_term=1))
    assert core.messages() == []  # a stale rejection of the earlier probe
    core.step(msg(APPEND_RESP, "c", "a", 2, index=3, reject=True, reject_hint=0))
    sent = core.messages()
    assert [(m.to, m.index, len(m.entries)) for m in sent] == [("c", 0, 4)]


def test_an_accepted_probe_switches_to_streaming() -> None:
    core, _ = elected([(1, 1)])
    core.step(msg(APPEND_RESP, "b", "a", 2, index=2))
    pr = core.progress["b"]
    assert (pr.match, pr.next, pr.track) == (2, 3, Track.REPLICATE)
    assert core.propose([b"p"]) and core.propose([b"q"])
    sent = [m for m in core.messages() if m.to == "b" and m.type == APPEND]
    assert [(m.index, [e.index for e in m.entries]) for m in sent] == [(2, [3]), (3, [4])]
    assert pr.inflight == [3, 4] and pr.next == 5
    core.step(msg(APPEND_RESP, "b", "a", 2, index=3))
    assert pr.inflight == [4] and pr.match == 3


def test_check_quorum_steps_down_a_leader_that_hears_from_nobody() -> None:
    core, _ = leader()
    for _ in range(9):
        core.tick()
    heartbeats = [m for m in core.messages() if m.type == HEARTBEAT]
    assert len(heartbeats) == 18 and {m.to for m in heartbeats} == {"b", "c"}
    core.tick()
    assert (core.role, core.leader, core.term) == (Role.FOLLOWER, "", 1)


def test_a_leader_that_hears_from_a_majority_stays() -> None:
    core, _ = leader()
    for _ in range(30):
        core.tick()
        core.step(msg(HEARTBEAT_RESP, "b", "a", 1))
    assert core.role is Role.LEADER


def test_heartbeats_tell_each_follower_only_the_commit_it_holds() -> None:
    core, _ = leader()
    core.step(msg(APPEND_RESP, "b", "a", 1, index=1))
    core.messages()
    core.tick()
    beats = {m.to: m.commit for m in core.messages() if m.type == HEARTBEAT}
    assert beats == {"b": 1, "c": 0}


def test_proposals_go_to_the_leader() -> None:
    follower, _ = member("b", term=1)
    assert not follower.propose([b"x"])  # no leader known
    follower.step(msg(HEARTBEAT, "a", "b", 1))
    follower.messages()
    assert follower.propose([b"x", b"y"])
    sent = follower.messages()
    assert [(m.type, m.to, [e.data for e in m.entries]) for m in sent] == [
        (PROPOSE, "a", [b"x", b"y"])]
    core, disk = leader()
    core.step(msg(PROPOSE, "b", "a", 1, entries=[RaftEntry(data=b"x")]))
    assert [(e.index, e.term, e.data) for e in turn(core, disk).entries] == [(2, 1, b"x")]


def test_read_index_waits_for_the_terms_first_commit_and_a_heartbeat_quorum() -> None:
    core, disk = leader()
    assert core.read_index(b"r1")
    assert not any(m.context == b"r1" for m in core.messages())  # nothing committed yet
    core.step(msg(APPEND_RESP, "b", "a", 1, index=1))
    beats = [m for m in core.messages() if m.type == HEARTBEAT]
    assert {m.context for m in beats} == {b"r1"}
    assert turn(core, disk).reads == []
    core.step(msg(HEARTBEAT_RESP, "c", "a", 1, context=b"r1"))
    assert turn(core, disk).reads == [(b"r1", 1)]


def test_a_followers_read_is_served_by_the_leader() -> None:
    follower, _ = member("b", term=1)
    assert not follower.read_index(b"f")
    follower.step(msg(HEARTBEAT, "a", "b", 1))
    follower.messages()
    assert follower.read_index(b"f")
    assert [(m.type, m.to, m.context) for m in follower.messages()] == [(READ_INDEX, "a", b"f")]
    core, _ = leader()
    core.step(msg(APPEND_RESP, "b", "a", 1, index=1))
    core.messages()
    core.step(msg(READ_INDEX, "b", "a", 1, context=b"f"))
    core.messages()
    core.step(msg(HEARTBEAT_RESP, "c", "a", 1, context=b"f"))
    answers = [m for m in core.messages() if m.type == READ_INDEX_RESP]
    assert [(m.to, m.context, m.index, m.reject) for m in answers] == [("b", b"f", 1, False)]
    follower.step(msg(READ_INDEX_RESP, "a", "b", 1, context=b"f", index=1))
    follower.step(msg(READ_INDEX_RESP, "a", "b", 1, context=b"g", index=1, reject=True))
    assert follower.ready().reads == [(b"f", 1)]


def test_a_deposed_leader_refuses_the_reads_it_was_serving() -> None:
    core, _ = leader()
    core.step(msg(READ_INDEX, "b", "a", 1, context=b"w"))  # waiting for the first commit
    core.messages()
    core.step(msg(HEARTBEAT, "c", "a", 2))
    refused = [m for m in core.messages() if m.type == READ_INDEX_RESP]
    assert [(m.to, m.context, m.reject) for m in refused] == [("b", b"w", True)]


def test_several_acknowledgements_in_one_batch_keep_the_highest() -> None:
    def ack(index: int, to: str = "a", term: int = 1, reject: bool = False) -> RaftMessage:
        return msg(APPEND_RESP, "b", to, term, index=index, reject=reject)

    vote = msg(VOTE_RESP, "b", "c", 1)
    after = [ack(3), vote, ack(5), ack(4), ack(2, reject=True), ack(1, term=2), ack(6, to="c")]
    kept = _fewer_acks(after)
    assert [(m.type, m.to, m.term, m.index, m.reject) for m in kept] == [
        (VOTE_RESP, "c", 1, 0, False), (APPEND_RESP, "a", 1, 5, False),
        (APPEND_RESP, "a", 1, 2, True), (APPEND_RESP, "a", 2, 1, False),
        (APPEND_RESP, "c", 1, 6, False)]
    assert _fewer_acks([ack(3)]) == [ack(3)]
    same = [ack(5), ack(5)]
    assert _fewer_acks(same) == [same[1]]


def test_a_received_snapshot_is_installed_and_acknowledged() -> None:
    core, _ = member("b", entries=[(1, 1), (2, 1)], term=2, committed=2)
    assert not core.has_ready()
    assert not core.restore(2, 1)  # not newer than what we committed
    core.step(msg(HEARTBEAT, "a", "b", 2))
    core.messages()
    assert core.restore(10, 2) and core.has_ready()
    rd = core.ready()
    assert rd.snapshot == (10, 2, False) and rd.hard_state == (2, "", 10)
    assert [(m.type, m.to, m.index) for m in rd.after_persist] == [(APPEND_RESP, "a", 10)]
    core.advance(rd)
    assert (core.self_match, core.log.stable_last, core.log.first_index()) == (10, 10, 11)


def test_a_snapshot_overtaken_by_the_log_is_dropped() -> None:
    core, disk = member("b", entries=[(1, 1)], term=1)
    assert core.restore(2, 1)
    core.step(msg(APPEND, "a", "b", 1, index=1, log_term=1, commit=3,
                  entries=[RaftEntry(index=2, term=1), RaftEntry(index=3, term=1)]))
    rd = turn(core, disk)
    assert rd.snapshot is None and rd.snapshot_stale == 2


def test_a_follower_behind_the_compacted_log_is_sent_a_snapshot() -> None:
    core, disk = elected([(1, 1), (2, 1), (3, 1)])
    core.log.compacted(3, 1)
    core.step(msg(APPEND_RESP, "b", "a", 2, index=3, reject=True, reject_hint=0))
    rd = turn(core, disk)
    assert rd.snapshots_wanted == ["b"] and core.progress["b"].track is Track.SNAPSHOT
    assert not any(m.to == "b" and m.type == APPEND for m in rd.messages)
    core.snapshot_done("b", None)  # gave up: probe again after the next heartbeat answer
    assert (core.progress["b"].track, core.progress["b"].paused) == (Track.PROBE, True)
    core.progress["b"].became(Track.SNAPSHOT, 1)
    core.snapshot_done("b", 3)
    assert (core.progress["b"].track, core.progress["b"].next) == (Track.PROBE, 4)
    core.snapshot_done("nobody", 3)


# -- defaults and limits ---------------------------------------------------------------


def test_a_new_member_starts_as_a_follower_of_nobody() -> None:
    core = RaftCore("g", "a", ["c", "a", "b"], RaftLog(Disk(), 0, 0, 0, 0, 0),
                    rng=random.Random(3))
    assert (core.term, core.vote, core.leader, core.role) == (0, "", "", Role.FOLLOWER)
    assert (core.election_ticks, core.heartbeat_ticks, core.quorum()) == (10, 1, 2)
    assert core.members == ["a", "b", "c"] and core.peers == ["b", "c"]
    assert not core.has_ready() and not core.propose([b"x"]) and not core.read_index(b"r")
    timeout = core.timeout
    for _ in range(timeout - 1):
        core.tick()
    assert core.role is Role.FOLLOWER  # exactly `timeout` ticks of silence start a campaign
    core.tick()
    assert core.role is Role.PRE_CANDIDATE
    assert {(m.group, m.sender) for m in core.messages()} == {("g", "a")}
    try:
        RaftCore("g", "z", ["a", "b"], RaftLog(Disk(), 0, 0, 0, 0, 0))
    except AssertionError as e:
        assert str(e) == "a node hosts only groups it is a member of"
    else:
        raise AssertionError("a non-member was accepted")


def streaming(entries: int, size: int) -> tuple[RaftCore, Disk]:
    """`a` leading with ``entries`` commands of ``size`` bytes, `b` matched and streaming."""
    core, disk = leader()
    core.step(msg(APPEND_RESP, "b", "a", 1, index=1))
    core.messages()
    core.progress["c"].paused = True
    for i in range(entries):
        core.propose([bytes([i % 256]) * size])
    return core, disk


def test_an_append_carries_about_one_mebibyte() -> None:
    core, _ = streaming(0, 0)
    core.progress["b"].paused = True  # hold b while the log grows
    core.progress["b"].track = Track.PROBE
    for i in range(6):
        core.propose([bytes([i]) * 300_000])
    core.messages()
    core.progress["b"].became(Track.REPLICATE, 2)
    core.step(msg(HEARTBEAT_RESP, "b", "a", 1))
    sent = [m for m in core.messages() if m.to == "b" and m.type == APPEND]
    assert [len(m.entries) for m in sent] == [3]  # 900 kB: a fourth would pass 1 MiB
    core.step(msg(APPEND_RESP, "b", "a", 1, index=4))
    sent = [m for m in core.messages() if m.to == "b" and m.type == APPEND]
    assert [[e.index for e in m.entries] for m in sent] == [[5, 6, 7]]


def test_at_most_64_appends_are_in_flight_to_one_follower() -> None:
    core, _ = streaming(70, 10)
    pr = core.progress["b"]
    assert len(pr.inflight) == 64 and pr.next == 66  # entries 2..65 went out one by one
    core.step(msg(HEARTBEAT_RESP, "b", "a", 1))  # answers were lost: one more goes
    assert len(pr.inflight) == 64 and pr.inflight[-1] == 71 and pr.next == 72


def test_a_turn_applies_at_most_2048_entries() -> None:
    core, disk = member(members=("a",))
    core.campaign()
    turn(core, disk)
    core.propose([b"c"] * 3000)
    rd = turn(core, disk)
    assert len(rd.entries) == 3000 and len(rd.committed) == 2048
    assert len(turn(core, disk).committed) == 3000 - 2048  # entry 1 was applied before
