"""`engine cluster up` as a supervisor, with stand-in nodes that only serve gRPC health.

The supervisor runs as a real subprocess so that Ctrl-C (SIGINT) and SIGTERM reach it the
way they would from a terminal; every wait is bounded.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from engine.cli import main
from engine.cli.cluster import prepare_topology, serve_command
from engine.cluster.topology import Topology, TopologyError, generate_local

STAND_IN = '''
import os, signal, sys, threading
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

port, node = sys.argv[1], sys.argv[2]
if node in os.environ.get("STANDIN_FAIL", "").split(","):
    print(f"{node}: failing on purpose", flush=True)
    sys.exit(3)
if node in os.environ.get("STANDIN_IGNORE_TERM", "").split(","):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
server = grpc.server(futures.ThreadPoolExecutor(2))
servicer = health.HealthServicer()
servicer.set("", health_pb2.HealthCheckResponse.SERVING)
health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
server.add_insecure_port(f"127.0.0.1:{port}")
server.start()
print(f"{node}: serving on {port}", flush=True)
threading.Event().wait()
'''

ROW = re.compile(r"^(n\d+)\s+(127\.0\.0\.1:\d+)\s+(az-\d+)\s+(\d+)\s+(\S+)$")


def free_base_port(count: int) -> int:
    """A base port with `count` free gRPC ports and the matching Raft ports (+1000)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 40000)
        try:
            for port in [base + i for i in range(count)] + [base + 1000 + i for i in range(count)]:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range")


@dataclass
class Up:
    """A running `engine cluster up` subprocess and the lines it has printed."""

    proc: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, pattern: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r}; output so far:\n"
                             + "\n".join(self.seen))

    def nodes(self) -> dict[str, tuple[str, str, int]]:
        """node id -> (endpoint, zone, pid), from the table printed once all are healthy."""
        self.expect("Ctrl-C stops every node")
        return {m[1]: (m[2], m[3], int(m[4])) for line in self.seen if (m := ROW.match(line))}

    def finish(self, timeout: float = 20.0) -> tuple[int, str]:
        code = self.proc.wait(timeout)
        while (line := self.lines.get(timeout=5)) is not None:
            self.seen.append(line)
        return code, "\n".join(self.seen)


@pytest.fixture
def cluster_up(tmp_path: Path) -> Iterator[object]:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    started: list[Up] = []

    def start(nodes: int = 3, azs: int = 3, *extra: str, **env: str) -> Up:
        cmd = [sys.executable, "-m", "engine", "cluster", "up", "--nodes", str(nodes),
               "--azs", str(azs), "--data", str(tmp_path / "cluster"),
               "--base-port", str(free_base_port(nodes)), "--start-timeout", "20",
               "--node-command", f"{{python}} {script} {{port}} {{node}}", *extra]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env={**os.environ, **env})
        up = Up(proc)
        started.append(up)
        return up

    yield start
    for up in started:  # never leave a supervisor (or its nodes) behind
        if up.proc.poll() is None:
            children = psutil.Process(up.proc.pid).children(recursive=True)
            up.proc.kill()
            for c in children:
                c.kill()
            up.proc.wait(10)


def assert_all_gone(pids: list[int], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if psutil.pid_exists(p)
                 and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return
        assert time.monotonic() < deadline, f"node processes still alive: {alive}"
        time.sleep(0.05)


def test_starts_every_node_prints_the_table_and_stops_on_ctrl_c(cluster_up, tmp_path: Path):
    up = cluster_up(6, 3)
    nodes = up.nodes()
    assert sorted(nodes) == [f"n{i}" for i in range(1, 7)]
    assert [nodes[f"n{i}"][1] for i in range(1, 7)] == ["az-1", "az-2", "az-3"] * 2
    assert any("1 erasure set of 4+2" in line for line in up.seen)
    topology = Topology.load(tmp_path / "cluster" / "cluster.toml")
    assert {n.id: n.address for n in topology.nodes} == {k: v[0] for k, v in nodes.items()}
    pids = [pid for _, _, pid in nodes.values()]
    assert all(psutil.pid_exists(p) for p in pids)
    assert (tmp_path / "cluster" / "logs" / "n4.log").read_text().count("n4: serving") == 1

    up.proc.send_signal(signal.SIGINT)
    code, out = up.finish()
    assert code == 0, out
    assert "all nodes stopped" in out
    assert_all_gone(pids)


def test_sigterm_escalates_to_sigkill_for_a_node_that_ignores_it(cluster_up):
    up = cluster_up(3, 3, "--stop-timeout", "0.5", STANDIN_IGNORE_TERM="n2")
    pids = [pid for _, _, pid in up.nodes().values()]
    up.proc.send_signal(signal.SIGTERM)
    code, out = up.finish()
    assert code == 0, out
    assert "node n2 ignored SIGTERM for 0.5s: SIGKILL" in out
    assert_all_gone(pids)


def test_a_dying_node_stops_the_rest_and_exits_1(cluster_up):
    up = cluster_up(3, 3)
    nodes = up.nodes()
    os.kill(nodes["n2"][2], signal.SIGKILL)
    code, out = up.finish()
    assert code == 1, out
    assert re.search(r"node n2 \(az-2, pid \d+\) killed by SIGKILL", out), out
    assert_all_gone([pid for _, _, pid in nodes.values()])


def test_keep_going_reports_a_death_and_keeps_the_others(cluster_up):
    up = cluster_up(3, 3, "--keep-going")
    nodes = up.nodes()
    os.kill(nodes["n3"][2], signal.SIGKILL)
    up.expect(r"node n3 .* killed by SIGKILL")
    assert psutil.pid_exists(nodes["n1"][2]) and up.proc.poll() is None
    up.proc.send_signal(signal.SIGINT)
    code, out = up.finish()
    assert code == 0, out
    assert_all_gone([pid for _, _, pid in nodes.values()])


def test_a_node_that_fails_to_start_is_named_with_its_log(cluster_up):
    up = cluster_up(3, 3, STANDIN_FAIL="n3")
    code, out = up.finish()
    assert code == 1, out
    assert re.search(r"node n3 \(az-3, pid \d+\) exited with code 3; log: \S+n3\.log", out)
    assert "| n3: failing on purpose" in out
    assert "Ctrl-C stops every node" not in out


def args(data: Path, **over: object) -> argparse.Namespace:
    ns = argparse.Namespace(cluster=None, data=data, nodes=None, azs=None, base_port=None,
                            drives_per_node=None, az_latency_ms=None)
    for k, v in over.items():
        setattr(ns, k, v)
    return ns


def test_topology_is_reused_so_data_survives_restarts(tmp_path: Path) -> None:
    first = prepare_topology(args(tmp_path, nodes=6, azs=3))
    assert first.path == (tmp_path / "cluster.toml").resolve()
    assert [n.zone for n in first.nodes] == ["az-1", "az-2", "az-3"] * 2
    again = prepare_topology(args(tmp_path, nodes=6, azs=3, base_port=7001))
    assert again.secret == first.secret and again.nodes == first.nodes
    assert prepare_topology(args(tmp_path)).secret == first.secret  # no flags: reuse as is
    slower = prepare_topology(args(tmp_path, nodes=6, az_latency_ms=2.0))
    assert slower.az_latency_ms == 2.0 and slower.secret == first.secret
    assert Topology.load(tmp_path / "cluster.toml").az_latency_ms == 2.0
    with pytest.raises(TopologyError, match="describes another cluster"):
        prepare_topology(args(tmp_path, nodes=9, azs=3))
    with pytest.raises(TopologyError, match="describes another cluster"):
        prepare_topology(args(tmp_path, nodes=6, azs=3, drives_per_node=2))


def test_cluster_file_excludes_shape_flags(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    prepare_topology(args(tmp_path / "x", nodes=3, azs=3)).dump(file)
    assert prepare_topology(args(tmp_path, cluster=file)).path == file.resolve()
    with pytest.raises(TopologyError, match="drop --nodes"):
        prepare_topology(args(tmp_path, cluster=file, nodes=3))
    with pytest.raises(TopologyError, match="edit the file instead"):
        prepare_topology(args(tmp_path, cluster=file, az_latency_ms=1.0))


def test_port_in_use_fails_before_starting_anything(tmp_path: Path, capsys) -> None:
    base = free_base_port(3)
    with socket.socket() as s:
        s.bind(("127.0.0.1", base + 1))
        s.listen()
        code = main(["cluster", "up", "--nodes", "3", "--azs", "3", "--data", str(tmp_path),
                     "--base-port", str(base), "--node-command", "false"])
    assert code == 1
    err = capsys.readouterr().err
    assert f"node n2: cannot listen on 127.0.0.1:{base + 1}" in err
    assert not (tmp_path / "logs").exists()


def test_a_node_command_that_cannot_run_is_reported(tmp_path: Path, capsys) -> None:
    code = main(["cluster", "up", "--nodes", "3", "--azs", "3", "--data", str(tmp_path),
                 "--base-port", str(free_base_port(3)),
                 "--node-command", str(tmp_path / "no-such-program")])
    assert code == 1
    assert "error: cannot start node n1:" in capsys.readouterr().out


def test_no_az_tolerant_plan_stops_before_starting_nodes(tmp_path: Path, capsys) -> None:
    code = main(["cluster", "up", "--nodes", "4", "--azs", "2", "--data", str(tmp_path),
                 "--base-port", str(free_base_port(4)), "--node-command", "false"])
    assert code == 1
    err = capsys.readouterr().err
    assert "fewer than half" in err and "--allow-reduced-tolerance accepts" in err
    assert not (tmp_path / "logs").exists()


def test_reduced_tolerance_is_passed_on_to_the_nodes(cluster_up):
    up = cluster_up(4, 2, "--allow-reduced-tolerance")
    up.nodes()
    assert any("1 erasure set of 3+1 (4 drives each); survives losing one node" in line
               for line in up.seen)
    up.proc.send_signal(signal.SIGINT)
    assert up.finish()[0] == 0


def test_serve_command() -> None:
    t = generate_local(3, 3, Path("/tmp/c"), 7001)
    t = dataclasses.replace(t, path=Path("/tmp/c/cluster.toml"))
    assert serve_command()(t, t.nodes[1]) == [
        sys.executable, "-m", "engine", "serve", "--cluster", "/tmp/c/cluster.toml",
        "--node", "n2"]
    assert serve_command(True)(t, t.nodes[0])[-1] == "--allow-reduced-tolerance"


def test_bad_shape_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["cluster", "up", "--nodes", "2", "--azs", "3", "--data", str(tmp_path)]) == 1
    assert "azs must be between 1 and the node count (2)" in capsys.readouterr().err


def test_plan_command(tmp_path: Path, capsys) -> None:
    repo_example = Path(__file__).parents[2] / "deploy" / "local" / "cluster.toml"
    assert main(["cluster", "plan", str(repo_example)]) == 0
    out = capsys.readouterr().out
    assert "1 erasure set of 4+2 (6 drives each); survives losing one AZ" in out
    assert "n1/d0@az-1 n2/d0@az-2 n3/d0@az-3 n4/d0@az-1 n5/d0@az-2 n6/d0@az-3" in out
    two_azs = tmp_path / "two.toml"
    prepare_topology(args(tmp_path / "x", nodes=4, azs=2)).dump(two_azs)
    assert main(["cluster", "plan", str(two_azs)]) == 1
    assert "fewer than half" in capsys.readouterr().err
    assert main(["cluster", "plan", "--allow-reduced-tolerance", str(two_azs)]) == 0
    assert "3+1" in capsys.readouterr().out
