"""Raft safety under adversarial schedules: a seeded simulation of whole groups.

Every node runs the real ``RaftCore`` and ``RaftLog``; only the disk and the network are
simulated. A schedule, drawn from the seed, interleaves ticks, proposals, linearizable
reads, message delivery in any order, loss, duplication, partitions, log compaction with
snapshots, and crashes at the worst moments: while a turn's writes are in flight (a
crash loses everything not yet persisted, as a power loss does). A node's turn is split
in two, as the real driver's is: it takes a Ready and sends the immediate messages, and
only later (after other events, and sending more immediate messages) makes it durable
and sends the rest. After every step the checker asserts:

* **Election safety**: at most one leader per term.
* **One vote per term**: no node grants its vote to two candidates in one term, across
  crashes (the vote is durable before the answer leaves).
* **State machine safety**: every node applies the same command at the same index; a
  command applied anywhere is never replaced (nothing acknowledged is lost).
* **Linearizable reads**: a read index is at least every index applied anywhere
  before the read was asked.

At the end the network heals and the group must converge (liveness): one leader, every
node applying everything any node applied, and new proposals committing.

``CONSENSUS_SIM_SEEDS=N`` runs N seeds per configuration instead of the default.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

import pytest

from engine.cluster.consensus.core import RaftCore
from engine.cluster.consensus.log import RaftLog
from engine.cluster.consensus.protocol import Ready, Role
from engine.v1.raft_pb2 import RaftEntry, RaftMessage
from engine.v1.raft_pb2 import RaftMessageType as T

SEEDS = int(os.environ.get("CONSENSUS_SIM_SEEDS", "40"))
STEPS = 3000


class Violation(AssertionError):
    pass


@dataclass
class Disk:
    """What survives a crash: hard state, stored entries, the applied state."""

    term: int = 0
    vote: str = ""
    commit: int = 0
    log: dict[int, RaftEntry] = field(default_factory=dict)
    snap_index: int = 0
    snap_term: int = 0
    applied: list[tuple[int, int, bytes]] = field(default_factory=list)  # the state machine

    # StableLog
    def term_of(self, index: int) -> int | None:
        entry = self.log.get(index)
        return None if entry is None else int(entry.term)

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[RaftEntry]:
        out: list[RaftEntry] = []
        size = 0
        for i in range(lo, hi):
            entry = self.log[i]
            if out and size + entry.ByteSize() > max_bytes:
                break
            out.append(entry)
            size += entry.ByteSize()
        return out

    def last_index(self) -> int:
        return max(self.log, default=self.snap_index)

    def applied_index(self) -> int:
        return self.applied[-1][0] if self.applied else 0


class StableView:
    def __init__(self, disk: Disk) -> None:
        self.disk = disk

    def term(self, index: int) -> int | None:
        return self.disk.term_of(index)

    def entries(self, lo: int, hi: int, max_bytes: int) -> list[RaftEntry]:
        return self.disk.entries(lo, hi, max_bytes)


@dataclass
class SnapshotOffer:
    index: int
    term: int
    state: list[tuple[int, int, bytes]]


class Sim:
    def __init__(self, seed: int, size: int) -> None:
        self.rng = random.Random(seed)
        self.ids = [f"n{i}" for i in range(size)]
        self.disks = {n: Disk() for n in self.ids}
        self.cores: dict[str, RaftCore | None] = {}
        self.net: list[RaftMessage] = []
        self.cut: set[tuple[str, str]] = set()
        self.leaders: dict[int, str] = {}  # term -> leader
        self.votes: dict[tuple[str, int], str] = {}  # (voter, term) -> candidate
        self.global_log: dict[int, tuple[int, bytes]] = {}  # applied anywhere
        self.snapshots: dict[tuple[str, str], SnapshotOffer] = {}  # (to, from) in flight
        self.received: dict[str, dict[int, SnapshotOffer]] = {}  # per node, by index
        self.snap_pending: dict[tuple[str, str], int] = {}  # (leader, peer) -> ticks waiting
        self.reads: dict[bytes, int] = {}  # read context -> max applied when asked
        self.reads_done = 0
        self.proposed = 0
        self.inflight: dict[str, Ready] = {}  # a turn's writes not yet durable
        for n in self.ids:
            self.start(n)

    # -- node lifecycle ----------------------------------------------------------------

    def start(self, n: str) -> None:
        d = self.disks[n]
        log = RaftLog(StableView(d), d.snap_index, d.snap_term, d.last_index(), d.commit,
                      d.applied_index())
        self.cores[n] = RaftCore("g", n, self.ids, log, term=d.term, vote=d.vote,
                                 election_ticks=5, rng=random.Random(self.rng.random()))
        self.received.pop(n, None)

    def crash(self, n: str) -> None:
        """Power loss: the process and whatever it had not yet made durable are gone."""
        self.cores[n] = None
        self.inflight.pop(n, None)

    # -- one node's turn ---------------------------------------------------------------

    def turn(self, n: str) -> None:
        """Half of a driver turn: take a Ready and send its immediate messages, or (when
        one is in flight) make it durable, send what waited for that, and advance. Other
        events (messages, ticks, proposals) happen in between, as while the real driver
        waits for its fsync."""
        core = self.cores[n]
        if core is None:
            return
        if n in self.inflight and self.rng.random() < 0.5:
            self.send(core.messages())  # the driver sends these while it waits
            return
        rd = self.inflight.pop(n, None)
        if rd is None:
            if core.has_ready():
                rd = core.ready()
                self.send(rd.messages)
                self.inflight[n] = rd
            return
        self.persist(n, rd)
        self.send(rd.after_persist)
        for context, index in rd.reads:
            asked = self.reads.pop(context, None)
            if asked is not None and index < asked:
                raise Violation(f"{n}: read index {index} < {asked} applied before the read")
            self.reads_done += 1
        for peer in rd.snapshots_wanted:
            d = self.disks[n]
            offer = SnapshotOffer(d.applied_index(), self._term_at(d, d.applied_index()),
                                  list(d.applied))
            msg = RaftMessage(group="g", type=T.RAFT_SNAPSHOT, sender=n, to=peer,
                              term=core.term, index=offer.index, log_term=offer.term)
            self.snapshots[(peer, n)] = offer
            self.snap_pending[(n, peer)] = 0
            self.net.append(msg)
        core.advance(rd)

    def _term_at(self, d: Disk, index: int) -> int:
        if index == 0:
            return 0
        for i, t, _ in reversed(d.applied):
            if i == index:
                return t
        raise AssertionError("applied index has no entry")

    def persist(self, n: str, rd: Ready) -> None:
        d = self.disks[n]
        if rd.hard_state is not None:
            d.term, d.vote, d.commit = rd.hard_state
        if rd.snapshot_stale:
            self.received[n].pop(rd.snapshot_stale)
        if rd.snapshot is not None:
            offer = self.received[n].pop(rd.snapshot[0])
            index, term, keep_tail = rd.snapshot
            assert (offer.index, offer.term) == (index, term)
            for i in [i for i in d.log if i <= index or not keep_tail]:
                del d.log[i]
            d.snap_index, d.snap_term = offer.index, offer.term
            d.applied = list(offer.state)
            d.commit = max(d.commit, offer.index)
        if rd.entries:
            first = int(rd.entries[0].index)
            for i in [i for i in d.log if i >= first]:
                del d.log[i]
            for e in rd.entries:
                d.log[int(e.index)] = e
        for e in rd.committed:
            index = int(e.index)
            if index != d.applied_index() + 1:
                raise Violation(f"{n}: applies {index} after {d.applied_index()}")
            d.applied.append((index, int(e.term), bytes(e.data)))
            seen = self.global_log.setdefault(index, (int(e.term), bytes(e.data)))
            if seen != (int(e.term), bytes(e.data)):
                raise Violation(f"{n}: applied {(e.term, e.data)} at {index}, others {seen}")

    def send(self, msgs: list[RaftMessage]) -> None:
        for m in msgs:
            if m.type == T.RAFT_VOTE_RESP and not m.reject:
                key = (m.sender, int(m.term))
                if self.votes.setdefault(key, m.to) != m.to:
                    raise Violation(f"{m.sender} voted twice in term {m.term}")
            self.net.append(m)

    def deliver(self, i: int) -> None:
        m = self.net.pop(i)
        if (m.sender, m.to) in self.cut or self.rng.random() < 0.05:
            return  # partitioned or lost
        if self.rng.random() < 0.02:
            self.net.append(m)  # duplicated
        core = self.cores[m.to]
        if core is None:
            return
        if m.type == T.RAFT_SNAPSHOT:
            offer = self.snapshots.pop((m.to, m.sender), None)
            busy = self.inflight.get(m.to)
            if offer is None or (busy is not None and busy.snapshot is not None):
                return  # the driver ignores a transfer while it installs one
            core.step(m)  # term checks, follows the sender as leader
            if core.term == m.term and core.leader == m.sender and core.restore(
                    offer.index, offer.term):
                self.received.setdefault(m.to, {})[offer.index] = offer
            ack = RaftMessage(group="g", type=T.RAFT_SNAPSHOT_ACK, sender=m.to, to=m.sender,
                              term=core.term, index=offer.index)
            self.net.append(ack)
            return
        if m.type == T.RAFT_SNAPSHOT_ACK:
            if self.snap_pending.pop((m.to, m.sender), None) is not None:
                core.snapshot_done(m.sender, int(m.index))
            return
        core.step(m)

    # -- the schedule ------------------------------------------------------------------

    def step(self, faults: bool) -> None:
        r = self.rng.random()
        live = [n for n in self.ids if self.cores[n] is not None]
        if r < 0.45:
            # Mostly in order per link, sometimes any message: real networks reorder a
            # little, and a pure random bag would starve new messages behind stale ones.
            for _ in range(min(len(self.net), 4)):
                if self.rng.random() < 0.8:
                    link = self.rng.choice(self.net)
                    i = next(i for i, m in enumerate(self.net)
                             if (m.sender, m.to) == (link.sender, link.to))
                else:
                    i = self.rng.randrange(len(self.net))
                self.deliver(i)
        elif r < 0.70:
            n = self.rng.choice(live) if live else None
            if n:
                self.turn(n)
        elif r < 0.80 and live:
            n = self.rng.choice(live)
            core = self.cores[n]
            assert core is not None
            core.tick()
            for (leader, peer), waited in list(self.snap_pending.items()):
                if leader == n:
                    self.snap_pending[(leader, peer)] = waited + 1
                    if waited > 10:  # the transfer is lost: give up, as the driver does
                        del self.snap_pending[(leader, peer)]
                        core.snapshot_done(peer, None)
        elif r < 0.86 and live and faults:
            core = self.cores[self.rng.choice(live)]
            assert core is not None
            self.proposed += 1
            core.propose([b"v%d" % self.proposed])
        elif r < 0.89 and live and faults:
            core = self.cores[self.rng.choice(live)]
            assert core is not None
            context = b"r%d" % self.rng.getrandbits(48)
            self.reads[context] = max(len(self.global_log), 0)
            core.read_index(context)
        elif r < 0.91 and live:
            self.compact(self.rng.choice(live))
        elif faults and r < 0.915 and live:
            # Crashes are most interesting while writes are in flight: prefer those nodes.
            busy = [n for n in live if n in self.inflight]
            n = self.rng.choice(busy if busy and self.rng.random() < 0.7 else live)
            if len(live) > 1 or self.rng.random() < 0.3:
                self.crash(n)
        elif faults and r < 0.93:
            if self.cut and self.rng.random() < 0.5:
                self.cut.clear()  # the partition heals
            else:
                a, b = self.rng.sample(self.ids, 2)
                self.cut |= {(a, b)} if self.rng.random() < 0.5 else {(a, b), (b, a)}
        down = [n for n in self.ids if self.cores[n] is None]
        if down and self.rng.random() < 0.01:
            self.start(self.rng.choice(down))  # a crashed node comes back after a while
        self.check()

    def compact(self, n: str) -> None:
        core = self.cores[n]
        d = self.disks[n]
        assert core is not None
        upto = d.applied_index() - self.rng.randrange(3)
        if upto <= d.snap_index or upto > core.log.stable_last:
            return
        term = self._term_at(d, upto)
        core.log.compacted(upto, term)  # the core forgets first, then the disk drops
        for i in [i for i in d.log if i <= upto]:
            del d.log[i]
        d.snap_index, d.snap_term = upto, term

    def check(self) -> None:
        for n in self.ids:
            core = self.cores[n]
            leading = core is not None and core.role is Role.LEADER
            if leading and self.leaders.setdefault(core.term, n) != n:  # type: ignore[union-attr]
                raise Violation(f"two leaders in term {core.term}")  # type: ignore[union-attr]

    def heal(self) -> None:
        self.cut.clear()
        for n in self.ids:
            if self.cores[n] is None:
                self.start(n)
        for _ in range(8000):
            self.step(faults=False)
            if self.converged():
                return
        raise Violation("no convergence after healing")

    def converged(self) -> bool:
        leaders = [n for n in self.ids if self.cores[n].role is Role.LEADER]  # type: ignore[union-attr]
        if len(leaders) != 1:
            return False
        top = max(self.global_log, default=0)
        return all(self.disks[n].applied_index() >= top for n in self.ids)


def run(seed: int, size: int) -> Sim:
    sim = Sim(seed, size)
    for _ in range(STEPS):
        sim.step(faults=True)
    sim.heal()
    # Liveness: a healed group commits new commands (re-proposed, as a client retries,
    # since a leader change may drop an uncommitted one) and every node applies them.
    for attempt in range(8000):
        if attempt % 200 == 0:
            for core in sim.cores.values():
                if core is not None and core.role is Role.LEADER:
                    core.propose([b"final"])
        sim.step(faults=False)
        if any(data == b"final" for _, data in sim.global_log.values()) and sim.converged():
            return sim
    raise Violation("a healed group made no progress")


@pytest.mark.parametrize("size", [3, 5])
def test_safety_under_random_schedules(size):
    progress = reads = 0
    for seed in range(SEEDS):
        try:
            sim = run(seed * 7919 + size, size)
        except Violation as exc:
            raise AssertionError(f"seed {seed * 7919 + size}: {exc}") from None
        progress += len(sim.global_log)
        reads += sim.reads_done
    # The schedules must exercise the protocol, not idle: entries commit and reads finish.
    assert progress > SEEDS * 20
    assert reads > SEEDS


def test_single_member_commits_without_peers():
    sim = Sim(1, 1)
    core = sim.cores["n0"]
    assert core is not None
    core.campaign()
    for _ in range(100):
        sim.turn("n0")
    assert core.role is Role.LEADER
    core.propose([b"a", b"b"])
    for _ in range(100):
        sim.turn("n0")
    assert [d for _, _, d in sim.disks["n0"].applied] == [b"", b"a", b"b"]


def test_an_earlier_terms_entry_commits_only_through_one_of_the_leaders_term():
    """Figure 8 of the Raft paper: a leader of term 4 holding entry 2 of term 2 on a
    majority must not call it committed (a node with a term-3 entry at index 2 could
    still be elected and overwrite it); once an entry of term 4 is on a majority, both
    commit. The random schedules rarely build this exact history, so it is built here."""
    disks = {n: Disk(term=3) for n in ("a", "b", "c")}
    for d in disks.values():
        d.log[1] = RaftEntry(index=1, term=1, data=b"x")
        d.commit = 1
    disks["a"].log[2] = RaftEntry(index=2, term=2, data=b"y")
    cores = {n: RaftCore("g", n, ["a", "b", "c"],
                         RaftLog(StableView(d), 0, 0, max(d.log), d.commit, 0), term=d.term)
             for n, d in disks.items()}
    a = cores["a"]

    def flush(core: RaftCore) -> list[RaftMessage]:
        rd = core.ready()
        for e in rd.entries:
            disks[core.id].log[int(e.index)] = e
        core.advance(rd)
        return [*rd.messages, *rd.after_persist]

    a.campaign(pre_vote=False)  # term 4
    for m in flush(a):
        if m.type == T.RAFT_VOTE and m.to == "b":
            cores["b"].step(m)
            for answer in flush(cores["b"]):
                a.step(answer)
    assert a.role is Role.LEADER and a.term == 4
    flush(a)  # the term-4 entry (index 3) is durable on a
    assert a.log.term(3) == 4
    # c acknowledges index 2 (term 2) only, as if it got an append without index 3.
    a.step(RaftMessage(group="g", type=T.RAFT_APPEND_RESP, sender="c", to="a", term=4,
                       index=2))
    flush(a)
    assert a.log.committed == 1, "committed an earlier term's entry by counting replicas"
    a.step(RaftMessage(group="g", type=T.RAFT_APPEND_RESP, sender="c", to="a", term=4,
                       index=3))
    flush(a)
    assert a.log.committed == 3


def test_a_stale_append_never_shortens_a_followers_log():
    """pysyncobj 0.3.17 deletes every entry after an append's prevLogIdx even when none
    conflicts, so a pipelined append that arrives after a later one (or a resend from a
    rewound nextIndex carrying fewer entries) drops entries the follower already
    acknowledged, and applied: the CRITICAL "truncating already-applied log entries" it
    logs in fault-free clusters. Raft truncates only from the first conflicting entry."""
    disk = Disk(term=1)
    b = RaftCore("g", "b", ["a", "b", "c"], RaftLog(StableView(disk), 0, 0, 0, 0, 0),
                 term=1)

    def deliver(m: RaftMessage) -> list[RaftMessage]:
        b.step(m)
        rd = b.ready()
        for e in rd.entries:
            disk.log[int(e.index)] = e
        b.advance(rd)
        return [*rd.messages, *rd.after_persist]

    entries = [RaftEntry(index=i, term=1, data=b"e%d" % i) for i in range(1, 7)]

    def append(prev: int, upto: int, commit: int) -> RaftMessage:
        return RaftMessage(group="g", type=T.RAFT_APPEND, sender="a", to="b", term=1,
                           index=prev, log_term=1 if prev else 0, commit=commit,
                           entries=entries[prev:upto])

    deliver(append(0, 2, 0))
    deliver(append(2, 4, 2))
    [ack] = deliver(append(4, 6, 2))
    assert ack.index == 6 and not ack.reject
    assert b.log.committed == 2
    # The middle append again (a duplicate, or a resend after the leader rewound): it
    # carries entries 3-4 of 6, all matching, after the commit index.
    [ack] = deliver(append(2, 4, 2))
    assert not ack.reject
    assert b.log.last_index() == 6
    assert [bytes(e.data) for e in b.log.entries(1, 7)] == [
        b"e1", b"e2", b"e3", b"e4", b"e5", b"e6"]
    # A conflicting entry (a new leader's term 2 at index 5) truncates from there only.
    new = RaftMessage(group="g", type=T.RAFT_APPEND, sender="c", to="b", term=2, index=4,
                      log_term=1, commit=2,
                      entries=[RaftEntry(index=5, term=2, data=b"n5")])
    deliver(new)
    assert b.log.last_index() == 5 and b.log.term(5) == 2
    assert [bytes(e.data) for e in b.log.entries(1, 6)] == [b"e1", b"e2", b"e3", b"e4", b"n5"]


def test_followers_hear_of_commits_in_one_unanswered_notice_each():
    """A follower must learn a commit promptly (a command proposed through it is answered
    once it applies it), without the leader sending an append that must be answered for
    every commit, and never beyond what that follower is known to hold."""
    disks = {n: Disk(term=1) for n in ("a", "b", "c")}
    cores = {n: RaftCore("g", n, ["a", "b", "c"], RaftLog(StableView(d), 0, 0, 0, 0, 0),
                         term=1)
             for n, d in disks.items()}
    a, b, c = cores["a"], cores["b"], cores["c"]
    held: list[RaftMessage] = []  # what a sent to c, delivered later

    def flush(core: RaftCore) -> list[RaftMessage]:
        rd = core.ready()
        for e in rd.entries:
            disks[core.id].log[int(e.index)] = e
        core.advance(rd)
        return [*rd.messages, *rd.after_persist, *core.messages()]

    def exchange(first: list[RaftMessage]) -> tuple[list[RaftMessage], list[RaftMessage]]:
        """Deliver between a and b until quiet; c's mail is held. (a's, b's messages)"""
        to_b, from_b, queue = [], [], list(first)
        while queue:
            m = queue.pop(0)
            if m.to == "c":
                held.append(m)
            elif m.to == "b":
                to_b.append(m)
                b.step(m)
                answers = flush(b)
                from_b += answers
                queue += answers
            else:
                a.step(m)
                queue += flush(a)
        return to_b, from_b

    a.campaign(pre_vote=False)
    exchange(flush(a))
    assert a.role is Role.LEADER
    a.propose([b"x"])
    to_b, from_b = exchange(flush(a))
    assert a.log.committed == b.log.committed == 2
    notices = [m for m in to_b if m.type == T.RAFT_COMMIT]
    assert notices and all(m.commit <= 2 for m in notices)
    # b answered every append and heartbeat it got, never a notice.
    assert len([m for m in from_b if m.type == T.RAFT_APPEND_RESP]) == len(
        [m for m in to_b if m.type == T.RAFT_APPEND])
    assert not [m for m in held if m.type == T.RAFT_COMMIT]  # c's log is unknown to a
    # Had a heard that c holds index 1 only (c's index 2 may be a stale entry of an old
    # term), a notice tells it 1, not 2: c would commit its stale entry otherwise.
    a.progress["c"].match = 1
    a._commit_moved = True
    assert [(m.to, m.type, m.commit) for m in a.messages()] == [("c", T.RAFT_COMMIT, 1)]
    a.progress["c"].match = 0
    # c catches up: the rest of the log goes to it with the commit index on it.
    answers: list[RaftMessage] = []
    for m in held:
        if m.type != T.RAFT_VOTE:
            c.step(m)
            answers += flush(c)
    while answers:
        for m in answers:
            a.step(m)
        to_c = [m for m in flush(a) if m.to == "c"]
        answers = []
        for m in to_c:
            c.step(m)
            answers += flush(c)
    assert c.log.committed == 2
