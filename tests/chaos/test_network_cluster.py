"""A real 3-node engine cluster under the partition nemesis: each node runs as its own uid
on its own 127.0.0.x (engine/chaos/launcher.py), and ``Network.isolate`` cuts one off.
What an operator would see: the others' `engine status` marks it unreachable, it marks
them so and stops saying SERVING (no quorum), a bucket cannot be created through it;
after ``heal()`` all of that comes back. Clients outside the cluster reach it throughout.

Root only (nft rules, processes under other uids); skipped with the reason elsewhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from grpc_health.v1 import health_pb2

from engine.chaos.launcher import LoopbackCluster
from engine.chaos.network import Network
from engine.client import ClientError
from engine.client import client as sdk_client

from .conftest import skip_without_network

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` (another process's state) until it is truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)
    return result


def reachable(cluster: LoopbackCluster, asked: str) -> dict[str, bool]:
    """node id -> reachable, as `engine status --json` through ``asked`` shows it."""
    done = subprocess.run([sys.executable, "-m", "engine", "status", "--json", "--endpoint",
                           cluster.endpoint(asked)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return {n["node_id"]: n["reachable"] for n in json.loads(done.stdout)["nodes"]}


@pytest.fixture
def partitionable(tmp_path: Path) -> Iterator[tuple[LoopbackCluster, Network]]:
    skip_without_network()
    cluster = LoopbackCluster(tmp_path, nodes=3, azs=3)
    # the Network first: conntrack must see the nodes' connections from their first packet
    with Network(cluster.identities) as net, cluster:
        cluster.start()
        yield cluster, net


def test_isolated_node_drops_out_and_comes_back_after_heal(
        partitionable: tuple[LoopbackCluster, Network]) -> None:
    cluster, net = partitionable
    assert reachable(cluster, "n1") == {"n1": True, "n2": True, "n3": True}
    s3 = sdk_client("s3", endpoint=cluster.endpoint("n3"), timeout=10)
    s3.create_bucket(Bucket="before")

    net.isolate("n3")
    assert reachable(cluster, "n1") == {"n1": True, "n2": True, "n3": False}
    assert reachable(cluster, "n3") == {"n1": False, "n2": False, "n3": True}
    # the majority side serves; n3 knows it has no quorum (and a client still reaches it)
    until(lambda: cluster.health("n3") == NOT_SERVING, 20, "n3 to stop serving")
    assert cluster.health("n1") == SERVING
    with pytest.raises(ClientError) as refused:
        s3.create_bucket(Bucket="during")
    assert refused.value.response["Error"]["Code"] == "ServiceUnavailable"
    sdk_client("s3", endpoint=cluster.endpoint("n1"), timeout=10).create_bucket(Bucket="majority")

    net.heal()
    until(lambda: reachable(cluster, "n1")["n3"], 20, "n1 to see n3 again")
    assert reachable(cluster, "n3") == {"n1": True, "n2": True, "n3": True}
    until(lambda: cluster.health("n3") == SERVING, 20, "n3 to serve again")
    s3.create_bucket(Bucket="after")
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {"before", "majority", "after"} <= names and "during" not in names
