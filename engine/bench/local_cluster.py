"""`--local-cluster NxZ`: a throwaway cluster of N `engine serve` nodes over Z simulated
AZs for one bench run, in a temporary directory on free loopback ports.

It reuses `engine cluster up`'s machinery (topology generation, the erasure-set plan,
the Supervisor that starts nodes in their own process groups and stops them SIGTERM
then SIGKILL) and adds what a bench needs before it can load the cluster: every node
healthy *and* its Raft bucket table led (ListBuckets answers). Every node it started is
stopped and the directory removed on the way out, also on Ctrl-C, SIGTERM or an error. A
SIGKILLed bench runs no cleanup, but the Supervisor ties the nodes to it with a
parent-death signal, so they die too (only the temporary directory stays behind); that
needs `local_cluster` entered from the main thread, as `engine bench` does.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TextIO

import grpc

from engine.cli.cluster import TOPOLOGY_FILE, Supervisor, check_ports_free, serve_command
from engine.client import signed_channels
from engine.cluster.layout import LayoutError, plan_erasure_sets
from engine.cluster.topology import REDIS_PORT_OFFSET, Topology, TopologyError, generate_local
from engine.iam import names
from engine.iam.bootstrap import ENV_KEY, ENV_SECRET
from engine.v1 import objects_pb2, objects_pb2_grpc

PORT_RANGE = (20_000, 60_000 - REDIS_PORT_OFFSET)  # the highest offset generate_local uses
PORT_TRIES = 50
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
MAX_NODES = 64


class ClusterStartError(Exception):
    """The cluster could not be started or never became ready; the message says why."""


def parse_shape(text: str) -> tuple[int, int]:
    """`"6x3"` -> (6 nodes, 3 AZs); ValueError on anything that is not such a shape."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if match is None:
        raise ValueError(f"not a cluster shape: {text!r} (use NODESxAZS, e.g. 6x3)")
    nodes, azs = int(match.group(1)), int(match.group(2))
    if not 1 <= nodes <= MAX_NODES:
        raise ValueError(f"a local cluster has 1-{MAX_NODES} nodes, not {nodes}")
    if not 1 <= azs <= nodes:
        raise ValueError(f"AZs must be between 1 and the node count ({nodes}), not {azs}")
    return nodes, azs


def _topology(nodes: int, azs: int, root: Path) -> Topology:
    """A topology on ports nobody holds: random bases until one is free."""
    rng = random.Random()
    last: OSError | None = None
    for _ in range(PORT_TRIES):
        topology = generate_local(nodes, azs, root, rng.randrange(*PORT_RANGE))
        try:
            check_ports_free(topology)
        except OSError as exc:
            last = exc
            continue
        topology.dump(root / TOPOLOGY_FILE)
        return Topology.load(root / TOPOLOGY_FILE)
    raise ClusterStartError(f"no free ports for {nodes} nodes: {last}")


def _buckets_ready(endpoints: list[str], deadline: float) -> None:
    """Until every node answers ListBuckets: its Raft log has a leader."""
    for endpoint in endpoints:
        with signed_channels.insecure_channel(endpoint) as channel:
            stub = objects_pb2_grpc.ObjectStoreStub(channel)
            while True:
                try:
                    stub.ListBuckets(objects_pb2.ListBucketsRequest(), timeout=2)
                    break
                except grpc.RpcError as exc:
                    if time.monotonic() > deadline:
                        raise ClusterStartError(
                            f"{endpoint} never answered ListBuckets: {exc.code().name}"
                        ) from None
                    time.sleep(0.2)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def use_throwaway_root() -> Callable[[], None]:
    """The throwaway cluster's root key, chosen here: the nodes take it from
    ENGINE_ROOT_* and the bench (and its worker processes) sign with it through AWS_*;
    the caller's own credentials are for some other cluster. Returns the undo."""
    key_id, secret = names.new_id("key"), names.new_secret()
    chosen = {ENV_KEY: key_id, ENV_SECRET: secret, "AWS_ACCESS_KEY_ID": key_id,
              "AWS_SECRET_ACCESS_KEY": secret}
    dropped = ("AWS_SESSION_TOKEN", "AWS_PROFILE")
    saved = {k: os.environ.get(k) for k in (*chosen, *dropped)}
    os.environ.update(chosen)
    for k in dropped:
        os.environ.pop(k, None)

    def restore() -> None:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    return restore


@contextlib.contextmanager
def local_cluster(shape: str, log: TextIO, timeout: float = START_TIMEOUT_S
                  ) -> Iterator[list[str]]:
    """Start a cluster of `shape` (NxZ), yield its endpoints once ready, stop it after.
    ClusterStartError (or ValueError for a bad shape) when it cannot be used."""
    nodes, azs = parse_shape(shape)
    root = Path(tempfile.mkdtemp(prefix="engine-bench-cluster-"))
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # stop the nodes on TERM too
    supervisor: Supervisor | None = None
    restore_credentials = use_throwaway_root()
    try:
        try:
            topology = _topology(nodes, azs, root)
            sets = plan_erasure_sets(topology)
        except (TopologyError, LayoutError) as exc:
            raise ClusterStartError(f"cannot lay out a {shape} cluster: {exc}") from None
        supervisor = Supervisor(topology, sets, serve_command(), root / "logs", log,
                                stop_timeout=STOP_TIMEOUT_S)
        try:
            supervisor.start()
        except OSError as exc:
            raise ClusterStartError(f"cannot start a node: {exc}") from None
        deadline = time.monotonic() + timeout
        if not supervisor.wait_healthy(timeout):
            raise ClusterStartError(f"the {shape} cluster did not become healthy "
                                    f"(node logs were in {root / 'logs'})")
        endpoints = [n.address for n in topology.nodes]
        _buckets_ready(endpoints, deadline)
        yield endpoints
    finally:
        try:
            if supervisor is not None:
                supervisor.stop()
        finally:
            restore_credentials()
            signal.signal(signal.SIGTERM, previous)
            shutil.rmtree(root, ignore_errors=True)
