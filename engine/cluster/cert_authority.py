"""A small certificate authority for a cluster: one CA, one certificate per node.

`engine cluster up --tls` and the tests make their TLS material here (the
``cryptography`` package), so nobody needs openssl to try TLS. Keys are ECDSA P-256
(small, fast handshakes, accepted by gRPC's BoringSSL and Python's OpenSSL alike).
A node certificate is for both ends of a connection (serverAuth and clientAuth): a
node serves its peers and dials them with the same identity. Its SubjectAltName lists
every host it is reached by (IP addresses as IP entries, names as DNS entries), since
gRPC and Python's ssl check the name the caller dialled against it.

Private keys are written with mode 0600 and never logged or put in a repr.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from engine.cluster.topology import NodeSpec, Topology, split_host_port

CA_KEY_FILE = "ca-key.pem"  # beside ca.pem, only where `engine cluster up` runs
CA_DAYS = 3650
LEAF_DAYS = 825  # the longest leaf lifetime browsers and most clients still accept
_BACKDATE = datetime.timedelta(minutes=5)  # tolerate a little clock skew between hosts


@dataclass(frozen=True)
class Pem:
    """A certificate and its private key, PEM-encoded."""

    cert: bytes
    key: bytes = field(repr=False)


def create_ca(common_name: str, *, days: int = CA_DAYS) -> Pem:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True,
            content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return Pem(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue(ca: Pem, common_name: str, hosts: Iterable[str], *, days: int = LEAF_DAYS) -> Pem:
    """A leaf certificate signed by ``ca`` for ``hosts`` (IP addresses or DNS names),
    good as a TLS server and as a TLS client."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    ca_key = serialization.load_pem_private_key(ca.key, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key must be an EC key (as create_ca makes)")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names = subject_alt_names(hosts)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_encipherment=False, key_cert_sign=False,
            crl_sign=False, content_commitment=False, data_encipherment=False,
            key_agreement=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Pem(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def subject_alt_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """IP entries for addresses, DNS entries for names; "localhost" always, so a node
    on loopback is reachable by either spelling. Duplicates are dropped."""
    out: list[x509.GeneralName] = []
    for host in [*hosts, "localhost"]:
        host = host.strip("[]")
        try:
            entry: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            entry = x509.DNSName(host)
        if entry not in out:
            out.append(entry)
    return out


def write_pem(pem: Pem, cert_path: Path, key_path: Path) -> None:
    """The certificate (0644) and its key (0600, created so: never readable by others,
    not even for a moment)."""
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(pem.cert)
    key_path.unlink(missing_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem.key)


def read_pem(cert_path: Path, key_path: Path) -> Pem:
    return Pem(cert_path.read_bytes(), key_path.read_bytes())


def ensure_cluster_certs(topology: Topology) -> list[Path]:
    """Make what is missing of a generated TLS cluster's files: the CA (its key beside
    it as ca-key.pem) and each node's certificate and key. A new CA means new node
    certificates too. Returns the files written (certificates and keys)."""
    assert topology.tls_ca is not None, "not a TLS cluster"
    ca_cert, ca_key = topology.tls_ca, topology.tls_ca.with_name(CA_KEY_FILE)
    written: list[Path] = []
    fresh = not ca_cert.exists()
    if fresh:
        ca = create_ca(f"engine cluster {topology.name} CA")
        write_pem(ca, ca_cert, ca_key)
        written += [ca_cert, ca_key]
    for node in topology.nodes:
        assert node.tls_cert is not None and node.tls_key is not None
        if not fresh and node.tls_cert.exists() and node.tls_key.exists():
            continue
        if not ca_key.exists():
            raise ValueError(f"{node.tls_cert} is missing and the CA key {ca_key} is not "
                             "there to issue it")
        pem = issue(read_pem(ca_cert, ca_key), node.id, node_hosts(node))
        write_pem(pem, node.tls_cert, node.tls_key)
        written += [node.tls_cert, node.tls_key]
    return written


def node_hosts(node: NodeSpec) -> list[str]:
    """Every host a node is dialled at: its certificate must name each."""
    addresses = [node.address, node.raft_address, node.peer_address]
    return list(dict.fromkeys(split_host_port(a)[0] for a in addresses if a))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
