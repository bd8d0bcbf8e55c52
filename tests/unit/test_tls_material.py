"""TLS material and what reads it: the cluster CA and node certificates `engine cluster
up --tls` makes, the topology's [tls] table, the checks `engine serve` runs on its TLS
options, the connection's condition keys, and aws:SecureTransport in a bucket policy."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from engine.api.transport_keys import source_ip, transport_keys, with_transport
from engine.cluster.cert_authority import (
    create_ca,
    ensure_cluster_certs,
    issue,
    write_pem,
)
from engine.cluster.tls import ClusterTls, TlsError, load_pair, serving_tls
from engine.cluster.topology import Topology, TopologyError, generate_local
from engine.iam.authz import Authorizer, denied
from engine.iam.policy import BUCKET, USER_INLINE, RequestContext, evaluate, parse_policy
from engine.iam.principal import ROOT, Principal

ACCOUNT = "111122223333"
SECRET = "s" * 32


def cert_of(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def tls_topology(tmp_path: Path, nodes: int = 3) -> Topology:
    t = generate_local(nodes, nodes, tmp_path / "data", 7001, tls_dir=tmp_path / "tls")
    t.dump(tmp_path / "cluster.toml")
    return Topology.load(tmp_path / "cluster.toml")


# -- the certificates ----------------------------------------------------------------------


def test_a_node_certificate_names_its_hosts_serves_both_ends_and_chains_to_the_ca() -> None:
    ca = create_ca("test CA")
    leaf = issue(ca, "n1", ["127.0.0.1", "node1.example", "[::1]"])
    cert = x509.load_pem_x509_certificate(leaf.cert)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.cert))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1",
                                                                           "::1"]
    assert names.get_values_for_type(x509.DNSName) == ["node1.example", "localhost"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert "key" not in repr(leaf).replace("Pem(cert=", "")  # the key never shows in a repr


def test_keys_are_written_readable_by_the_owner_only(tmp_path: Path) -> None:
    ca = create_ca("test CA")
    write_pem(ca, tmp_path / "ca.pem", tmp_path / "ca-key.pem")
    assert stat.S_IMODE((tmp_path / "ca-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ca.pem").stat().st_mode) & 0o044  # the cert is public


def test_cluster_up_material_is_made_once_and_completed_when_a_node_file_is_lost(
        tmp_path: Path) -> None:
    t = tls_topology(tmp_path)
    written = ensure_cluster_certs(t)
    names = sorted(p.name for p in written)
    assert names == ["ca-key.pem", "ca.pem", "n1-key.pem", "n1.pem", "n2-key.pem", "n2.pem",
                     "n3-key.pem", "n3.pem"]
    assert ensure_cluster_certs(t) == []  # a restart reuses everything
    ca = cert_of(tmp_path / "tls" / "ca.pem")
    old_n2 = (tmp_path / "tls" / "n2.pem").read_bytes()
    (tmp_path / "tls" / "n2-key.pem").unlink()
    assert [p.name for p in ensure_cluster_certs(t)] == ["n2.pem", "n2-key.pem"]
    assert (tmp_path / "tls" / "n2.pem").read_bytes() != old_n2
    for node in t.nodes:
        tls = ClusterTls.for_node(t, node.id)  # loads, matches key to cert, checks the CA
        assert tls is not None and tls.peer_listen == node.peer_address
        cert_of(node.tls_cert).verify_directly_issued_by(ca)  # type: ignore[arg-type]


# -- the topology's [tls] --------------------------------------------------------------------


def test_a_tls_topology_round_trips_with_peer_ports_at_grpc_plus_2000(tmp_path: Path) -> None:
    t = tls_topology(tmp_path)
    assert t.tls_ca == (tmp_path / "tls" / "ca.pem").resolve()
    n1 = t.node("n1")
    assert (n1.address, n1.raft_address, n1.peer_address) == (
        "127.0.0.1:7001", "127.0.0.1:8001", "127.0.0.1:9001")
    assert n1.tls_cert == (tmp_path / "tls" / "n1.pem").resolve()
    text = (tmp_path / "cluster.toml").read_text()
    assert '[tls]\nca = "tls/ca.pem"' in text and 'tls_key = "tls/n1-key.pem"' in text
    plain = generate_local(3, 3, tmp_path / "data", 7001)
    assert plain.tls_ca is None and all(n.peer_address is None for n in plain.nodes)
    assert "tls" not in plain.to_dict()


BASE = {"name": "t", "secret": SECRET}
NODE = {"id": "n1", "address": "127.0.0.1:7001", "zone": "a", "drives": ["d"]}


@pytest.mark.parametrize(("document", "message"), [
    ({**BASE, "tls": {"ca": "ca.pem"}, "nodes": [NODE]},
     "nodes[0] ('n1'): [tls] is set, so the node needs tls_cert and tls_key"),
    ({**BASE, "nodes": [{**NODE, "tls_cert": "n1.pem", "tls_key": "k.pem"}]},
     "nodes[0] ('n1'): tls_cert, tls_key need a [tls] table with the cluster CA"),
    ({**BASE, "tls": {"ca": "ca.pem", "crl": "x"}, "nodes": [NODE]},
     "[tls]: unknown key(s) 'crl' (allowed: ca)"),
    ({**BASE, "tls": {"ca": ""}, "nodes": [NODE]}, "[tls]: ca must be a non-empty path string"),
    ({**BASE, "tls": "ca.pem", "nodes": [NODE]}, "tls must be a table ([tls])"),
    ({**BASE, "tls": {"ca": "ca.pem"}, "nodes": [
        {**NODE, "tls_cert": "c", "tls_key": "k", "peer_address": "127.0.0.1:8001"}]},
     "node 'n1': address, raft_address and peer_address must differ"),
])
def test_tls_topology_mistakes_are_named(tmp_path: Path, document: dict, message: str) -> None:
    with pytest.raises(TopologyError) as info:
        Topology.from_dict(document, tmp_path)
    assert message in str(info.value)


# -- what `engine serve` checks before it starts ----------------------------------------------


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    ca = create_ca("test CA")
    write_pem(ca, tmp_path / "ca.pem", tmp_path / "ca-key.pem")
    write_pem(issue(ca, "server", ["127.0.0.1"]), tmp_path / "s.pem", tmp_path / "s-key.pem")
    write_pem(issue(ca, "other", ["127.0.0.1"]), tmp_path / "o.pem", tmp_path / "o-key.pem")
    return tmp_path


def test_serve_tls_options_are_checked_and_errors_never_quote_a_key(pki: Path) -> None:
    def problem(cert: str | None, key: str | None, client_ca: str | None = None) -> str:
        with pytest.raises(TlsError) as info:
            serving_tls(pki / cert if cert else None, pki / key if key else None,
                        pki / client_ca if client_ca else None, None, "node-1")
        return str(info.value)

    assert problem("s.pem", None) == "--tls-cert and --tls-key go together"
    assert problem(None, None, "ca.pem") == "--tls-client-ca needs --tls-cert and --tls-key"
    assert problem("s.pem", "o-key.pem") == (
        f"private key {pki / 'o-key.pem'} does not match certificate {pki / 's.pem'}")
    assert problem("nope.pem", "s-key.pem") == (
        f"cannot read certificate {pki / 'nope.pem'}: No such file or directory")
    assert problem("s-key.pem", "s-key.pem") == (
        f"certificate {pki / 's-key.pem'} holds no PEM certificate")
    key_text = (pki / "s-key.pem").read_text()
    assert problem("s.pem", "s.pem") == (
        f"private key {pki / 's.pem'} is not an unencrypted PEM private key")
    assert key_text.splitlines()[1] not in problem("s.pem", "s.pem")
    assert problem("s.pem", "s-key.pem", "s-key.pem") == (
        f"client CA {pki / 's-key.pem'} holds no PEM certificate")
    plain = serving_tls(None, None, None, None, "node-1")
    assert plain.client is None and plain.ports("127.0.0.1:1") == [("127.0.0.1:1", None)]
    tls = serving_tls(pki / "s.pem", pki / "s-key.pem", pki / "ca.pem", None, "node-1")
    assert tls.client is not None and tls.cluster is None
    assert repr(load_pair(pki / "s.pem", pki / "s-key.pem")).count("PRIVATE") == 0


def test_a_cluster_node_uses_tls_only_when_its_cluster_does(tmp_path: Path, pki: Path) -> None:
    plain = generate_local(3, 3, tmp_path / "data", 7001)
    with pytest.raises(TlsError, match="topology has no \\[tls\\] table"):
        serving_tls(pki / "s.pem", pki / "s-key.pem", None, plain, "n1")
    t = tls_topology(tmp_path / "c")
    with pytest.raises(TlsError, match="cannot read cluster CA"):
        serving_tls(None, None, None, t, "n1")
    ensure_cluster_certs(t)
    serving = serving_tls(None, None, None, t, "n1")
    assert serving.cluster is not None and serving.client is not None
    assert [a for a, _ in serving.ports("127.0.0.1:7001")] == ["127.0.0.1:7001",
                                                               "127.0.0.1:9001"]
    # a node certificate from another CA is refused before the node starts
    write_pem(issue(create_ca("rogue"), "n2", ["127.0.0.1"]), t.node("n2").tls_cert,
              t.node("n2").tls_key)  # type: ignore[arg-type]
    with pytest.raises(TlsError, match="of node n2 is not signed by the cluster CA"):
        serving_tls(None, None, None, t, "n2")


# -- the connection's condition keys ----------------------------------------------------------


class Connection:
    """What gRPC's servicer context says about a call's connection (auth_context, peer)."""

    def __init__(self, secure: bool, peer: str) -> None:
        self.secure = secure
        self._peer = peer

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"transport_security_type": [b"ssl" if self.secure else b"insecure"]}

    def peer(self) -> str:
        return self._peer


@pytest.mark.parametrize(("peer", "ip"), [
    ("ipv4:127.0.0.1:50123", "127.0.0.1"),
    ("ipv6:[::1]:50123", "::1"),
    ("ipv6:[2001:db8::7%eth0]:1", "2001:db8::7"),
    ("unix:/tmp/sock", None),
    ("", None),
    ("ipv4:not-an-ip:1", None),
])
def test_source_ip_is_read_from_the_grpc_peer(peer: str, ip: str | None) -> None:
    assert source_ip(peer) == ip


def test_transport_keys_reflect_the_connection() -> None:
    assert transport_keys(Connection(True, "ipv4:192.0.2.7:1")) == {  # type: ignore[arg-type]
        "aws:SecureTransport": "true", "aws:SourceIp": "192.0.2.7"}
    assert transport_keys(Connection(False, "unix:/s")) == {  # type: ignore[arg-type]
        "aws:SecureTransport": "false"}


DENY_PLAINTEXT = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


def test_a_bucket_policy_denying_plaintext_denies_it_and_allows_tls() -> None:
    bucket = [("bucket policy", parse_policy(DENY_PLAINTEXT, BUCKET))]
    root = Principal(ROOT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, unique_id=ACCOUNT)
    authz = Authorizer(store=None)  # type: ignore[arg-type]  # root needs no identity store
    for secure, allowed in ((True, True), (False, False)):
        connection = Connection(secure, "ipv4:10.0.0.5:4242")
        caller = with_transport(root, connection)  # type: ignore[arg-type]
        decision = authz.decide(caller, "s3:GetObject", "arn:aws:s3:::photos/a.jpg",
                                resource_policies=bucket)
        assert decision.allowed is allowed
        if not allowed:  # even the account root: an explicit deny in a resource policy
            assert decision.kind == "explicit-deny"
            err = denied(caller, "s3:GetObject", "arn:aws:s3:::photos/a.jpg", decision)
            assert (err.code, err.message) == ("AccessDenied", (
                f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: "
                "s3:GetObject on resource: arn:aws:s3:::photos/a.jpg with an explicit deny "
                "in resource policy bucket policy, Sid TlsOnly"))
    # an IAM user the identity policy allows everything: the same
    ctx = RequestContext("s3:PutObject", "arn:aws:s3:::photos/a.jpg",
                         principal_arn=f"arn:aws:iam::{ACCOUNT}:user/bob", account_id=ACCOUNT,
                         keys={"aws:SecureTransport": "false"})
    identity = [("allow-all", parse_policy(ALLOW_ALL, USER_INLINE))]
    assert evaluate(ctx, identity=identity, resource=bucket).kind == "explicit-deny"
    secure = RequestContext(ctx.action, ctx.resource, principal_arn=ctx.principal_arn,
                            account_id=ACCOUNT, keys={"aws:SecureTransport": "true"})
    assert evaluate(secure, identity=identity, resource=bucket).allowed
