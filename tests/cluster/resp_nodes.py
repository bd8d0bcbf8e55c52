"""What the RESP cluster tests share: each node's RESP address, a redis-py client on one
node (root's key), keys whose slot a given node owns, and putting the cluster modules share
(conftest.shared_cluster) back as it was after a test killed one of its nodes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET

from engine.cache.slots import SlotMap, key_slot

if TYPE_CHECKING:  # conftest imports this module for the shared cluster's fixture
    from .conftest import Cluster

SHARED_CLUSTER_ARGS = ("--cache-replicas", "1")  # shared_cluster: a cache replica per slot


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


def published_masters(cluster: Cluster, node_id: str) -> list[tuple[int, int, str, int]]:
    """(first, last, host, port) of each range as `node_id`'s CLUSTER SLOTS names its
    master."""
    with node_client(cluster, node_id, decode_responses=True, socket_timeout=5) as r:
        return [(first, last, host, port)
                for first, last, (host, port, *_), *_ in r.execute_command("CLUSTER", "SLOTS")]


def restore(cluster: Cluster, timeout: float = 60.0) -> None:
    """Restart the nodes a test killed and wait until the cluster serves as planned again:
    every node answers ListBuckets, publishes each range's planned primary as its master, and
    every primary takes a write of a key it owns (its lease renewed and its replica's
    hand-back done), so the next test sees what a fresh cluster would show it."""
    # imported here: conftest imports this module, and wait_until lives there
    from .conftest import wait_until

    dead = [n for n in cluster.node_ids if not cluster.running(n)]
    if not dead:
        return
    cluster.start(dead, timeout)
    cluster.wait_buckets_ready(timeout)
    planned = [(first, last, *resp_address(cluster, owners[0]))
               for first, last, owners in slot_map(cluster).ranges()]
    for node in cluster.node_ids:
        wait_until(lambda n=node: published_masters(cluster, n) == planned, timeout,
                   f"{node} publishing the planned slot map after restarting {dead}")
    for node in cluster.node_ids:
        key = key_owned_by(cluster, node, "restore:probe:")

        def takes_a_write(n: str = node, k: str = key) -> bool:
            with node_client(cluster, n, socket_timeout=5) as r:
                return bool(r.set(k, "x")) and r.delete(k) == 1

        wait_until(takes_a_write, timeout, f"{node} taking writes for its own slots")
