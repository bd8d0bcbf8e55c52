"""TLS for a node: the client port, and mutual TLS between the nodes of a cluster.

Two kinds of connection, two rules:

- **Clients** reach a node's gRPC ``address``. With a certificate (``engine serve
  --tls-cert/--tls-key``, or in a TLS cluster the node's own certificate) that port
  speaks TLS only; with ``--tls-client-ca`` it also requires a client certificate
  signed by that CA.
- **Peers** (a cluster whose topology has a ``[tls]`` table) talk node to node over
  mutual TLS with the cluster CA: node-to-node gRPC on each node's ``peer_address``
  and consensus on its ``raft_address``. Each side presents its node certificate and
  accepts only one the cluster CA signed. gRPC's server can either require a client
  certificate or not ask for one, so peers get a port of their own rather than
  forcing every SDK user to hold a certificate; the node-to-node services refuse
  calls that did not arrive with a cluster certificate (engine/api/peer_port.py).

The cluster secret still authenticates every node-to-node call and every consensus
connection: TLS adds encryption and the CA's say on who is a member, on top. Key
material is read from files and never logged, repr'd or put in an error message.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from engine.cluster.topology import Topology, TopologyError

Ports = list[tuple[str, grpc.ServerCredentials | None]]


class TlsError(TopologyError):
    """TLS material that cannot be used, with which file and why (never its content)."""


@dataclass(frozen=True)
class KeyPair:
    """A certificate chain and its private key, as read from their files."""

    cert: bytes
    key: bytes = field(repr=False)


def read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_certs(path: Path, what: str) -> tuple[bytes, list[x509.Certificate]]:
    """A PEM file of one or more certificates (a chain, a CA bundle)."""
    data = read_file(path, what)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TlsError(f"{what} {path} holds no PEM certificate") from None
    return data, certs


def load_pair(cert_path: Path, key_path: Path) -> KeyPair:
    """A certificate and its key, checked to belong together (a mismatch would only
    show as failed handshakes, far from its cause)."""
    cert_pem, certs = load_certs(cert_path, "certificate")
    key_pem = read_file(key_path, "private key")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):  # no message: it could quote the key
        raise TlsError(f"private key {key_path} is not an unencrypted PEM private key"
                       ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
                      | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        raise TlsError(f"private key {key_path}: unsupported key type for TLS")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    ours = key.public_key().public_bytes(serialization.Encoding.DER, public)
    theirs = certs[0].public_key().public_bytes(serialization.Encoding.DER, public)
    if ours != theirs:
        raise TlsError(f"private key {key_path} does not match certificate {cert_path}")
    return KeyPair(cert_pem, key_pem)


def server_credentials(pair: KeyPair, client_ca: bytes | None) -> grpc.ServerCredentials:
    """TLS on a gRPC port; with ``client_ca`` a client certificate it signed is required."""
    return grpc.ssl_server_credentials([(pair.key, pair.cert)], root_certificates=client_ca,
                                       require_client_auth=client_ca is not None)


@dataclass(frozen=True)
class PeerTls:
    """How this node dials its peers' gRPC: mutual TLS to each one's peer address."""

    credentials: grpc.ChannelCredentials
    addresses: Mapping[str, str]  # node id -> peer_address

    def channel(self, node_id: str, options: list[tuple[str, object]] | None = None
                ) -> grpc.aio.Channel:
        return grpc.aio.secure_channel(self.addresses[node_id], self.credentials,
                                       options or [])


@dataclass(frozen=True)
class ClusterTls:
    """This node's share of a TLS cluster: its certificate and key, the cluster CA,
    and where every node listens for its peers."""

    ca_path: Path
    cert_path: Path
    key_path: Path
    ca: bytes
    pair: KeyPair
    peer_listen: str
    peer_addresses: Mapping[str, str]

    @classmethod
    def for_node(cls, topology: Topology, node_id: str) -> ClusterTls | None:
        """None for a cluster without ``[tls]``; TlsError if the files are unusable."""
        if topology.tls_ca is None:
            return None
        me = topology.node(node_id)
        assert me.tls_cert is not None and me.tls_key is not None and me.peer_address
        ca, certs = load_certs(topology.tls_ca, "cluster CA")
        pair = load_pair(me.tls_cert, me.tls_key)
        leaf = x509.load_pem_x509_certificate(pair.cert)
        if not any(_issued_by(leaf, c) for c in certs):
            raise TlsError(f"certificate {me.tls_cert} of node {node_id} is not signed by "
                           f"the cluster CA {topology.tls_ca}")
        return cls(topology.tls_ca, me.tls_cert, me.tls_key, ca, pair, me.peer_address,
                   {n.id: n.peer_address for n in topology.nodes if n.peer_address})

    def peer_server(self) -> grpc.ServerCredentials:
        return server_credentials(self.pair, self.ca)

    def peers(self) -> PeerTls:
        return PeerTls(grpc.ssl_channel_credentials(self.ca, self.pair.key, self.pair.cert),
                       self.peer_addresses)

    def raft_server(self) -> ssl.SSLContext:
        """The consensus listener: our certificate; a peer's, signed by the CA, required."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_path, self.key_path)
        context.load_verify_locations(cadata=self.ca.decode())
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def raft_client(self) -> ssl.SSLContext:
        """Dialling a peer's consensus port: its certificate checked against the CA and
        the host dialled; ours presented."""
        context = ssl.create_default_context(cadata=self.ca.decode())
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def signed_by_ca(self, pem: bytes) -> bool:
        """Whether a peer certificate (as gRPC hands it over) was issued by the CA."""
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            return False
        return any(_issued_by(cert, ca) for ca in x509.load_pem_x509_certificates(self.ca))


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class ServingTls:
    """What a node's gRPC server listens on, and with which credentials."""

    client: grpc.ServerCredentials | None  # None: plaintext client port
    cluster: ClusterTls | None

    def ports(self, listen: str) -> Ports:
        out: Ports = [(listen, self.client)]
        if self.cluster is not None:
            out.append((self.cluster.peer_listen, self.cluster.peer_server()))
        return out


def serving_tls(cert: Path | None, key: Path | None, client_ca: Path | None,
                topology: Topology | None, node_id: str) -> ServingTls:
    """The node's TLS from `engine serve`'s flags and its topology; TlsError if the
    combination or a file is unusable. In a TLS cluster the client port presents the
    node certificate unless --tls-cert/--tls-key name another (say, a public one)."""
    if (cert is None) != (key is None):
        raise TlsError("--tls-cert and --tls-key go together")
    cluster = ClusterTls.for_node(topology, node_id) if topology is not None else None
    if topology is not None and cluster is None and (cert or client_ca):
        raise TlsError("this cluster's topology has no [tls] table: its nodes talk "
                       "plaintext, so their client ports cannot use TLS either (engine "
                       "cluster up --tls makes a TLS cluster)")
    if cert is not None and key is not None:
        pair = load_pair(cert, key)
    elif cluster is not None:
        pair = cluster.pair
    elif client_ca is not None:
        raise TlsError("--tls-client-ca needs --tls-cert and --tls-key")
    else:
        return ServingTls(None, None)
    ca = load_certs(client_ca, "client CA")[0] if client_ca is not None else None
    return ServingTls(server_credentials(pair, ca), cluster)
