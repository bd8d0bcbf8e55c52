"""Observability across a real 3-node cluster: one request's id in the JSON logs of two
nodes, per-bucket gauges that add up across nodes, peer health and latency between AZs."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.client import signed_channels
from engine.v1 import objects_pb2, objects_pb2_grpc

from .conftest import Cluster, running, wait_until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("observability"), nodes=3, azs=3,
                extra_args=["--metrics-listen", "127.0.0.1:0", "--metrics-bucket-refresh", "0",
                            "--log-format", "json", "--log-level", "DEBUG"])
    with running(c):
        yield c


def log_records(c: Cluster, node_id: str) -> list[dict[str, str]]:
    """Every line the node logged, parsed (the fixture's own '--- start' lines aside)."""
    lines = c.log_path(node_id).read_text().splitlines()
    return [json.loads(line) for line in lines if not line.startswith("--- start")]


def metrics_url(c: Cluster, node_id: str) -> str:
    """Where the node serves metrics: it picked a free port and logged it."""
    prefix = "metrics on "
    return wait_until(lambda: next((r["message"][len(prefix):] for r in log_records(c, node_id)
                                    if r["message"].startswith(prefix)), None),
                      30, f"{node_id}'s metrics address")


def scrape(c: Cluster, node_id: str) -> Samples:
    with urllib.request.urlopen(metrics_url(c, node_id), timeout=10) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_one_request_id_in_the_logs_of_every_node_it_touched(cluster: Cluster) -> None:
    s3 = cluster.client("n1")
    s3.create_bucket(Bucket="traced")
    for i in range(3):
        s3.put_object(Bucket="traced", Key=f"k{i}", Body=b"y" * 2000)
    with signed_channels.insecure_channel(cluster.endpoint("n1")) as channel:
        _, call = objects_pb2_grpc.ObjectStoreStub(channel).HeadObject.with_call(
            objects_pb2.HeadObjectRequest(bucket="traced", key="k0"),
            metadata=(("x-request-id", "cluster-trace-1"),), timeout=30)
    assert dict(call.trailing_metadata())["x-request-id"] == "cluster-trace-1"

    def nodes_with_the_id() -> set[str]:
        return {n for n in cluster.node_ids
                if any(r.get("request_id") == "cluster-trace-1" for r in log_records(cluster, n))}

    touched = wait_until(lambda: (lambda s: s if len(s) >= 2 else None)(nodes_with_the_id()),
                         10, "the request id in two nodes' logs")
    assert "n1" in touched
    peer_lines = [r["message"] for n in touched - {"n1"} for r in log_records(cluster, n)
                  if r.get("request_id") == "cluster-trace-1"]
    assert any("/engine.v1.Node/" in m for m in peer_lines), peer_lines
    # every set is counted by exactly one node: the gauges add up to the bucket
    total = sum(value(scrape(cluster, n), "engine_bucket_objects", bucket="traced")
                for n in cluster.node_ids)
    assert total == 3


def test_peer_health_and_latency_between_zones(cluster: Cluster) -> None:
    def peers_up() -> Samples | None:
        samples = scrape(cluster, "n1")
        ups = [value(samples, "engine_peer_up", peer=p, zone=cluster.zone(p)) for p in ("n2", "n3")]
        return samples if ups == [1.0, 1.0] else None

    samples = wait_until(peers_up, 20, "n1 to see n2 and n3 up")
    assert value(samples, "engine_peer_rpc_duration_seconds_count",
                 src_zone=cluster.zone("n1"), dst_zone=cluster.zone("n2")) > 0
    assert value(samples, "engine_peer_rpc_requests_total", peer="n2",
                 dst_zone=cluster.zone("n2"), method="Ping", code="OK") > 0
    cluster.kill9(["n3"])
    wait_until(lambda: value(scrape(cluster, "n1"), "engine_peer_up", peer="n3",
                             zone=cluster.zone("n3")) == 0.0,
               20, "n1 to see n3 down")
    assert value(scrape(cluster, "n1"), "engine_peer_up", peer="n2",
                 zone=cluster.zone("n2")) == 1.0
