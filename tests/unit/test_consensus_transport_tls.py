"""The consensus transport of a TLS cluster on real loopback sockets: messages flow when
both ends hold certificates the cluster CA signed; a dialler or a listener without one
(another CA's, or plaintext) delivers nothing, whatever secret it holds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterable
from pathlib import Path

from ports import free_port

from engine.cluster.cert_authority import Pem, create_ca, issue, write_pem
from engine.cluster.consensus.transport import RaftListener, RaftSender
from engine.cluster.tls import ClusterTls, load_pair
from engine.v1.raft_pb2 import RaftMessage
from engine.v1.raft_pb2 import RaftMessageType as T

SECRET = "s3cret"


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


class Inbox:
    def __init__(self) -> None:
        self.got: asyncio.Queue[RaftMessage] = asyncio.Queue()

    def __call__(self, messages: Iterable[RaftMessage]) -> None:
        for m in messages:
            self.got.put_nowait(m)


def message(term: int) -> RaftMessage:
    return RaftMessage(group="meta", type=T.RAFT_APPEND, sender="n1", to="n2", term=term)


def node_tls(tmp_path: Path, ca: Pem, name: str, signer: Pem | None = None) -> ClusterTls:
    """A node's TLS as ClusterTls.for_node builds it: its files, trusting ``ca``; its
    certificate signed by ``signer`` (default: that CA)."""
    write_pem(ca, tmp_path / "ca.pem", tmp_path / "ca-key.pem")
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}-key.pem"
    write_pem(issue(signer or ca, name, ["127.0.0.1"]), cert, key)
    return ClusterTls(tmp_path / "ca.pem", cert, key, ca.cert, load_pair(cert, key),
                      "127.0.0.1:1", {})


async def deliveries(listener_tls: ClusterTls | None, sender_tls: ClusterTls | None,
                     wait: float) -> list[int]:
    inbox = Inbox()
    listener = RaftListener(f"127.0.0.1:{free_port()}", SECRET, inbox,
                            tls=listener_tls.raft_server() if listener_tls else None)
    await listener.start()
    sender = RaftSender("n1", SECRET, lambda peer: listener.address, lambda peer: 0.0,
                        tls=sender_tls.raft_client() if sender_tls else None)
    try:
        got: list[int] = []
        deadline = asyncio.get_running_loop().time() + wait
        term = 0
        while asyncio.get_running_loop().time() < deadline and len(got) < 3:
            term += 1
            sender.send([message(term)])
            with contextlib.suppress(TimeoutError):
                got.append((await asyncio.wait_for(inbox.got.get(), 0.2)).term)
        return got
    finally:
        await sender.close()
        await listener.close()


def test_members_of_the_cluster_ca_talk(tmp_path: Path) -> None:
    ca = create_ca("cluster CA")
    a, b = node_tls(tmp_path / "a", ca, "n2"), node_tls(tmp_path / "b", ca, "n1")

    async def main() -> None:
        got = await deliveries(a, b, wait=10)
        assert len(got) == 3 and got == sorted(got)

    run(main())


def test_a_dialler_without_a_cluster_certificate_delivers_nothing(tmp_path: Path) -> None:
    ca, rogue = create_ca("cluster CA"), create_ca("rogue CA")
    listener = node_tls(tmp_path / "a", ca, "n2")
    # trusts the cluster CA (so it accepts the listener) but its own cert is the rogue's
    impostor = node_tls(tmp_path / "b", ca, "n1", signer=rogue)

    async def main() -> None:
        assert await deliveries(listener, impostor, wait=2) == []
        assert await deliveries(listener, None, wait=1) == []  # plaintext, right secret

    run(main())


def test_a_listener_without_a_cluster_certificate_is_not_sent_to(tmp_path: Path) -> None:
    ca, rogue = create_ca("cluster CA"), create_ca("rogue CA")
    impostor = node_tls(tmp_path / "a", rogue, "n2")  # accepts anyone its own CA signed...
    sender = node_tls(tmp_path / "b", ca, "n1")  # ...but the sender trusts the cluster's

    async def main() -> None:
        assert await deliveries(impostor, sender, wait=2) == []
        assert await deliveries(None, sender, wait=1) == []  # a plaintext listener

    run(main())
