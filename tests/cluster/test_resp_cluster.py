"""The RESP endpoint in cluster mode on a real 3-node, 3-AZ cluster with a cache replica
per slot: redis-py's RedisCluster and `redis-cli -c` follow the slot map the nodes
publish (CLUSTER SLOTS/SHARDS/NODES), MOVED redirects, CROSSSLOT, READONLY reads on a
replica, and failover when a node dies. The cluster is the one cluster modules share
(shared_cluster): keys are this module's own, and the failover test's dead node is
started again before the next test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

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


def test_cluster_slots_shards_and_nodes_describe_the_slot_map(cluster):
    slots = slot_map(cluster)
    with node_client(cluster, "n1", decode_responses=True) as r:
        published = r.execute_command("CLUSTER", "SLOTS")
        myid = r.execute_command("CLUSTER", "MYID")
        info = dict(line.split(":") for line in
                    r.execute_command("CLUSTER", "INFO").split("\r\n") if line)
        nodes = r.execute_command("CLUSTER", "NODES")
        assert r.execute_command("CLUSTER", "KEYSLOT", "{user1}.a") == key_slot(b"user1")
        shards = r.execute_command("CLUSTER", "SHARDS")
    # every node serves one range: each is listed as its range's master only
    assert [[first, last, [h, p]] for first, last, (h, p, _) in published] == [
        [first, last, [*resp_address(cluster, owners[0])]]
        for first, last, owners in slots.ranges()]
    assert [[n["ip"], n["port"]] for shard in shards for n in shard["nodes"]] == [
        [*resp_address(cluster, o)] for _, _, owners in slots.ranges() for o in owners]
    assert info["cluster_state"] == "ok" and info["cluster_slots_ok"] == "16384"
    assert info["cluster_known_nodes"] == "3" and len(myid) == 40
    mine = next(line for line in nodes.splitlines() if "myself" in line)
    assert mine.startswith(myid) and mine.split()[2] == "myself,master"


def test_engine_status_shows_every_nodes_resp_address(cluster):
    def status(*flags: str) -> str:
        done = subprocess.run([sys.executable, "-m", "engine", "status", *flags, "--endpoint",
                               cluster.endpoint("n1")], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "COLUMNS": "200"})
        assert done.returncode == 0, done.stderr
        return done.stdout

    shown = {n["node_id"]: n["redis_address"] for n in json.loads(status("--json"))["nodes"]}
    assert shown == {n.id: n.redis_address for n in cluster.topology.nodes}
    table = status()
    assert "RESP" in table and all(n.redis_address in table for n in cluster.topology.nodes)


def test_redis_cluster_client_reads_and_writes_every_slot_range(cluster):
    host, port = resp_address(cluster, "n2")
    before = sum(node_client(cluster, n).dbsize() for n in cluster.node_ids)  # shared
    with RedisCluster(host=host, port=port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                      decode_responses=True) as rc:
        for i in range(300):
            assert rc.set(f"rc:{i}", str(i)) is True
        assert [rc.get(f"rc:{i}") for i in range(300)] == [str(i) for i in range(300)]
        assert rc.incr("rc:counter") == 1
        assert rc.mset_nonatomic({f"{{t}}.{i}": str(i) for i in range(10)}) == [True]
        assert rc.mget([f"{{t}}.{i}" for i in range(10)]) == [str(i) for i in range(10)]
        assert rc.delete(*[f"rc:{i}" for i in range(0, 300, 3)]) == 100
        assert rc.get("rc:0") is None and rc.get("rc:1") == "1"
        per_node = [node_client(cluster, n).dbsize() for n in cluster.node_ids]
        assert sum(per_node) - before == 200 + 10 + 1
        assert len(rc.get_primaries()) == 3
    with RedisCluster(host=host, port=port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                      protocol=3) as rc3:
        assert [rc3.get(f"rc:{i}") for i in range(1, 30, 3)] == [
            str(i).encode() for i in range(1, 30, 3)]


def test_moved_and_crossslot_for_a_plain_client(cluster):
    key = key_owned_by(cluster, "n3", "mv:")
    slot = key_slot(key.encode())
    host, port = resp_address(cluster, "n3")
    with socket.create_connection(resp_address(cluster, "n1"), timeout=10) as s:
        tag = key_owned_by(cluster, "n1", "tag")  # {tag}x lives in the slot of "tag"
        s.sendall(f"AUTH {ROOT_KEY_ID} {ROOT_SECRET}\r\nSET {key} v\r\n"
                  f"MGET {{a}}1 {{b}}1\r\nMGET {{{tag}}}1 {{{tag}}}2\r\nQUIT\r\n".encode())
        replies = b""
        while chunk := s.recv(65536):
            replies += chunk
    assert replies == (f"+OK\r\n-MOVED {slot} {host}:{port}\r\n"
                       "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
                       "*2\r\n$-1\r\n$-1\r\n+OK\r\n").encode()
    with node_client(cluster, "n1") as r:
        with pytest.raises(redis.ResponseError, match="SELECT is not allowed in cluster mode"):
            r.execute_command("SELECT", "1")
        assert r.execute_command("SELECT", "0") is True


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-tools not installed")
def test_redis_cli_follows_redirects(cluster):
    host, port = resp_address(cluster, "n1")
    base = ["redis-cli", "-c", "-h", host, "-p", str(port), "--user", ROOT_KEY_ID,
            "--pass", ROOT_SECRET, "--no-auth-warning"]
    keys = [key_owned_by(cluster, n, "cli:") for n in ("n1", "n2", "n3")]
    for key in keys:
        assert subprocess.run([*base, "SET", key, f"v-{key}"], capture_output=True, text=True,
                              timeout=30, check=True).stdout.strip() == "OK"
    for key in keys:
        got = subprocess.run([*base, "GET", key], capture_output=True, text=True, timeout=30,
                             check=True).stdout.strip()
        assert got == f"v-{key}"


def test_readonly_reads_a_replica_copy(cluster):
    slots = slot_map(cluster)
    key = key_owned_by(cluster, "n1", "ro:")
    replica = slots.owners(key_slot(key.encode()))[1]
    with node_client(cluster, "n1") as primary:
        primary.set(key, "copied")
    with node_client(cluster, replica) as r:
        with pytest.raises(redis.exceptions.MovedError):
            r.get(key)
        assert r.execute_command("READONLY") is True
        wait_until(lambda: r.get(key) == b"copied", 10, "the replica's copy")
        with pytest.raises(redis.exceptions.MovedError):
            r.set(key, "no writes here")
        assert r.execute_command("READWRITE") is True
        with pytest.raises(redis.exceptions.MovedError):
            r.get(key)
        # No slot ever migrates, so ASKING changes nothing: still MOVED, never ASK.
        assert r.execute_command("ASKING") in (True, b"OK")
        with pytest.raises(redis.exceptions.MovedError):
            r.get(key)


def test_a_pipelines_replies_come_after_its_writes_reached_the_replica(cluster):
    """A pipeline's writes run as they come and their copies go out together; the replies
    leave only after the copies were sent, so the replica holds every acknowledged write
    the moment the client has its replies."""
    slots = slot_map(cluster)
    key = key_owned_by(cluster, "n2", "pipe:")
    keys = [f"{{{key}}}:{i}" for i in range(200)]  # one slot: one primary, one replica
    replica = slots.owners(key_slot(key.encode()))[1]
    with node_client(cluster, "n2") as primary:
        pipe = primary.pipeline(transaction=False)
        for i, k in enumerate(keys):
            pipe.set(k, f"v{i}")
        pipe.incr(keys[0] + ":n")
        assert pipe.execute() == [True] * len(keys) + [1]
    with node_client(cluster, replica) as r:
        assert r.execute_command("READONLY") is True
        assert r.mget(keys) == [f"v{i}".encode() for i in range(len(keys))]
        assert r.get(keys[0] + ":n") == b"1"


def test_a_dead_nodes_slots_move_to_its_replica(cluster):
    slots = slot_map(cluster)
    key = key_owned_by(cluster, "n3", "fo:")
    replica = slots.owners(key_slot(key.encode()))[1]
    host, port = resp_address(cluster, "n1")
    with RedisCluster(host=host, port=port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                      decode_responses=True) as rc:
        rc.set(key, "before")
        cluster.kill9(["n3"])
        with socket.socket() as probe:  # n3's RESP port is closed now
            assert probe.connect_ex(resp_address(cluster, "n3")) != 0
        _, rport = resp_address(cluster, replica)
        slot = key_slot(key.encode())
        with node_client(cluster, "n1") as r:
            def server_of_slot() -> int:
                for first, last, served_by, *_ in r.execute_command("CLUSTER", "SLOTS"):
                    if first <= slot <= last:
                        return served_by[1]
                return 0

            wait_until(lambda: server_of_slot() == rport, 15, "the replica serving n3's slots")
        assert wait_until(lambda: rc.get(key) == "before", 30, "a read after failover")
        assert rc.set(key, "after") is True and rc.get(key) == "after"
