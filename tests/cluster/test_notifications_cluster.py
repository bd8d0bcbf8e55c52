"""S3 event notifications in a 3-node cluster: events reach the queue whichever node
coordinated the change, per-key sequencers follow the order of the changes, and an event
survives its coordinator being killed (kill -9) between the commit and the delivery.

boto3 (S3 and SQS over each node's HTTP port) is the client throughout.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import boto3
import pytest
from botocore.client import Config
from botocore.exceptions import BotoCoreError, ClientError
from ports import free_port
from s3_events import queue_for

CRASH = {"ENGINE_CRASH_POINT": "event-committed"}  # dispatcher.py: die after the commit


def clients(url: str) -> tuple[Any, Any]:
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                    connect_timeout=5, read_timeout=30)
    return (boto3.client("s3", endpoint_url=url, region_name="us-east-1", config=config),
            boto3.client("sqs", endpoint_url=url, region_name="us-east-1", config=config))


def receive(sqs: Any, url: str, until: Any, timeout: float = 60.0) -> list[dict]:
    """Event records as they arrive (test events skipped), until ``until(records)``."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while not until(got):
        assert time.monotonic() < deadline, f"waited {timeout} s; got {got}"
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
        for m in answer.get("Messages", []):
            got += json.loads(m["Body"]).get("Records", [])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


@pytest.fixture
def cluster(cluster_factory):
    c = cluster_factory(nodes=3, azs=3)
    c.topology = dataclasses.replace(c.topology, nodes=tuple(
        dataclasses.replace(n, http_address=f"127.0.0.1:{free_port()}")
        for n in c.topology.nodes))
    c.topology.dump(c.topology_file)
    c.node_env[c.node_ids[0]] = CRASH
    c.start()
    c.wait_buckets_ready()
    return c


def test_events_survive_their_coordinator_dying_before_delivery(cluster):
    n1, n2, n3 = cluster.node_ids
    url = {n.id: f"http://{n.http_address}" for n in cluster.topology.nodes}
    s3, sqs = clients(url[n2])
    bucket = "crash-events"
    s3.create_bucket(Bucket=bucket)
    queue, arn = queue_for(sqs, bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "all", "QueueArn": arn,
                                 "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})
    # Changes of one key through each node: the sequencers order them as made.
    etags = []
    for node in (n2, n3, n2):
        etags.append(clients(url[node])[0].put_object(
            Bucket=bucket, Key="k", Body=node.encode() * 10)["ETag"].strip('"'))
    records = receive(sqs, queue, lambda r: len(r) >= 3)
    assert [r["s3"]["object"]["eTag"] for r in
            sorted(records, key=lambda r: r["s3"]["object"]["sequencer"])] == etags

    # n1 commits the object with its event on a quorum of drives, then dies (kill -9)
    # before it delivers: the client never hears back.
    with pytest.raises((BotoCoreError, ClientError)):
        clients(url[n1])[0].put_object(Bucket=bucket, Key="orphan", Body=b"committed")
    cluster.procs[n1].wait(30)
    assert not cluster.running(n1)
    assert s3.get_object(Bucket=bucket, Key="orphan")["Body"].read() == b"committed"
    # A survivor's sweep finds the event in its drive's outbox and delivers it.
    records = receive(sqs, queue, lambda r: any(
        x["s3"]["object"]["key"] == "orphan" for x in r))
    orphan = [r for r in records if r["s3"]["object"]["key"] == "orphan"]
    assert orphan[0]["eventName"] == "ObjectCreated:Put"
    assert orphan[0]["s3"]["object"]["size"] == len(b"committed")

    # n1 back (without the crash point): it coordinates again, and its own copy of the
    # orphan's event is at most a duplicate, never a different event.
    cluster.node_env.pop(n1)
    cluster.start([n1])
    cluster.wait_buckets_ready()
    clients(url[n1])[0].delete_object(Bucket=bucket, Key="orphan")
    records = receive(sqs, queue, lambda r: any(
        x["eventName"] == "ObjectRemoved:Delete" for x in r))
    assert {(r["eventName"], r["s3"]["object"]["key"]) for r in records} <= {
        ("ObjectCreated:Put", "orphan"), ("ObjectRemoved:Delete", "orphan")}
