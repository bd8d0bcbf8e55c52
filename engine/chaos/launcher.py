"""A loopback cluster whose nodes the network nemesis can tell apart.

Every node listens on its own 127.0.0.x address and runs under its own uid
(engine/chaos/network.py says why), so a :class:`~engine.chaos.network.Network` over
``cluster.identities`` can partition them. Otherwise this is what `engine cluster up`
does: one topology file, one `engine serve --cluster FILE --node ID` process per node
logging to ``<root>/logs/<node>.log``; ``close()`` (or the context manager) kills every
process it started. Open the ``Network`` before ``start()``: it must see every connection
between the nodes from its first packet.

Unlike the checkers beside it, this module drives the server: it writes a topology file
(engine.cluster.topology) and starts nodes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from engine.chaos.network import NodeIdentity, loopback_identities
from engine.cluster.topology import NodeSpec, Topology, join_host_port

PEER_TIMEOUT = 2.0
# Reconnect quickly while a node is still importing (gRPC's default backoff is 1 s+).
_FAST_RECONNECT = (("grpc.initial_reconnect_backoff_ms", 50),
                   ("grpc.min_reconnect_backoff_ms", 50),
                   ("grpc.max_reconnect_backoff_ms", 200))


def free_port(host: str) -> int:
    """A free port on ``host``. Outgoing connections bind 127.0.0.1, so a port on a
    node's own address is not taken by them between this check and the node's bind."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class LoopbackCluster:
    """``nodes`` nodes over ``azs`` zones, n1..nN, node i at 127.0.0.(2+i-1) as its own uid."""

    def __init__(self, root: Path, nodes: int = 3, azs: int = 3,
                 peer_timeout: float = PEER_TIMEOUT, extra_args: Sequence[str] = (),
                 identities: Sequence[NodeIdentity] | None = None) -> None:
        self.root = Path(root).resolve()
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        names = [f"n{i + 1}" for i in range(nodes)]
        self.identities = list(identities) if identities is not None \
            else loopback_identities(names)
        if [n.name for n in self.identities] != names:
            raise ValueError(f"identities must name {names} in order")
        self.peer_timeout = peer_timeout
        self.extra_args = tuple(extra_args)
        self.topology = Topology(name="chaos", secret=os.urandom(16).hex(), nodes=tuple(
            NodeSpec(id=n.name, zone=f"az-{i % azs + 1}",
                     address=join_host_port(n.host, free_port(n.host)),
                     raft_address=join_host_port(n.host, free_port(n.host)),
                     drives=(self.root / "data" / n.name / "d0",))
            for i, n in enumerate(self.identities)))
        self.topology_file = self.root / "cluster.toml"
        self.topology.dump(self.topology_file)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def node_ids(self) -> list[str]:
        return [n.name for n in self.identities]

    def endpoint(self, node_id: str) -> str:
        return self.topology.node(node_id).address

    def log_tail(self, node_id: str, lines: int = 40) -> str:
        with contextlib.suppress(FileNotFoundError):
            text = (self.logs / f"{node_id}.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def start(self, node_ids: Iterable[str] | None = None,
              timeout: float = 60.0) -> LoopbackCluster:
        """Start the nodes and wait until each says SERVING (it reaches a quorum)."""
        ids = list(node_ids) if node_ids is not None else self.node_ids
        by_name = {n.name: n for n in self.identities}
        for node_id in ids:
            proc = self.procs.get(node_id)
            if proc is not None and proc.poll() is None:
                raise RuntimeError(f"{node_id} is already running")
            argv = [sys.executable, "-m", "engine", "serve", "--cluster",
                    str(self.topology_file), "--node", node_id,
                    "--peer-timeout", str(self.peer_timeout), *self.extra_args]
            with (self.logs / f"{node_id}.log").open("ab") as log:
                self.procs[node_id] = subprocess.Popen(
                    by_name[node_id].command(argv), stdout=log, stderr=log,
                    stdin=subprocess.DEVNULL,
                    # a node's uid must not leave .pyc files in the work tree
                    env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        for node_id in ids:
            try:
                self.wait_serving(node_id, timeout)
            except (RuntimeError, TimeoutError) as exc:
                raise RuntimeError(f"{node_id} did not come up: {exc}\n"
                                   f"{self.log_tail(node_id)}") from exc
        return self

    def health(self, node_id: str, timeout: float = 1.0) -> int | None:
        """The node's gRPC health status (health_pb2 enum), None if it does not answer."""
        with grpc.insecure_channel(self.endpoint(node_id), options=_FAST_RECONNECT) as ch:
            try:
                return int(health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(), timeout=timeout).status)
            except grpc.RpcError:
                return None

    def wait_serving(self, node_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.health(node_id) != health_pb2.HealthCheckResponse.SERVING:
            proc = self.procs[node_id]
            if proc.poll() is not None:
                raise RuntimeError(f"engine serve exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.endpoint(node_id)} not serving after {timeout}s")
            time.sleep(0.05)  # polling another process, not waiting on engine time

    def close(self) -> None:
        """SIGCONT and SIGKILL every node still running, and reap them."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGCONT)
                    proc.send_signal(signal.SIGKILL)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)

    def __enter__(self) -> LoopbackCluster:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
