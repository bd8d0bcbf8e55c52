"""One engine node: storage, services and the gRPC server, run until a signal.

SIGTERM or SIGINT stops accepting calls, gives in-flight calls a grace period, then
closes the drives so LMDB is left clean. (A `kill -9` is safe too: see storage.)
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from engine.api.access_table import Target
from engine.api.admin_servicer import AdminServicer
from engine.api.audit import AuditLog
from engine.api.auth_interceptor import AuthInterceptor
from engine.api.cache_servicer import CacheServicer
from engine.api.decode_interceptor import DecodeInterceptor
from engine.api.echo_servicer import EchoServicer
from engine.api.elasticache_servicer import ElastiCacheServicer
from engine.api.iam_servicer import IamServicer, StsServicer
from engine.api.memcached.server import serve_memcached
from engine.api.objects_servicer import ObjectStoreServicer
from engine.api.peer_port import PeerPortGuard
from engine.api.queues_servicer import QueuesServicer
from engine.api.resource_policies import ResourcePolicies
from engine.api.resp.server import serve_resp
from engine.api.s3.server import serve_s3
from engine.api.s3.website.server import serve_website
from engine.api.upload_stream import StreamLimits
from engine.assembly import assemble, start_background
from engine.clock import Clock, ManualClock, SystemClock
from engine.cluster.tls import serving_tls
from engine.config import NodeConfig
from engine.observability.node_observability import NodeObservability
from engine.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    cache_pb2,
    cache_pb2_grpc,
    cache_records_pb2,
    cache_records_pb2_grpc,
    echo_pb2,
    echo_pb2_grpc,
    elasticache_pb2,
    elasticache_pb2_grpc,
    iam_pb2,
    iam_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
    objects_pb2,
    objects_pb2_grpc,
    pubsub_pb2,
    pubsub_pb2_grpc,
    queue_records_pb2,
    queue_records_pb2_grpc,
    queues_pb2,
    queues_pb2_grpc,
)

log = logging.getLogger("engine.node")

MAX_MESSAGE = 16 * 1024 * 1024
GRACE_SECONDS = 5.0  # the most cut-off calls get to clean up before storage closes
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.so_reuseport", 0),
    # peers ping idle channels every 10 s (engine/cluster/peers.py); accept that rather
    # than answering GOAWAY "too_many_pings" and forcing reconnects
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_ping_strikes", 0),
]


async def run_node(config: NodeConfig, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(config.grpc_workers, "engine-io"))
    clock: Clock = ManualClock(time.time_ns()) if config.manual_clock else SystemClock()
    node = await assemble(config, clock)
    observed = NodeObservability(config, node)  # request ids; metrics with --metrics-listen

    interceptors = list(observed.interceptors)
    # TLS on the client port; a TLS cluster adds the peer port (checked by `engine serve`)
    tls = serving_tls(config.tls_cert, config.tls_key, config.tls_client_ca,
                      node.view.topology, node.node_id)
    # One decision for every protocol: the caller's policies with the resource's own.
    decide = ResourcePolicies(node.identity.authz, node.objects, node.queues.catalog).decide
    audit = None
    if config.audit_log is not None and config.insecure_no_auth:
        log.warning("--audit-log: nothing is audited with --insecure-no-auth")
    elif config.audit_log is not None:
        audit = AuditLog(config.audit_log, clock, max_bytes=config.audit_log_max_bytes,
                         backups=config.audit_log_backups)
    if config.insecure_no_auth:
        interceptors.append(DecodeInterceptor())  # what AuthInterceptor does, minus auth
        log.warning("--insecure-no-auth: every call is served without credentials; for "
                    "throwaway demos only")
    else:
        identity = node.identity
        interceptors.append(AuthInterceptor(
            identity.authn, identity.authz,
            lambda: Target(identity.account(), config.region), cluster_secret=node.secret,
            audit=audit, secure=tls.client is not None, resources=decide))
    if tls.cluster is not None:
        interceptors.append(PeerPortGuard(tls.cluster))
    server = grpc.aio.server(options=SERVER_OPTIONS, interceptors=interceptors)
    limits = StreamLimits(config.stream_idle_timeout, config.stream_total_timeout)
    objects_pb2_grpc.add_ObjectStoreServicer_to_server(
        ObjectStoreServicer(node.objects, limits, None if config.insecure_no_auth else decide),
        server)
    queues_pb2_grpc.add_QueuesServicer_to_server(QueuesServicer(node.queues), server)
    cache_pb2_grpc.add_CacheServicer_to_server(CacheServicer(node.cache), server)
    admin = AdminServicer(config, node)
    admin_pb2_grpc.add_AdminServicer_to_server(admin, server)
    echo_pb2_grpc.add_EchoServicer_to_server(EchoServicer(), server)
    iam_pb2_grpc.add_IamServicer_to_server(IamServicer(node.identity.iam.handle), server)
    iam_pb2_grpc.add_StsServicer_to_server(StsServicer(node.identity.sts.handle), server)
    elasticache_pb2_grpc.add_ElastiCacheServicer_to_server(
        ElastiCacheServicer(node.identity.elasticache.handle), server)
    names = [
        objects_pb2.DESCRIPTOR.services_by_name["ObjectStore"].full_name,
        queues_pb2.DESCRIPTOR.services_by_name["Queues"].full_name,
        cache_pb2.DESCRIPTOR.services_by_name["Cache"].full_name,
        admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name,
        echo_pb2.DESCRIPTOR.services_by_name["Echo"].full_name,
        iam_pb2.DESCRIPTOR.services_by_name["Iam"].full_name,
        iam_pb2.DESCRIPTOR.services_by_name["Sts"].full_name,
        elasticache_pb2.DESCRIPTOR.services_by_name["ElastiCache"].full_name,
    ]
    if node.node_servicer is not None:
        node_pb2_grpc.add_NodeServicer_to_server(node.node_servicer, server)
        names.append(node_pb2.DESCRIPTOR.services_by_name["Node"].full_name)
    if node.queue_node_servicer is not None:
        queue_records_pb2_grpc.add_QueueNodeServicer_to_server(node.queue_node_servicer,
                                                               server)
        names.append(queue_records_pb2.DESCRIPTOR.services_by_name["QueueNode"].full_name)
    if node.cache_node_servicer is not None:
        cache_records_pb2_grpc.add_CacheNodeServicer_to_server(node.cache_node_servicer,
                                                               server)
        names.append(cache_records_pb2.DESCRIPTOR.services_by_name["CacheNode"].full_name)
    if node.pubsub_node_servicer is not None:
        pubsub_pb2_grpc.add_PubSubNodeServicer_to_server(node.pubsub_node_servicer, server)
        names.append(pubsub_pb2.DESCRIPTOR.services_by_name["PubSubNode"].full_name)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME],
                                        server)
    for address, credentials in tls.ports(node.listen):
        bound = (server.add_insecure_port(address) if credentials is None
                 else server.add_secure_port(address, credentials))
        if bound == 0:
            await node.close()
            raise SystemExit(f"engine: cannot listen on {address}")
    if tls.client is not None:
        log.info("clients: TLS only%s%s", " (client certificate required)"
                 if config.tls_client_ca else "",
                 f"; peers: mutual TLS on {tls.cluster.peer_listen}" if tls.cluster else "")
    try:
        observed.start()
    except OSError as exc:
        await node.close()
        raise SystemExit(f"engine: cannot serve metrics on {config.metrics_listen}: {exc}"
                         ) from None
    for name in ("", *names):  # until the node can serve a quorum operation
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    await server.start()
    try:  # the S3 REST endpoint: the same services and authorization over HTTP
        s3 = await serve_s3(
            config, node.objects, None if config.insecure_no_auth else node.identity,
            decide, node.view.topology, node.node_id, audit, grace=config.shutdown_grace,
            queues=node.queues)
    except OSError as exc:
        await server.stop(None)
        await node.close()
        raise SystemExit(f"engine: cannot listen on {config.http_listen}: {exc.strerror}"
                         ) from None
    admin.http_address = s3.address if s3 is not None else ""
    try:  # the RESP (Redis) endpoint on the cache tier
        resp = await serve_resp(
            config, node.cache, None if config.insecure_no_auth else node.identity.cache_users,
            node.view.topology, node.node_id, node.view.liveness, clock, node.pubsub)
    except OSError as exc:
        if s3 is not None:
            await s3.stop()
        await server.stop(None)
        await node.close()
        raise SystemExit(f"engine: cannot listen on {config.redis_listen}: {exc.strerror}"
                         ) from None
    admin.redis_address = resp.address if resp is not None else ""
    try:  # the memcached endpoint on this node's own store (off unless asked for)
        memcached = await serve_memcached(config, node.cache.store, clock)
    except OSError as exc:
        if s3 is not None:
            await s3.stop()
        if resp is not None:
            await resp.stop()
        await server.stop(None)
        await node.close()
        raise SystemExit(f"engine: cannot listen on {config.memcached_listen}: "
                         f"{exc.strerror}") from None
    try:  # buckets' static websites, to anonymous browsers (off unless asked for)
        website = await serve_website(
            config, node.objects, None if config.insecure_no_auth else node.identity,
            decide, node.view.topology, node.node_id, grace=config.shutdown_grace)
    except OSError as exc:
        if s3 is not None:
            await s3.stop()
        if resp is not None:
            await resp.stop()
        if memcached is not None:
            await memcached.stop()
        await server.stop(None)
        await node.close()
        raise SystemExit(f"engine: cannot listen on {config.website_listen}: {exc.strerror}"
                         ) from None
    background = start_background(node)
    settle_garbage_collector()

    async def announce(ready: bool) -> None:
        status = (health_pb2.HealthCheckResponse.SERVING if ready
                  else health_pb2.HealthCheckResponse.NOT_SERVING)
        for name in ("", *names):
            await health_servicer.set(name, status)

    background.append(asyncio.ensure_future(node.readiness.run(announce)))
    log.info("node %s (%s) listening on %s, drives %s", node.node_id, node.zone, node.listen,
             ", ".join(str(d.path.resolve()) for d in node.local))
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await health_servicer.enter_graceful_shutdown()
        for task in background:
            task.cancel()
        # refuses new calls
        stopping = asyncio.ensure_future(server.stop(config.shutdown_grace))
        s3_stopping = asyncio.ensure_future(s3.stop()) if s3 is not None else None
        if resp is not None:  # RESP calls are short: cut the connections now
            await resp.stop()
        if memcached is not None:  # so are memcached's
            await memcached.stop()
        website_stopping = asyncio.ensure_future(website.stop()) if website is not None \
            else None
        # Calls in flight get the grace period (consensus keeps running meanwhile); what
        # is left then (long-lived calls, such as peers' long polls) is cut.
        await observed.in_flight.drained(config.shutdown_grace)
        await server.stop(None)  # what is left are the peers' consensus streams: end them
        await stopping
        if s3_stopping is not None:
            await s3_stopping
        if website_stopping is not None:
            await website_stopping
        await observed.stop()  # before the drives close: no scrape reads a closed LMDB
        await node.quiesce()
        await _drain(loop)
        await node.close()
        if audit is not None:
            audit.close()
        log.info("stopped")


async def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Let cancelled calls finish their cleanup (discarding half-written shards) and
    every worker thread leave its LMDB transaction before storage is closed: LMDB must
    not be closed under an open transaction."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if others:
        _, stuck = await asyncio.wait(others, timeout=GRACE_SECONDS)
        if stuck:
            log.warning("%d calls did not finish cleaning up; recovery will", len(stuck))
    await loop.shutdown_default_executor()


def settle_garbage_collector() -> None:
    """Once started: what start-up allocated (modules, protobuf descriptors, tables) is
    kept out of every later collection, and the youngest generation is collected after
    20,000 allocations instead of 700. Each call allocates a few hundred objects, so the
    default ran a collection every few calls; measured on a 4 KiB GET over gRPC, this
    is +7 % throughput (docs/benchmarks.md). Cycles still get collected, in bigger
    batches."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


def serve(config: NodeConfig) -> None:
    """Run a node in the foreground until SIGTERM or SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_node(config, stop)

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main())


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed (faster sockets and timers for the RESP, HTTP
    and gRPC servers alike), else asyncio's; ENGINE_EVENT_LOOP=asyncio forces asyncio's."""
    if os.environ.get("ENGINE_EVENT_LOOP", "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop  # an optional extra: pip install 'engine[uvloop]'
    except ImportError:
        return None
    return uvloop.new_event_loop
