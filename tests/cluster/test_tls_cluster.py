"""A TLS cluster as `engine cluster up --tls` makes it (a cluster CA, a certificate per
node, peer ports at the gRPC port + 2000), run as real processes: the SDK trusts the CA
and works through any node, the nodes talk over mutual TLS, and nothing without a
certificate the cluster CA signed gets in, even holding the cluster secret: not a
caller of the node-to-node services, not a consensus peer, not a node started in a
member's place.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import signal
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2
from health import wait_healthy

from engine.client import signed_channels
from engine.cluster.cert_authority import create_ca, ensure_cluster_certs, issue, write_pem
from engine.cluster.consensus.transport import MAGIC
from engine.cluster.topology import (
    PEER_PORT_OFFSET,
    RAFT_PORT_OFFSET,
    REDIS_PORT_OFFSET,
    Topology,
    generate_local,
    split_host_port,
)
from engine.cluster.wire import SECRET_HEADER
from engine.v1 import node_pb2, node_pb2_grpc

from .conftest import MIB, Cluster, _port_free, body_for, wait_until

REFUSED = ("node-to-node calls need a certificate signed by the cluster CA, on the node's "
           "peer_address")


def free_tls_base(count: int) -> int:
    """A base port whose gRPC, consensus and peer ranges are all free on loopback."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(12000, 31000 - REDIS_PORT_OFFSET - count)
        ports = [p + off for off in (0, RAFT_PORT_OFFSET, PEER_PORT_OFFSET, REDIS_PORT_OFFSET)
                 for p in range(base, base + count)]
        if all(_port_free(p) for p in ports):
            return base
    raise RuntimeError("no free port range on 127.0.0.1")


class TlsCluster(Cluster):
    """`Cluster` with the topology and files `engine cluster up --tls` writes; clients
    trust the cluster CA through AWS_CA_BUNDLE, as a user's shell would."""

    def __init__(self, root: Path, nodes: int = 3, azs: int = 3, **kwargs: Any) -> None:
        super().__init__(root, nodes, azs, **kwargs)
        generated = generate_local(nodes, azs, self.data, free_tls_base(nodes),
                                   tls_dir=root / "tls")
        generated.dump(self.topology_file)
        self.topology = Topology.load(self.topology_file)
        ensure_cluster_certs(self.topology)
        assert self.topology.tls_ca is not None
        self.ca = self.topology.tls_ca
        self.credentials = grpc.ssl_channel_credentials(self.ca.read_bytes())

    def endpoint(self, node_id: str) -> str:
        return "https://" + self.topology.node(node_id).address

    def address(self, node_id: str) -> str:
        return self.topology.node(node_id).address

    def wait_serving(self, node_id: str, timeout: float = 60.0, *,
                     credentials: grpc.ChannelCredentials | None = None,
                     serving: bool = True) -> int:
        return wait_healthy(self.address(node_id), timeout, self.procs[node_id],
                            serving=serving, credentials=credentials or self.credentials)

    def start(self, node_ids: Any = None, timeout: float = 60.0) -> TlsCluster:
        ids = list(node_ids) if node_ids is not None else self.node_ids
        for node_id in ids:
            self._spawn(node_id)
        for node_id in ids:
            try:
                self.wait_serving(node_id, timeout)
            except (RuntimeError, TimeoutError) as exc:
                raise RuntimeError(f"{node_id} did not come up: {exc}\n"
                                   f"{self.log_tail(node_id)}") from exc
        return self

    def channel(self, node_id: str) -> grpc.Channel:
        return signed_channels.channel(self.endpoint(node_id), verify=str(self.ca))

    def member_credentials(self, node_id: str) -> grpc.ChannelCredentials:
        """What a member presents to its peers: its own certificate and key."""
        spec = self.topology.node(node_id)
        assert spec.tls_cert is not None and spec.tls_key is not None
        return grpc.ssl_channel_credentials(self.ca.read_bytes(), spec.tls_key.read_bytes(),
                                            spec.tls_cert.read_bytes())


@pytest.fixture
def tls_cluster_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                        ) -> Iterator[Callable[..., TlsCluster]]:
    made: list[TlsCluster] = []

    def make(**kwargs: Any) -> TlsCluster:
        c = TlsCluster(tmp_path / f"tls{len(made)}", **kwargs)
        made.append(c)
        monkeypatch.setenv("AWS_CA_BUNDLE", str(c.ca))
        return c

    yield make
    for c in made:
        c.close()


def ping(target: str, credentials: grpc.ChannelCredentials | None, secret: str
         ) -> tuple[grpc.StatusCode, str]:
    """Node.Ping with the cluster secret: (status, details)."""
    with (grpc.insecure_channel(target) if credentials is None
          else grpc.secure_channel(target, credentials)) as channel:
        try:
            node_pb2_grpc.NodeStub(channel).Ping(node_pb2.PingRequest(), timeout=5,
                                                 metadata=((SECRET_HEADER, secret),))
        except grpc.RpcError as exc:
            return exc.code(), exc.details() or ""  # type: ignore[attr-defined]
    return grpc.StatusCode.OK, ""


def test_the_sdk_works_through_any_node_of_a_tls_cluster(tls_cluster_factory) -> None:
    cluster = tls_cluster_factory().start()
    cluster.wait_buckets_ready()
    body = body_for("tls", 2 * MIB)  # erasure-coded: shards travel to the peers' drives
    cluster.client("n1").create_bucket(Bucket="over-tls")
    cluster.client("n2").put_object(Bucket="over-tls", Key="big", Body=body)
    for node in cluster.node_ids:
        assert cluster.client(node).get_object(Bucket="over-tls", Key="big")["Body"].read() \
            == body
    assert all(count == 1 for count in cluster.shard_counts().values())

    url = cluster.sqs("n3").create_queue(QueueName="over-tls")["QueueUrl"]
    cluster.sqs("n1").send_message(QueueUrl=url, MessageBody="via n1")
    got = cluster.sqs("n2").receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in got] == ["via n1"]

    # status asks every peer on its peer port, over mutual TLS
    done = subprocess.run([sys.executable, "-m", "engine", "status", "--json", "--endpoint",
                           cluster.endpoint("n3"), "--ca-bundle", str(cluster.ca)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    nodes = json.loads(done.stdout)["nodes"]
    assert {(n["node_id"], n["reachable"], n["healthy"]) for n in nodes} == {
        ("n1", True, True), ("n2", True, True), ("n3", True, True)}


def test_nothing_without_a_cluster_certificate_gets_in(tls_cluster_factory,
                                                       tmp_path: Path) -> None:
    cluster = tls_cluster_factory()
    cluster.start(["n1", "n2"])  # a majority: the cluster serves without n3
    cluster.wait_buckets_ready()
    rogue = create_ca("rogue CA")
    stranger = tmp_path / "stranger"
    write_pem(issue(rogue, "n3", ["127.0.0.1"]), stranger / "n3.pem", stranger / "n3-key.pem")
    write_pem(rogue, stranger / "ca.pem", stranger / "ca-key.pem")
    stranger_creds = grpc.ssl_channel_credentials(
        cluster.ca.read_bytes(), (stranger / "n3-key.pem").read_bytes(),
        (stranger / "n3.pem").read_bytes())
    n1 = cluster.topology.node("n1")
    assert n1.peer_address is not None
    secret = cluster.secret

    # node-to-node gRPC: a member's certificate on the peer port is the only way in
    assert ping(n1.peer_address, cluster.member_credentials("n2"), secret)[0] \
        == grpc.StatusCode.OK
    assert ping(n1.address, cluster.credentials, secret) == (
        grpc.StatusCode.UNAUTHENTICATED, REFUSED)  # the client port: TLS, no certificate
    for credentials in (stranger_creds, cluster.credentials, None):  # rogue, none, plaintext
        code, details = ping(n1.peer_address, credentials, secret)
        assert code == grpc.StatusCode.UNAVAILABLE, (code, details)

    # consensus: the listener does not even greet a connection without a member certificate
    async def raft_greeting(context: ssl.SSLContext | None) -> bytes:
        host, port = split_host_port(n1.raft_address)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if context else None), 5)
            data = await asyncio.wait_for(reader.read(len(MAGIC)), 2)
            writer.close()
        except (ssl.SSLError, ConnectionError, TimeoutError):
            return b""
        return data

    rogue_client = ssl.create_default_context(cafile=str(cluster.ca))
    rogue_client.load_cert_chain(stranger / "n3.pem", stranger / "n3-key.pem")
    member = ssl.create_default_context(cafile=str(cluster.ca))
    n2 = cluster.topology.node("n2")
    member.load_cert_chain(n2.tls_cert, n2.tls_key)  # type: ignore[arg-type]
    assert asyncio.run(raft_greeting(member)) == MAGIC
    assert asyncio.run(raft_greeting(rogue_client)) == b""
    assert asyncio.run(raft_greeting(None)) == b""  # plaintext: no greeting either

    # an impostor n3: same topology and secret, its own CA and certificate
    impostor = dataclasses.replace(cluster.topology, tls_ca=(stranger / "ca.pem"), nodes=tuple(
        dataclasses.replace(n, tls_cert=stranger / "n3.pem", tls_key=stranger / "n3-key.pem")
        if n.id == "n3" else n for n in cluster.topology.nodes))
    path = tmp_path / "impostor.toml"
    impostor.dump(path)
    cluster._spawn("n3", path)
    trusts_rogue = grpc.ssl_channel_credentials(rogue.cert)
    assert cluster.wait_serving("n3", credentials=trusts_rogue, serving=False) \
        == health_pb2.HealthCheckResponse.NOT_SERVING
    deadline = time.monotonic() + 8  # elections take 1-2 s: it never gets a quorum
    while time.monotonic() < deadline:
        assert cluster.wait_serving("n3", credentials=trusts_rogue, serving=False) \
            == health_pb2.HealthCheckResponse.NOT_SERVING
        time.sleep(0.5)
    cluster.client("n1").create_bucket(Bucket="still-serving")  # n1 and n2 carry on

    # the real n3, with the certificate the cluster CA signed, joins
    cluster.kill9(["n3"])
    cluster.start(["n3"])
    names = [b["Name"] for b in cluster.client("n3").list_buckets()["Buckets"]]
    assert names == ["still-serving"]


def test_cluster_up_tls_starts_a_cluster_the_cli_reaches_with_the_ca(tmp_path: Path) -> None:
    data, base = tmp_path / "up", free_tls_base(3)
    out, err = tmp_path / "up.out", tmp_path / "up.err"
    cmd = [sys.executable, "-m", "engine", "cluster", "up", "--tls", "--nodes", "3", "--azs",
           "3", "--data", str(data), "--base-port", str(base), "--exit-on-failure"]
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    try:  # up means every node answered the supervisor's health check over TLS
        wait_until(lambda: "Ctrl-C stops every node" in out.read_text()
                   or proc.poll() is not None, 120, "the cluster to be up")
        assert proc.poll() is None, out.read_text() + err.read_text()
        ca = data / "tls" / "ca.pem"
        assert (f"e.g. engine status --endpoint https://127.0.0.1:{base} --ca-bundle {ca}\n"
                in out.read_text())
        assert stat.S_IMODE((data / "tls" / "ca-key.pem").stat().st_mode) == 0o600
        assert "PRIVATE KEY" not in out.read_text() + err.read_text()
        done = subprocess.run([sys.executable, "-m", "engine", "status", "--json",
                               "--endpoint", f"https://127.0.0.1:{base + 1}", "--ca-bundle",
                               str(ca)], capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0, done.stderr
        assert [n["healthy"] for n in json.loads(done.stdout)["nodes"]] == [True] * 3
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    assert proc.returncode == 0, err.read_text()
