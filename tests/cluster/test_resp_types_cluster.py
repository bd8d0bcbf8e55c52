"""Redis's data types on a real 3-node, 3-AZ cluster with a cache replica per slot:
redis-py's RedisCluster over RESP for every type, the SDK's Cache.Command through any
node (CROSSSLOT as Redis Cluster answers it), and a hash, list and sorted set written on
a primary read back from its replica after the primary is killed with -9. The cluster
is the one cluster modules share (shared_cluster): keys are this module's own, and
the dead node is started again before the next test."""

from __future__ import annotations

import pytest
import redis
from credentials import ROOT_KEY_ID, ROOT_SECRET
from redis.cluster import RedisCluster

from engine.cache.slots import key_slot
from engine.client import ClientError

from .conftest import Cluster, wait_until
from .resp_nodes import key_owned_by, resp_address, slot_map


@pytest.fixture
def cluster(shared_cluster: Cluster) -> Cluster:
    """The cluster modules share (tests/cluster/conftest.py)."""
    return shared_cluster


def redis_cluster(cluster: Cluster, node_id: str = "n1") -> RedisCluster:
    host, port = resp_address(cluster, node_id)
    return RedisCluster(host=host, port=port, username=ROOT_KEY_ID, password=ROOT_SECRET)


def test_redis_cluster_client_uses_every_type_in_every_slot_range(cluster):
    with redis_cluster(cluster) as rc:
        for node in cluster.node_ids:
            h, lst, s, z = (key_owned_by(cluster, node, p) for p in ("h:", "l:", "s:", "z:"))
            assert rc.hset(h, mapping={"a": "1", "b": "2"}) == 2
            assert rc.hincrby(h, "a", 4) == 5 and rc.hgetall(h) == {b"a": b"5", b"b": b"2"}
            assert rc.rpush(lst, "x", "y", "z") == 3 and rc.lrange(lst, 0, -1) == [b"x", b"y", b"z"]
            assert rc.sadd(s, "m", "n") == 2 and rc.smembers(s) == {b"m", b"n"}
            assert rc.zadd(z, {"p": 1.5, "q": 0.5}) == 2
            assert rc.zrange(z, 0, -1, withscores=True) == [(b"q", 0.5), (b"p", 1.5)]
            assert rc.type(h) == b"hash" and rc.type(z) == b"zset"
        # multi-key commands within one slot ({hash tags}) run; across slots CROSSSLOT
        assert rc.sadd("{t}a", "1", "2") == 2 and rc.sadd("{t}b", "2", "3") == 2
        assert rc.sinterstore("{t}c", ["{t}a", "{t}b"]) == 1
        assert rc.zunionstore("{t}u", ["{t}a", "{t}b"]) == 3
        assert rc.lmove("{t}l1", "{t}l2") is None


def test_sdk_commands_route_to_the_owner_through_any_node(cluster):
    key = key_owned_by(cluster, "n3", "sdk:")
    via_n1, via_n2 = cluster.cache("n1"), cluster.cache("n2")
    assert via_n1.hset(key, "f", "v") == 1
    assert via_n2.hgetall(key) == {b"f": b"v"}
    assert via_n2.zadd("{k}z", {"a": 1}) == 1
    assert via_n1.zunionstore("{k}dst", ["{k}z"]) == 1
    with pytest.raises(ClientError) as info:
        via_n1.sinter("a", "b")  # different slots
    assert info.value.response["Error"]["Code"] == "CrossSlot"
    assert str(info.value.response["Error"]["Message"]).startswith(
        "CROSSSLOT Keys in request don't hash to the same slot")
    host, port = resp_address(cluster, "n1")
    with (redis.Redis(host=host, port=port, username=ROOT_KEY_ID, password=ROOT_SECRET) as r,
          pytest.raises(redis.ResponseError, match=r"^Keys in request don't hash")):
        r.sinter("a", "b")


def test_sdk_scan_and_keys_cover_every_node(cluster):
    sdk = cluster.cache("n2")
    names = [key_owned_by(cluster, node, f"tier:{node}:") for node in cluster.node_ids]
    names += [f"tier:more:{i}" for i in range(30)]
    for name in names:
        sdk.sadd(name, "m")
    expected = sorted(n.encode() for n in names)
    assert sorted(sdk.scan_iter(match="tier:*", count=5)) == expected
    assert sorted(sdk.scan_iter(match="tier:*", _type="set")) == expected
    assert sorted(sdk.keys("tier:*")) == expected
    assert sdk.dbsize() == len(cluster.cache("n3").keys("*"))
    assert sdk.randomkey() is not None
    host, port = resp_address(cluster, "n1")
    with redis.Redis(host=host, port=port, username=ROOT_KEY_ID, password=ROOT_SECRET) as r:
        slots = slot_map(cluster)
        mine = [n for n in expected if slots.owners(key_slot(n))[0] == "n1"]
        assert sorted(r.keys("tier:*")) == mine  # one RESP node answers for its own slots


def test_typed_keys_survive_kill9_of_their_primary(cluster):
    slots = slot_map(cluster)
    h = key_owned_by(cluster, "n2", "rep:h:")
    lst = key_owned_by(cluster, "n2", "rep:l:")
    z = key_owned_by(cluster, "n2", "rep:z:")
    replica = slots.owners(key_slot(h.encode()))[1]
    with redis_cluster(cluster) as rc:
        rc.hset(h, mapping={"a": "1", "b": "2"})
        rc.rpush(lst, "x", "y", "z")
        rc.zadd(z, {"p": 1.5, "q": 2})
        host, port = resp_address(cluster, replica)
        with redis.Redis(host=host, port=port, username=ROOT_KEY_ID,
                         password=ROOT_SECRET) as on_replica:
            assert on_replica.execute_command("READONLY")
            wait_until(lambda: on_replica.zcard(z) == 2 and on_replica.llen(lst) == 3
                       and on_replica.hlen(h) == 2, 10, "the replica's copies")
        cluster.kill9(["n2"])
        assert wait_until(lambda: rc.hgetall(h) == {b"a": b"1", b"b": b"2"}, 30,
                          "the hash from the replica")
        assert rc.lrange(lst, 0, -1) == [b"x", b"y", b"z"]
        assert rc.zrange(z, 0, -1, withscores=True) == [(b"p", 1.5), (b"q", 2.0)]
        assert rc.hincrby(h, "a", 1) == 2  # writes go on at the replica
    sdk = cluster.cache("n1")
    assert sdk.zrange(z, 0, -1, withscores=True) == [(b"p", 1.5), (b"q", 2.0)]
    assert sdk.hgetall(h) == {b"a": b"2", b"b": b"2"}
