"""The node's S3 REST endpoint: the request pipeline (app.py) on an HTTP listener
(listener.py: the bounds every connection gets), on the node's own event loop.

Started after the gRPC server and stopped before storage closes: on stop it refuses new
connections, lets requests in flight finish for the grace period, then cuts the rest
(a cut upload leaves nothing: the object writers discard what was not committed).
Beyond the listener's bounds: the whole header section at most 8 KiB (app.py, S3's own
limit), bodies read whole (request documents) at most ``CLIENT_MAX_SIZE``, streamed
bodies timed by the upload idle and total timeouts. TLS, when the node serves it, with
the node's certificate (and client CA) as on its gRPC port.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from engine.api.access_table import Target
from engine.api.audit import AuditLog
from engine.api.auth_interceptor import Decide
from engine.api.aws.iam.endpoint import identity_services
from engine.api.aws.service import AwsService
from engine.api.aws.sqs.endpoint import SqsHttpService
from engine.api.aws.sqs.query_render import NAMESPACE as SQS_NAMESPACE
from engine.api.aws.sqs.query_render import VERSION as SQS_VERSION
from engine.api.queues_servicer import QueueApi
from engine.api.s3.access import S3Access
from engine.api.s3.app import Pipeline, build_app
from engine.api.s3.connections import ConnectionLimits
from engine.api.s3.context import Services
from engine.api.s3.listener import HttpListener
from engine.api.upload_stream import StreamLimits
from engine.cluster.tls import ClusterTls, TlsError
from engine.cluster.topology import Topology
from engine.config import NodeConfig
from engine.iam.system import IdentitySystem
from engine.objects.service import ObjectService

log = logging.getLogger("engine.s3")

CLIENT_MAX_SIZE = 2 * 1024 * 1024  # request documents (XML, JSON policies)


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


class S3Endpoint:
    def __init__(self, pipeline: Pipeline, listen: str, tls: ssl.SSLContext | None = None,
                 *, grace: float = 5.0, limits: ConnectionLimits | None = None) -> None:
        self.pipeline = pipeline
        self.listener = HttpListener(build_app(pipeline, client_max_size=CLIENT_MAX_SIZE),
                                     listen, tls, node_id=pipeline.node_id, grace=grace,
                                     limits=limits)

    @property
    def address(self) -> str:
        return self.listener.address

    async def start(self) -> str:
        """Bind and serve; the address bound. OSError when it cannot bind."""
        address = await self.listener.start()
        log.info("S3 REST endpoint on %s://%s", self.listener.scheme, address)
        return address

    async def stop(self) -> None:
        await self.listener.stop()


async def serve_s3(config: NodeConfig, objects: ObjectService, identity: IdentitySystem | None,
                   decide: Decide, topology: Topology | None, node_id: str,
                   audit: AuditLog | None = None, *, grace: float = 5.0,
                   queues: QueueApi | None = None) -> S3Endpoint | None:
    """The node's S3 endpoint, serving; None when it is off, or when the default address
    is taken (another node on this machine has it: said in the log, the node runs on).
    OSError when an address the operator chose cannot be bound. ``identity`` None:
    authentication and authorization are off (--insecure-no-auth). ``queues``: SQS's
    JSON protocol is served on the same port (engine/api/aws/sqs/)."""
    if config.http_listen is None:
        return None
    tls = https_context(config.tls_cert, config.tls_key, config.tls_client_ca, topology,
                        node_id)
    access = None
    authn = identity.authn if identity is not None else None

    def target() -> Target:
        assert identity is not None
        return Target(identity.account(), config.region)

    if identity is not None:
        access = S3Access(decide, target, audit)
    others: dict[str, AwsService] = {}
    if queues is not None:
        others["sqs"] = SqsHttpService(queues, authn, decide, target, secure=tls is not None,
                                       audit=audit)
    if identity is not None:  # IAM and STS query APIs (engine/api/aws/iam/)
        others.update(identity_services(
            identity, decide, target, secure=tls is not None, audit=audit,
            other_namespaces={SQS_VERSION: SQS_NAMESPACE} if queues is not None else None))
    pipeline = Pipeline(
        Services(objects, config.region, access,
                 identity.authn if identity is not None else None),
        identity.authn if identity is not None else None, node_id,
        domains=config.s3_domains, secure=tls is not None,
        limits=StreamLimits(config.stream_idle_timeout, config.stream_total_timeout),
        aws_services=others)
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
