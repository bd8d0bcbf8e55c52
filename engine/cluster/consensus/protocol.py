"""What the pure Raft core (``core.py``) works with and hands back: message types as
plain ints, member roles, the leader's view of each follower, pending reads, and the
:class:`Ready` a driver turns into durable writes and sent messages. Apart so the core
module holds the protocol alone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from engine.v1.raft_pb2 import RaftEntry, RaftMessage
from engine.v1.raft_pb2 import RaftMessageType as _Types

# Message types as plain ints: reading them through protobuf's enum wrapper on every step
# showed in profiles.
APPEND = _Types.RAFT_APPEND
APPEND_RESP = _Types.RAFT_APPEND_RESP
COMMIT = _Types.RAFT_COMMIT
HEARTBEAT = _Types.RAFT_HEARTBEAT
HEARTBEAT_RESP = _Types.RAFT_HEARTBEAT_RESP
PREVOTE = _Types.RAFT_PREVOTE
PREVOTE_RESP = _Types.RAFT_PREVOTE_RESP
PROPOSE = _Types.RAFT_PROPOSE
READ_INDEX = _Types.RAFT_READ_INDEX
READ_INDEX_RESP = _Types.RAFT_READ_INDEX_RESP
SNAPSHOT = _Types.RAFT_SNAPSHOT
VOTE = _Types.RAFT_VOTE
VOTE_RESP = _Types.RAFT_VOTE_RESP

class Role(enum.Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class Track(enum.Enum):
    PROBE = 0  # one append at a time until the follower's match is found
    REPLICATE = 1  # appends streamed optimistically
    SNAPSHOT = 2  # a snapshot is being sent; appends wait


@dataclass
class Progress:
    """The leader's view of one follower."""

    match: int = 0
    next: int = 1
    track: Track = Track.PROBE
    paused: bool = False  # PROBE: an append is out, wait for its answer or a heartbeat
    inflight: list[int] = field(default_factory=list)  # REPLICATE: last index of each append
    active: bool = False  # heard from since the last CheckQuorum round
    told: int = 0  # the highest commit index this follower was told

    def became(self, track: Track, next_index: int) -> None:
        self.track = track
        self.next = next_index
        self.paused = False
        self.inflight.clear()


@dataclass
class ReadRequest:
    context: bytes
    index: int
    origin: str  # node id asking (this node for local reads)
    acks: set[str] = field(default_factory=set)


@dataclass
class Ready:
    """The work one turn of the driver must do, in this order: send ``messages``;
    durably write ``term``/``vote``/``commit`` and ``entries`` (deleting stored entries
    at or after ``entries[0].index`` first) or install ``snapshot``; apply
    ``committed``; send ``after_persist``; then call ``RaftCore.advance(ready)``."""

    messages: list[RaftMessage] = field(default_factory=list)
    after_persist: list[RaftMessage] = field(default_factory=list)
    hard_state: tuple[int, str, int] | None = None  # (term, vote, commit)
    entries: list[RaftEntry] = field(default_factory=list)
    committed: list[RaftEntry] = field(default_factory=list)
    # Install the received snapshot at (index, term); keep the log after it if True.
    snapshot: tuple[int, int, bool] | None = None
    snapshot_stale: int = 0  # index of a received snapshot older than our commit: drop it
    reads: list[tuple[bytes, int]] = field(default_factory=list)  # (context, read index)
    snapshots_wanted: list[str] = field(default_factory=list)  # peers past our compacted log

    def empty(self) -> bool:
        return not (self.messages or self.after_persist or self.hard_state or self.entries
                    or self.committed or self.snapshot or self.snapshot_stale or self.reads
                    or self.snapshots_wanted)
