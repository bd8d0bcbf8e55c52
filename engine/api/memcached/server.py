"""The node's memcached listener: an asyncio Protocol per client on the node's own loop.

Commands run as their bytes arrive, in order, without awaiting (the store is local), and
their replies are written at once. Memory per client is bounded both ways: the parser
holds at most one line or one data block (parser.py), and when the client does not read
its replies (the transport's buffer is past its high-water mark) the connection stops
being read and served until it drains; a retrieval's values are produced one at a time,
so even a multiget of many large items is not built whole.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Iterator
from typing import cast

from engine.api.memcached import errors
from engine.api.memcached.context import MemcachedContext
from engine.api.memcached.dispatch import execute, from_engine
from engine.api.memcached.errors import Quit
from engine.api.memcached.items import Items
from engine.api.memcached.parser import LineTooLong, Request, RequestParser
from engine.cache.store import CacheStore
from engine.clock import Clock
from engine.cluster.topology import join_host_port, parse_listen
from engine.config import NodeConfig
from engine.errors import EngineError

log = logging.getLogger("engine.memcached")

FLUSH_BYTES = 256 * 1024  # replies gathered before a write


class MemcachedProtocol(asyncio.Protocol):
    def __init__(self, ctx: MemcachedContext,
                 forget: Callable[[MemcachedProtocol], None] = lambda _: None) -> None:
        self.ctx = ctx
        self.forget = forget
        self.transport: asyncio.Transport | None = None
        self.parser = RequestParser(ctx.max_item)
        self.pending: collections.deque[Request] = collections.deque()
        self.stream: Iterator[bytes] | None = None  # a retrieval being written
        self.paused = False  # the transport's write buffer is full
        self.reading = True
        self.counted = False
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport = transport
        ctx = self.ctx
        if ctx.connections >= ctx.max_connections:
            ctx.counters.rejected_connections += 1
            transport.write(f"{errors.TOO_MANY_CONNECTIONS}\r\n".encode())
            transport.close()
            return
        ctx.connections += 1
        ctx.counters.total_connections += 1
        self.counted = True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.counted:
            self.ctx.connections -= 1
            self.counted = False
        self.pending.clear()
        self.stream = None
        self.forget(self)

    def data_received(self, data: bytes) -> None:
        if not self.counted or self.close_after:
            return
        self.ctx.counters.bytes_read += len(data)
        try:
            self.pending.extend(self.parser.feed(data))
        except LineTooLong:
            self.close_after = True  # answer what came before, then close
        self._run()
        if self.pending or self.stream is not None:
            self._pause_reading()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._run()
        if not self.pending and self.stream is None and not self.reading:
            self.reading = True
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()

    def _pause_reading(self) -> None:
        if self.reading and self.transport is not None and not self.transport.is_closing():
            self.reading = False
            self.transport.pause_reading()

    def _run(self) -> None:
        """Answer what is pending, in order, until done or the client stops reading."""
        transport = self.transport
        assert transport is not None
        out = bytearray()
        while not self.paused and not transport.is_closing():
            if self.stream is not None:
                try:
                    chunk = next(self.stream, None)
                except EngineError as exc:
                    chunk, self.stream = from_engine(exc).encode() + b"\r\n", None
                if chunk is None:
                    self.stream = None
                    continue
                out += chunk
            elif self.pending:
                try:
                    reply = execute(self.ctx, self.pending.popleft())
                except Quit:
                    self._write(out)
                    transport.close()
                    return
                except Exception:  # a bug, never the client's fault: say so, go on
                    log.exception("memcached command failed")
                    reply = f"{errors.INTERNAL}\r\n".encode()
                if isinstance(reply, bytes):
                    out += reply
                else:
                    self.stream = reply
            else:
                break
            if len(out) >= FLUSH_BYTES:
                self._write(out)
                out = bytearray()
        self._write(out)
        if self.close_after and not self.pending and self.stream is None:
            transport.close()

    def _write(self, out: bytearray) -> None:
        if out and self.transport is not None and not self.transport.is_closing():
            self.ctx.counters.bytes_written += len(out)
            self.transport.write(bytes(out))


class MemcachedServer:
    def __init__(self, ctx: MemcachedContext) -> None:
        self.ctx = ctx
        self._server: asyncio.base_events.Server | None = None
        self._protocols: set[MemcachedProtocol] = set()
        self.address = ""

    async def start(self, listen: str) -> str:
        """Bind and serve; the address bound. OSError when it cannot bind."""
        host, port = parse_listen(listen)
        loop = asyncio.get_running_loop()

        def protocol() -> MemcachedProtocol:
            made = MemcachedProtocol(self.ctx, self._protocols.discard)
            self._protocols.add(made)
            return made

        self._server = await loop.create_server(protocol, host, port, reuse_address=True,
                                                backlog=1024)
        self.ctx.port = int(self._server.sockets[0].getsockname()[1])
        self.ctx.interface = host
        self.address = join_host_port(host, self.ctx.port)
        log.info("memcached endpoint on %s (no authentication: keep it on a private "
                 "network)", self.address)
        return self.address

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for made in list(self._protocols):
            if made.transport is not None:
                made.transport.close()
        self._protocols.clear()
        await self._server.wait_closed()


async def serve_memcached(config: NodeConfig, store: CacheStore, clock: Clock
                          ) -> MemcachedServer | None:
    """The node's memcached endpoint on its local store, serving; None when off. OSError
    when the address cannot be bound."""
    if config.memcached_listen is None:
        return None
    ctx = MemcachedContext(Items(store, clock), max_item=config.memcached_max_item,
                           max_connections=config.memcached_max_connections)
    server = MemcachedServer(ctx)
    await server.start(config.memcached_listen)
    return server
