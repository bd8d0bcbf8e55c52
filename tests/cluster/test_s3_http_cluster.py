"""The S3 REST endpoint on every node of a cluster: each serves on its topology's
http_address, any node answers for any object, and `engine status` names them."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import boto3
from botocore.client import Config
from botocore.exceptions import ClientError


def s3_client(url: str):
    """boto3 as a user points it at one node (credentials: the environment's root key)."""
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


def test_every_node_serves_s3_over_http(shared_cluster):
    cluster = shared_cluster  # its topology gives every node an http_address
    assert all(n.http_address for n in cluster.topology.nodes)
    urls = {n.id: f"http://{n.http_address}" for n in cluster.topology.nodes}
    first, second, third = (s3_client(urls[n]) for n in cluster.node_ids)
    name = f"cluster-{uuid.uuid4().hex[:10]}"
    first.create_bucket(Bucket=name)
    body = bytes(range(256)) * 4096  # 1 MiB: erasure-coded, not inline
    first.put_object(Bucket=name, Key="k", Body=body)
    assert second.get_object(Bucket=name, Key="k")["Body"].read() == body
    assert third.head_object(Bucket=name, Key="k")["ContentLength"] == len(body)
    third.delete_object(Bucket=name, Key="k")
    try:
        first.head_object(Bucket=name, Key="k")
        raise AssertionError("deleted through another node, still there")
    except ClientError as err:
        assert err.response["Error"]["Code"] == "404"
    status = subprocess.run(
        [sys.executable, "-m", "engine", "status", "--json", "--endpoint",
         cluster.endpoint(cluster.node_ids[0])], capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    shown = {n["node_id"]: n["http_address"] for n in json.loads(status.stdout)["nodes"]}
    assert shown == {n.id: n.http_address for n in cluster.topology.nodes}
