"""One HTTP listener for the node's S3 REST and website endpoints.

Both are aiohttp applications on the node's own event loop and both face the same
clients, so both get the same bounds: request lines and header fields of at most 8 KiB
each (aiohttp's parser; what it refuses is answered as S3's XML error), the header
section arriving within the header timeout (a TLS handshake included), at most
``max_connections`` connections (over the cap a request is answered SlowDown), idle
keep-alive connections closed after KEEPALIVE_SECONDS. Stopping refuses new connections,
lets requests in flight finish for the grace period, then cuts the rest.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from aiohttp import web

from engine.api.s3.connections import (
    ConnectionLimits,
    ConnectionTable,
    S3Connection,
    refuse_over_capacity,
)
from engine.api.s3.parse_errors import MAX_HEADER_BYTES, MAX_LINE_BYTES
from engine.cluster.topology import join_host_port, parse_listen

log = logging.getLogger("engine.s3")

KEEPALIVE_SECONDS = 75.0
READ_BUFFER = 256 * 1024  # per connection: the most a streamed body holds in memory
# Per connection, as aiohttp's RequestHandler takes them. Headers are bounded by S3's
# 8 KiB section (so at most one per 4 bytes of it), not by a count of aiohttp's own.
HANDLER_OPTIONS: dict[str, Any] = dict(
    keepalive_timeout=KEEPALIVE_SECONDS, read_bufsize=READ_BUFFER,
    max_line_size=MAX_LINE_BYTES, max_field_size=MAX_LINE_BYTES,
    max_headers=MAX_HEADER_BYTES // 4 + 1, access_log=None,
    auto_decompress=False)  # S3 stores bodies as sent


class _Site(web.BaseSite):
    """A TCP listener whose connections are S3Connections (aiohttp's TCPSite makes
    its own RequestHandlers, with no header timeout or cap). A TLS handshake gets the
    header timeout too: a client that never finishes it is not yet a connection."""

    def __init__(self, runner: web.AppRunner, host: str, port: int,
                 ssl_context: ssl.SSLContext | None, table: ConnectionTable,
                 node_id: str) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host, self._port = host, port
        self._table = table
        self._node_id = node_id

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{join_host_port(self._host, self._port)}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None

        def connection() -> S3Connection:
            return S3Connection(server, table=self._table, node_id=self._node_id, loop=loop,
                                **HANDLER_OPTIONS)

        timeout = self._table.limits.header_timeout
        handshake = timeout if self._ssl_context is not None and timeout > 0 else None
        self._server = await loop.create_server(connection, self._host, self._port,
                                                ssl=self._ssl_context, backlog=self._backlog,
                                                ssl_handshake_timeout=handshake)


class HttpListener:
    """Serves ``app`` on ``listen`` (HOST:PORT) with the bounds above."""

    def __init__(self, app: web.Application, listen: str, tls: ssl.SSLContext | None,
                 *, node_id: str, grace: float = 5.0,
                 limits: ConnectionLimits | None = None) -> None:
        app.middlewares.append(refuse_over_capacity)
        self.app = app
        self.listen = listen
        self.tls = tls
        self.node_id = node_id
        self.grace = grace
        self.connections = ConnectionTable(limits or ConnectionLimits())
        self._runner: web.AppRunner | None = None
        self.address = ""

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    async def start(self) -> str:
        """Bind and serve; the address bound. OSError when it cannot bind."""
        host, port = parse_listen(self.listen)
        runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=self.grace,
                               **HANDLER_OPTIONS)
        await runner.setup()
        site = _Site(runner, host, port, self.tls, self.connections, self.node_id)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        bound = runner.addresses[0] if runner.addresses else (host, port)
        self.address = join_host_port(bound[0], bound[1])
        return self.address

    async def stop(self) -> None:
        """Refuse new connections, give requests in flight the grace period, cut the rest."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
