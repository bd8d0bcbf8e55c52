"""The consensus transport on real loopback sockets: the wire format is pinned, and a
connection that cannot prove the secret, forges, replays or oversizes a frame delivers
nothing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import struct
from collections.abc import Awaitable, Iterable

import pytest
from ports import free_port

from engine.cluster.consensus import transport
from engine.cluster.consensus.transport import MAGIC, RaftListener, RaftSender
from engine.v1.raft_pb2 import RaftBatch, RaftEntry, RaftMessage
from engine.v1.raft_pb2 import RaftMessageType as T

SECRET = "s3cret"
CHALLENGE = bytes(range(32))


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


def message(sender: str = "n1", to: str = "n2", term: int = 7) -> RaftMessage:
    return RaftMessage(group="meta", type=T.RAFT_APPEND, sender=sender, to=to, term=term,
                       index=3, log_term=2)


class Inbox:
    def __init__(self) -> None:
        self.got: asyncio.Queue[RaftMessage] = asyncio.Queue()

    def __call__(self, messages: Iterable[RaftMessage]) -> None:
        for m in messages:
            self.got.put_nowait(m)

    async def next(self, timeout: float = 5.0) -> RaftMessage:
        return await asyncio.wait_for(self.got.get(), timeout)


async def listening(inbox: Inbox, secret: str = SECRET) -> RaftListener:
    listener = RaftListener(f"127.0.0.1:{free_port()}", secret, inbox)
    await listener.start()
    return listener


def sender_to(listener: RaftListener, node: str = "n1", secret: str = SECRET) -> RaftSender:
    return RaftSender(node, secret, lambda peer: listener.address, lambda peer: 0.0)


async def dial(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    greeting = await reader.readexactly(len(MAGIC) + 32)
    assert greeting[:len(MAGIC)] == MAGIC
    return reader, writer, greeting[len(MAGIC):]


def hello(node: bytes, challenge: bytes, secret: str = SECRET) -> bytes:
    proof = hmac.digest(secret.encode(), b"hello" + challenge + node, hashlib.sha256)
    return bytes([len(node)]) + node + proof


def frame(node: bytes, challenge: bytes, seq: int, payload: bytes) -> bytes:
    key = hmac.digest(SECRET.encode(), b"frames" + challenge + node, hashlib.sha256)
    tag = hmac.digest(key, struct.pack(">Q", seq) + payload, hashlib.sha256)[:16]
    return struct.pack(">I", 16 + len(payload)) + tag + payload


async def closed_by_peer(reader: asyncio.StreamReader) -> bool:
    return await asyncio.wait_for(reader.read(1), 5) == b""


def test_the_bytes_a_sender_writes_are_pinned() -> None:
    """A format change (handshake, key derivation, tag, framing) breaks mixed-version
    clusters; this pins the exact bytes for a known challenge and secret."""
    async def main() -> None:
        captured = bytearray()
        done = asyncio.Event()

        async def fake_listener(reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
            writer.write(MAGIC + CHALLENGE)
            while len(captured) < 1 + 2 + 32 + 4 + 16 + 24:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                captured.extend(chunk)
            done.set()
            writer.close()

        port = free_port()
        server = await asyncio.start_server(fake_listener, "127.0.0.1", port)
        sender = RaftSender("n1", SECRET, lambda peer: f"127.0.0.1:{port}", lambda peer: 0.0)
        sender.send([message()])
        await asyncio.wait_for(done.wait(), 5)
        await sender.close()
        server.close()
        assert bytes(captured).hex() == (
            "02" "6e31"  # node id
            "ef96dbe6600f25da394bb124cf25e445609907588c14e8c3d1988f73896f08d5"  # proof
            "00000028"  # frame length
            "85b59b64d829f8a5200f9e5b1c070dd2"  # tag
            "0a160a046d65746110011a026e3122026e32280730033802")  # RaftBatch
    run(main())


def test_messages_arrive_in_order_and_only_under_their_sender_name() -> None:
    async def main() -> None:
        inbox = Inbox()
        listener = await listening(inbox)
        sender = sender_to(listener, "n1")
        sender.send([message(term=1), message(sender="n3", term=2), message(term=3)])
        assert [(await inbox.next()).term, (await inbox.next()).term] == [1, 3]
        with pytest.raises(TimeoutError):
            await inbox.next(0.3)  # "n3" is not who this connection proved to be
        await sender.close()
        await listener.close()
    run(main())


def test_a_wrong_secret_delivers_nothing(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        inbox = Inbox()
        listener = await listening(inbox)
        sender = sender_to(listener, secret="guess")
        sender.send([message()])
        with pytest.raises(TimeoutError):
            await inbox.next(0.5)
        await sender.close()
        await listener.close()
    with caplog.at_level("WARNING", "engine.consensus"):
        run(main())
    assert "wrong cluster secret" in caplog.text
    assert "guess" not in caplog.text and SECRET not in caplog.text


@pytest.mark.parametrize("size", [0, 65])
def test_a_node_id_of_bad_length_is_refused_before_anything_else_is_read(size: int) -> None:
    async def main() -> None:
        listener = await listening(Inbox())
        reader, writer, _ = await dial(listener.address)
        writer.write(bytes([size]))
        assert await closed_by_peer(reader)
        writer.close()
        await listener.close()
    run(main())


def test_forged_replayed_and_oversized_frames_end_the_connection() -> None:
    async def main() -> None:
        inbox = Inbox()
        listener = await listening(inbox)
        payload = RaftBatch(messages=[message()]).SerializeToString()

        # A good frame is delivered: the vectors below differ from it in one way each.
        reader, writer, challenge = await dial(listener.address)
        writer.write(hello(b"n1", challenge) + frame(b"n1", challenge, 0, payload))
        assert (await inbox.next()).term == 7
        # Replaying it on the same connection (sequence 0 again) is refused.
        writer.write(frame(b"n1", challenge, 0, payload))
        assert await closed_by_peer(reader)

        # A frame recorded on another connection (another challenge) is refused.
        reader, writer, challenge2 = await dial(listener.address)
        writer.write(hello(b"n1", challenge2) + frame(b"n1", challenge, 0, payload))
        assert await closed_by_peer(reader)

        # A forged tag is refused.
        reader, writer, challenge = await dial(listener.address)
        bad = bytearray(frame(b"n1", challenge, 0, payload))
        bad[-1] ^= 1
        writer.write(hello(b"n1", challenge) + bytes(bad))
        assert await closed_by_peer(reader)

        # A length over the limit is refused before any of the frame is read.
        reader, writer, challenge = await dial(listener.address)
        writer.write(hello(b"n1", challenge) + struct.pack(">I", transport.MAX_FRAME + 1))
        assert await closed_by_peer(reader)

        with pytest.raises(TimeoutError):
            await inbox.next(0.3)
        await listener.close()
    run(main())


def test_the_sender_reconnects_when_the_listener_comes_back() -> None:
    async def main() -> None:
        inbox = Inbox()
        listener = await listening(inbox)
        sender = sender_to(listener)
        sender.send([message(term=1)])
        assert (await inbox.next()).term == 1
        await listener.close()
        restarted = RaftListener(listener.address, SECRET, inbox)
        await restarted.start()
        term = 2
        got = None
        while got is None:  # messages sent while the link is down are dropped
            sender.send([message(term=term)])
            try:
                got = await inbox.next(0.2)
            except TimeoutError:
                term += 1
        assert got.term >= 2
        await sender.close()
        await restarted.close()
    run(main())


def test_a_peer_that_stops_reading_is_dropped_not_buffered_forever(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A paused peer must not make the sender hold unbounded memory."""
    monkeypatch.setattr(transport, "MAX_BUFFERED", 1 << 20)

    async def main() -> None:
        accepted: list[asyncio.StreamWriter] = []

        async def never_reads(reader: asyncio.StreamReader,
                              writer: asyncio.StreamWriter) -> None:
            writer.write(MAGIC + CHALLENGE)
            accepted.append(writer)
            await asyncio.sleep(30)

        port = free_port()
        server = await asyncio.start_server(never_reads, "127.0.0.1", port)
        sender = RaftSender("n1", SECRET, lambda peer: f"127.0.0.1:{port}", lambda peer: 0.0)
        big = RaftMessage(group="g", type=T.RAFT_APPEND, sender="n1", to="n2",
                          entries=[RaftEntry(index=1, term=1, data=b"x" * (256 << 10))])
        for _ in range(400):  # 100 MiB offered
            sender.send([big])
            await asyncio.sleep(0)
        await asyncio.sleep(1.0)
        assert len(accepted) >= 2, "the stuck link was never dropped and redialled"
        link = sender._links["n2"]
        assert len(link.queue) < 400
        await sender.close()
        server.close()
    run(main())

