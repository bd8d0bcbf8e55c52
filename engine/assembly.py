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

from engine.api.cache_node_servicer import CacheNodeServicer
from engine.api.heal_passes import RecordingHealer
from engine.api.node_servicer import NodeServicer
from engine.api.queue_node_servicer import QueueNodeServicer
from engine.cache.service import CacheService
from engine.cache.slots import SlotMap
from engine.cache.store import MAX_KEY_BYTES, CacheStore
from engine.clock import Clock
from engine.cluster.layout import plan_erasure_sets
from engine.cluster.peers import PeerPool
from engine.cluster.placement import ErasureSet, StaticPlacement
from engine.cluster.raft_buckets import RaftBucketTable
from engine.cluster.raft_group import RaftGroup
from engine.cluster.remote_drive import RemoteDrive
from engine.cluster.topology import Topology
from engine.config import NodeConfig
from engine.objects.cluster_buckets import ClusterBucketRegistry
from engine.objects.heal import Healer, RepairQueue
from engine.objects.lifecycle_worker import LifecycleWorker
from engine.objects.read_cache import ObjectReadCache
from engine.objects.service import ObjectService
from engine.queues.catalog import CatalogLog, QueueCatalog
from engine.queues.groups import plan_queue_groups, single_group
from engine.queues.host import LOG_COMPACTION_ENTRIES, GroupHost, PartitionLog
from engine.queues.router import GroupRouter
from engine.queues.service import QueueService
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
    queues: QueueService
    clock: Clock
    cache: CacheService
    node_servicer: NodeServicer | None = None
    queue_node_servicer: QueueNodeServicer | None = None
    cache_node_servicer: CacheNodeServicer | None = None
    peers: PeerPool | None = None  # cluster only: channels to the other nodes
    lifecycle: LifecycleWorker | None = None
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)

    async def close(self) -> None:
        for closer in reversed(self.closers):
            result = closer()
            if result is not None:
                await result


def cache_store(config: NodeConfig, clock: Clock) -> CacheStore:
    # Stored keys carry a one-byte namespace (engine/cache/local.py): allow for it.
    return CacheStore(config.cache_bytes, clock, max_key_bytes=MAX_KEY_BYTES + 1)


def single_node(config: NodeConfig, clock: Clock) -> Assembly:
    drive = LocalDrive(config.data_dir / "drive-0", config.storage.lmdb_map_size)
    placement = StaticPlacement.single(drive)
    objects = ObjectService(placement, config.storage, clock, zone=config.zone,
                            day_seconds=config.day_seconds)
    lifecycle = LifecycleWorker(objects, placement.sets())

    async def apply_lifecycle() -> None:
        await lifecycle.run_forever(config.lifecycle_interval)

    # One queue group of one member holds the catalog and every partition: the cluster's
    # code path, with a majority of one.
    catalog_log, partitions = CatalogLog(), PartitionLog()
    plan = single_group()
    group = RaftGroup(plan[0].members[0].raft_address, [], "",
                      config.data_dir / "queues", [catalog_log, partitions],
                      unavailable="the queue group is not ready",
                      log_compaction_entries=LOG_COMPACTION_ENTRIES)
    router = GroupRouter(plan, {0: GroupHost(0, group, partitions, clock)})
    queues = QueueService(QueueCatalog(catalog_log, group.call, clock), router, clock,
                          host=config.listen, partitions=config.queue_partitions)
    cache = CacheService(cache_store(config, clock), config.node_id,
                         SlotMap.build([(config.node_id, config.zone)], 0))
    objects.read_cache = ObjectReadCache.build(cache, config.object_cache_max)
    return Assembly(config.listen, config.node_id, config.zone, "single-node", [drive],
                    objects, RecordingHealer(placement, clock, config.node_id), queues, clock,
                    cache,
                    background=[apply_lifecycle, queues.sweep_forever, cache.sweep_forever],
                    closers=[drive.close, group.close, cache.close], lifecycle=lifecycle)


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
    catalog_log = CatalogLog()  # queue names are cluster-wide like bucket names
    table = RaftBucketTable(me.raft_address, [n.raft_address for n in topology.nodes],
                            topology.secret, me.drives[0] / "raft", clock=clock,
                            extra_consumers=[catalog_log])
    queue_groups = plan_queue_groups(topology)
    hosts: dict[int, GroupHost] = {}
    for g in queue_groups:
        member = g.member(me.id)
        if member is None:
            continue
        log_ = PartitionLog()
        raft = RaftGroup(member.raft_address, [m.raft_address for m in g.members],
                         topology.secret, me.drives[0] / "queues" / f"group-{g.index}", [log_],
                         unavailable=f"queue group {g.index} has no quorum",
                         log_compaction_entries=LOG_COMPACTION_ENTRIES)
        hosts[g.index] = GroupHost(g.index, raft, log_, clock)
        log.info("queue group %d: %s", g.index,
                 ", ".join(f"{m.node_id}({m.zone})" for m in g.members))
    router = GroupRouter(queue_groups, hosts,
                         lambda node_id: pool.peer(node_id, nodes[node_id].address,
                                                   nodes[node_id].zone),
                         timeout=config.peer_timeout)
    queues = QueueService(QueueCatalog(catalog_log, table.group.call, clock), router, clock,
                          host=me.address, partitions=config.queue_partitions)
    buckets = ClusterBucketRegistry(table, placement, local, clock)
    objects = ObjectService(placement, config.storage, clock, buckets=buckets, zone=me.zone,
                            day_seconds=config.day_seconds)
    healer = RecordingHealer(placement, clock, me.id)
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

    def close_groups() -> None:
        for host in hosts.values():
            host.close()

    cache = CacheService(
        cache_store(config, clock), me.id,
        SlotMap.build([(n.id, n.zone) for n in topology.nodes], config.cache_replicas),
        peer=lambda node_id: pool.peer(node_id, nodes[node_id].address, nodes[node_id].zone),
        all_nodes=[n.id for n in topology.nodes])
    objects.read_cache = ObjectReadCache.build(cache, config.object_cache_max)
    return Assembly(
        me.address, me.id, me.zone, topology.name, local, objects, healer, queues, clock,
        cache,
        node_servicer=NodeServicer(me.id, me.zone, local, topology.secret),
        queue_node_servicer=QueueNodeServicer(hosts, topology.secret),
        cache_node_servicer=CacheNodeServicer(cache, topology.secret),
        background=[reconcile, repairs.run, scan, apply_lifecycle, queues.sweep_forever,
                    cache.sweep_forever, cache.run_replication],
        closers=[close_drives, table.close, close_groups, cache.close, pool.close],
        peers=pool, lifecycle=lifecycle,
    )


async def assemble(config: NodeConfig, clock: Clock) -> Assembly:
    if config.cluster_file is None:
        return single_node(config, clock)
    return await cluster_node(config, clock)


def start_background(assembly: Assembly) -> list[asyncio.Task[None]]:
    return [asyncio.ensure_future(job()) for job in assembly.background]
