"""A member never votes twice in one term, even across a power loss.

A real member process (tests/consensus/member.py) keeps its consensus store on a LossyFS
mount; this test plays the two other members over the real consensus transport. Candidate "a"
asks for its vote in term 5 and gets it; the member is killed with kill -9 and its disk
loses power at once (everything not fsynced is gone); it restarts; candidate "b" asks for
a vote in the same term 5. Raft's safety rests on the answer being no: the vote must
have been durable before it was sent. The same sequence with the store's fsyncs off
must give a second vote, or the test could not tell.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ports import free_port
from powerloss.mount import LossyMount, fuse_unavailable

from engine.cluster.consensus.transport import RaftListener, RaftSender
from engine.v1.raft_pb2 import RaftMessage
from engine.v1.raft_pb2 import RaftMessageType as T

MEMBER = Path(__file__).with_name("member.py")
REASON = fuse_unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=str(REASON))


class Candidates:
    """Plays members "a" and "b": receives the member's answers on one listener."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.inbox: asyncio.Queue[RaftMessage] = asyncio.Queue()

    def receive(self, messages) -> None:
        for m in messages:
            self.inbox.put_nowait(m)

    async def vote(self, sender: RaftSender, candidate: str, term: int) -> RaftMessage:
        """Ask for a vote until the member answers (it may still be starting)."""
        request = RaftMessage(group="g", type=T.RAFT_VOTE, sender=candidate, to="x",
                              term=term, index=0, log_term=0)
        for _ in range(100):
            sender.send([request])
            try:
                while True:
                    m = await asyncio.wait_for(self.inbox.get(), 0.3)
                    if m.type == T.RAFT_VOTE_RESP and m.to == candidate:
                        return m
            except TimeoutError:
                continue
        raise AssertionError(f"no answer to {candidate}'s vote request")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[LossyMount]:
    mount = LossyMount(tmp_path / "backing", tmp_path / "disk").start()
    yield mount
    mount.close()


def start_member(tmp_path: Path, disk: LossyMount, port: int, me: int, secret: str,
                 fsync: bool) -> subprocess.Popen[bytes]:
    args = [sys.executable, str(MEMBER), str(disk.mountpoint / "store"), f"127.0.0.1:{port}",
            "x", secret, f"a=127.0.0.1:{me}", f"b=127.0.0.1:{me}"]
    if not fsync:
        args.append("--no-fsync")
    log = open(tmp_path / "member.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log)
    log.close()
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == b"ready", (tmp_path / "member.log").read_text()
    return proc


@pytest.mark.parametrize("fsync", [True, False], ids=["fsync", "no-fsync"])
def test_no_second_vote_in_a_term_after_power_loss(tmp_path, disk, fsync):
    secret = secrets.token_hex(16)
    port, me = free_port(), free_port()

    async def main() -> tuple[RaftMessage, RaftMessage]:
        candidates = Candidates(secret)
        listener = RaftListener(f"127.0.0.1:{me}", secret, candidates.receive)
        await listener.start()
        # The member checks that a message's sender is the node that connected: one
        # connection per candidate.
        senders = {c: RaftSender(c, secret, lambda _: f"127.0.0.1:{port}", lambda _: 0.0)
                   for c in ("a", "b")}
        member = start_member(tmp_path, disk, port, me, secret, fsync)
        try:
            first = await candidates.vote(senders["a"], "a", 5)
            member.kill()  # kill -9 and the power cut, together
            disk.power_off()
            member.wait(10)
            disk.start()
            member = start_member(tmp_path, disk, port, me, secret, fsync)
            second = await candidates.vote(senders["b"], "b", 5)
        finally:
            member.kill()
            member.wait(10)
            for s in senders.values():
                await s.close()
            await listener.close()
        return first, second

    first, second = asyncio.run(main())
    assert not first.reject and first.term == 5
    if fsync:
        assert second.reject, "voted for b in term 5 after voting for a: two leaders possible"
    else:
        assert not second.reject, "the unsynced vote survived: the test cannot see a loss"
