"""`engine cluster up` runs a local cluster in the foreground; `engine cluster plan` shows sets.

Each node is its own `engine serve --cluster FILE --node ID` process, so a node can be
killed (kill -9) like a real machine. Nodes run in their own process groups: a terminal's
Ctrl-C reaches only this supervisor, which then stops the nodes in order (SIGTERM, then
SIGKILL after a grace period) instead of racing their own shutdown against ours.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from engine.cluster.layout import LayoutError, SetLayout, describe, plan_erasure_sets
from engine.cluster.topology import (
    NodeSpec,
    Topology,
    TopologyError,
    generate_local,
    join_host_port,
    split_host_port,
)

DEFAULT_DIR = Path("engine-cluster")
DEFAULT_BASE_PORT = 7001
TOPOLOGY_FILE = "cluster.toml"
POLL = 0.1  # seconds between liveness checks: bounds how late a death or Ctrl-C is noticed

NodeCommand = Callable[[Topology, NodeSpec], list[str]]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cluster", help="run a local multi-node cluster, show erasure sets")
    actions = p.add_subparsers(dest="cluster_command", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="start every node of a local cluster in the foreground")
    up.add_argument("--nodes", type=int, help="number of nodes (default 6)")
    up.add_argument("--azs", type=int, help="number of simulated availability zones (default 3)")
    up.add_argument("--data", type=Path, default=DEFAULT_DIR,
                    help=f"cluster directory: topology, drives, logs (default ./{DEFAULT_DIR})")
    up.add_argument("--base-port", type=int,
                    help=f"gRPC port of n1, then +1 per node; Raft +1000 "
                    f"(default {DEFAULT_BASE_PORT})")
    up.add_argument("--drives-per-node", type=int, help="drives (directories) per node (default 1)")
    up.add_argument("--az-latency-ms", type=float,
                    help="simulated one-way latency between AZs (default 0)")
    up.add_argument("--cluster", type=Path, metavar="FILE",
                    help="run the nodes of this topology file instead of generating one")
    up.add_argument("--allow-reduced-tolerance", action="store_true",
                    help="start even if no erasure-set plan survives losing a whole AZ "
                    "(passed on to every node)")
    up.add_argument("--cache-replicas", type=int, choices=[0, 1], default=0,
                    help="1: every cache slot gets a replica in another AZ (default 0)")
    up.add_argument("--metrics-base-port", type=int, metavar="PORT",
                    help="serve each node's Prometheus metrics on its host at PORT, PORT+1, "
                    "... in node order (default: off)")
    up.add_argument("--keep-going", action="store_true",
                    help="when a node dies, report it and keep the others running")
    up.add_argument("--start-timeout", type=float, default=60.0,
                    help="seconds to wait for every node to be healthy (default 60)")
    up.add_argument("--stop-timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    up.add_argument("--node-command", help=argparse.SUPPRESS)  # tests: stand-in nodes
    up.set_defaults(run=run_up)
    plan = actions.add_parser("plan", help="print the erasure-set plan of a topology file")
    plan.add_argument("file", type=Path, help="topology file (TOML)")
    plan.add_argument("--allow-reduced-tolerance", action="store_true",
                      help="if no plan survives an AZ, show the fallback plan")
    plan.set_defaults(run=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    try:
        topology = Topology.load(args.file)
        sets = plan_erasure_sets(topology, require_az_tolerance=not args.allow_reduced_tolerance)
    except (TopologyError, LayoutError) as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 1
    print_plan(sets, sys.stdout)
    return 0


def run_up(args: argparse.Namespace) -> int:
    reduced = args.allow_reduced_tolerance
    try:
        topology = prepare_topology(args)
        sets = plan_erasure_sets(topology, require_az_tolerance=not reduced)
        check_ports_free(topology)
    except LayoutError as exc:  # the nodes would refuse it too: say so before starting them
        hint = "" if reduced else "; --allow-reduced-tolerance accepts a weaker plan"
        print(f"engine: {exc}{hint}", file=sys.stderr)
        return 1
    except (TopologyError, OSError) as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 1
    assert topology.path is not None
    command = (template_command(args.node_command) if args.node_command
               else serve_command(reduced, args.cache_replicas, args.metrics_base_port))
    supervisor = Supervisor(topology, sets, command, topology.path.parent / "logs", sys.stdout,
                            stop_timeout=args.stop_timeout, keep_going=args.keep_going)
    return supervisor.run(args.start_timeout)


def prepare_topology(args: argparse.Namespace) -> Topology:
    """The cluster's topology file: given, reused from --data, or generated there."""
    if args.cluster is not None:  # the operator's file: never rewritten (it has comments)
        if any(v is not None for v in (*_shape_flags(args), args.az_latency_ms)):
            raise TopologyError("--cluster FILE already describes the cluster; drop --nodes, "
                                "--azs, --base-port, --drives-per-node and --az-latency-ms "
                                "(edit the file instead)")
        return Topology.load(args.cluster)
    path: Path = args.data / TOPOLOGY_FILE
    nodes, azs, base_port, drives = _shape_flags(args)
    existing = Topology.load(path) if path.exists() else None
    if existing is not None and all(v is None for v in (nodes, azs, base_port, drives)):
        return _with_latency(existing, args.az_latency_ms)
    wanted = generate_local(nodes or 6, azs or 3, args.data, base_port or DEFAULT_BASE_PORT,
                            drives or 1)
    wanted = dataclasses.replace(wanted, az_latency_ms=args.az_latency_ms or 0.0)
    if existing is not None:
        if existing.nodes != wanted.nodes:  # data on disk is laid out for the old shape
            raise TopologyError(
                f"{path} describes another cluster ({summary(existing)}), not the requested "
                f"{summary(wanted)}; run with matching options, or use another --data "
                "directory (or delete this one to start afresh)")
        return _with_latency(existing, args.az_latency_ms)
    wanted.dump(path)
    return Topology.load(path)


def _shape_flags(args: argparse.Namespace) -> tuple[int | None, ...]:
    return args.nodes, args.azs, args.base_port, args.drives_per_node


def _with_latency(topology: Topology, latency: float | None) -> Topology:
    """Latency is a knob, not shape: a new value is written back for the nodes to read."""
    if latency is None or latency == topology.az_latency_ms:
        return topology
    assert topology.path is not None
    topology = dataclasses.replace(topology, az_latency_ms=latency)
    topology.dump(topology.path)
    return topology


def summary(t: Topology) -> str:
    per_node = "/".join(str(d) for d in sorted({len(n.drives) for n in t.nodes}))
    return (f"{len(t.nodes)} nodes in {len(t.zones())} AZs, {per_node} drive(s) per node, "
            f"first gRPC address {t.nodes[0].address}")


def check_ports_free(topology: Topology) -> None:
    """Fail early on a port still held, e.g. by nodes of a supervisor that was kill -9'd.

    gRPC listens with SO_REUSEPORT, so a second node on the same port would start quietly
    and share traffic with the old one; a plain bind here does not share and notices.
    """
    for node in topology.nodes:
        for address in (node.address, node.raft_address):
            host, port = split_host_port(address)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((host, port))
                except OSError as exc:
                    hint = (" (is a cluster from this directory still running?)"
                            if exc.errno == errno.EADDRINUSE else "")
                    raise OSError(exc.errno, f"node {node.id}: cannot listen on {address}: "
                                  f"{exc.strerror}{hint}") from None


def serve_command(allow_reduced_tolerance: bool = False, cache_replicas: int = 0,
                  metrics_base_port: int | None = None) -> NodeCommand:
    """`engine serve --cluster FILE --node ID` with this interpreter."""
    extra = ["--allow-reduced-tolerance"] if allow_reduced_tolerance else []
    if cache_replicas:
        extra += ["--cache-replicas", str(cache_replicas)]

    def command(topology: Topology, node: NodeSpec) -> list[str]:
        metrics: list[str] = []
        if metrics_base_port is not None:
            host, _ = split_host_port(node.address)
            port = metrics_base_port + topology.nodes.index(node)
            metrics = ["--metrics-listen", join_host_port(host, port)]
        return [sys.executable, "-m", "engine", "serve", "--cluster", str(topology.path),
                "--node", node.id, *extra, *metrics]
    return command


def template_command(template: str) -> NodeCommand:
    """A command line with {python} {cluster} {node} {zone} {address} {host} {port} filled in."""
    def command(topology: Topology, node: NodeSpec) -> list[str]:
        host, port = split_host_port(node.address)
        fields = {"python": sys.executable, "cluster": str(topology.path), "node": node.id,
                  "zone": node.zone, "address": node.address, "host": host, "port": port}
        return [part.format(**fields) for part in shlex.split(template)]
    return command


def print_plan(sets: Sequence[SetLayout], out: TextIO) -> None:
    out.write(f"erasure sets: {describe(sets)}\n")
    for s in sets:
        drives = " ".join(f"{d.node_id}/d{d.drive_index}@{d.zone}" for d in s.drives)
        out.write(f"  set {s.index}: {s.data_shards}+{s.parity_shards}  {drives}\n")


@dataclass
class NodeProcess:
    spec: NodeSpec
    proc: subprocess.Popen[bytes]
    log: Path


class Supervisor:
    """Starts every node of a topology, watches them, and stops them all on the way out."""

    def __init__(self, topology: Topology, sets: Sequence[SetLayout], command: NodeCommand,
                 log_dir: Path, out: TextIO, stop_timeout: float = 10.0,
                 keep_going: bool = False) -> None:
        self.topology = topology
        self.sets = sets
        self.command = command
        self.log_dir = log_dir
        self.out = out
        self.stop_timeout = stop_timeout
        self.keep_going = keep_going
        self.nodes: list[NodeProcess] = []
        self._reported: list[NodeProcess] = []  # deaths already told to the user
        self._stop_signal: int | None = None  # a flag: Event.set in a handler can deadlock

    def run(self, start_timeout: float) -> int:
        """0 after Ctrl-C or SIGTERM, 1 if a node died (or never became healthy)."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            try:
                self.start()
            except OSError as exc:  # e.g. a node command that does not exist
                node_id = self.topology.nodes[len(self.nodes)].id
                self.emit(f"error: cannot start node {node_id}: {exc}")
                return 1
            if not self.wait_healthy(start_timeout):
                return 0 if self._stop_signal is not None else 1
            self.print_table()
            return self.watch()
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_signal = signum

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.emit(f"starting {len(self.topology.nodes)} nodes of cluster "
                  f"{self.topology.name!r} from {self.topology.path}; logs in {self.log_dir}")
        for spec in self.topology.nodes:
            log = self.log_dir / f"{spec.id}.log"
            with log.open("ab") as f:
                f.write(f"--- engine cluster up: starting {spec.id} at "
                        f"{time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
                f.flush()
                proc = subprocess.Popen(self.command(self.topology, spec), stdin=subprocess.DEVNULL,
                                        stdout=f, stderr=subprocess.STDOUT, process_group=0)
            self.nodes.append(NodeProcess(spec, proc, log))

    def wait_healthy(self, timeout: float) -> bool:
        """True once every node's gRPC health check says SERVING; False on death or signal."""
        deadline = time.monotonic() + timeout
        channels = {n.spec.id: grpc.insecure_channel(n.spec.address) for n in self.nodes}
        try:
            pending = list(self.nodes)
            while pending:
                if self._stop_signal is not None or self._report_deaths():
                    return False
                pending = [n for n in pending if not _serving(channels[n.spec.id])]
                if pending and time.monotonic() > deadline:
                    names = ", ".join(n.spec.id for n in pending)
                    self.emit(f"error: not healthy after {timeout:g}s: {names}; see their logs "
                              f"in {self.log_dir}")
                    return False
                if pending:
                    time.sleep(POLL)
            return True
        finally:
            for ch in channels.values():
                ch.close()

    def watch(self) -> int:
        while self._stop_signal is None:
            if self._report_deaths() and not self.keep_going:
                return 1
            if all(n.proc.poll() is not None for n in self.nodes):
                self.emit("every node has exited")
                return 1
            time.sleep(POLL)
        self.emit(f"{signal.Signals(self._stop_signal).name}: stopping the cluster")
        return 0

    def _report_deaths(self) -> bool:
        """Report each node that exited since the last call; True if any did."""
        died = [n for n in self.nodes if n.proc.poll() is not None and n not in self._reported]
        for n in died:
            self._reported.append(n)
            code = n.proc.returncode
            how = (f"killed by {signal.Signals(-code).name}" if code < 0
                   else f"exited with code {code}")
            self.emit(f"node {n.spec.id} ({n.spec.zone}, pid {n.proc.pid}) {how}; "
                      f"log: {n.log}")
            for line in _tail(n.log, 5):
                self.emit(f"  | {line}")
        return bool(died)

    def stop(self) -> None:
        """SIGTERM every live node, SIGKILL whatever is left after stop_timeout."""
        alive = [n for n in self.nodes if n.proc.poll() is None]
        if not alive:
            return
        self.emit(f"stopping {', '.join(n.spec.id for n in alive)}")
        for n in alive:
            n.proc.send_signal(signal.SIGTERM)  # a no-op once it has exited
        deadline = time.monotonic() + self.stop_timeout
        while time.monotonic() < deadline and any(n.proc.poll() is None for n in alive):
            time.sleep(0.05)
        for n in alive:
            if n.proc.poll() is None:
                self.emit(f"node {n.spec.id} ignored SIGTERM for {self.stop_timeout:g}s: SIGKILL")
                n.proc.send_signal(signal.SIGKILL)
            n.proc.wait()
        self.emit("all nodes stopped")

    def print_table(self) -> None:
        rows = [("NODE", "ENDPOINT", "ZONE", "PID", "LOG")] + [
            (n.spec.id, n.spec.address, n.spec.zone, str(n.proc.pid), str(n.log))
            for n in self.nodes]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            self.emit("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        print_plan(self.sets, self.out)
        first = self.nodes[0].spec.address
        self.emit(f"cluster {self.topology.name!r} is up: point the SDK or CLI at any node, "
                  f"e.g. engine status --endpoint {first}")
        self.emit("Ctrl-C stops every node")

    def emit(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()


def _serving(channel: grpc.Channel) -> bool:
    try:
        resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                        timeout=0.5)
    except grpc.RpcError:
        return False
    return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]
