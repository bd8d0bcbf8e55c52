"""What the RESP cluster tests share: each node's RESP address, a redis-py client on one
node (root's key), and keys whose slot a given node owns."""

from __future__ import annotations

from typing import Any

import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET

from engine.cache.slots import SlotMap, key_slot

from .conftest import Cluster


def resp_address(cluster: Cluster, node_id: str) -> tuple[str, int]:
    host, port = cluster.topology.node(node_id).redis_address.rsplit(":", 1)
    return host, int(port)


def node_client(cluster: Cluster, node_id: str, **kw: Any) -> redis.Redis:
    host, port = resp_address(cluster, node_id)
    return redis.Redis(host=host, port=port, username=ROOT_KEY_ID, password=ROOT_SECRET, **kw)


def slot_map(cluster: Cluster) -> SlotMap:
    return SlotMap.build([(n.id, n.zone) for n in cluster.topology.nodes], replicas=1)


def key_owned_by(cluster: Cluster, node_id: str, prefix: str) -> str:
    slots = slot_map(cluster)
    return next(k for k in (f"{prefix}{i}" for i in range(10_000))
                if slots.owners(key_slot(k.encode()))[0] == node_id)
