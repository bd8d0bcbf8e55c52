"""This node's view of the cluster, built once at start and handed to whoever needs it.

Which nodes exist and where they listen (the topology), how objects are placed (the
erasure sets and their layout: which node's drive holds each position), the channels to
the peers, and who answers (the one Liveness prober). Assembly builds it
(engine/assembly.py); readiness, status and metrics read it instead of loading the
topology file or probing peers again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.cluster.layout import SetLayout
from engine.cluster.liveness import Liveness
from engine.cluster.peers import Peer, PeerPool
from engine.cluster.placement import StaticPlacement
from engine.cluster.topology import NodeSpec, Topology


@dataclass
class NodeView:
    node_id: str
    zone: str
    address: str
    cluster_name: str
    placement: StaticPlacement
    layout: list[SetLayout]  # per erasure set, which node and drive holds each position
    topology: Topology | None = None  # None: a single node
    pool: PeerPool | None = None
    liveness: Liveness = field(default_factory=lambda: Liveness([]))

    @property
    def others(self) -> list[NodeSpec]:
        """The other nodes of the cluster (none on a single node)."""
        if self.topology is None:
            return []
        return [n for n in self.topology.nodes if n.id != self.node_id]

    def peer(self, node_id: str) -> Peer:
        assert self.topology is not None and self.pool is not None, "a single node has no peers"
        spec = self.topology.node(node_id)
        return self.pool.peer(spec.id, spec.address, spec.zone)

    def peers(self) -> dict[str, Peer]:
        return {n.id: self.peer(n.id) for n in self.others}
