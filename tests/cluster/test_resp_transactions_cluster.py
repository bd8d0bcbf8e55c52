"""MULTI/EXEC per slot on a real 3-node, 3-AZ cluster with a cache replica per slot:
RedisCluster's transactional pipelines on the keys of one hash tag, WATCH through
RedisCluster, the keys a transaction wrote copied to the slot's replica, and MOVED /
CROSSSLOT for a transaction as Redis Cluster answers them."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from credentials import ROOT_KEY_ID, ROOT_SECRET
from redis.cluster import RedisCluster

from engine.cache.slots import key_slot

from .conftest import Cluster, wait_until
from .resp_nodes import key_owned_by, node_client, resp_address, slot_map


@pytest.fixture
def cluster(shared_cluster: Cluster) -> Cluster:
    """The cluster modules share (tests/cluster/conftest.py)."""
    return shared_cluster


@pytest.fixture
def rc(cluster) -> Iterator[RedisCluster]:
    host, port = resp_address(cluster, "n1")
    with RedisCluster(host=host, port=port, username=ROOT_KEY_ID, password=ROOT_SECRET,
                      decode_responses=True) as client:
        yield client


def test_transactional_pipeline_on_one_hash_tag_on_every_node(cluster, rc):
    for owner in cluster.node_ids:
        tag = key_owned_by(cluster, owner, "tag")
        with rc.pipeline(transaction=True) as pipe:
            pipe.set(f"{{{tag}}}.a", "1").incr(f"{{{tag}}}.a")
            pipe.hset(f"{{{tag}}}.h", "f", "v").get(f"{{{tag}}}.a")
            results = pipe.execute()
        # redis-py's cluster transactions hand SET's reply back unconverted ("OK")
        assert results[0] in (True, "OK") and results[1:] == [2, 1, "2"]
    # what EXEC wrote reached the slot's replica
    tag = key_owned_by(cluster, "n2", "tag")
    replica = slot_map(cluster).owners(key_slot(tag.encode()))[1]
    with node_client(cluster, replica, decode_responses=True) as r:
        assert r.execute_command("READONLY") is True
        wait_until(lambda: r.get(f"{{{tag}}}.a") == "2", 10, "the replica's copy")


def test_watch_through_redis_cluster_retries_after_another_write(cluster, rc):
    tag = key_owned_by(cluster, "n3", "w")
    key = f"{{{tag}}}.n"
    rc.set(key, "0")
    attempts: list[int] = []

    def bump(pipe) -> None:
        value = int(pipe.get(key))
        attempts.append(value)
        if len(attempts) == 1:
            with node_client(cluster, "n3") as other:
                other.incr(key)
        pipe.multi()
        pipe.set(key, value + 10)

    rc.transaction(bump, key)
    assert attempts == [0, 1] and rc.get(key) == "11"


def test_moved_flags_the_transaction_and_crossslot_discards_it(cluster):
    here = key_owned_by(cluster, "n1", "a")
    also_here = next(k for k in (key_owned_by(cluster, "n1", f"b{i}:") for i in range(50))
                     if key_slot(k.encode()) != key_slot(here.encode()))
    there = key_owned_by(cluster, "n2", "c")
    host, port = resp_address(cluster, "n2")
    with socket.create_connection(resp_address(cluster, "n1"), timeout=10) as s:
        s.sendall(f"AUTH {ROOT_KEY_ID} {ROOT_SECRET}\r\n"
                  f"MULTI\r\nSET {here} 1\r\nSET {there} 1\r\nEXEC\r\n"
                  f"MULTI\r\nSET {here} 1\r\nSET {also_here} 1\r\nEXEC\r\n"
                  f"GET {here}\r\nQUIT\r\n".encode())
        replies = b""
        while chunk := s.recv(65536):
            replies += chunk
    assert replies == (
        "+OK\r\n+OK\r\n+QUEUED\r\n"
        f"-MOVED {key_slot(there.encode())} {host}:{port}\r\n"
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n"
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
        "$-1\r\n+OK\r\n").encode()
