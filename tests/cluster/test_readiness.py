"""Health says SERVING only once a node can serve a quorum operation.

Before the consensus kit a restarted node reported SERVING before it could reach its
peers and answered 503 ("only 1 of 6 drives answered") for about 2 s. Now: the moment
health turns SERVING, writes through that node succeed on the first try; and a node cut
off from every peer turns NOT_SERVING.
"""

from __future__ import annotations

import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .conftest import Cluster, wait_until

FIRST_TRY = 5.0  # a call's own deadline: no retry loop hides a refusal


def health(c: Cluster, node_id: str) -> int:
    with grpc.insecure_channel(c.endpoint(node_id)) as ch:
        try:
            return health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(), timeout=2).status
        except grpc.RpcError:
            return -1


def test_a_restarted_node_is_serving_only_when_it_can_serve(cluster_factory):
    """Every node killed; n1 starts first, alone: it must not say SERVING (it could serve
    nothing). Once the others are back and n1 says SERVING, writes through it succeed on
    the first try."""
    c: Cluster = cluster_factory(nodes=6, azs=3).start()
    c.client("n1", timeout=FIRST_TRY).create_bucket(Bucket="before")
    c.kill9(c.node_ids)
    c._spawn("n1")
    wait_until(lambda: health(c, "n1") != -1, 60, "n1 answering health checks")
    alone = [health(c, "n1") for _ in range(20) if not time.sleep(0.1)]
    assert health_pb2.HealthCheckResponse.SERVING not in alone, "SERVING without its peers"
    for n in c.node_ids[1:]:
        c._spawn(n)
    wait_until(lambda: health(c, "n1") == health_pb2.HealthCheckResponse.SERVING, 60,
               "n1 SERVING", interval=0.02)
    s3 = c.client("n1", timeout=FIRST_TRY)
    s3.put_object(Bucket="before", Key="k", Body=b"x" * 100_000)  # erasure-set quorum
    assert s3.get_object(Bucket="before", Key="k")["Body"].read() == b"x" * 100_000
    s3.create_bucket(Bucket="after")  # meta group quorum
    sqs = c.sqs("n1", timeout=FIRST_TRY)
    url = sqs.create_queue(QueueName="after")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")


def test_a_node_cut_off_from_its_peers_is_not_serving(cluster_factory):
    c: Cluster = cluster_factory(nodes=3, azs=3).start()
    assert health(c, "n1") == health_pb2.HealthCheckResponse.SERVING
    c.sigstop("n2")
    c.sigstop("n3")
    try:
        wait_until(lambda: health(c, "n1") == health_pb2.HealthCheckResponse.NOT_SERVING,
                   15, "n1 NOT_SERVING without a majority")
    finally:
        c.sigcont("n2")
        c.sigcont("n3")
    wait_until(lambda: health(c, "n1") == health_pb2.HealthCheckResponse.SERVING,
               30, "n1 SERVING again once its peers answer")
