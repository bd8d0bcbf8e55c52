"""What a node is made of, for a single node or one node of a cluster.

`engine serve` alone: one local drive, an identity-coded set, buckets as volumes.
`engine serve --cluster FILE --node ID`: this node's drives from the topology, the
planned erasure sets with peers' drives reached through node.proto, and buckets in the
Raft-replicated table. Everything above (services, servicers) is the same for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from engine.api.node_servicer import NodeServicer
from engine.clock import Clock
from engine.cluster.layout import plan_erasure_sets
from engine.cluster.peers import PeerPool
from engine.cluster.placement import ErasureSet, StaticPlacement
from engine.cluster.raft_buckets import RaftBucketTable
from engine.cluster.remote_drive import RemoteDrive
from engine.cluster.topology import Topology
from engine.config import NodeConfig
from engine.objects.cluster_buckets import ClusterBucketRegistry
from engine.objects.heal import Healer, RepairQueue
from engine.objects.lifecycle_worker import LifecycleWorker
from engine.objects.service import ObjectService
from engine.storage.codec import codec_for
from engine.storage.drive import Drive, LocalDrive

log = logging.getLogger("engine.node")
RECONCILE_SECONDS = 30.0


@dataclass
class Assembly:
    listen: str
    node_id: str
    zone: str
    cluster_name: str
    local: list[LocalDrive]
    objects: ObjectService
    healer: Healer
    node_servicer: NodeServicer | None = None
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)

    async def close(self) -> None:
        for closer in reversed(self.closers):
            result = closer()
            if result is not None:
                await result


def single_node(config: NodeConfig, clock: Clock) -> Assembly:
    drive = LocalDrive(config.data_dir / "drive-0", config.storage.lmdb_map_size)
    placement = StaticPlacement.single(drive)
    objects = ObjectService(placement, config.storage, clock, zone=config.zone,
                            day_seconds=config.day_seconds)
    lifecycle = LifecycleWorker(objects, placement.sets())

    async def apply_lifecycle() -> None:
        await lifecycle.run_forever(config.lifecycle_interval)

    return Assembly(config.listen, config.node_id, config.zone, "single-node", [drive],
                    objects, Healer(placement, clock), background=[apply_lifecycle],
                    closers=[drive.close])


async def cluster_node(config: NodeConfig, clock: Clock) -> Assembly:
    assert config.cluster_file is not None
    topology = Topology.load(config.cluster_file)
    me = topology.node(config.node_id)
    plan = plan_erasure_sets(topology, require_az_tolerance=not config.allow_reduced_tolerance)
    local = [LocalDrive(path, config.storage.lmdb_map_size) for path in me.drives]
    pool = PeerPool(me.zone, topology.secret, timeout=config.peer_timeout,
                    az_latency_ms=topology.az_latency_ms)
    nodes = {n.id: n for n in topology.nodes}

    def drive(node_id: str, index: int) -> Drive:
        if node_id == me.id:
            return local[index]
        spec = nodes[node_id]
        return RemoteDrive(pool.peer(spec.id, spec.address, spec.zone), index)

    sets = [
        ErasureSet(p.index, tuple(drive(r.node_id, r.drive_index) for r in p.drives),
                   codec_for("isa_l_rs_vand", p.data_shards, p.parity_shards), zone=me.zone,
                   zones=tuple(r.zone for r in p.drives),
                   nodes=tuple(r.node_id for r in p.drives))
        for p in plan
    ]
    placement = StaticPlacement(sets)
    table = RaftBucketTable(me.raft_address, [n.raft_address for n in topology.nodes],
                            topology.secret, me.drives[0] / "raft", clock=clock)
    buckets = ClusterBucketRegistry(table, placement, local, clock)
    objects = ObjectService(placement, config.storage, clock, buckets=buckets, zone=me.zone,
                            day_seconds=config.day_seconds)
    healer = Healer(placement, clock)
    repairs = RepairQueue(healer)
    objects.on_degraded = repairs.submit
    # Each node scans the sets whose first drive it owns, so every set has one scanner
    # (healing and lifecycle rules).
    scanned = [s for s, p in zip(sets, plan, strict=True) if p.drives[0].node_id == me.id]
    for s in plan:
        log.info("erasure set %d: %d+%d over %s", s.index, s.data_shards, s.parity_shards,
                 ", ".join(f"{r.node_id}/d{r.drive_index}({r.zone})" for r in s.drives))

    async def reconcile() -> None:
        with contextlib.suppress(Exception):
            await table.wait_ready(60.0)
        await buckets.reconcile_forever(RECONCILE_SECONDS)

    def close_drives() -> None:
        for d in local:
            d.close()

    async def scan() -> None:
        await healer.scan_forever(scanned, buckets.list, config.scan_interval,
                                  config.scan_rate)

    lifecycle = LifecycleWorker(objects, scanned)

    async def apply_lifecycle() -> None:
        with contextlib.suppress(Exception):
            await table.wait_ready(60.0)
        await lifecycle.run_forever(config.lifecycle_interval)

    return Assembly(
        me.address, me.id, me.zone, topology.name, local, objects, healer,
        node_servicer=NodeServicer(me.id, me.zone, local, topology.secret),
        background=[reconcile, repairs.run, scan, apply_lifecycle],
        closers=[close_drives, table.close, pool.close],
    )


async def assemble(config: NodeConfig, clock: Clock) -> Assembly:
    if config.cluster_file is None:
        return single_node(config, clock)
    return await cluster_node(config, clock)


def start_background(assembly: Assembly) -> list[asyncio.Task[None]]:
    return [asyncio.ensure_future(job()) for job in assembly.background]
