"""Pub/sub across a real 3-node cluster: a PUBLISH taken by any node reaches subscribers
on every node (as Redis Cluster's does), in order, while returning the publishing node's
receivers only; shard channels live on their slot's node (MOVED elsewhere, and redis-py's
RedisCluster follows); a dead node costs its own subscribers only. The cluster is the one
cluster modules share (shared_cluster); the last test kills a node, which is
started again before the next test."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET
from redis.cluster import RedisCluster

from engine.cache.slots import SlotMap, key_slot

from .conftest import Cluster
from .resp_nodes import node_client, resp_address


@pytest.fixture
def cluster(shared_cluster: Cluster) -> Cluster:
    """The cluster modules share (tests/cluster/conftest.py)."""
    return shared_cluster


def port_of(cluster: Cluster, node_id: str) -> int:
    return resp_address(cluster, node_id)[1]


def messages(p: redis.client.PubSub, count: int, timeout: float = 10.0) -> list[dict]:
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if m is not None:
            got.append(m)
    return got


def subscribed(cluster: Cluster, node_id: str, channel: str) -> redis.client.PubSub:
    p = node_client(cluster, node_id, protocol=2).pubsub()
    p.subscribe(channel)
    assert p.get_message(timeout=5)["type"] == "subscribe"
    return p


def test_a_publish_on_one_node_reaches_subscribers_on_every_node(cluster):
    on_n2 = subscribed(cluster, "n2", "chat")
    on_n3 = node_client(cluster, "n3", protocol=3).pubsub()
    on_n3.psubscribe("ch*")
    assert on_n3.get_message(timeout=5)["type"] == "psubscribe"
    local = subscribed(cluster, "n1", "chat")
    with node_client(cluster, "n1") as n1:
        assert n1.publish("chat", "hello") == 1  # Redis Cluster: this node's receivers
    assert messages(on_n2, 1) == [{"type": "message", "pattern": None, "channel": b"chat",
                                   "data": b"hello"}]
    assert messages(on_n3, 1) == [{"type": "pmessage", "pattern": b"ch*", "channel": b"chat",
                                   "data": b"hello"}]
    assert messages(local, 1)[0]["data"] == b"hello"
    with node_client(cluster, "n2") as n2:  # PUBSUB answers for its own node only
        assert n2.pubsub_numsub("chat") == [(b"chat", 1)]
        assert n2.pubsub_numpat() == 0
    for p in (on_n2, on_n3, local):
        p.close()


def test_messages_from_one_publisher_arrive_in_order_on_another_node(cluster):
    on_n3 = subscribed(cluster, "n3", "seq")
    with node_client(cluster, "n1") as n1:
        for i in range(500):
            n1.publish("seq", str(i))
    assert [m["data"] for m in messages(on_n3, 500)] == [str(i).encode() for i in range(500)]
    on_n3.close()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-tools not installed")
def test_redis_cli_subscribe_on_one_node_sees_a_publish_on_another(cluster):
    proc = subprocess.Popen(
        ["redis-cli", "-p", str(port_of(cluster, "n3")), "--user", ROOT_KEY_ID, "--pass",
         ROOT_SECRET, "--no-auth-warning", "subscribe", "alerts"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert [proc.stdout.readline() for _ in range(3)] == [b"subscribe\n", b"alerts\n",
                                                              b"1\n"]
        done = subprocess.run(
            ["redis-cli", "-c", "-p", str(port_of(cluster, "n2")), "--user", ROOT_KEY_ID,
             "--pass", ROOT_SECRET, "--no-auth-warning", "publish", "alerts", "disk full"],
            capture_output=True, timeout=30)
        assert done.stdout == b"0\n"  # nobody on n2 itself
        assert [proc.stdout.readline() for _ in range(3)] == [b"message\n", b"alerts\n",
                                                              b"disk full\n"]
    finally:
        proc.kill()
        proc.wait(5)


def test_shard_channels_live_on_their_slots_node(cluster):
    slots = SlotMap.build([(n.id, n.zone) for n in cluster.topology.nodes], replicas=0)
    channel = next(c for c in (f"orders{i}" for i in range(1000))
                   if slots.owners(key_slot(c.encode()))[0] == "n2")
    with node_client(cluster, "n1", protocol=2) as n1, \
            pytest.raises(redis.exceptions.MovedError) as moved:
        n1.spublish(channel, "x")
    assert (moved.value.slot_id, moved.value.port) == (key_slot(channel.encode()),
                                                       port_of(cluster, "n2"))
    host = "127.0.0.1"
    with RedisCluster(host=host, port=port_of(cluster, "n1"), username=ROOT_KEY_ID,
                      password=ROOT_SECRET) as rc:
        p = rc.pubsub()
        p.ssubscribe(channel)
        assert p.get_sharded_message(timeout=5)["type"] == "ssubscribe"
        assert rc.spublish(channel, "o-1") == 1
        deadline = time.monotonic() + 10
        got = None
        while got is None and time.monotonic() < deadline:
            got = p.get_sharded_message(ignore_subscribe_messages=True, timeout=0.5)
        assert got is not None and got["data"] == b"o-1"
        p.close()


def test_a_dead_node_costs_only_its_own_subscribers(cluster):
    on_n2 = subscribed(cluster, "n2", "after")
    cluster.kill9(["n3"])
    with node_client(cluster, "n1") as n1:
        started = time.monotonic()
        for i in range(20):
            assert n1.publish("after", str(i)) == 0
        assert time.monotonic() - started < 2.0  # the fan-out never makes PUBLISH wait
    assert [m["data"] for m in messages(on_n2, 20)] == [str(i).encode() for i in range(20)]
    on_n2.close()
