"""Multi-process cluster fixtures: every node is a real `engine serve --cluster` process.

`Cluster` writes a loopback topology for N nodes over A zones under tmp_path, starts each
node as its own process (logging to <tmp>/logs/<node>.log), and offers what the tests do to
a real deployment: kill -9, SIGSTOP/SIGCONT, restart on the same drives, SDK clients per
node, the on-disk shard files of each drive, and `engine admin heal`. Whatever happens in
a test, the fixture's finalizer SIGCONTs and kills every process it started.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from health import wait_healthy  # tests/health.py (tests/ is on sys.path)
from ports import free_port

from engine.client import ClientError, signed_channels
from engine.client import client as sdk_client
from engine.cluster.layout import plan_erasure_sets
from engine.cluster.topology import (
    RAFT_PORT_OFFSET,
    REDIS_PORT_OFFSET,
    Topology,
    generate_local,
)
from engine.cluster.wire import SECRET_HEADER
from engine.storage.entries import layouts
from engine.v1 import admin_pb2, admin_pb2_grpc, node_pb2, node_pb2_grpc

from .resp_nodes import SHARED_CLUSTER_ARGS, restore

KIB = 1024
MIB = 1024 * KIB
INLINE_THRESHOLD = 128 * KIB  # bodies up to this size live in the metadata record
PEER_TIMEOUT = 2.0
HEADER_SIZE = 8  # [u32 len LE][u32 crc32c LE] before each block's payload


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cluster: multi-process cluster test (real engine serve processes)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)
            item.add_marker(pytest.mark.slow)  # processes, kills: more than a few seconds
    # The tests on `shared_cluster` run back to back, from where the first of them is, so
    # its processes do not idle through the modules in between.
    sharing = [i for i in items if "shared_cluster" in i.fixturenames]
    if sharing:
        first = items.index(sharing[0])
        others = [i for i in items if "shared_cluster" not in i.fixturenames]
        items[:] = [*others[:first], *sharing, *others[first:]]


# -- ports -----------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port(count: int) -> int:
    """A base port P with P..P+count-1 (gRPC), P+1000.. (consensus) and P+4000.. (RESP)
    free on loopback.

    Chosen below the kernel's ephemeral range (32768+) so outgoing connections of other
    processes do not grab our ports between the check and the bind.
    """
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(12000, 31000 - REDIS_PORT_OFFSET - count)
        raft = base + RAFT_PORT_OFFSET
        resp = base + REDIS_PORT_OFFSET
        ports = [*range(base, base + count), *range(raft, raft + count),
                 *range(resp, resp + count)]
        if all(_port_free(p) for p in ports):
            return base
    raise RuntimeError("no free port range on 127.0.0.1")


# -- helpers ---------------------------------------------------------------------------


def body_for(seed: str, size: int) -> bytes:
    """A deterministic body: random bytes seeded by `seed`."""
    return random.Random(seed).randbytes(size)


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def read_md5(s3: Any, bucket: str, key: str, chunk: int = MIB) -> tuple[str, int]:
    """(MD5, length) of an object's body, streamed so large bodies are not held twice."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.md5()
    size = 0
    try:
        while True:
            data = body.read(chunk)
            if not data:
                break
            digest.update(data)
            size += len(data)
    finally:
        body.close()
    return digest.hexdigest(), size


def list_keys(s3: Any, bucket: str) -> list[str]:
    """Every key of a bucket through ListObjectsV2 pagination."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def error_code(exc: BaseException) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)


def code_of(call: Callable[[], Any]) -> str | None:
    """The AWS error code a client call raises, None when it succeeds."""
    try:
        call()
    except ClientError as err:
        return error_code(err)
    return None


def until_every_node(cluster: Cluster, check: Callable[[str], bool], what: str,
                     timeout: float = 10.0) -> float:
    """Seconds from now until ``check(node)`` holds on every node of ``cluster``: polled
    without pause, so the figure measures how long a change takes to reach them all."""
    start = time.monotonic()
    pending = set(cluster.node_ids)
    while pending:
        pending = {n for n in pending if not check(n)}
        assert time.monotonic() - start < timeout, f"{what}: still not on {sorted(pending)}"
    return time.monotonic() - start


def wait_until(condition: Callable[[], Any], timeout: float, what: str,
               interval: float = 0.1) -> Any:
    """Poll `condition` until it returns something truthy; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = condition()
            if last:
                return last
        except Exception as exc:  # a node that is still starting may refuse calls
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}: {last!r}")
        time.sleep(interval)


def parse_blocks(path: Path) -> Iterator[tuple[int, int, int, bytes]]:
    """(offset of the header, length, stored crc32c, payload) of every block in a shard file."""
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        if offset + HEADER_SIZE > len(data):
            raise ValueError(f"{path}: truncated block header at {offset}")
        length = int.from_bytes(data[offset:offset + 4], "little")
        crc = int.from_bytes(data[offset + 4:offset + 8], "little")
        payload = data[offset + HEADER_SIZE:offset + HEADER_SIZE + length]
        if len(payload) != length:
            raise ValueError(f"{path}: truncated block payload at {offset}")
        yield offset, length, crc, payload
        offset += HEADER_SIZE + length


# -- the cluster -----------------------------------------------------------------------


class Cluster:
    """N `engine serve --cluster` processes on loopback, with the tools to abuse them."""

    def __init__(self, root: Path, nodes: int = 6, azs: int = 3,
                 peer_timeout: float = PEER_TIMEOUT, extra_args: Iterable[str] = ()) -> None:
        self.root = root
        self.data = root / "data"
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.topology_file = root / "cluster.toml"
        self.topology: Topology = generate_local(nodes, azs, self.data,
                                                 free_base_port(nodes))
        self.topology.dump(self.topology_file)
        self.peer_timeout = peer_timeout
        self.extra_args = tuple(extra_args)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.node_env: dict[str, dict[str, str]] = {}  # extra environment, by node id
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()  # sqs() may be called from worker threads

    # -- facts -------------------------------------------------------------------------

    @property
    def node_ids(self) -> list[str]:
        return [n.id for n in self.topology.nodes]

    @property
    def endpoints(self) -> dict[str, str]:
        return {n.id: n.address for n in self.topology.nodes}

    @property
    def secret(self) -> str:
        return self.topology.secret

    def endpoint(self, node_id: str) -> str:
        return self.topology.node(node_id).address

    def zone(self, node_id: str) -> str:
        return self.topology.node(node_id).zone

    def nodes_in(self, zone: str) -> list[str]:
        return [n.id for n in self.topology.nodes if n.zone == zone]

    def drive(self, node_id: str, index: int = 0) -> Path:
        return self.topology.node(node_id).drives[index]

    def log_path(self, node_id: str) -> Path:
        return self.logs / f"{node_id}.log"

    def log_tail(self, node_id: str, lines: int = 40) -> str:
        try:
            text = self.log_path(node_id).read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def running(self, node_id: str) -> bool:
        proc = self.procs.get(node_id)
        return proc is not None and proc.poll() is None

    # -- processes ---------------------------------------------------------------------

    def _spawn(self, node_id: str, topology_file: Path | None = None) -> None:
        assert not self.running(node_id), f"{node_id} is already running"
        cmd = [sys.executable, "-m", "engine", "serve", "--cluster",
               str(topology_file or self.topology_file), "--node", node_id,
               "--peer-timeout", str(self.peer_timeout), *self.extra_args]
        with open(self.log_path(node_id), "ab") as log:
            log.write(f"--- start {time.strftime('%H:%M:%S')}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.procs[node_id] = subprocess.Popen(
                cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                env={**os.environ, **self.node_env.get(node_id, {})})

    def start_impostor(self, node_id: str, topology: Topology, timeout: float = 60.0) -> int:
        """Run `node_id` from another topology file (say, another secret) in its place;
        it is tracked, logged and killed like the real one. Returns the health status it
        answers (it cannot reach a quorum, so it should not say SERVING)."""
        path = self.root / f"impostor-{node_id}.toml"
        topology.dump(path)
        self._spawn(node_id, path)
        return wait_healthy(self.endpoint(node_id), timeout, self.procs[node_id],
                            serving=False)

    def start(self, node_ids: Iterable[str] | None = None, timeout: float = 60.0) -> Cluster:
        ids = list(node_ids) if node_ids is not None else self.node_ids
        for node_id in ids:
            self._spawn(node_id)
        for node_id in ids:
            try:
                wait_healthy(self.endpoint(node_id), timeout, self.procs[node_id])
            except (RuntimeError, TimeoutError) as exc:
                raise RuntimeError(f"{node_id} did not come up: {exc}\n"
                                   f"{self.log_tail(node_id)}") from exc
        return self

    def wait_buckets_ready(self, timeout: float = 60.0) -> None:
        """Until every running node answers ListBuckets (its Raft log has a leader)."""
        for node_id in self.node_ids:
            if self.running(node_id):
                wait_until(lambda n=node_id: self.client(n, timeout=5).list_buckets() or True,
                           timeout, f"ListBuckets on {node_id}", interval=0.2)

    def kill9(self, node_ids: Iterable[str]) -> None:
        for node_id in node_ids:
            proc = self.procs[node_id]
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            self._drop_client(node_id)

    def sigstop(self, node_id: str) -> None:
        self.procs[node_id].send_signal(signal.SIGSTOP)

    def sigcont(self, node_id: str) -> None:
        self.procs[node_id].send_signal(signal.SIGCONT)

    def restart(self, node_ids: Iterable[str], timeout: float = 60.0) -> None:
        ids = list(node_ids)
        for node_id in ids:
            if self.running(node_id):
                self.kill9([node_id])
        self.start(ids, timeout)

    def close(self) -> None:
        for c in self._clients.values():
            with contextlib.suppress(Exception):
                c.close()
        self._clients.clear()
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGCONT)
                    proc.send_signal(signal.SIGKILL)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)

    # -- clients -----------------------------------------------------------------------

    def client(self, node_id: str, timeout: float = 60.0) -> Any:
        """An SDK S3 client bound to one node (cached per node and timeout)."""
        name = f"{node_id}@{timeout}"
        if name not in self._clients:
            self._clients[name] = sdk_client("s3", endpoint=self.endpoint(node_id),
                                             timeout=timeout)
        return self._clients[name]

    def sqs(self, node_id: str, timeout: float = 60.0) -> Any:
        """An SDK SQS client bound to one node (cached per node and timeout; thread-safe).

        Like the S3 clients it is dropped when the node is killed with kill9(), so a
        client asked for after a restart has a fresh channel (not one in reconnect
        backoff from the outage)."""
        name = f"{node_id}@{timeout}@sqs"
        with self._clients_lock:
            if name not in self._clients:
                self._clients[name] = sdk_client("sqs", endpoint=self.endpoint(node_id),
                                                 timeout=timeout)
            return self._clients[name]

    def cache(self, node_id: str, timeout: float = 10.0) -> Any:
        """An SDK cache client (redis-py names) bound to one node; cached and dropped on
        kill9() like sqs()."""
        name = f"{node_id}@{timeout}@cache"
        with self._clients_lock:
            if name not in self._clients:
                self._clients[name] = sdk_client("cache", endpoint=self.endpoint(node_id),
                                                 timeout=timeout)
            return self._clients[name]

    def _drop_client(self, node_id: str) -> None:
        with self._clients_lock:
            doomed = [self._clients.pop(n) for n in list(self._clients)
                      if n.split("@")[0] == node_id]
        for c in doomed:
            with contextlib.suppress(Exception):
                c.close()

    def channel(self, node_id: str) -> grpc.Channel:
        return signed_channels.insecure_channel(self.endpoint(node_id))

    def queue_groups(self, node_id: str, timeout: float = 5.0
                     ) -> list[admin_pb2.QueueGroupStatus]:
        """The queue groups `node_id` is a member of, as it sees them (Admin GetStatus):
        index, members, the leader it last heard of ("" if none) and its term."""
        with self.channel(node_id) as channel:
            status = admin_pb2_grpc.AdminStub(channel).GetStatus(
                admin_pb2.GetStatusRequest(local_only=True), timeout=timeout)
        return list(status.nodes[0].queue_groups)

    # -- disk --------------------------------------------------------------------------

    def shard_files(self, node: str | None = None) -> dict[str, list[Path]]:
        """node id -> sorted shard files on its drives (every node when `node` is None)."""
        ids = [node] if node is not None else self.node_ids
        out: dict[str, list[Path]] = {}
        for node_id in ids:
            files: list[Path] = []
            for d in self.topology.node(node_id).drives:
                shards = d / "shards"
                if shards.exists():
                    files += [f for f in shards.rglob("*") if f.is_file()]
            out[node_id] = sorted(files)
        return out

    def shard_counts(self) -> dict[str, int]:
        return {n: len(files) for n, files in self.shard_files().items()}

    def home_index(self, node_id: str) -> int:
        """The shard index this node's (only) drive holds in the cluster's only set."""
        plan = plan_erasure_sets(self.topology)
        assert len(plan) == 1, "these tests use one erasure set"
        return [r.node_id for r in plan[0].drives].index(node_id)

    def shard_ids(self) -> dict[str, dict[str, list[int]]]:
        """node id -> data id -> shard indexes found for it on that node's drives."""
        out: dict[str, dict[str, list[int]]] = {}
        for node_id, files in self.shard_files().items():
            ids: dict[str, list[int]] = {}
            for f in files:
                data_id, _, index = f.name.rpartition(".")
                ids.setdefault(data_id, []).append(int(index))
            out[node_id] = ids
        return out

    def referenced_data_ids(self, node_id: str, buckets: Iterable[str]) -> set[str]:
        """Data ids the metadata on `node_id`'s drive refers to, read over node.proto
        (ListEntries with the cluster secret) from the running node."""
        ids: set[str] = set()
        md = ((SECRET_HEADER, self.secret),)
        with self.channel(node_id) as channel:
            stub = node_pb2_grpc.NodeStub(channel)
            for bucket in buckets:
                after = ""
                while True:
                    page = stub.ListEntries(node_pb2.ListEntriesRequest(
                        drive=0, bucket=bucket, after=after, limit=1000), metadata=md,
                        timeout=30)
                    for item in page.items:
                        ids |= {layout.data_id for v in item.entry.versions
                                for layout in layouts(v)}
                    if len(page.items) < 1000:
                        break
                    after = page.items[-1].name
        return ids

    def assert_shards_at_home(self, objects: int, buckets: Iterable[str] = ()) -> None:
        """Every drive holds exactly one shard file, its home index, of the same `objects`
        data ids: nothing missing, nothing misplaced, nothing orphaned. With `buckets`,
        those ids must also be exactly the ones each drive's metadata refers to."""
        ids = self.shard_ids()
        counts = {n: sum(len(v) for v in d.values()) for n, d in ids.items()}
        assert counts == dict.fromkeys(self.node_ids, objects), (
            f"shard files per drive {counts}, expected {objects} on each")
        for node_id, d in ids.items():
            wrong = {i: idx for i, idx in d.items() if idx != [self.home_index(node_id)]}
            assert not wrong, f"{node_id}: shards that are not its home index: {wrong}"
        reference = set(ids[self.node_ids[0]])
        for node_id, d in ids.items():
            assert set(d) == reference, (
                f"{node_id} holds other data ids than {self.node_ids[0]}: "
                f"extra {sorted(set(d) - reference)}, missing {sorted(reference - set(d))}")
        buckets = list(buckets)
        if buckets:
            for node_id, d in ids.items():
                referenced = self.referenced_data_ids(node_id, buckets)
                assert set(d) == referenced, (
                    f"{node_id}: shard files {sorted(set(d))} but its metadata refers to "
                    f"{sorted(referenced)}")

    def tmp_files(self, node: str | None = None) -> dict[str, list[Path]]:
        ids = [node] if node is not None else self.node_ids
        out: dict[str, list[Path]] = {}
        for node_id in ids:
            files: list[Path] = []
            for d in self.topology.node(node_id).drives:
                if (d / "tmp").exists():
                    files += [f for f in (d / "tmp").iterdir()]
            out[node_id] = sorted(files)
        return out

    # -- operator actions --------------------------------------------------------------

    def heal(self, node_id: str, grace: float = 0.0, timeout: float = 120.0) -> dict[str, Any]:
        """`engine admin heal --json` through one node; the parsed report (+ exit code)."""
        cmd = [sys.executable, "-m", "engine", "admin", "heal", "--endpoint",
               self.endpoint(node_id), "--pending-grace", str(grace), "--json"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=False)
        assert done.returncode in (0, 3), (
            f"heal failed with {done.returncode}: {done.stderr}\n{self.log_tail(node_id)}")
        report = json.loads(done.stdout)
        report["exit_code"] = done.returncode
        return report


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Make (not start) clusters under tmp_path; every process is killed afterwards."""
    made: list[Cluster] = []

    def make(nodes: int = 6, azs: int = 3, **kwargs: Any) -> Cluster:
        c = Cluster(tmp_path / f"cluster{len(made)}", nodes, azs, **kwargs)
        made.append(c)
        return c

    try:
        yield make
    finally:
        for c in made:
            c.close()
        if os.environ.get("ENGINE_SHOW_CLUSTER_LOGS"):
            for c in made:
                for n in c.node_ids:
                    print(f"==== {n}\n{c.log_tail(n, 200)}")


@contextlib.contextmanager
def running(cluster: Cluster) -> Iterator[Cluster]:
    """``cluster`` started with its bucket table ready; every process stopped after (the
    body of each module-scoped cluster fixture)."""
    try:
        cluster.start()
        cluster.wait_buckets_ready()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def cluster(cluster_factory: Callable[..., Cluster]) -> Cluster:
    """A running 6-node, 3-AZ cluster whose bucket table is ready."""
    c = cluster_factory().start()
    c.wait_buckets_ready()
    return c


@pytest.fixture(scope="session")
def shared_cluster_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The processes behind `shared_cluster`, started once."""
    c = Cluster(tmp_path_factory.mktemp("shared-cluster"), nodes=3, azs=3,
                extra_args=SHARED_CLUSTER_ARGS)
    c.topology = dataclasses.replace(c.topology, nodes=tuple(
        dataclasses.replace(n, http_address=f"127.0.0.1:{free_port()}")
        for n in c.topology.nodes))
    c.topology.dump(c.topology_file)
    with running(c):
        yield c


@pytest.fixture
def shared_cluster(shared_cluster_process: Cluster, request: pytest.FixtureRequest
                   ) -> Iterator[Cluster]:
    """A 3-node, 3-AZ cluster with a cache replica per slot and an S3 endpoint per node,
    shared by the tests of every module that only needs names of its own (keys, buckets,
    users, queues) on a 3-node cluster: a cluster start costs several seconds. A test may
    kill nodes: the next one starts them again and waits until the cluster serves as
    planned (resp_nodes.restore). Its users run back to back (pytest_collection_modifyitems)
    and its processes stop after the last one."""
    restore(shared_cluster_process)
    yield shared_cluster_process
    users = [i for i in request.session.items if "shared_cluster" in i.fixturenames]
    if users and users[-1] is request.node:
        shared_cluster_process.close()


@pytest.fixture
def resp_cluster(shared_cluster: Cluster) -> Cluster:
    """`shared_cluster` under its first name (test_redis_py_versions_cluster uses it)."""
    return shared_cluster
