"""Blocking commands on a real 3-node, 3-AZ cluster with a cache replica per slot: BLPOP
is refused with MOVED on a node that does not serve its key and CROSSSLOT across slots;
a waiter on the key's primary is woken by a push through RedisCluster, and what it popped
is copied to the slot's replica with the push."""

from __future__ import annotations

import pytest
import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET
from redis.cluster import RedisCluster

from engine.cache.slots import key_slot

from .conftest import Cluster, wait_until
from .resp_nodes import key_owned_by, node_client, resp_address, slot_map


@pytest.fixture
def cluster(shared_cluster: Cluster) -> Cluster:
    """The cluster modules share (tests/cluster/conftest.py)."""
    return shared_cluster


def test_moved_and_crossslot(cluster):
    key = key_owned_by(cluster, "n2", "bm:")
    with node_client(cluster, "n1") as r:
        with pytest.raises(redis.exceptions.MovedError):
            r.blpop([key], timeout=0.01)
        with pytest.raises(redis.exceptions.ResponseError, match="hash to the same slot"):
            r.blpop(["{a}x", "{b}y"], timeout=0.01)


def test_a_waiter_woken_by_a_push_and_its_pop_replicated(cluster):
    key = key_owned_by(cluster, "n1", "bw:")
    replica = slot_map(cluster).owners(key_slot(key.encode()))[1]
    host, port = resp_address(cluster, "n1")
    waiter = redis.Connection(host=host, port=port, username=ROOT_KEY_ID,
                              password=ROOT_SECRET, socket_timeout=10)
    try:
        waiter.connect()
        waiter.send_command("CLIENT", "ID")
        wid = str(waiter.read_response())
        waiter.send_command("BLPOP", key, "0")
        with node_client(cluster, "n1") as r:
            wait_until(lambda: any(c["id"] == wid and c["cmd"] == "blpop"
                                   for c in r.client_list()), 10, "the waiter blocked")
        with RedisCluster(host=host, port=port, username=ROOT_KEY_ID,
                          password=ROOT_SECRET) as rc:
            assert rc.rpush(key, "first", "second") == 2
        assert waiter.read_response() == [key.encode(), b"first"]
        with node_client(cluster, replica) as r:
            assert r.execute_command("READONLY") is True
            wait_until(lambda: r.lrange(key, 0, -1) == [b"second"], 10, "the replica's copy")
    finally:
        waiter.disconnect()
