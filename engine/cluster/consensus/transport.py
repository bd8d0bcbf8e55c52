"""Raft messages between nodes: one authenticated TCP stream per (sender, receiver) pair.

Each node listens on its ``raft_address``; a node sends to a peer over one connection it
opens, and receives on the connections peers open to it (messages are one-way: a reply
is a message on the other node's own connection). Consensus needs many small messages,
and a gRPC stream cost about 60 us of CPU per message where a framed TCP stream costs
about 4 (measured in one process, docs/cluster.md): on two cores shared by a cluster that
was a third of the CPU.

Wire format (explicit; never pickle, so holding the secret is not running code):

    listener -> dialer  b"ENGINE-RAFT/1" + 32 random bytes (the challenge)
    dialer -> listener  1 byte n + n bytes node id + HMAC-SHA256(secret, "hello" +
                        challenge + node id)                      (at most 98 bytes)
    dialer -> listener  frames: 4-byte length, 16-byte tag, RaftBatch protobuf, where
                        tag = HMAC-SHA256(key, 8-byte sequence + RaftBatch)[:16] and
                        key = HMAC-SHA256(secret, "frames" + challenge + node id)

The listener reads nothing but the fixed-size hello before the proof checks out, bounds
every frame's length before reading it, and drops the connection on a bad tag (a frame
can be neither forged, nor replayed from another connection, nor reordered). A node may
only speak for itself: messages naming another sender are dropped.

In a TLS cluster (engine/cluster/tls.py) the same bytes travel inside mutual TLS: the
listener requires a client certificate signed by the cluster CA, the dialler checks the
listener's against the CA and the host it dialled, and the secret's proof follows as
before. Without ``[tls]`` traffic is authenticated but not encrypted.

Each peer has a bounded queue drained by one task, which writes whatever accumulated as
one frame; between availability zones a frame pays the simulated one-way latency,
measured from when its first message was queued, so frames stay pipelined. A peer that
does not drain (paused, black-holed) is disconnected once its buffer passes a limit, and
messages are dropped: Raft re-sends what matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import ssl
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable

from engine.cluster.topology import split_host_port
from engine.v1.raft_pb2 import RaftBatch, RaftMessage

log = logging.getLogger("engine.consensus")
MAGIC = b"ENGINE-RAFT/1"
CHALLENGE = 32
MAX_ID = 64
PROOF = 32
TAG = 16
MAX_FRAME = 32 << 20  # a batch: snapshot chunks are 1 MiB, appends 1 MiB each
MAX_QUEUED = 20_000  # messages per peer
MAX_BATCH_BYTES = 4 << 20
MAX_BUFFERED = 16 << 20  # unsent bytes before a peer counts as stuck
HANDSHAKE_SECONDS = 5.0
RECONNECT_SECONDS = (0.05, 1.0)
_LEN = struct.Struct(">I")
_SEQ = struct.Struct(">Q")

Receive = Callable[[Iterable[RaftMessage]], None]


def _proof(secret: bytes, challenge: bytes, node_id: bytes) -> bytes:
    return hmac.digest(secret, b"hello" + challenge + node_id, hashlib.sha256)


def _key(secret: bytes, challenge: bytes, node_id: bytes) -> bytes:
    return hmac.digest(secret, b"frames" + challenge + node_id, hashlib.sha256)


def _tag(key: bytes, seq: int, payload: bytes) -> bytes:
    return hmac.digest(key, _SEQ.pack(seq) + payload, hashlib.sha256)[:TAG]


class RaftListener:
    """Accepts peers' connections on this node's raft address and hands their messages
    to ``receive`` once each connection proved it holds the secret."""

    def __init__(self, address: str, secret: str, receive: Receive, *,
                 tls: ssl.SSLContext | None = None) -> None:
        self.address = address
        self._secret = secret.encode()
        self._receive = receive
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self) -> None:
        host, port = split_host_port(self.address)
        self._server = await asyncio.start_server(
            self._serve, host, port, reuse_address=True, ssl=self._tls,
            ssl_handshake_timeout=HANDSHAKE_SECONDS if self._tls else None)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        # Closing the sockets ends each connection's read; cancelling its task instead
        # makes asyncio's stream callback log the cancellation as an error.
        for writer in self._connections.values():
            writer.close()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=HANDSHAKE_SECONDS)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            await self._connection(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
            log.debug("raft connection from %s ended: %r", writer.get_extra_info("peername"),
                      exc)
        finally:
            del self._connections[task]
            writer.close()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        challenge = secrets.token_bytes(CHALLENGE)
        writer.write(MAGIC + challenge)
        size = (await asyncio.wait_for(reader.readexactly(1), HANDSHAKE_SECONDS))[0]
        if not 0 < size <= MAX_ID:
            return
        hello = await asyncio.wait_for(reader.readexactly(size + PROOF), HANDSHAKE_SECONDS)
        node_id, proof = hello[:size], hello[size:]
        if not hmac.compare_digest(proof, _proof(self._secret, challenge, node_id)):
            log.warning("raft connection from %s refused: wrong cluster secret",
                        writer.get_extra_info("peername"))
            return
        key = _key(self._secret, challenge, node_id)
        sender = node_id.decode(errors="replace")
        seq = 0
        while True:
            length = _LEN.unpack(await reader.readexactly(4))[0]
            if not TAG < length <= MAX_FRAME:
                log.warning("raft connection from %s: frame of %d bytes refused", sender,
                            length)
                return
            frame = await reader.readexactly(length)
            tag, payload = frame[:TAG], frame[TAG:]
            if not hmac.compare_digest(tag, _tag(key, seq, payload)):
                log.warning("raft connection from %s: bad frame tag, dropped", sender)
                return
            seq += 1
            messages = RaftBatch.FromString(payload).messages
            self._receive(m for m in messages if m.sender == sender)


class RaftSender:
    """Sends this node's messages to the peers, one connection each."""

    def __init__(self, node_id: str, secret: str, address_of: Callable[[str], str],
                 latency_of: Callable[[str], float], *,
                 tls: ssl.SSLContext | None = None) -> None:
        self._node_id = node_id.encode()
        self._secret = secret.encode()
        self.tls = tls
        self._address_of = address_of
        self._latency_of = latency_of
        self._links: dict[str, _Link] = {}

    def send(self, messages: list[RaftMessage]) -> None:
        now = time.monotonic()
        for message in messages:
            link = self._links.get(message.to)
            if link is None:
                link = self._links[message.to] = _Link(
                    self, message.to, self._address_of(message.to),
                    self._latency_of(message.to))
            link.put(now, message)

    async def close(self) -> None:
        for link in self._links.values():
            await link.close()


class _Link:
    def __init__(self, sender: RaftSender, peer: str, address: str, latency: float) -> None:
        self.sender = sender
        self.peer = peer
        self.address = address
        self.latency = latency
        self.queue: deque[tuple[float, RaftMessage]] = deque()
        self.ready = asyncio.Event()
        self.ended = False
        self.task = asyncio.ensure_future(self._run())

    def put(self, when: float, message: RaftMessage) -> None:
        if len(self.queue) >= MAX_QUEUED:
            self.queue.popleft()
        self.queue.append((when, message))
        self.ready.set()

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task

    async def _run(self) -> None:
        backoff = RECONNECT_SECONDS[0]
        while True:
            writer: asyncio.StreamWriter | None = None
            self.ended = False
            began = time.monotonic()
            watch: asyncio.Task[None] | None = None
            try:
                reader, writer, key = await self._connect()
                watch = asyncio.ensure_future(self._watch(reader))
                await self._pump(writer, key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused, reset, stuck: connect again
                log.debug("raft link to %s: %r", self.peer, exc)
            finally:
                if watch is not None:
                    watch.cancel()
                if writer is not None:
                    writer.close()
            self.queue.clear()  # stale by the time we reconnect; Raft re-sends
            # A link that held for a while redials at once; one refused again and again
            # (peer down, wrong secret) backs off, so it costs neither side much.
            lasted = time.monotonic() - began >= RECONNECT_SECONDS[1]
            backoff = RECONNECT_SECONDS[0] if lasted else min(backoff * 2,
                                                              RECONNECT_SECONDS[1])
            await asyncio.sleep(backoff)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
        host, port = split_host_port(self.address)
        tls = self.sender.tls
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            host, port, ssl=tls, server_hostname=host if tls else None,
            ssl_handshake_timeout=HANDSHAKE_SECONDS if tls else None), HANDSHAKE_SECONDS)
        greeting = await asyncio.wait_for(reader.readexactly(len(MAGIC) + CHALLENGE),
                                          HANDSHAKE_SECONDS)
        if greeting[:len(MAGIC)] != MAGIC:
            raise ConnectionError(f"{self.address} does not speak {MAGIC.decode()}")
        challenge = greeting[len(MAGIC):]
        me, secret = self.sender._node_id, self.sender._secret
        writer.write(bytes([len(me)]) + me + _proof(secret, challenge, me))
        return reader, writer, _key(secret, challenge, me)

    async def _watch(self, reader: asyncio.StreamReader) -> None:
        """The listener never writes after its greeting: anything read is the end of the
        connection (closed, reset, restarted), which the pump would otherwise only notice
        on a write, or never, as writes to a closed transport are dropped silently."""
        with contextlib.suppress(Exception):
            await reader.read(1)
        self.ended = True
        self.ready.set()

    async def _pump(self, writer: asyncio.StreamWriter, key: bytes) -> None:
        seq = 0
        transport = writer.transport
        while True:
            while not self.queue and not self.ended:
                self.ready.clear()
                await self.ready.wait()
            if self.ended or transport.is_closing():
                raise ConnectionError(f"{self.peer} closed the connection")
            first = self.queue[0][0]
            batch = RaftBatch()
            size = 0
            while self.queue and size < MAX_BATCH_BYTES:
                _, message = self.queue.popleft()
                batch.messages.append(message)
                size += message.ByteSize()
            if self.latency > 0:
                wait = first + self.latency - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            payload = batch.SerializeToString()
            writer.write(_LEN.pack(TAG + len(payload)) + _tag(key, seq, payload) + payload)
            seq += 1
            if transport.get_write_buffer_size() > MAX_BUFFERED:
                raise ConnectionError(f"{self.peer} is not reading: dropping the link")
            if transport.get_write_buffer_size() > MAX_BATCH_BYTES:
                await asyncio.wait_for(writer.drain(), HANDSHAKE_SECONDS)
            else:
                await asyncio.sleep(0)  # let the loop gather the next batch
