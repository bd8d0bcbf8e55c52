"""A real `engine serve --metrics-listen` node, scraped over HTTP and parsed with
prometheus-client's parser: RPC counters, bucket, queue and cache gauges, request ids
returned to callers and found in the node's JSON log lines."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from helpers_sqs import SqsServer, advance_clock, start_server
from ports import free_port
from prometheus_client.parser import text_string_to_metric_families

from engine.client import ClientError, client, signed_channels
from engine.v1 import echo_pb2, echo_pb2_grpc, objects_pb2, objects_pb2_grpc

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Node:
    server: SqsServer
    metrics_url: str

    @property
    def endpoint(self) -> str:
        return self.server.endpoint


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    port = free_port()
    server = start_server(tmp_path_factory.mktemp("metrics") / "data",
                          "--metrics-listen", f"127.0.0.1:{port}",
                          "--metrics-bucket-refresh", "0", "--queue-partitions", "1",
                          "--log-format", "json", "--log-level", "DEBUG")
    try:
        yield Node(server, f"http://127.0.0.1:{port}/metrics")
    finally:
        server.stop()


def scrape(node: Node) -> Samples:
    with urllib.request.urlopen(node.metrics_url, timeout=10) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def rpcs(samples: Samples, service: str, method: str, code: str) -> float:
    return value(samples, "engine_rpc_requests_total", service=f"engine.v1.{service}",
                 method=method, code=code)


def test_puts_show_in_rpc_counters_and_bucket_gauges(node: Node) -> None:
    before = scrape(node)
    with client("s3", endpoint=node.endpoint) as s3:
        s3.create_bucket(Bucket="metrics-bucket")
        for i in range(4):
            s3.put_object(Bucket="metrics-bucket", Key=f"k{i}", Body=b"x" * 1000)
        with pytest.raises(ClientError):
            s3.get_object(Bucket="metrics-bucket", Key="missing")
    after = scrape(node)
    assert rpcs(after, "ObjectStore", "PutObject", "OK") \
        - rpcs(before, "ObjectStore", "PutObject", "OK") == 4
    assert rpcs(after, "ObjectStore", "GetObject", "NOT_FOUND") \
        - rpcs(before, "ObjectStore", "GetObject", "NOT_FOUND") == 1
    received = ("engine_rpc_received_bytes_total",
                (("method", "PutObject"), ("service", "engine.v1.ObjectStore")))
    assert after[received] - before.get(received, 0) >= 4000
    assert value(after, "engine_bucket_objects", bucket="metrics-bucket") == 4
    assert value(after, "engine_bucket_keys", bucket="metrics-bucket") == 4
    assert value(after, "engine_bucket_bytes", bucket="metrics-bucket",
                 storage_class="STANDARD") == 4000
    assert value(after, "engine_node_info", node="node-1", zone="local-a",
                 cluster="single-node", version="0.1.0") == 1


def test_queue_gauges_follow_sends_receives_and_the_clock(node: Node) -> None:
    with client("sqs", endpoint=node.endpoint) as sqs:
        url = sqs.create_queue(QueueName="metrics-queue")["QueueUrl"]
        for i in range(5):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2,
                                  VisibilityTimeout=30).get("Messages", [])
        assert len(got) == 2  # one partition: a receive sees every visible message
    samples = scrape(node)
    assert value(samples, "engine_queue_messages", queue="metrics-queue", state="visible") == 3
    assert value(samples, "engine_queue_messages", queue="metrics-queue",
                 state="in_flight") == 2
    assert value(samples, "engine_queue_messages", queue="metrics-queue", state="delayed") == 1
    advance_clock(node.endpoint, 61)  # past the delay and the visibility timeout
    samples = scrape(node)
    assert value(samples, "engine_queue_messages", queue="metrics-queue", state="visible") == 6
    assert value(samples, "engine_queue_messages", queue="metrics-queue",
                 state="in_flight") == 0
    assert value(samples, "engine_queue_messages", queue="metrics-queue", state="delayed") == 0


def test_cache_gauges_move_with_sets_and_gets(node: Node) -> None:
    before = scrape(node)
    with client("cache", endpoint=node.endpoint) as cache:
        for i in range(3):
            cache.set(f"metrics:{i}", "v" * 100)
        assert cache.get("metrics:0") == b"v" * 100
        assert cache.get("metrics:1") == b"v" * 100
        assert cache.get("metrics:none") is None
    after = scrape(node)
    assert value(after, "engine_cache_hits_total") - value(before, "engine_cache_hits_total") \
        == 2
    assert value(after, "engine_cache_misses_total") \
        - value(before, "engine_cache_misses_total") == 1
    assert value(after, "engine_cache_keys") - value(before, "engine_cache_keys") == 3
    assert value(after, "engine_cache_bytes") - value(before, "engine_cache_bytes") \
        >= 3 * 100
    assert value(after, "engine_cache_budget_bytes") > 0


def test_request_ids_are_returned_and_in_every_json_log_line(node: Node) -> None:
    with signed_channels.insecure_channel(node.endpoint) as channel:
        _, call = echo_pb2_grpc.EchoStub(channel).Unary.with_call(
            echo_pb2.EchoMessage(payload=b"hi"), metadata=(("x-request-id", "it-trace-1"),),
            timeout=10)
        assert dict(call.trailing_metadata())["x-request-id"] == "it-trace-1"
        with pytest.raises(grpc.RpcError) as failed:
            objects_pb2_grpc.ObjectStoreStub(channel).HeadObject(
                objects_pb2.HeadObjectRequest(bucket="no-such-bucket-here", key="k"),
                metadata=(("x-request-id", "it-trace-2"),), timeout=10)
        assert dict(failed.value.trailing_metadata())["x-request-id"] == "it-trace-2"
        _, call = echo_pb2_grpc.EchoStub(channel).Unary.with_call(echo_pb2.EchoMessage(),
                                                                  timeout=10)
        assert len(dict(call.trailing_metadata())["x-request-id"]) == 16  # one was made

    deadline = time.monotonic() + 10
    while True:
        lines = node.server.log_path.read_text().splitlines()
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        traced = [r for r in records if r.get("request_id") == "it-trace-1"]
        if traced or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert traced and "/engine.v1.Echo/Unary OK" in traced[0]["message"]
    assert all(r["node"] == "node-1" and {"time", "level", "logger"} <= r.keys()
               for r in records)
