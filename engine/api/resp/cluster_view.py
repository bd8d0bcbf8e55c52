"""The cluster as Redis Cluster clients see it: who serves each slot, at which RESP
address, under which 40-hex node id.

A slot is served by its primary while that answers, else by its replica (liveness is
this node's prober, engine/cluster/liveness.py, so a view lags a failure by up to a
probe period; a client sent to a dead node asks again and gets the new owner). Every node
computes the same map from the topology, so CLUSTER SLOTS agrees everywhere once the
probers do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from engine.cache.slots import SlotMap
from engine.cluster.topology import Topology, split_host_port


class ClusterView:
    def __init__(self, topology: Topology, node_id: str, slots: SlotMap,
                 is_up: Callable[[str], bool]) -> None:
        self.me = node_id
        self.slots = slots
        self._is_up = is_up
        self.addresses = {n.id: n.redis_address for n in topology.nodes}
        self.zones = {n.id: n.zone for n in topology.nodes}
        self.ids = {n.id: hashlib.sha1(f"{topology.name}/{n.id}".encode()).hexdigest()
                    for n in topology.nodes}
        self.epochs = {n.id: i + 1 for i, n in enumerate(topology.nodes)}

    def up(self, node_id: str) -> bool:
        return node_id == self.me or self._is_up(node_id)

    def serving(self, owners: tuple[str, ...]) -> tuple[str, ...]:
        """The owners that answer, the one that serves first (all of them if none does:
        a client then fails against the primary, as against a failed Redis master)."""
        live = [o for o in owners if self.up(o)]
        return tuple(live) if live else owners

    def server_of(self, slot: int) -> str:
        return self.serving(self.slots.owners(slot))[0]

    def moved(self, slot: int) -> str | None:
        """The MOVED reply for a slot another node serves; None: this node serves it (or
        the serving node has no RESP address: then this node forwards the call)."""
        node = self.server_of(slot)
        address = self.addresses.get(node)
        if node == self.me or address is None:
            return None
        return f"MOVED {slot} {address}"

    def host_port(self, node_id: str) -> tuple[str, int]:
        address = self.addresses.get(node_id)
        return split_host_port(address) if address else ("", 0)

    def ranges(self) -> list[tuple[int, int, tuple[str, ...]]]:
        """(first, last, serving owners, the serving one first) per slot range."""
        return [(first, last, self.serving(owners))
                for first, last, owners in self.slots.ranges()]
