"""The Raft protocol of one group member, as a pure state machine: no I/O, no clock.

The driver (``group.py``) feeds it messages, proposals and ticks, and takes back a
:class:`Ready`: what to make durable (term and vote, new entries), what to apply, and
which messages to send before and after that is durable. Keeping the protocol free of
I/O is what lets ``tests/unit/test_consensus_simulation.py`` run thousands of seeded
schedules (message loss, reordering, partitions, crashes that drop everything not yet
persisted) and check Raft's safety properties on every step.

Besides the paper's Raft (§5) it has what a production deployment needs:

* **PreVote** (thesis §9.6): a node that was cut off asks "would you vote for me?" before
  bumping its term, so rejoining never deposes a healthy leader.
* **CheckQuorum**: a leader that has not heard from a majority within an election
  timeout steps down, and a follower that heard from its leader within that time
  ignores vote requests (a leader lease for elections, no clocks compared).
* **ReadIndex** (thesis §6.4): linearizable reads without a log entry. The leader
  notes its commit index, confirms it is still leader with a heartbeat round acked by
  a majority, and the read waits until that index is applied.
* **Durability ordering**: votes and append acknowledgements are sent only after the
  batch that made them true is fsynced (``Ready.after_persist``); a leader counts its
  own entries towards a majority only once they are durable, while its appends to
  followers go out at once (they claim nothing).

Membership is fixed (the topology file); there is no joint consensus.
"""

from __future__ import annotations

import random

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
    SNAPSHOT,
    VOTE,
    VOTE_RESP,
    Progress,
    ReadRequest,
    Ready,
    Role,
    Track,
)
from engine.v1.raft_pb2 import RaftEntry, RaftMessage

MAX_APPEND_BYTES = 1 << 20  # one append message carries at most about this much
MAX_INFLIGHT = 64  # append messages in flight to one follower
APPLY_BATCH_ENTRIES = 2048
APPLY_BATCH_BYTES = 32 << 20



class RaftCore:
    """One member of one group. ``tick()`` is called every heartbeat interval."""

    def __init__(self, group: str, node_id: str, members: list[str], log: RaftLog, *,
                 term: int = 0, vote: str = "", election_ticks: int = 10,
                 heartbeat_ticks: int = 1, rng: random.Random | None = None) -> None:
        assert node_id in members, "a node hosts only groups it is a member of"
        self.group = group
        self.id = node_id
        self.members = sorted(members)
        self.peers = [m for m in self.members if m != node_id]
        self.log = log
        self.term = term
        self.vote = vote
        self.role = Role.FOLLOWER
        self.leader = ""
        self.election_ticks = election_ticks
        self.heartbeat_ticks = heartbeat_ticks
        self.rng = rng or random.Random()
        self.elapsed = 0  # ticks since the last election reset (or CheckQuorum round)
        self.heartbeat_elapsed = 0
        self.timeout = self._random_timeout()
        self.votes: dict[str, bool] = {}
        self.progress: dict[str, Progress] = {}
        self.reads: list[ReadRequest] = []  # leader: read rounds waiting for a quorum
        self.waiting_reads: list[ReadRequest] = []  # leader: before its term's first commit
        self.self_match = log.stable_last  # our own durable last index (leader's quorum)
        self._msgs: list[RaftMessage] = []
        self._after: list[RaftMessage] = []
        self._commit_moved = False  # followers have yet to hear of a new commit index
        self._ready_reads: list[tuple[bytes, int]] = []
        self._snapshots_wanted: list[str] = []
        self._pending_snapshot: tuple[int, int] | None = None
        self._hard = (term, vote, log.committed)

    # -- inputs ------------------------------------------------------------------------

    def quorum(self) -> int:
        return len(self.members) // 2 + 1

    def tick(self) -> None:
        if self.role is Role.LEADER:
            self._tick_leader()
        else:
            self.elapsed += 1
            if self.elapsed >= self.timeout:
                self.campaign()

    def campaign(self, pre_vote: bool = True) -> None:
        """Start an election (first a pre-vote round unless told otherwise)."""
        if pre_vote and len(self.members) > 1:
            self._become(Role.PRE_CANDIDATE, self.term, "")
            self._solicit(PREVOTE, self.term + 1)
            return
        self._become(Role.CANDIDATE, self.term + 1, "")
        self.vote = self.id
        self._solicit(VOTE, self.term)

    def propose(self, data: list[bytes]) -> bool:
        """Append commands (leader) or forward them to the leader; False without one."""
        if self.role is Role.LEADER:
            self._append_local(data)
            return True
        if self.leader:
            msg = self._msg(self.leader, PROPOSE)
            msg.entries.extend(RaftEntry(data=d) for d in data)
            self._msgs.append(msg)
            return True
        return False

    def read_index(self, context: bytes) -> bool:
        """Ask for a linearizable read index; it arrives in ``Ready.reads``."""
        if self.role is Role.LEADER:
            self._leader_read(ReadRequest(context, 0, self.id))
            return True
        if self.leader:
            msg = self._msg(self.leader, READ_INDEX)
            msg.context = context
            self._msgs.append(msg)
            return True
        return False

    def restore(self, index: int, term: int) -> bool:
        """A snapshot at (index, term) has been received whole; install it if newer."""
        if index <= self.log.committed:
            return False
        self._pending_snapshot = (index, term)
        return True

    def snapshot_done(self, peer: str, index: int | None) -> None:
        """The driver finished sending ``peer`` a snapshot at ``index`` (None: gave up)."""
        pr = self.progress.get(peer)
        if self.role is not Role.LEADER or pr is None or pr.track is not Track.SNAPSHOT:
            return
        if index is None:
            pr.became(Track.PROBE, pr.match + 1)
            pr.paused = True  # the next heartbeat answer tries again
        else:
            pr.became(Track.PROBE, max(pr.match, index) + 1)

    def step(self, m: RaftMessage) -> None:
        """Handle one message from a peer of this group."""
        if m.term > self.term:
            if m.type in (VOTE, PREVOTE) and self._in_lease():
                return  # we heard from a live leader: ignore a disruptive candidate
            if m.type == PREVOTE or (m.type == PREVOTE_RESP and not m.reject):
                pass  # pre-votes never change terms
            elif m.type in (APPEND, HEARTBEAT, SNAPSHOT, COMMIT):
                self._become(Role.FOLLOWER, m.term, m.sender)
            elif m.type == READ_INDEX_RESP:
                return  # from a leader of a newer term than we know: ignore the answer
            else:
                self._become(Role.FOLLOWER, m.term, "")
        elif m.term < self.term:
            if m.type in (APPEND, HEARTBEAT):
                # A deposed leader: tell it the new term (it may be partitioned away from
                # everyone else and never hear it otherwise).
                self._msgs.append(self._msg(m.sender, APPEND_RESP))
            elif m.type == PREVOTE:
                resp = self._msg(m.sender, PREVOTE_RESP)
                resp.reject = True
                self._msgs.append(resp)
            return
        if m.type in (VOTE, PREVOTE):
            self._answer_vote(m)
            return
        if self.role is Role.LEADER:
            self._step_leader(m)
        elif self.role is Role.FOLLOWER:
            self._step_follower(m)
        else:
            self._step_candidate(m)

    # -- output ------------------------------------------------------------------------

    def has_ready(self) -> bool:
        return bool(self._msgs or self._after or self._ready_reads or self._snapshots_wanted
                    or self._pending_snapshot
                    or (self.term, self.vote, self.log.committed) != self._hard
                    or self.log.persist_next <= self.log.last_index()
                    or self.log.applied < self.log.committed)

    def messages(self) -> list[RaftMessage]:
        """Messages that may leave now, even while a Ready is being made durable: none of
        them claims anything about this node's disk."""
        self._tell_commit()
        out, self._msgs = self._msgs, []
        return out

    def ready(self) -> Ready:
        self._tell_commit()
        rd = Ready(messages=self._msgs, after_persist=_fewer_acks(self._after),
                   reads=self._ready_reads, snapshots_wanted=self._snapshots_wanted)
        self._msgs, self._after, self._ready_reads, self._snapshots_wanted = [], [], [], []
        hard = (self.term, self.vote, self.log.committed)
        if self._pending_snapshot is not None:
            index, term = self._pending_snapshot
            self._pending_snapshot = None
            if index <= self.log.committed:  # we caught up while it was arriving
                rd.snapshot_stale = index
            else:
                rd.snapshot = (index, term, self.log.restore(index, term))
                hard = (self.term, self.vote, self.log.committed)
                if self.leader:
                    resp = self._msg(self.leader, APPEND_RESP)
                    resp.index = index
                    rd.after_persist.append(resp)
        rd.entries = self.log.unpersisted()
        if rd.entries and len(self.members) == 1 and self.role is Role.LEADER:
            # A group of one: the batch that makes these entries durable commits them,
            # and applies them in the same atomic write, so a crash keeps both or neither.
            self.log.commit_to(int(rd.entries[-1].index))
        hard = (hard[0], hard[1], self.log.committed)
        if hard != self._hard:
            rd.hard_state = hard
            self._hard = hard
        rd.committed = self.log.to_apply(APPLY_BATCH_ENTRIES, APPLY_BATCH_BYTES)
        return rd

    def advance(self, rd: Ready) -> None:
        """The driver made ``rd`` durable (and applied it, and sent its messages)."""
        if rd.snapshot is not None:
            self.self_match = max(self.self_match, rd.snapshot[0])
            self.log.stable_last = max(self.log.stable_last, rd.snapshot[0])
        if rd.entries:
            last = rd.entries[-1]
            self.log.persisted(int(last.index), int(last.term))
            if self.log.term(int(last.index)) == last.term:
                self.self_match = max(self.self_match, int(last.index))
            if self.role is Role.LEADER and self._maybe_commit():
                self._commit_moved = True

    # -- roles -------------------------------------------------------------------------

    def _become(self, role: Role, term: int, leader: str) -> None:
        if term != self.term:
            self.term = term
            self.vote = ""
        self.role = role
        self.leader = leader
        self.elapsed = 0
        self.heartbeat_elapsed = 0
        self.timeout = self._random_timeout()
        self.votes = {}
        if role is not Role.LEADER:
            self.progress = {}
            self._drop_reads()
        if role is Role.LEADER:
            last = self.log.last_index()
            self.progress = {p: Progress(next=last + 1) for p in self.peers}
            self._append_local([b""])  # a term-start entry commits the earlier terms' tail
            self._maybe_commit()  # a group of one commits at once

    def _random_timeout(self) -> int:
        return self.election_ticks + self.rng.randrange(self.election_ticks)

    def _in_lease(self) -> bool:
        return bool(self.leader) and self.elapsed < self.election_ticks

    def _solicit(self, kind: int, term: int) -> None:
        self.votes = {self.id: True}
        if self._tally() >= self.quorum():  # a group of one
            self._won(kind)
            return
        for peer in self.peers:
            msg = self._msg(peer, kind)
            msg.term = term
            msg.index = self.log.last_index()
            msg.log_term = self.log.last_term()
            # A real vote request implies our own vote: durable before anyone sees it.
            (self._after if kind == VOTE else self._msgs).append(msg)

    def _tally(self) -> int:
        return sum(1 for granted in self.votes.values() if granted)

    def _won(self, kind: int) -> None:
        if kind == PREVOTE:
            self.campaign(pre_vote=False)
        else:
            self._become(Role.LEADER, self.term, self.id)

    def _answer_vote(self, m: RaftMessage) -> None:
        pre = m.type == PREVOTE
        can_vote = (self.vote == m.sender
                    or (not self.vote and not self.leader)
                    or (pre and m.term > self.term))
        resp = self._msg(m.sender, PREVOTE_RESP if pre else VOTE_RESP)
        if can_vote and self.log.is_up_to_date(int(m.index), int(m.log_term)):
            resp.term = m.term  # a granted pre-vote names the term it is for
            if not pre:
                self.vote = m.sender
                self.elapsed = 0
            self._after.append(resp)  # after our vote is durable
        else:
            resp.reject = True
            self._msgs.append(resp)

    # -- follower and candidates -------------------------------------------------------

    def _step_follower(self, m: RaftMessage) -> None:
        if m.type == APPEND:
            self.elapsed = 0
            self.leader = m.sender
            self._handle_append(m)
        elif m.type == HEARTBEAT:
            self.elapsed = 0
            self.leader = m.sender
            self.log.commit_to(min(int(m.commit), self.log.last_index()))
            resp = self._msg(m.sender, HEARTBEAT_RESP)
            resp.context = m.context
            self._msgs.append(resp)
        elif m.type == COMMIT:
            self.elapsed = 0
            self.leader = m.sender
            self.log.commit_to(min(int(m.commit), self.log.last_index()))
        elif m.type == SNAPSHOT:
            self.elapsed = 0
            self.leader = m.sender  # the driver streams the chunks; see restore()
        elif m.type == PROPOSE and self.leader:
            fwd = self._msg(self.leader, PROPOSE)
            fwd.entries.extend(m.entries)
            self._msgs.append(fwd)
        elif m.type == READ_INDEX_RESP and not m.reject:
            self._ready_reads.append((bytes(m.context), int(m.index)))

    def _step_candidate(self, m: RaftMessage) -> None:
        if m.type in (APPEND, HEARTBEAT, SNAPSHOT, COMMIT):
            self._become(Role.FOLLOWER, self.term, m.sender)
            self._step_follower(m)
            return
        wanted = PREVOTE_RESP if self.role is Role.PRE_CANDIDATE else VOTE_RESP
        if m.type != wanted:
            return
        self.votes.setdefault(m.sender, not m.reject)
        if self._tally() >= self.quorum():
            self._won(PREVOTE if self.role is Role.PRE_CANDIDATE else VOTE)
        elif len(self.votes) - self._tally() >= self.quorum():
            self._become(Role.FOLLOWER, self.term, "")

    def _handle_append(self, m: RaftMessage) -> None:
        resp = self._msg(m.sender, APPEND_RESP)
        prev = int(m.index)
        if prev < self.log.committed:
            resp.index = self.log.committed  # we hold all of that already
            self._after.append(resp)
            return
        if self.log.match_term(prev, int(m.log_term)):
            entries = list(m.entries)
            conflict = self.log.find_conflict(entries)
            if conflict:
                self.log.append(entries[conflict - prev - 1:])
            last_new = prev + len(entries)
            self.log.commit_to(min(int(m.commit), last_new))
            resp.index = last_new
            self._after.append(resp)  # an acknowledgement promises durability
            return
        resp.reject = True
        resp.index = prev
        hint = self.log.conflict_hint(min(prev, self.log.last_index()), int(m.log_term))
        resp.reject_hint = hint
        resp.hint_term = self.log.term(hint) or 0
        self._msgs.append(resp)

    # -- leader ------------------------------------------------------------------------

    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.elapsed += 1
        if self.elapsed >= self.election_ticks:
            self.elapsed = 0
            active = 1 + sum(1 for pr in self.progress.values() if pr.active)
            for pr in self.progress.values():
                pr.active = False
            if active < self.quorum():  # CheckQuorum: we may be the minority side
                self._become(Role.FOLLOWER, self.term, "")
                return
        if self.heartbeat_elapsed >= self.heartbeat_ticks:
            self.heartbeat_elapsed = 0
            self._broadcast_heartbeat(self.reads[-1].context if self.reads else b"")

    def _step_leader(self, m: RaftMessage) -> None:
        if m.type == PROPOSE:
            self._append_local([bytes(e.data) for e in m.entries])
            return
        if m.type == READ_INDEX:
            self._leader_read(ReadRequest(bytes(m.context), 0, m.sender))
            return
        pr = self.progress.get(m.sender)
        if pr is None:
            return
        pr.active = True
        if m.type == APPEND_RESP:
            self._append_response(m.sender, pr, m)
        elif m.type == HEARTBEAT_RESP:
            pr.paused = False
            if len(pr.inflight) >= MAX_INFLIGHT:
                pr.inflight.pop(0)  # answers were lost: let one more append through
            if pr.match < self.log.last_index():
                self._send_append(m.sender, pr)
            if m.context:
                self._read_acked(bytes(m.context), m.sender)

    def _append_response(self, peer: str, pr: Progress, m: RaftMessage) -> None:
        index = int(m.index)
        if m.reject:
            if pr.track is Track.REPLICATE:
                if index <= pr.match:
                    return  # stale rejection
                pr.became(Track.PROBE, pr.match + 1)
            elif pr.next - 1 != index:
                return  # stale rejection of an earlier probe
            pr.next = max(min(index, self._probe_from(m) + 1), pr.match + 1, 1)
            pr.paused = False
            self._send_append(peer, pr)
            return
        if index > pr.match:
            pr.match = index
            pr.next = max(pr.next, index + 1)
            self._commit_moved = True  # it may now hold commits it was not told of
        if pr.track is Track.PROBE:
            pr.became(Track.REPLICATE, pr.match + 1)
        elif pr.track is Track.SNAPSHOT:
            if pr.match + 1 >= self.log.first_index():  # the log reaches it again
                pr.became(Track.PROBE, pr.match + 1)
        else:
            pr.inflight = [i for i in pr.inflight if i > index]
        if self._maybe_commit():
            self._commit_moved = True
        if pr.next <= self.log.last_index():
            self._send_append(peer, pr)

    def _probe_from(self, m: RaftMessage) -> int:
        """Where to probe after a rejection: skip the follower's whole conflicting term."""
        hint, hint_term = int(m.reject_hint), int(m.hint_term)
        if hint_term:
            return self.log.conflict_hint(hint, hint_term)
        return hint

    def _maybe_commit(self) -> bool:
        matches = sorted([self.self_match, *(pr.match for pr in self.progress.values())],
                         reverse=True)
        index = matches[self.quorum() - 1]
        # Only an entry of the current term commits by counting replicas (§5.4.2).
        if index > self.log.committed and self.log.term(index) == self.term:
            self.log.commit_to(index)
            self._release_reads()
            return True
        return False

    def _append_local(self, data: list[bytes]) -> None:
        index = self.log.last_index()
        self.log.append([RaftEntry(index=index + 1 + i, term=self.term, data=d)
                         for i, d in enumerate(data)])
        self._broadcast_append()

    def _broadcast_append(self) -> None:
        for peer, pr in self.progress.items():
            self._send_append(peer, pr)

    def _tell_commit(self) -> None:
        """Followers learn a new commit index from the appends already going to them or
        from a commit notice, which is never answered: one message per follower however
        many acknowledgements moved the index since the last messages left (the host
        steps a whole frame first). A notice carries at most what the follower is known
        to hold (as a heartbeat does), so it never commits an entry it has not matched."""
        if not self._commit_moved:
            return
        self._commit_moved = False
        if self.role is not Role.LEADER:
            return
        committed = self.log.committed
        appends = {m.to: m for m in self._msgs if m.type == APPEND}
        for peer, pr in self.progress.items():
            known = min(pr.match, committed)
            if known <= pr.told:
                continue
            pr.told = known
            m = appends.get(peer)
            if m is not None:
                m.commit = committed  # the follower caps it at what the append proves
                continue
            notice = self._msg(peer, COMMIT)
            notice.commit = known
            self._msgs.append(notice)

    def _send_append(self, peer: str, pr: Progress) -> None:
        if pr.track is Track.SNAPSHOT or pr.paused:
            return
        if pr.track is Track.REPLICATE and len(pr.inflight) >= MAX_INFLIGHT:
            return
        prev = pr.next - 1
        prev_term = self.log.term(prev)
        if prev_term is None or prev < self.log.snap_index:  # compacted: send a snapshot
            pr.became(Track.SNAPSHOT, pr.next)
            self._snapshots_wanted.append(peer)
            return
        entries = self.log.entries(pr.next, self.log.last_index() + 1, MAX_APPEND_BYTES)
        msg = self._msg(peer, APPEND)
        msg.index = prev
        msg.log_term = prev_term
        msg.entries.extend(entries)
        msg.commit = self.log.committed
        self._msgs.append(msg)
        if pr.track is Track.REPLICATE and entries:
            pr.next = int(entries[-1].index) + 1
            pr.inflight.append(int(entries[-1].index))
        elif pr.track is Track.PROBE:
            pr.paused = True

    def _broadcast_heartbeat(self, context: bytes) -> None:
        for peer, pr in self.progress.items():
            msg = self._msg(peer, HEARTBEAT)
            msg.commit = min(pr.match, self.log.committed)
            pr.told = max(pr.told, int(msg.commit))
            msg.context = context
            self._msgs.append(msg)

    # -- linearizable reads (ReadIndex) ------------------------------------------------

    def _committed_in_term(self) -> bool:
        return self.log.term(self.log.committed) == self.term

    def _leader_read(self, req: ReadRequest) -> None:
        if not self._committed_in_term():
            self.waiting_reads.append(req)  # our commit index may lag until then
            return
        req.index = self.log.committed
        if len(self.members) == 1:
            self._read_done(req)
            return
        req.acks = {self.id}
        self.reads.append(req)
        self._broadcast_heartbeat(req.context)

    def _read_acked(self, context: bytes, peer: str) -> None:
        """A heartbeat round for ``context`` was answered: it confirms every read up to
        and including that one (they were all registered before the round was sent)."""
        for pos, req in enumerate(self.reads):
            if req.context != context:
                continue
            req.acks.add(peer)
            if len(req.acks) >= self.quorum():
                done, self.reads = self.reads[:pos + 1], self.reads[pos + 1:]
                for r in done:
                    self._read_done(r)
            return

    def _read_done(self, req: ReadRequest) -> None:
        if req.origin == self.id:
            self._ready_reads.append((req.context, req.index))
            return
        resp = self._msg(req.origin, READ_INDEX_RESP)
        resp.context = req.context
        resp.index = req.index
        self._msgs.append(resp)

    def _release_reads(self) -> None:
        if self.waiting_reads and self._committed_in_term():
            waiting, self.waiting_reads = self.waiting_reads, []
            for req in waiting:
                self._leader_read(req)

    def _drop_reads(self) -> None:
        """No longer leader: reads waiting here are refused (their askers retry)."""
        for req in [*self.reads, *self.waiting_reads]:
            if req.origin != self.id:
                resp = self._msg(req.origin, READ_INDEX_RESP)
                resp.context = req.context
                resp.reject = True
                self._msgs.append(resp)
        self.reads, self.waiting_reads = [], []

    # -- helpers -----------------------------------------------------------------------

    def _msg(self, to: str, kind: int) -> RaftMessage:
        return RaftMessage(group=self.group, type=kind, sender=self.id, to=to, term=self.term)


def _fewer_acks(after: list[RaftMessage]) -> list[RaftMessage]:
    """Acknowledgements are cumulative: of several successful ones to the same leader in
    one batch, the highest says all the others do."""
    if len(after) < 2:
        return after
    best: dict[tuple[str, int], RaftMessage] = {}
    for m in after:
        if m.type == APPEND_RESP and not m.reject:
            kept = best.get((m.to, m.term))
            if kept is None or m.index >= kept.index:
                best[m.to, m.term] = m
    return [m for m in after
            if m.type != APPEND_RESP or m.reject or best.get((m.to, m.term)) is m]
