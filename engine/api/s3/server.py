"""The node's S3 REST listener: an aiohttp application on the node's own event loop.

Started after the gRPC server and stopped before storage closes: on stop it refuses new
connections, lets requests in flight finish for the grace period, then cuts the rest
(a cut upload leaves nothing: the object writers discard what was not committed).

Bounds: request lines and header fields of at most 8 KiB each (aiohttp's parser), the
whole header section 8 KiB (app.py, S3's own limit) arriving within the header timeout,
at most ``max_connections`` connections (connections.py), bodies read whole (request
documents) at most ``client_max_size``, streamed bodies timed by the upload idle and
total timeouts, and idle keep-alive connections closed after KEEPALIVE_SECONDS. TLS,
when the node serves it, with the node's certificate (and client CA) as on its gRPC
port.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import Any

from aiohttp import web

from engine.api.access_table import Target
from engine.api.audit import AuditLog
from engine.api.auth_interceptor import Decide
from engine.api.s3.access import S3Access
from engine.api.s3.app import Pipeline, build_app
from engine.api.s3.connections import (
    ConnectionLimits,
    ConnectionTable,
    S3Connection,
    refuse_over_capacity,
)
from engine.api.s3.context import Services
from engine.api.s3.parse_errors import MAX_HEADER_BYTES, MAX_LINE_BYTES
from engine.api.upload_stream import StreamLimits
from engine.cluster.tls import ClusterTls, TlsError
from engine.cluster.topology import Topology, join_host_port, split_host_port
from engine.config import NodeConfig
from engine.iam.system import IdentitySystem
from engine.objects.service import ObjectService

log = logging.getLogger("engine.s3")

KEEPALIVE_SECONDS = 75.0
CLIENT_MAX_SIZE = 2 * 1024 * 1024  # request documents (XML, JSON policies)
READ_BUFFER = 256 * 1024  # per connection: the most a streamed body holds in memory
# Per connection, as aiohttp's RequestHandler takes them. Headers are bounded by S3's
# 8 KiB section (so at most one per 4 bytes of it), not by a count of aiohttp's own.
HANDLER_OPTIONS: dict[str, Any] = dict(
    keepalive_timeout=KEEPALIVE_SECONDS, read_bufsize=READ_BUFFER,
    max_line_size=MAX_LINE_BYTES, max_field_size=MAX_LINE_BYTES,
    max_headers=MAX_HEADER_BYTES // 4 + 1, access_log=None,
    auto_decompress=False)  # S3 stores bodies as sent


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT (port 0: any free one, logged at start)."""
    host, sep, port = text.rpartition(":")
    if sep and port == "0":
        return split_host_port(f"{host}:1")[0], 0
    return split_host_port(text)


def https_context(cert: Path | None, key: Path | None, client_ca: Path | None,
                  topology: Topology | None, node_id: str) -> ssl.SSLContext | None:
    """The TLS the node's clients get on HTTP, as on gRPC (engine/cluster/tls.py): the
    given certificate, or a TLS cluster's node certificate; with a client CA, client
    certificates it signed are required. None: plaintext."""
    cluster = ClusterTls.for_node(topology, node_id) if topology is not None else None
    if cert is not None and key is not None:
        pair = (cert, key)
    elif cluster is not None:
        pair = (cluster.cert_path, cluster.key_path)
    else:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(*pair)
        if client_ca is not None:
            context.load_verify_locations(cafile=str(client_ca))
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:  # never the file's content: only which file
        raise TlsError(f"cannot use {pair[0]} for HTTPS: {exc.__class__.__name__}") from None
    return context


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


class S3Endpoint:
    def __init__(self, pipeline: Pipeline, listen: str, tls: ssl.SSLContext | None = None,
                 *, grace: float = 5.0, limits: ConnectionLimits | None = None) -> None:
        self.pipeline = pipeline
        self.listen = listen
        self.tls = tls
        self.grace = grace
        self.connections = ConnectionTable(limits or ConnectionLimits())
        self._runner: web.AppRunner | None = None
        self.address = ""

    async def start(self) -> str:
        """Bind and serve; the address bound. OSError when it cannot bind."""
        host, port = parse_listen(self.listen)
        app = build_app(self.pipeline, client_max_size=CLIENT_MAX_SIZE)
        app.middlewares.append(refuse_over_capacity)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=self.grace,
                               **HANDLER_OPTIONS)
        await runner.setup()
        site = _Site(runner, host, port, self.tls, self.connections, self.pipeline.node_id)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        bound = runner.addresses[0] if runner.addresses else (host, port)
        self.address = join_host_port(bound[0], bound[1])
        scheme = "https" if self.tls is not None else "http"
        log.info("S3 REST endpoint on %s://%s", scheme, self.address)
        return self.address

    async def stop(self) -> None:
        """Refuse new connections, give requests in flight the grace period, cut the rest."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


async def serve_s3(config: NodeConfig, objects: ObjectService, identity: IdentitySystem | None,
                   decide: Decide, topology: Topology | None, node_id: str,
                   audit: AuditLog | None = None, *, grace: float = 5.0) -> S3Endpoint | None:
    """The node's S3 endpoint, serving; None when it is off, or when the default address
    is taken (another node on this machine has it: said in the log, the node runs on).
    OSError when an address the operator chose cannot be bound. ``identity`` None:
    authentication and authorization are off (--insecure-no-auth)."""
    if config.http_listen is None:
        return None
    tls = https_context(config.tls_cert, config.tls_key, config.tls_client_ca, topology,
                        node_id)
    access = None
    if identity is not None:
        access = S3Access(decide, lambda: Target(identity.account(), config.region), audit)
    pipeline = Pipeline(
        Services(objects, config.region, access,
                 identity.authn if identity is not None else None),
        identity.authn if identity is not None else None, node_id,
        domains=config.s3_domains, secure=tls is not None,
        limits=StreamLimits(config.stream_idle_timeout, config.stream_total_timeout))
    endpoint = S3Endpoint(pipeline, config.http_listen, tls, grace=grace,
                          limits=ConnectionLimits(config.http_header_timeout,
                                                  config.http_max_connections))
    try:
        await endpoint.start()
    except OSError as exc:
        if config.http_listen_required:
            raise
        log.warning("S3 REST endpoint not served: cannot listen on %s (%s); pass "
                    "--http-listen HOST:PORT (or off)", config.http_listen, exc.strerror)
        return None
    return endpoint
