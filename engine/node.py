"""One engine node: storage, services and the gRPC server, run until a signal.

SIGTERM or SIGINT stops accepting calls, gives in-flight calls a grace period, then
closes the drives so LMDB is left clean. (A `kill -9` is safe too: see storage.)
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from engine.api.admin_servicer import AdminServicer
from engine.api.echo_servicer import EchoServicer
from engine.api.objects_servicer import ObjectStoreServicer
from engine.clock import SystemClock
from engine.cluster.placement import StaticPlacement
from engine.config import NodeConfig
from engine.objects.service import ObjectService
from engine.storage.drive import LocalDrive
from engine.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    echo_pb2,
    echo_pb2_grpc,
    objects_pb2,
    objects_pb2_grpc,
)

log = logging.getLogger("engine.node")

MAX_MESSAGE = 16 * 1024 * 1024
GRACE_SECONDS = 5.0
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.so_reuseport", 0),
]


async def run_node(config: NodeConfig, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(config.grpc_workers, "engine-io"))
    drive = LocalDrive(config.data_dir / "drive-0", config.storage.lmdb_map_size)
    objects = ObjectService(StaticPlacement.single(drive), config.storage, SystemClock())

    server = grpc.aio.server(options=SERVER_OPTIONS)
    objects_pb2_grpc.add_ObjectStoreServicer_to_server(ObjectStoreServicer(objects), server)
    admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(config, [drive], objects), server)
    echo_pb2_grpc.add_EchoServicer_to_server(EchoServicer(), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [
        objects_pb2.DESCRIPTOR.services_by_name["ObjectStore"].full_name,
        admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name,
        echo_pb2.DESCRIPTOR.services_by_name["Echo"].full_name,
        health.SERVICE_NAME,
        reflection.SERVICE_NAME,
    ]
    reflection.enable_server_reflection(names, server)
    if server.add_insecure_port(config.listen) == 0:
        raise SystemExit(f"engine: cannot listen on {config.listen}")
    await server.start()
    for name in ("", *names[:3]):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("node %s serving on %s, data in %s", config.node_id, config.listen,
             config.data_dir.resolve())
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await health_servicer.enter_graceful_shutdown()
        await server.stop(GRACE_SECONDS)
        await _drain(loop)
        drive.close()
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


def serve(config: NodeConfig) -> None:
    """Run a node in the foreground until SIGTERM or SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_node(config, stop)

    asyncio.run(main())
