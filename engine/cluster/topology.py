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

Validation is strict (unknown keys are errors) because a typo in a shared file would
otherwise silently give nodes different views of the cluster.
"""

from __future__ import annotations

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
MIN_SECRET_LEN = 16
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # also used as a log file name
_TOP_KEYS = frozenset({"name", "secret", "az_latency_ms", "nodes"})
_NODE_KEYS = frozenset({"id", "address", "raft_address", "zone", "drives"})


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


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def default_raft_address(address: str) -> str:
    """Same host, gRPC port + 1000: predictable, so most files need not say it."""
    host, port = split_host_port(address)
    if port + RAFT_PORT_OFFSET > 65535:
        raise TopologyError(f"address {address!r}: port + {RAFT_PORT_OFFSET} is out of range; "
                            "set raft_address explicitly")
    return join_host_port(host, port + RAFT_PORT_OFFSET)


@dataclass(frozen=True)
class NodeSpec:
    id: str
    address: str
    zone: str
    drives: tuple[Path, ...]
    raft_address: str

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            raise TopologyError(f"node id {self.id!r} must be letters, digits, '.', '_' or '-'")
        where = f"node {self.id!r}"
        if not isinstance(self.zone, str) or not self.zone.strip():
            raise TopologyError(f"{where}: zone must be a non-empty string")
        for label, addr in (("address", self.address), ("raft_address", self.raft_address)):
            if not isinstance(addr, str):
                raise TopologyError(f"{where}: {label} must be a string")
            try:
                split_host_port(addr)
            except TopologyError as exc:
                raise TopologyError(f"{where}: {label}: {exc}") from None
        if self.address == self.raft_address:
            raise TopologyError(f"{where}: address and raft_address must differ")
        if not self.drives:
            raise TopologyError(f"{where}: needs at least one drive")


@dataclass(frozen=True)
class Topology:
    name: str
    secret: str = field(repr=False)  # never in logs or reprs
    nodes: tuple[NodeSpec, ...]
    az_latency_ms: float = 0.0
    path: Path | None = None

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
        _unique("address", (a for n in self.nodes for a in (n.address, n.raft_address)))
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
        return cls(
            name=data["name"],
            secret=data["secret"],
            nodes=tuple(_node_from_dict(i, n, base_dir) for i, n in enumerate(raw_nodes)),
            az_latency_ms=data.get("az_latency_ms", 0.0),
            path=path,
        )

    def to_dict(self, base_dir: Path | None = None) -> dict[str, Any]:
        """The file's table; drives under base_dir are written relative to it."""
        return {
            "name": self.name,
            "secret": self.secret,
            "az_latency_ms": float(self.az_latency_ms),
            "nodes": [
                {"id": n.id, "address": n.address, "raft_address": n.raft_address,
                 "zone": n.zone, "drives": [_relative(d, base_dir) for d in n.drives]}
                for n in self.nodes
            ],
        }

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
                   drives_per_node: int = 1, name: str = "local") -> Topology:
    """A loopback cluster: n1..nN round-robin over az-1..az-A, ports from base_port."""
    if nodes < 1:
        raise TopologyError("nodes must be >= 1")
    if not 1 <= azs <= nodes:
        raise TopologyError(f"azs must be between 1 and the node count ({nodes}), not {azs}")
    if drives_per_node < 1:
        raise TopologyError("drives_per_node must be >= 1")
    last = base_port + RAFT_PORT_OFFSET + nodes - 1
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
        ))
    return Topology(name=name, secret=secrets.token_hex(16), nodes=tuple(specs))


def _node_from_dict(i: int, raw: Mapping[str, Any], base_dir: Path) -> NodeSpec:
    where = f"nodes[{i}]" + (f" ({raw['id']!r})" if "id" in raw else "")
    _no_unknown_keys(raw, _NODE_KEYS, where)
    for key in ("id", "address", "zone", "drives"):
        if key not in raw:
            raise TopologyError(f"{where}: missing required key {key!r}")
    drives = raw["drives"]
    if not isinstance(drives, list) or not all(isinstance(d, str) and d for d in drives):
        raise TopologyError(f"{where}: drives must be a list of non-empty path strings")
    address = raw["address"]
    try:
        raft = raw["raft_address"] if "raft_address" in raw else default_raft_address(address)
        return NodeSpec(id=raw["id"], address=address, zone=raw["zone"], raft_address=raft,
                        drives=tuple((base_dir / Path(d).expanduser()).resolve() for d in drives))
    except TopologyError as exc:
        raise TopologyError(f"nodes[{i}]: {exc}") from None


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
