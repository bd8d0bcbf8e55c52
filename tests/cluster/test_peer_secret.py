"""Node-to-node calls need the cluster secret, checked by real node processes.

The internal Node service (node.proto) reaches every drive's metadata and shards, so a
caller without the secret, or with a wrong one, must get UNAUTHENTICATED from every
method, unary and streaming alike, and change nothing; with the secret the same calls
work. A node started from a topology file with another secret, in place of a cluster
member, can then neither read nor write the cluster's data, and the cluster carries on
without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2

from engine.client import ClientError
from engine.v1 import node_pb2 as pb
from engine.v1 import node_pb2_grpc

from .conftest import MIB, Cluster, body_for, error_code, running

BUCKET = "secret-test"
HEADER = "x-engine-secret"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One 6-node cluster for the module (a start costs 10-15 s): the rejection test
    changes nothing (it checks so), and the impostor test, which kills n6, runs last;
    each test has a bucket of its own."""
    c = Cluster(tmp_path_factory.mktemp("peer-secret"))
    with running(c):
        yield c


def shard_stream(data_id: str) -> Any:
    yield pb.WriteShardRequest(header=pb.WriteShardHeader(drive=0, data_id=data_id, index=0,
                                                          bucket=BUCKET, key="intruder"))
    yield pb.WriteShardRequest(block=pb.ShardBlock(payload=b"evil", crc32c=0))
    yield pb.WriteShardRequest(commit=True)


def calls(stub: node_pb2_grpc.NodeStub) -> dict[str, Callable[[Any], Any]]:
    """Representative Node calls; each takes the metadata to send."""
    entry = pb.EntryRequest(drive=0, bucket=BUCKET, key="kept")
    return {
        "Ping": lambda md: stub.Ping(pb.PingRequest(), metadata=md, timeout=5),
        "ListVolumes": lambda md: stub.ListVolumes(pb.DriveRef(drive=0), metadata=md,
                                                   timeout=5),
        "ReadEntry": lambda md: stub.ReadEntry(entry, metadata=md, timeout=5),
        "ListEntries": lambda md: stub.ListEntries(pb.ListEntriesRequest(
            drive=0, bucket=BUCKET, limit=100), metadata=md, timeout=5),
        "ReadShard": lambda md: list(stub.ReadShard(pb.ReadShardRequest(
            drive=0, data_id="0" * 32, index=0, block_size=1024, first=0, last=0),
            metadata=md, timeout=5)),
        "WriteShard": lambda md: stub.WriteShard(shard_stream("feed" * 8), metadata=md,
                                                 timeout=5),
        "DeleteEntry": lambda md: stub.DeleteEntry(entry, metadata=md, timeout=5),
    }


def status_of(call: Callable[[Any], Any], metadata: Any) -> grpc.StatusCode:
    try:
        call(metadata)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[attr-defined]
    return grpc.StatusCode.OK


def test_node_calls_without_the_secret_are_rejected(cluster: Cluster) -> None:
    s3 = cluster.client("n1")
    s3.create_bucket(Bucket=BUCKET)
    kept = body_for("kept", 2 * MIB)
    s3.put_object(Bucket=BUCKET, Key="kept", Body=kept)
    shards_before = cluster.shard_files()

    wrong = [None, (), ((HEADER, ""),), ((HEADER, "not-the-secret-0123456789"),),
             ((HEADER, cluster.secret[:-1]),), ((HEADER, cluster.secret + "x"),)]
    for node in cluster.node_ids:
        with cluster.channel(node) as channel:
            stub = node_pb2_grpc.NodeStub(channel)
            for name, call in calls(stub).items():
                for md in wrong:
                    code = status_of(call, md)
                    assert code == grpc.StatusCode.UNAUTHENTICATED, (node, name, md, code)
            # The same channel with the secret: the calls are served (so the rejections
            # above were about the secret, not a broken call).
            good = ((HEADER, cluster.secret),)
            ping = stub.Ping(pb.PingRequest(), metadata=good, timeout=5)
            assert (ping.node_id, ping.zone) == (node, cluster.zone(node))
            volumes = stub.ListVolumes(pb.DriveRef(drive=0), metadata=good, timeout=5)
            assert BUCKET in [r.name for r in volumes.records]
            found = stub.ReadEntry(pb.EntryRequest(drive=0, bucket=BUCKET, key="kept"),
                                   metadata=good, timeout=5)
            assert found.found

    # Nothing the rejected calls attempted happened.
    assert cluster.shard_files() == shards_before
    assert not any(cluster.tmp_files().values())
    for node in cluster.node_ids:
        assert cluster.client(node).get_object(Bucket=BUCKET, Key="kept")["Body"].read() == kept


def test_a_node_with_another_secret_cannot_read_or_write_the_cluster(cluster: Cluster) -> None:
    bucket = f"{BUCKET}-impostor"
    s3 = cluster.client("n1")
    s3.create_bucket(Bucket=bucket)
    kept = body_for("kept", 2 * MIB)
    s3.put_object(Bucket=bucket, Key="kept", Body=kept)

    # n6 is replaced by an impostor: same id and addresses, its own empty drive, and a
    # topology file whose secret differs.
    cluster.kill9(["n6"])
    impostor_drive = cluster.root / "impostor" / "n6" / "d0"
    nodes = tuple(dataclasses.replace(n, drives=(impostor_drive,)) if n.id == "n6" else n
                  for n in cluster.topology.nodes)
    other = dataclasses.replace(cluster.topology, secret="another-secret-" + "9" * 20,
                                nodes=nodes, path=None)
    status = cluster.start_impostor("n6", other)
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING  # it reaches no quorum

    rogue = cluster.client("n6", timeout=20)
    with pytest.raises(ClientError) as read:  # any refusal will do
        rogue.get_object(Bucket=bucket, Key="kept")["Body"].read()
    with pytest.raises(ClientError) as write:
        rogue.put_object(Bucket=bucket, Key="from-impostor", Body=body_for("x", MIB))
    print(f"impostor GET: {error_code(read.value)}, PUT: {error_code(write.value)}")

    # The cluster does not take the impostor's word either: it reads and writes without it.
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == kept
    s3.put_object(Bucket=bucket, Key="after", Body=body_for("after", MIB))
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="from-impostor")
    for node in ("n2", "n5"):
        got = cluster.client(node).get_object(Bucket=bucket, Key="after")["Body"].read()
        assert got == body_for("after", MIB)
    leaked = [f for f in impostor_drive.rglob("*") if f.is_file() and "shards" in f.parts]
    assert not leaked, f"the cluster wrote shards to the impostor: {leaked}"
