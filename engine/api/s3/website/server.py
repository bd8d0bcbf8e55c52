"""The node's website endpoint: an aiohttp listener on the node's own event loop, off
unless ``--website-listen`` is given. Same bounds and TLS as the S3 endpoint
(engine/api/s3/server.py); it only reads, so requests carry no body worth keeping."""

from __future__ import annotations

import logging
import ssl

from aiohttp import web

from engine.api.access_table import Target
from engine.api.auth_interceptor import Decide
from engine.api.s3.access import S3Access
from engine.api.s3.app import EVERY_PATH, stamp_ids
from engine.api.s3.server import KEEPALIVE_SECONDS, https_context, parse_listen
from engine.api.s3.website.handler import WebsiteHandler
from engine.cluster.topology import Topology, join_host_port
from engine.config import NodeConfig
from engine.iam.system import IdentitySystem
from engine.objects.service import ObjectService

log = logging.getLogger("engine.s3.website")

CLIENT_MAX_SIZE = 64 * 1024  # a website takes no request bodies


class WebsiteEndpoint:
    def __init__(self, handler: WebsiteHandler, listen: str, tls: ssl.SSLContext | None = None,
                 *, grace: float = 5.0) -> None:
        self.handler = handler
        self.listen = listen
        self.tls = tls
        self.grace = grace
        self._runner: web.AppRunner | None = None
        self.address = ""

    async def start(self) -> str:
        """Bind and serve; the address bound. OSError when it cannot bind."""
        host, port = parse_listen(self.listen)
        app = web.Application(client_max_size=CLIENT_MAX_SIZE)
        app.router.add_route("*", EVERY_PATH, self.handler.handle)
        app.on_response_prepare.append(stamp_ids)
        runner = web.AppRunner(app, handle_signals=False, access_log=None,
                               shutdown_timeout=self.grace, keepalive_timeout=KEEPALIVE_SECONDS,
                               max_line_size=8190, max_field_size=8190, auto_decompress=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=self.tls, reuse_port=False)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        bound = runner.addresses[0] if runner.addresses else (host, port)
        self.address = join_host_port(bound[0], bound[1])
        scheme = "https" if self.tls is not None else "http"
        log.info("website endpoint on %s://%s%s", scheme, self.address,
                 f" (domains: {', '.join(self.handler.domains)})" if self.handler.domains
                 else "")
        return self.address

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


async def serve_website(config: NodeConfig, objects: ObjectService,
                        identity: IdentitySystem | None, decide: Decide,
                        topology: Topology | None, node_id: str, *, grace: float = 5.0
                        ) -> WebsiteEndpoint | None:
    """The node's website endpoint, serving; None when it is off. OSError when its
    address cannot be bound (the operator chose it). ``identity`` None: authorization
    is off (--insecure-no-auth) and every object is public."""
    if config.website_listen is None:
        return None
    tls = https_context(config.tls_cert, config.tls_key, config.tls_client_ca, topology,
                        node_id)
    access = None
    if identity is not None:
        access = S3Access(decide, lambda: Target(identity.account(), config.region))
    handler = WebsiteHandler(objects, access, node_id, domains=config.website_domains,
                             secure=tls is not None)
    endpoint = WebsiteEndpoint(handler, config.website_listen, tls, grace=grace)
    await endpoint.start()
    return endpoint
