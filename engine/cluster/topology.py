"""The cluster topology file: which nodes exist, where they listen, their AZ and drives.

Every node of a cluster reads the same TOML file, so everything derived from it (erasure
sets, the Raft peer list) is computed identically everywhere without a coordinator:

    name = "local"
    secret = "..."            # shared by all nodes; node-to-node calls carry it
    az_latency_ms = 1.0       # optional simulated one-way latency between AZs
    [[nodes]]
    id = "n1"
    address = "127.0.0.1:7001"
    raft_address = "127.0.0.1:8001"   # optional: consensus traffic; same host, gRPC port + 1000
    zone = "az-1"
    drives = ["data/n1/d0"]           # relative paths are relative to the file
    http_address = "127.0.0.1:10001"  # optional: the S3 REST endpoint (none: not served)
    redis_address = "127.0.0.1:11001" # optional: the RESP (Redis) endpoint (none: not served)

A TLS cluster (docs/cluster.md, "TLS") adds the CA every node trusts and, per node, its
certificate, key and the port its peers call it on (mutual TLS):

    [tls]
    ca = "tls/ca.pem"
    [[nodes]]
    ...
    tls_cert = "tls/n1.pem"
    tls_key = "tls/n1-key.pem"
    peer_address = "127.0.0.1:9001"   # optional: same host, gRPC port + 2000

Validation is strict (unknown keys are errors) because a typo in a shared file would
otherwise silently give nodes different views of the cluster.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

RAFT_PORT_OFFSET = 1000
PEER_PORT_OFFSET = 2000  # TLS clusters: node-to-node gRPC (mutual TLS) on its own port
HTTP_PORT_OFFSET = 3000  # `engine cluster up`: each node's S3 REST endpoint
REDIS_PORT_OFFSET = 4000  # generated clusters: each node's RESP (Redis) endpoint
MIN_SECRET_LEN = 16
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # also used as a log file name
_TOP_KEYS = frozenset({"name", "secret", "az_latency_ms", "nodes", "tls"})
_NODE_KEYS = frozenset({"id", "address", "raft_address", "zone", "drives", "peer_address",
                        "tls_cert", "tls_key", "http_address", "redis_address"})
_TLS_KEYS = frozenset({"ca"})
_NODE_TLS_KEYS = ("peer_address", "tls_cert", "tls_key")


class TopologyError(ValueError):
    """The topology file (or a topology built in code) is not a valid cluster."""


class UnknownNodeError(TopologyError, KeyError):
    """`Topology.node(id)` for an id the topology does not list."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def split_host_port(address: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) into its parts; TopologyError if malformed."""
    if not isinstance(address, str):
        raise TopologyError(f"address must be a string, not {address!r}")
    host, sep, port_s = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise TopologyError(f"address {address!r} is not host:port with a port in 1..65535")
    if any(c.isspace() for c in host) or ("[" in host or "]" in host):
        raise TopologyError(f"address {address!r} has an invalid host")
    return host, int(port_s)


def parse_listen(text: str) -> tuple[str, int]:
    """A listen address: `HOST:PORT` as topology addresses are written, plus port 0 (any
    free port; the node logs the one it got), handy for tests and several nodes on one
    machine. TopologyError if malformed."""
    host, sep, port = text.rpartition(":")
    if sep and port == "0":
        return split_host_port(f"{host}:1")[0], 0
    return split_host_port(text)


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def default_raft_address(address: str) -> str:
    """Same host, gRPC port + 1000: predictable, so most files need not say it."""
    return _offset(address, RAFT_PORT_OFFSET, "raft_address")


def default_peer_address(address: str) -> str:
    """Same host, gRPC port + 2000 (TLS clusters only)."""
    return _offset(address, PEER_PORT_OFFSET, "peer_address")


def default_http_address(address: str) -> str:
    """Same host, gRPC port + 3000 (clusters `engine cluster up` makes)."""
    return _offset(address, HTTP_PORT_OFFSET, "http_address")


def default_redis_address(address: str) -> str:
    """Same host, gRPC port + 4000 (clusters `generate_local` makes)."""
    return _offset(address, REDIS_PORT_OFFSET, "redis_address")


def _offset(address: str, offset: int, key: str) -> str:
    host, port = split_host_port(address)
    if port + offset > 65535:
        raise TopologyError(f"address {address!r}: port + {offset} is out of range; "
                            f"set {key} explicitly")
    return join_host_port(host, port + offset)


@dataclass(frozen=True)
class NodeSpec:
    id: str
    address: str
    zone: str
    drives: tuple[Path, ...]
    raft_address: str
    # TLS clusters only: where peers call this node (mutual TLS), its certificate and key
    peer_address: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    http_address: str | None = None  # the S3 REST endpoint; None: the node serves none
    redis_address: str | None = None  # the RESP endpoint; None: the node serves none

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            raise TopologyError(f"node id {self.id!r} must be letters, digits, '.', '_' or '-'")
        where = f"node {self.id!r}"
        if not isinstance(self.zone, str) or not self.zone.strip():
            raise TopologyError(f"{where}: zone must be a non-empty string")
        addresses = [("address", self.address), ("raft_address", self.raft_address)]
        if self.peer_address is not None:
            addresses.append(("peer_address", self.peer_address))
        if self.http_address is not None:
            addresses.append(("http_address", self.http_address))
        if self.redis_address is not None:
            addresses.append(("redis_address", self.redis_address))
        for label, addr in addresses:
            if not isinstance(addr, str):
                raise TopologyError(f"{where}: {label} must be a string")
            try:
                split_host_port(addr)
            except TopologyError as exc:
                raise TopologyError(f"{where}: {label}: {exc}") from None
        if len({a for _, a in addresses}) != len(addresses):
            keys = [k for k, _ in addresses]
            raise TopologyError(f"{where}: {', '.join(keys[:-1])} and {keys[-1]} must differ")
        tls = (self.peer_address, self.tls_cert, self.tls_key)
        if any(v is not None for v in tls) and not all(v is not None for v in tls):
            raise TopologyError(f"{where}: a TLS node needs peer_address, tls_cert and tls_key")
        if not self.drives:
            raise TopologyError(f"{where}: needs at least one drive")


@dataclass(frozen=True)
class Topology:
    name: str
    secret: str = field(repr=False)  # never in logs or reprs
    nodes: tuple[NodeSpec, ...]
    az_latency_ms: float = 0.0
    path: Path | None = None
    tls_ca: Path | None = None  # a TLS cluster: the CA every node trusts ([tls] ca)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise TopologyError("name must be a non-empty string")
        if not isinstance(self.secret, str) or len(self.secret) < MIN_SECRET_LEN:
            raise TopologyError(f"secret must be a string of at least {MIN_SECRET_LEN} characters")
        latency = self.az_latency_ms
        if isinstance(latency, bool) or not isinstance(latency, int | float) or not latency >= 0:
            raise TopologyError(f"az_latency_ms must be a number >= 0, not {latency!r}")
        if not self.nodes:
            raise TopologyError("a topology needs at least one node")
        _unique("node id", (n.id for n in self.nodes))
        _unique("address", (a for n in self.nodes
                            for a in (n.address, n.raft_address, n.peer_address,
                                      n.http_address, n.redis_address) if a))
        if self.tls_ca is not None:
            missing = [n.id for n in self.nodes if n.tls_cert is None]
            if missing:
                raise TopologyError(f"[tls] is set, so every node needs tls_cert and tls_key "
                                    f"(missing on {', '.join(missing)})")
        elif any(n.tls_cert is not None for n in self.nodes):
            raise TopologyError("nodes name TLS certificates but there is no [tls] table "
                                "with the cluster CA")
        _unique("drive path", (os.path.normpath(d) for n in self.nodes for d in n.drives))

    def node(self, node_id: str) -> NodeSpec:
        for n in self.nodes:
            if n.id == node_id:
                return n
        known = ", ".join(n.id for n in self.nodes)
        raise UnknownNodeError(f"node {node_id!r} is not in topology {self.name!r} "
                               f"(nodes: {known})")

    def zones(self) -> list[str]:
        return sorted({n.zone for n in self.nodes})

    @classmethod
    def load(cls, path: Path | str) -> Topology:
        path = Path(path)
        try:
            with path.open("rb") as f:
                data = tomllib.load(f)
        except OSError as exc:
            raise TopologyError(f"cannot read topology {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise TopologyError(f"{path}: not valid TOML: {exc}") from None
        try:
            return cls.from_dict(data, base_dir=path.resolve().parent, path=path.resolve())
        except TopologyError as exc:
            raise TopologyError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: Path,
                  path: Path | None = None) -> Topology:
        """Parse the file's table; relative drive paths are taken relative to base_dir."""
        _no_unknown_keys(data, _TOP_KEYS, "top level")
        for key in ("name", "secret", "nodes"):
            if key not in data:
                raise TopologyError(f"missing required key {key!r}")
        raw_nodes = data["nodes"]
        if not isinstance(raw_nodes, list) or not all(isinstance(n, dict) for n in raw_nodes):
            raise TopologyError("nodes must be an array of tables ([[nodes]])")
        tls_ca = _tls_from_dict(data["tls"], base_dir) if "tls" in data else None
        return cls(
            name=data["name"],
            secret=data["secret"],
            nodes=tuple(_node_from_dict(i, n, base_dir, tls_ca is not None)
                        for i, n in enumerate(raw_nodes)),
            az_latency_ms=data.get("az_latency_ms", 0.0),
            path=path,
            tls_ca=tls_ca,
        )

    def to_dict(self, base_dir: Path | None = None) -> dict[str, Any]:
        """The file's table; paths under base_dir are written relative to it."""
        out: dict[str, Any] = {
            "name": self.name,
            "secret": self.secret,
            "az_latency_ms": float(self.az_latency_ms),
        }
        if self.tls_ca is not None:
            out["tls"] = {"ca": _relative(self.tls_ca, base_dir)}
        out["nodes"] = [_node_to_dict(n, base_dir) for n in self.nodes]
        return out

    def dump(self, path: Path | str) -> None:
        """Write atomically with mode 0600: the file holds the cluster secret."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = tomli_w.dumps(self.to_dict(path.resolve().parent))
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def generate_local(nodes: int, azs: int, data_dir: Path, base_port: int,
                   drives_per_node: int = 1, name: str = "local",
                   tls_dir: Path | None = None) -> Topology:
    """A loopback cluster: n1..nN round-robin over az-1..az-A, ports from base_port.
    With ``tls_dir``, a TLS cluster whose CA and node certificates are (to be) there
    (engine/cluster/cert_authority.py makes them)."""
    if nodes < 1:
        raise TopologyError("nodes must be >= 1")
    if not 1 <= azs <= nodes:
        raise TopologyError(f"azs must be between 1 and the node count ({nodes}), not {azs}")
    if drives_per_node < 1:
        raise TopologyError("drives_per_node must be >= 1")
    last = base_port + REDIS_PORT_OFFSET + nodes - 1
    if base_port < 1 or last > 65535:
        raise TopologyError(f"base_port {base_port}: ports up to {last} must be in 1..65535")
    data_dir = Path(data_dir).resolve()
    specs = []
    for i in range(nodes):
        node_id = f"n{i + 1}"
        specs.append(NodeSpec(
            id=node_id,
            address=f"127.0.0.1:{base_port + i}",
            zone=f"az-{i % azs + 1}",
            drives=tuple(data_dir / node_id / f"d{j}" for j in range(drives_per_node)),
            raft_address=f"127.0.0.1:{base_port + RAFT_PORT_OFFSET + i}",
            redis_address=f"127.0.0.1:{base_port + REDIS_PORT_OFFSET + i}",
        ))
    topology = Topology(name=name, secret=secrets.token_hex(16), nodes=tuple(specs))
    return with_tls(topology, tls_dir) if tls_dir is not None else topology


def with_http(topology: Topology) -> Topology:
    """The same cluster with an S3 REST endpoint on every node that has none: its gRPC
    port + 3000 (how `engine cluster up` lays out the clusters it makes)."""
    nodes = tuple(dataclasses.replace(n, http_address=n.http_address
                                      or default_http_address(n.address))
                  for n in topology.nodes)
    return dataclasses.replace(topology, nodes=nodes)


def with_redis(topology: Topology) -> Topology:
    """The same cluster with a RESP endpoint on every node that has none: its gRPC port
    + 4000 (a file written before nodes served RESP)."""
    nodes = tuple(dataclasses.replace(n, redis_address=n.redis_address
                                      or default_redis_address(n.address))
                  for n in topology.nodes)
    return dataclasses.replace(topology, nodes=nodes)


def with_tls(topology: Topology, tls_dir: Path) -> Topology:
    """The same cluster made a TLS cluster, its files in ``tls_dir``: ca.pem, and per node
    <id>.pem and <id>-key.pem; each node's peer port is its gRPC port + 2000."""
    tls_dir = Path(tls_dir).resolve()
    nodes = tuple(
        dataclasses.replace(n, peer_address=n.peer_address or default_peer_address(n.address),
                            tls_cert=tls_dir / f"{n.id}.pem", tls_key=tls_dir / f"{n.id}-key.pem")
        for n in topology.nodes)
    return dataclasses.replace(topology, nodes=nodes, tls_ca=tls_dir / "ca.pem")


def _tls_from_dict(raw: Any, base_dir: Path) -> Path:
    if not isinstance(raw, dict):
        raise TopologyError("tls must be a table ([tls])")
    _no_unknown_keys(raw, _TLS_KEYS, "[tls]")
    return _path(raw, "ca", base_dir, "[tls]")


def _path(raw: Mapping[str, Any], key: str, base_dir: Path, where: str) -> Path:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise TopologyError(f"{where}: {key} must be a non-empty path string")
    return (base_dir / Path(value).expanduser()).resolve()


def _node_from_dict(i: int, raw: Mapping[str, Any], base_dir: Path, tls: bool) -> NodeSpec:
    where = f"nodes[{i}]" + (f" ({raw['id']!r})" if "id" in raw else "")
    _no_unknown_keys(raw, _NODE_KEYS, where)
    if not tls and any(k in raw for k in _NODE_TLS_KEYS):
        raise TopologyError(f"{where}: {', '.join(k for k in _NODE_TLS_KEYS if k in raw)} "
                            "need a [tls] table with the cluster CA")
    if tls and not ("tls_cert" in raw and "tls_key" in raw):
        raise TopologyError(f"{where}: [tls] is set, so the node needs tls_cert and tls_key")
    for key in ("id", "address", "zone", "drives"):
        if key not in raw:
            raise TopologyError(f"{where}: missing required key {key!r}")
    drives = raw["drives"]
    if not isinstance(drives, list) or not all(isinstance(d, str) and d for d in drives):
        raise TopologyError(f"{where}: drives must be a list of non-empty path strings")
    address = raw["address"]
    try:
        raft = raw["raft_address"] if "raft_address" in raw else default_raft_address(address)
        extra: dict[str, Any] = {}
        if tls:
            extra = {"peer_address": raw.get("peer_address") or default_peer_address(address),
                     "tls_cert": _path(raw, "tls_cert", base_dir, where),
                     "tls_key": _path(raw, "tls_key", base_dir, where)}
        return NodeSpec(id=raw["id"], address=address, zone=raw["zone"], raft_address=raft,
                        drives=tuple((base_dir / Path(d).expanduser()).resolve() for d in drives),
                        http_address=raw.get("http_address"),
                        redis_address=raw.get("redis_address"), **extra)
    except TopologyError as exc:
        raise TopologyError(f"nodes[{i}]: {exc}") from None


def _node_to_dict(n: NodeSpec, base_dir: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": n.id, "address": n.address, "raft_address": n.raft_address,
                           "zone": n.zone, "drives": [_relative(d, base_dir) for d in n.drives]}
    if n.peer_address is not None and n.tls_cert is not None and n.tls_key is not None:
        out.update(peer_address=n.peer_address, tls_cert=_relative(n.tls_cert, base_dir),
                   tls_key=_relative(n.tls_key, base_dir))
    if n.http_address is not None:
        out["http_address"] = n.http_address
    if n.redis_address is not None:
        out["redis_address"] = n.redis_address
    return out


def _no_unknown_keys(data: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise TopologyError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} "
                            f"(allowed: {', '.join(sorted(allowed))})")


def _unique(what: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise TopologyError(f"duplicate {what} {v!r}")
        seen.add(v)


def _relative(drive: Path, base_dir: Path | None) -> str:
    if base_dir is not None and drive.is_absolute() and drive.is_relative_to(base_dir):
        return drive.relative_to(base_dir).as_posix()
    return str(drive)
