"""Buckets are cluster-wide and strongly consistent (Raft), across real node processes.

A bucket created through one node is visible through every other node at once (no
polling: the very next HeadBucket and ListBuckets see it), and objects can be written
into it through any node. Of two concurrent CreateBucket calls for one name through two
different nodes exactly one succeeds and the other gets BucketAlreadyOwnedByYou; every
node then agrees that the bucket exists, once.

Neither test stops or pauses a node, so one cluster serves the module; the tests run in
file order (the first sees an empty bucket table, the second names its buckets apart).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Cluster, error_code, running


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One running 6-node, 3-AZ cluster for the module, its bucket table ready."""
    c = Cluster(tmp_path_factory.mktemp("buckets"))
    with running(c):
        yield c


def test_create_bucket_is_visible_everywhere_at_once(cluster: Cluster) -> None:
    nodes = cluster.node_ids
    created = []
    for i, creator in enumerate(nodes):
        name = f"visible-{i}-{creator}"
        cluster.client(creator).create_bucket(Bucket=name)
        created.append(name)
        for node in nodes:
            s3 = cluster.client(node)
            s3.head_bucket(Bucket=name)  # raises if this node does not know it yet
            names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
            assert names == sorted(created), (node, names)
        # Usable through another node right away.
        other = nodes[(i + 3) % len(nodes)]
        cluster.client(other).put_object(Bucket=name, Key="k", Body=b"v")
        assert cluster.client(creator).get_object(Bucket=name, Key="k")["Body"].read() == b"v"

    cluster.client("n2").delete_object(Bucket=created[0], Key="k")
    cluster.client("n2").delete_bucket(Bucket=created[0])
    for node in nodes:
        s3 = cluster.client(node)
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert created[0] not in names, node
        try:
            s3.head_bucket(Bucket=created[0])
        except Exception as exc:
            assert error_code(exc) in ("404", "NoSuchBucket"), (node, exc)
        else:
            raise AssertionError(f"{node} still has the deleted bucket")


def test_concurrent_create_bucket_exactly_one_wins(cluster: Cluster) -> None:
    pairs = [("n1", "n2"), ("n3", "n6"), ("n5", "n4"), ("n2", "n3"), ("n6", "n1"),
             ("n4", "n5")]
    for round_, (a, b) in enumerate(pairs):
        name = f"race-{round_}"
        start = threading.Barrier(2)
        outcome: dict[str, Any] = {}

        def create(node: str, name: str = name, start: threading.Barrier = start,
                   outcome: dict[str, Any] = outcome) -> None:
            s3 = cluster.client(node)
            start.wait(10)
            try:
                s3.create_bucket(Bucket=name)
                outcome[node] = "ok"
            except Exception as exc:
                outcome[node] = error_code(exc)

        threads = [threading.Thread(target=create, args=(n,)) for n in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcome.values()) == ["BucketAlreadyOwnedByYou", "ok"], (name, outcome)
        for node in cluster.node_ids:
            names = [x["Name"] for x in cluster.client(node).list_buckets()["Buckets"]]
            assert names.count(name) == 1, (node, names)
