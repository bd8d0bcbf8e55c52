"""The node's RESP listener: an asyncio Protocol per client on the node's own loop (no
thread per client), requests cut out in C (parser.py), run in order, and the
replies to everything one read brought written back at once (pipelining).

Memory per client is bounded: a client that pipelines faster than its commands run
stops being read once BACKLOG requests wait, and one that does not read its replies
stops being served (and read) until the transport's buffer drains. Past ``maxclients``
a new connection is told so and closed, as Redis does. A subscriber's messages are
written the moment they are published, under the pubsub output buffer limit
(subscriber.py).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
import time
from typing import Any, cast

from engine.api.resp import (  # noqa: F401  (the command modules register themselves)
    blocking,
    client_commands,
    cluster_commands,
    command_info,
    connection_commands,
    data_commands,
    encoder,
    errors,
    flush_commands,
    pubsub_commands,
    server_commands,
    transactions,
)
from engine.api.resp.cluster_view import ClusterView
from engine.api.resp.connection_commands import initial_identity
from engine.api.resp.context import RespContext
from engine.api.resp.dispatch import Admitted, execute, execute_now
from engine.api.resp.encoder import Error
from engine.api.resp.errors import RespError
from engine.api.resp.parser import ProtocolError, RequestParser
from engine.api.resp.session import Session
from engine.api.resp.subscriber import RespSubscriber
from engine.api.s3.server import https_context
from engine.cache.pubsub import Broker
from engine.cache.service import CacheService, Copies
from engine.clock import Clock
from engine.cluster.liveness import Liveness
from engine.cluster.topology import Topology, join_host_port, parse_listen
from engine.config import NodeConfig
from engine.errors import EngineError
from engine.iam.cache_users import CacheUsers

log = logging.getLogger("engine.resp")

BACKLOG = 1024  # requests waiting to run before the client stops being read
FLUSH_BYTES = 256 * 1024  # replies buffered before an early write within a batch


class RespProtocol(asyncio.Protocol):
    def __init__(self, ctx: RespContext) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.pending: collections.deque[list[bytes]] = collections.deque()
        self.error: ProtocolError | None = None
        self.task: asyncio.Task[None] | None = None
        self.writable = asyncio.Event()
        self.writable.set()
        self.reading = True
        self.out: bytearray | None = None  # the replies of the batch being served
        self.copies: Copies = []  # writes in out whose copies are not yet sent
        # the pending command _serve_now checked and left for _serve to run
        self.admitted: tuple[list[bytes], Admitted] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport = transport
        ctx = self.ctx
        ctx.connections_received += 1
        if len(ctx.clients) >= ctx.max_clients:
            ctx.rejected_connections += 1
            transport.write(f"-{errors.MAX_CLIENTS}\r\n".encode())
            transport.close()
            return
        session = Session(ctx.new_id(), _address(transport.get_extra_info("peername")),
                          _address(transport.get_extra_info("sockname")))
        session.identity = initial_identity(ctx)
        self.session = session
        session.pubsub = RespSubscriber(session, ctx.pubsub, ctx.clock,
                                        lambda: ctx.pubsub_limit, self._push,
                                        transport.get_write_buffer_size, self._kill)
        self.parser = RequestParser(ctx.max_bulk, lambda: session.identity is not None)
        ctx.clients[session.id] = (session, self.close)

    def data_received(self, data: bytes) -> None:
        if self.session is None or self.error is not None:
            return
        self._parsed(*self.parser.feed(data))
        if self.task is None and self.pending:
            self._serve_now()
        if self.task is None and (self.pending or self.error is not None):
            self.task = asyncio.get_running_loop().create_task(self._serve())

    def _parsed(self, commands: list[list[bytes]], error: ProtocolError | None) -> None:
        self.pending.extend(commands)
        if error is not None:  # read (and drop) the rest until the reply is out
            self.error = error
        elif len(self.pending) >= BACKLOG:
            self._pause_reading()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        """The command running goes on to its end (as in Redis: a write a client gave up
        on still happens, and is still copied to the replica); the rest is dropped."""
        self.writable.set()
        self.pending.clear()
        self.error = None
        if self.session is not None:
            self.ctx.clients.pop(self.session.id, None)
            if self.session.unblock is not None:  # a blocked client leaves the registry
                self.session.unblock(None)
            transactions.forget(self.ctx, self.session)
            if self.session.pubsub is not None:
                self.session.pubsub.drop_all()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _push(self, frame: bytes) -> None:
        """A pub/sub message, now: after the replies already made, before the next."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.copies and self.out is not None:  # replies wait for copies: keep the order
            self.out += frame
            return
        if self.out:
            transport.write(bytes(self.out))
            self.out.clear()
        transport.write(frame)

    def _kill(self) -> None:
        """Over its output buffer limit: dropped at once, unsent output with it."""
        self.ctx.output_limit_disconnections += 1
        self.pending.clear()
        if self.transport is not None:
            self.transport.abort()

    def _pause_reading(self) -> None:
        if self.reading and self.transport is not None:
            self.reading = False
            self.transport.pause_reading()

    def _serve_now(self) -> None:
        """Serve, in this loop step, the pending commands that need no await (data
        commands on keys this node serves, dispatch.execute_now), in order, their replies
        in one write; stop at the first that needs the loop, which :meth:`_serve` runs."""
        transport, session = self.transport, self.session
        assert transport is not None and session is not None
        if session.multi is not None or not self.writable.is_set():
            return
        out = bytearray()
        pending = self.pending
        while pending and not transport.is_closing():
            reply = self._now(pending[0])
            if isinstance(reply, Admitted):
                self.admitted = (pending[0], reply)  # for _serve, which runs it
                break
            pending.popleft()
            if not pending and self.parser.held:
                self._parsed(*self.parser.feed(b""))
            encoder.write(out, reply, session.proto)
            if len(out) >= FLUSH_BYTES:
                break  # the rest waits for the buffer to drain, in _serve
        if out:
            transport.write(bytes(out))
        if not pending and not self.reading and self.writable.is_set():
            self.reading = True  # paused at BACKLOG, and all of it served
            transport.resume_reading()

    def _now(self, argv: list[bytes], copies: Copies | None = None) -> Any:
        """:func:`execute_now`'s reply (an Admitted included), errors as replies."""
        ctx, session = self.ctx, self.session
        assert session is not None
        try:
            reply = execute_now(ctx, session, argv, copies)
        except Exception as exc:
            reply = _error_reply(exc, argv)
        if not isinstance(reply, Admitted):
            ctx.commands_processed += 1
            session.active = time.monotonic()
        return reply

    async def _serve(self) -> None:
        """Run what is pending in order; one write per batch of replies."""
        transport, session = self.transport, self.session
        assert transport is not None and session is not None
        try:
            while self.pending or self.error is not None:
                self.out = out = bytearray()
                while self.pending and not transport.is_closing():
                    argv = self.pending.popleft()
                    held, self.admitted = self.admitted, None
                    if held is not None and held[0] is argv:  # _serve_now checked it
                        reply: Any = held[1]
                    elif session.multi is not None:
                        reply = None
                    else:
                        reply = self._now(argv, self.copies)
                    if reply is None or isinstance(reply, Admitted):
                        reply = await self._run(argv, reply)
                    if not self.pending and self.parser.held:  # the next one, now
                        self._parsed(*self.parser.feed(b""))
                    encoder.write(out, reply, session.proto)
                    if session.close_after_reply:
                        await self._copied()
                        transport.write(bytes(out))
                        transport.close()
                        return
                    if len(out) >= FLUSH_BYTES:
                        await self._copied()
                        transport.write(bytes(out))
                        out.clear()
                        await self.writable.wait()
                await self._copied()
                if self.error is not None:
                    if self.error.text is not None:
                        out += f"-{self.error.text}\r\n".encode()
                    transport.write(bytes(out))
                    transport.close()
                    return
                if transport.is_closing():
                    return
                transport.write(bytes(out))
                await self.writable.wait()
                if not self.reading and not transport.is_closing():
                    self.reading = True
                    transport.resume_reading()
        finally:
            self.task = None
            self.out = None
            self.copies = []

    async def _copied(self) -> None:
        """The replies of writes go out once their copies to the replica were sent
        (CacheService.copy_all: one wait for all the writes of a pipeline)."""
        if self.copies:
            copies, self.copies = self.copies, []
            await self.ctx.cache.copy_all(copies)

    async def _run(self, argv: list[bytes], admitted: Admitted | None) -> Any:
        ctx, session = self.ctx, self.session
        assert session is not None
        ctx.commands_processed += 1
        session.active = time.monotonic()
        try:
            return await execute(ctx, session, argv, admitted)
        except Exception as exc:  # (CancelledError is not an Exception: it goes on up)
            return _error_reply(exc, argv)


def _error_reply(exc: Exception, argv: list[bytes]) -> Error:
    """What a command that raised answers: its RESP or engine error, else Redis's
    internal error, logged without the arguments (AUTH and HELLO carry passwords)."""
    if isinstance(exc, RespError):
        return Error(exc.text)
    if isinstance(exc, EngineError):
        return Error(errors.from_engine(exc).text)
    log.exception("RESP command %r failed", argv[0][:64])
    return Error("ERR internal error")


def _address(info: Any) -> str:
    if isinstance(info, tuple) and len(info) >= 2:
        return join_host_port(str(info[0]), int(info[1]))
    return str(info or "")


class RespServer:
    def __init__(self, ctx: RespContext, tls: ssl.SSLContext | None = None) -> None:
        self.ctx = ctx
        self.tls = tls
        self._server: asyncio.base_events.Server | None = None
        self.address = ""

    async def start(self, listen: str) -> str:
        """Bind and serve; the address bound. OSError when it cannot bind."""
        host, port = parse_listen(listen)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: RespProtocol(self.ctx), host, port,
                                                reuse_address=True, backlog=511,
                                                ssl=self.tls)
        sock = self._server.sockets[0].getsockname()
        self.ctx.port = int(sock[1])
        self.address = join_host_port(host, self.ctx.port)
        log.info("RESP (Redis) endpoint on %s%s", self.address,
                 " (TLS: redis-cli --tls)" if self.tls is not None else "")
        return self.address

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for _, close in list(self.ctx.clients.values()):
            close()
        await self._server.wait_closed()


async def serve_resp(config: NodeConfig, cache: CacheService, users: CacheUsers | None,
                     topology: Topology | None, node_id: str, liveness: Liveness | None,
                     clock: Clock, pubsub: Broker | None = None) -> RespServer | None:
    """The node's RESP endpoint, serving; None when it is off or the default address is
    taken (said in the log). OSError when an address the operator chose cannot be bound.
    ``users`` None: --insecure-no-auth. A cluster node (``topology``) runs in cluster
    mode: MOVED redirects, CLUSTER commands. ``pubsub``: the node's broker (its cluster
    fan-out included); None: one of this endpoint's own. TLS when the node serves its
    clients TLS (the same certificate as gRPC and HTTP)."""
    if config.redis_listen is None:
        return None
    view = None
    if topology is not None:
        def is_up(node: str) -> bool:
            return liveness is None or liveness.up.get(node) is not False

        view = ClusterView(topology, node_id, cache.slots, is_up)
    ctx = RespContext(cache, users, view, node_id, clock=clock,
                      max_clients=config.redis_max_clients,
                      max_bulk=config.redis_proto_max_bulk_len,
                      pubsub=pubsub if pubsub is not None else Broker())
    tls = https_context(config.tls_cert, config.tls_key, config.tls_client_ca, topology,
                        node_id)
    server = RespServer(ctx, tls)
    try:
        await server.start(config.redis_listen)
    except OSError as exc:
        if config.redis_listen_required:
            raise
        log.warning("RESP endpoint not served: cannot listen on %s (%s); pass "
                    "--redis-listen HOST:PORT (or off)", config.redis_listen, exc.strerror)
        return None
    return server
