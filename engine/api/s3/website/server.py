"""The node's website endpoint: an aiohttp application on the HTTP listener the S3
endpoint uses (listener.py: the same header timeout, connection cap and parser-error
answers, from the same --http-* flags), off unless ``--website-listen`` is given. TLS as
on the S3 endpoint; it only reads, so requests carry no body worth keeping."""

from __future__ import annotations

import logging
import ssl

from aiohttp import web

from engine.api.access_table import Target
from engine.api.auth_interceptor import Decide
from engine.api.s3.access import S3Access
from engine.api.s3.app import EVERY_PATH, stamp_ids
from engine.api.s3.connections import ConnectionLimits
from engine.api.s3.listener import HttpListener
from engine.api.s3.server import https_context
from engine.api.s3.website.handler import WebsiteHandler
from engine.cluster.topology import Topology
from engine.config import NodeConfig
from engine.iam.system import IdentitySystem
from engine.objects.service import ObjectService

log = logging.getLogger("engine.s3.website")

CLIENT_MAX_SIZE = 64 * 1024  # a website takes no request bodies


class WebsiteEndpoint:
    def __init__(self, handler: WebsiteHandler, listen: str, tls: ssl.SSLContext | None = None,
                 *, grace: float = 5.0, limits: ConnectionLimits | None = None) -> None:
        self.handler = handler
        app = web.Application(client_max_size=CLIENT_MAX_SIZE)
        app.router.add_route("*", EVERY_PATH, handler.handle)
        app.on_response_prepare.append(stamp_ids)
        self.listener = HttpListener(app, listen, tls, node_id=handler.node_id, grace=grace,
                                     limits=limits)

    @property
    def address(self) -> str:
        return self.listener.address

    async def start(self) -> str:
        """Bind and serve; the address bound. OSError when it cannot bind."""
        address = await self.listener.start()
        log.info("website endpoint on %s://%s%s", self.listener.scheme, address,
                 f" (domains: {', '.join(self.handler.domains)})" if self.handler.domains
                 else "")
        return address

    async def stop(self) -> None:
        await self.listener.stop()


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
    endpoint = WebsiteEndpoint(handler, config.website_listen, tls, grace=grace,
                               limits=ConnectionLimits(config.http_header_timeout,
                                                       config.http_max_connections))
    await endpoint.start()
    return endpoint
