"""What a node is made of, for a single node or one node of a cluster.

`engine serve` alone: one local drive, an identity-coded set, buckets as volumes.
`engine serve --cluster FILE --node ID`: this node's drives from the topology, the
planned erasure sets with peers' drives reached through node.proto, and buckets in the
replicated table. Everything above (services, servicers) is the same for both.

Either way the node runs one consensus host (engine/cluster/consensus/) with its store
in ``consensus/`` on the first drive (a single node: in the data directory): the meta
group (every node; bucket table and queue catalog) and the queue groups this node is a
member of (a single node: one of each, with itself as the only member).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.api.cache_node_servicer import CacheNodeServicer
from engine.api.heal_passes import RecordingHealer
from engine.api.node_servicer import NodeServicer
from engine.api.pubsub_node_servicer import PubSubNodeServicer
from engine.api.queue_node_servicer import QueueNodeServicer
from engine.cache.pubsub import Broker
from engine.cache.pubsub_fanout import Fanout, peer_sender
from engine.cache.service import CacheService
from engine.cache.slots import SlotMap
from engine.cache.store import MAX_KEY_BYTES, CacheStore
from engine.clock import Clock
from engine.cluster.bucket_table import BucketMachine, BucketTable
from engine.cluster.consensus.host import ConsensusHost
from engine.cluster.consensus.store import ConsensusStore
from engine.cluster.consensus.transport import RaftListener, RaftSender
from engine.cluster.layout import DriveRef, SetLayout, plan_erasure_sets
from engine.cluster.liveness import Liveness
from engine.cluster.node_view import NodeView
from engine.cluster.peers import Peer, PeerPool
from engine.cluster.placement import ErasureSet, StaticPlacement
from engine.cluster.readiness import Readiness
from engine.cluster.remote_drive import RemoteDrive
from engine.cluster.tls import ClusterTls
from engine.cluster.topology import Topology
from engine.config import NodeConfig
from engine.iam.s3_account import S3AccountSettings
from engine.iam.sealing import Sealer
from engine.iam.store.machine import IdentityMachine
from engine.iam.system import IdentitySystem
from engine.objects.cluster_buckets import ClusterBucketRegistry
from engine.objects.heal import Healer, RepairQueue
from engine.objects.lifecycle_worker import LifecycleWorker
from engine.objects.notifications.dispatcher import Notifier
from engine.objects.read_cache import ObjectReadCache
from engine.objects.service import ObjectService
from engine.queues import names as queue_names
from engine.queues.catalog import CatalogMachine, QueueCatalog
from engine.queues.event_sink import QueueEventSink
from engine.queues.groups import GroupSpec, plan_queue_groups, single_group
from engine.queues.host import GroupHost
from engine.queues.partition import PartitionMachine
from engine.queues.router import GroupRouter
from engine.queues.service import QueueService
from engine.storage.codec import codec_for
from engine.storage.drive import Drive, LocalDrive

log = logging.getLogger("engine.node")
RECONCILE_SECONDS = 30.0
CONSENSUS_DIR = "consensus"
META_GROUP = "meta"


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
    consensus: ConsensusHost
    readiness: Readiness
    view: NodeView
    identity: IdentitySystem
    node_servicer: NodeServicer | None = None
    queue_node_servicer: QueueNodeServicer | None = None
    cache_node_servicer: CacheNodeServicer | None = None
    pubsub_node_servicer: PubSubNodeServicer | None = None
    pubsub: Broker = field(default_factory=Broker)  # RESP pub/sub, cluster-wide
    raft: tuple[RaftListener, RaftSender] | None = None  # cluster only: consensus traffic
    peers: PeerPool | None = None  # cluster only: channels to the other nodes
    secret: str | None = None  # cluster only: peers' calls carry it
    lifecycle: LifecycleWorker | None = None
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.readiness.ready

    async def quiesce(self) -> None:
        """Stop the long-running consensus machinery once calls have drained, so the
        shutdown does not wait on its never-ending tasks."""
        await self.consensus.close()
        if self.raft is not None:
            for part in self.raft:
                await part.close()

    async def close(self) -> None:
        for closer in reversed(self.closers):
            result = closer()
            if result is not None:
                await result


def cache_store(config: NodeConfig, clock: Clock) -> CacheStore:
    # Stored keys carry a one-byte namespace (engine/cache/local.py): allow for it.
    return CacheStore(config.cache_bytes, clock, max_key_bytes=MAX_KEY_BYTES + 1,
                      policy=config.cache_eviction_policy)


def consensus_host(config: NodeConfig, node_id: str, directory: Path,
                   clock: Clock) -> ConsensusHost:
    if (directory.parent / "raft" / "raft.journal").exists() or (
            directory.parent / "queues" / "raft.journal").exists():
        log.warning("%s holds Raft state of the old format (pysyncobj): it is not read; "
                    "buckets and queues it held are not carried over", directory.parent)
    store = ConsensusStore(directory, config.storage.lmdb_map_size,
                           fsync=not config.unsafe_no_fsync)
    return ConsensusHost(node_id, store, clock)


def queue_hosts(consensus: ConsensusHost, plan: list[GroupSpec], node_id: str,
                clock: Clock) -> dict[int, GroupHost]:
    """This node's memberships of the queue groups, each a consensus group."""
    hosts = {}
    for spec in plan:
        if spec.member(node_id) is None:
            continue
        machine = PartitionMachine()
        group = consensus.add_group(spec.name, [m.node_id for m in spec.members], [machine],
                                    unavailable=f"queue group {spec.index} has no quorum")
        hosts[spec.index] = GroupHost(spec.index, group, machine, clock)
        log.info("queue group %d: %s", spec.index,
                 ", ".join(f"{m.node_id}({m.zone})" for m in spec.members))
    return hosts


async def single_node(config: NodeConfig, clock: Clock) -> Assembly:
    drive = LocalDrive(config.data_dir / "drive-0", config.storage.lmdb_map_size)
    placement = StaticPlacement.single(drive)
    objects = ObjectService(placement, config.storage, clock, zone=config.zone,
                            day_seconds=config.day_seconds)
    lifecycle = LifecycleWorker(objects, placement.sets())

    async def apply_lifecycle() -> None:
        await lifecycle.run_forever(config.lifecycle_interval)

    # The cluster's code path with a majority of one: a meta group for the catalog and
    # one queue group holding every partition.
    consensus = consensus_host(config, config.node_id, config.data_dir / CONSENSUS_DIR, clock)
    meta = consensus.add_group(META_GROUP, [config.node_id],
                               [CatalogMachine(), IdentityMachine()],
                               unavailable="the queue catalog is not ready")
    identity = IdentitySystem(meta, Sealer.from_key_file(config.data_dir), clock,
                              config.region, config.data_dir)
    identity.on_account.append(queue_names.set_scope)
    plan = single_group(config.node_id, config.zone)
    router = GroupRouter(plan, queue_hosts(consensus, plan, config.node_id, clock))
    await consensus.start()
    queues = QueueService(QueueCatalog(meta, clock), router, clock,
                          host=config.listen, partitions=config.queue_partitions)
    cache = CacheService(cache_store(config, clock), config.node_id,
                         SlotMap.build([(config.node_id, config.zone)], 0))
    objects.read_cache = ObjectReadCache.build(cache, config.object_cache_max)
    codec = placement.sets()[0].codec
    view = NodeView(config.node_id, config.zone, config.listen, "single-node", placement,
                    [SetLayout(0, (DriveRef(config.node_id, 0, config.zone),),
                               codec.data_shards, codec.parity_shards)])
    return Assembly(config.listen, config.node_id, config.zone, "single-node", [drive],
                    objects, RecordingHealer(placement, clock, config.node_id), queues, clock,
                    cache, consensus,
                    Readiness(list(consensus.groups.values()), view, once=[identity.start]),
                    view, identity,
                    background=[apply_lifecycle, queues.sweep_forever, cache.sweep_forever,
                                identity.flush_forever],
                    closers=[drive.close, consensus.close, cache.close], lifecycle=lifecycle)


async def cluster_node(config: NodeConfig, clock: Clock) -> Assembly:
    assert config.cluster_file is not None
    topology = Topology.load(config.cluster_file)
    me = topology.node(config.node_id)
    plan = plan_erasure_sets(topology, require_az_tolerance=not config.allow_reduced_tolerance)
    local = [LocalDrive(path, config.storage.lmdb_map_size) for path in me.drives]
    tls = ClusterTls.for_node(topology, me.id)  # None: a plaintext cluster
    pool = PeerPool(me.zone, topology.secret, timeout=config.peer_timeout,
                    az_latency_ms=topology.az_latency_ms, tls=tls.peers() if tls else None)
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
    consensus = consensus_host(config, me.id, me.drives[0] / CONSENSUS_DIR, clock)
    # The meta group has every node: bucket names and queue names are cluster-wide.
    meta = consensus.add_group(META_GROUP, [n.id for n in topology.nodes],
                               [BucketMachine(), CatalogMachine(), IdentityMachine()],
                               unavailable="cluster metadata has no quorum")
    # root-credentials goes beside the node's drives (its data directory in `cluster up`)
    identity = IdentitySystem(meta, Sealer.from_secret(topology.secret), clock,
                              config.region, me.drives[0].parent)
    identity.on_account.append(queue_names.set_scope)
    table = BucketTable(meta)
    queue_groups = plan_queue_groups(topology)
    hosts = queue_hosts(consensus, queue_groups, me.id, clock)

    def peer(node_id: str) -> Peer:
        spec = nodes[node_id]
        return pool.peer(spec.id, spec.address, spec.zone)

    listener = RaftListener(me.raft_address, topology.secret, consensus.receive,
                            tls=tls.raft_server() if tls else None)
    await listener.start()
    sender = RaftSender(me.id, topology.secret, lambda n: nodes[n].raft_address,
                        lambda n: peer(n).latency, tls=tls.raft_client() if tls else None)
    consensus.transport = sender
    await consensus.start()
    router = GroupRouter(queue_groups, hosts, peer, timeout=config.peer_timeout)
    queues = QueueService(QueueCatalog(meta, clock), router, clock,
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
            await meta.barrier(60.0)
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
            await meta.barrier(60.0)
        await lifecycle.run_forever(config.lifecycle_interval)

    cache = CacheService(
        cache_store(config, clock), me.id,
        SlotMap.build([(n.id, n.zone) for n in topology.nodes], config.cache_replicas),
        peer=peer, all_nodes=[n.id for n in topology.nodes])
    objects.read_cache = ObjectReadCache.build(cache, config.object_cache_max)
    fanout = Fanout(me.id, [n.id for n in topology.nodes], peer_sender(peer))
    pubsub = Broker(fanout.forward)
    view = NodeView(me.id, me.zone, me.address, topology.name, placement, list(plan), topology,
                    pool, Liveness([peer(n.id) for n in topology.nodes if n.id != me.id]))
    return Assembly(
        me.address, me.id, me.zone, topology.name, local, objects, healer, queues, clock,
        cache, consensus,
        Readiness(list(consensus.groups.values()), view, once=[identity.start]), view, identity,
        node_servicer=NodeServicer(me.id, me.zone, local, topology.secret),
        queue_node_servicer=QueueNodeServicer(hosts, topology.secret),
        cache_node_servicer=CacheNodeServicer(cache, topology.secret),
        pubsub_node_servicer=PubSubNodeServicer(pubsub, topology.secret), pubsub=pubsub,
        raft=(listener, sender),
        background=[reconcile, repairs.run, scan, apply_lifecycle, queues.sweep_forever,
                    cache.sweep_forever, cache.run_replication, view.liveness.run,
                    identity.flush_forever],
        closers=[close_drives, consensus.close, listener.close, sender.close, cache.close,
                 pool.close, fanout.close],
        peers=pool, lifecycle=lifecycle, secret=topology.secret,
    )


async def assemble(config: NodeConfig, clock: Clock) -> Assembly:
    if config.cluster_file is None:
        node = await single_node(config, clock)
    else:
        node = await cluster_node(config, clock)
    # S3's account-level settings (Block Public Access) live in the identity store.
    node.objects.account = S3AccountSettings(node.identity.store)
    wire_notifications(node, config.region)
    return node


def wire_notifications(node: Assembly, region: str) -> None:
    """S3 event notifications into this node's queues; each node sweeps the outboxes
    of its own drives."""
    sink = QueueEventSink(node.queues)
    mine = [(s, i) for s in node.objects.placement.sets()
            for i, d in enumerate(s.drives) if any(d is local for local in node.local)]
    notifier = Notifier(sink, node.clock, mine)
    node.objects.event_sink = sink
    node.objects.notifier = notifier
    node.objects.region = region
    node.background.append(notifier.sweep_forever)


def start_background(assembly: Assembly) -> list[asyncio.Task[None]]:
    return [asyncio.ensure_future(job()) for job in assembly.background]
