"""`engine cluster up` runs a local cluster in the foreground; `engine cluster plan` shows sets.

Each node is its own `engine serve --cluster FILE --node ID` process, so a node can be
killed (kill -9) like a real machine. This module turns flags into a topology and node
command lines; engine/cli/supervisor.py starts, watches, restarts and stops the processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import shlex
import socket
import sys
from pathlib import Path

from engine.cache.eviction import DEFAULT_POLICY, POLICIES
from engine.cli.supervisor import Backoff, NodeCommand, OnDeath, Supervisor, print_plan
from engine.cluster.cert_authority import ensure_cluster_certs
from engine.cluster.layout import LayoutError, plan_erasure_sets
from engine.cluster.tls import ClusterTls
from engine.cluster.topology import (
    NodeSpec,
    Topology,
    TopologyError,
    generate_local,
    join_host_port,
    split_host_port,
    with_http,
    with_redis,
    with_tls,
)

DEFAULT_DIR = Path("engine-cluster")
DEFAULT_BASE_PORT = 7001
TOPOLOGY_FILE = "cluster.toml"
TLS_DIR = "tls"  # under --data: ca.pem, ca-key.pem, <node>.pem, <node>-key.pem
BACKOFF = Backoff(first=1.0, cap=30.0, stable=60.0)


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
    up.add_argument("--cache-eviction-policy", choices=POLICIES, metavar="POLICY",
                    help="every node's maxmemory policy (passed on as engine serve's; "
                    f"default {DEFAULT_POLICY}): {', '.join(POLICIES)}")
    up.add_argument("--tls", action="store_true",
                    help=f"make a cluster CA and node certificates in DATA/{TLS_DIR} and run "
                    "over TLS: clients on TLS (trust DATA/tls/ca.pem), nodes on mutual TLS "
                    "with peer ports at the gRPC port + 2000 (a cluster made with --tls stays "
                    "a TLS cluster)")
    up.add_argument("--metrics-base-port", type=int, metavar="PORT",
                    help="serve each node's Prometheus metrics on its host at PORT, PORT+1, "
                    "... in node order (default: off)")
    on_death = up.add_mutually_exclusive_group()
    on_death.add_argument("--restart", dest="on_death", action="store_const",
                          const=OnDeath.RESTART,
                          help=f"bring a node that dies back, after {BACKOFF.first:g}s doubling "
                          f"to {BACKOFF.cap:g}s while it keeps dying (default: report it and "
                          "keep the others running)")
    on_death.add_argument("--exit-on-failure", dest="on_death", action="store_const",
                          const=OnDeath.EXIT,
                          help="when a node dies, stop every node and exit 1 (for scripts)")
    on_death.add_argument("--keep-going", dest="on_death", action="store_const",
                          const=OnDeath.REPORT, help=argparse.SUPPRESS)  # the default now
    up.set_defaults(on_death=OnDeath.REPORT)
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
        check_tls(topology, generated=args.cluster is None)
        check_ports_free(topology)
    except LayoutError as exc:  # the nodes would refuse it too: say so before starting them
        hint = "" if reduced else "; --allow-reduced-tolerance accepts a weaker plan"
        print(f"engine: {exc}{hint}", file=sys.stderr)
        return 1
    except (TopologyError, OSError, ValueError) as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 1
    assert topology.path is not None
    command = (template_command(args.node_command) if args.node_command
               else serve_command(reduced, args.cache_replicas, args.metrics_base_port,
                                  args.cache_eviction_policy))
    supervisor = Supervisor(topology, sets, command, topology.path.parent / "logs", sys.stdout,
                            stop_timeout=args.stop_timeout, err=sys.stderr,
                            on_death=args.on_death, backoff=BACKOFF)
    return supervisor.run(args.start_timeout)


def prepare_topology(args: argparse.Namespace) -> Topology:
    """The cluster's topology file: given, reused from --data, or generated there."""
    if args.cluster is not None:  # the operator's file: never rewritten (it has comments)
        if any(v is not None for v in (*_shape_flags(args), args.az_latency_ms)):
            raise TopologyError("--cluster FILE already describes the cluster; drop --nodes, "
                                "--azs, --base-port, --drives-per-node and --az-latency-ms "
                                "(edit the file instead)")
        topology = Topology.load(args.cluster)
        if args.tls and topology.tls_ca is None:
            raise TopologyError(f"--tls: {args.cluster} has no [tls] table; add one with the "
                                "cluster CA and each node's tls_cert and tls_key (see "
                                "docs/cluster.md, TLS)")
        return topology
    path: Path = args.data / TOPOLOGY_FILE
    nodes, azs, base_port, drives = _shape_flags(args)
    existing = Topology.load(path) if path.exists() else None
    if existing is not None and all(v is None for v in (nodes, azs, base_port, drives)):
        return _with_latency(_with_tls(_with_http(existing), args), args.az_latency_ms)
    wanted = with_http(generate_local(
        nodes or 6, azs or 3, args.data, base_port or DEFAULT_BASE_PORT, drives or 1,
        tls_dir=args.data / TLS_DIR if args.tls else None))
    wanted = dataclasses.replace(wanted, az_latency_ms=args.az_latency_ms or 0.0)
    if existing is not None:
        if _shape(existing) != _shape(wanted):  # data on disk is laid out for the old shape
            raise TopologyError(
                f"{path} describes another cluster ({summary(existing)}), not the requested "
                f"{summary(wanted)}; run with matching options, or use another --data "
                "directory (or delete this one to start afresh)")
        return _with_latency(_with_tls(_with_http(existing), args), args.az_latency_ms)
    wanted.dump(path)
    return Topology.load(path)


def _shape(t: Topology) -> tuple[NodeSpec, ...]:
    """The nodes as data is laid out for them: TLS, HTTP and RESP change none of that."""
    return tuple(dataclasses.replace(n, peer_address=None, tls_cert=None, tls_key=None,
                                     http_address=None, redis_address=None)
                 for n in t.nodes)


def _with_http(topology: Topology) -> Topology:
    """A cluster `cluster up` made before nodes served S3 over HTTP or RESP: every node
    gets its endpoints (written back for the nodes to read)."""
    if all(n.http_address and n.redis_address for n in topology.nodes):
        return topology
    assert topology.path is not None
    topology = with_redis(with_http(topology))
    topology.dump(topology.path)
    return Topology.load(topology.path)


def _with_tls(topology: Topology, args: argparse.Namespace) -> Topology:
    """--tls on a cluster generated without it: the same nodes, now over TLS (written
    back for the nodes to read). Without --tls a TLS cluster stays one."""
    if not args.tls or topology.tls_ca is not None:
        return topology
    assert topology.path is not None
    topology = with_tls(topology, args.data / TLS_DIR)
    topology.dump(topology.path)
    return Topology.load(topology.path)


def check_tls(topology: Topology, generated: bool) -> None:
    """A TLS cluster's files: made where missing for a cluster `cluster up` generated
    (an operator's file names its own), then each node's loaded and checked, so a bad
    file is said once here rather than by every node's log."""
    if topology.tls_ca is None:
        return
    if generated:
        ensure_cluster_certs(topology)
    for node in topology.nodes:
        ClusterTls.for_node(topology, node.id)


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
        for address in (node.address, node.raft_address, node.peer_address,
                        node.http_address, node.redis_address):
            if address is None:
                continue
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
                  metrics_base_port: int | None = None,
                  eviction_policy: str | None = None) -> NodeCommand:
    """`engine serve --cluster FILE --node ID` with this interpreter."""
    extra = ["--allow-reduced-tolerance"] if allow_reduced_tolerance else []
    if cache_replicas:
        extra += ["--cache-replicas", str(cache_replicas)]
    if eviction_policy is not None:
        extra += ["--cache-eviction-policy", eviction_policy]

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
