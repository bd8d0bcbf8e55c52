"""`engine cluster up` supervising real `engine serve` nodes, killed with real signals.

A node killed with SIGKILL is reported (signal and log tail on stderr) while the others
keep serving; --restart brings it back; --exit-on-failure stops everything; and a
supervisor that is itself SIGKILLed (so is `engine bench --local-cluster`) takes its nodes
along. Node pids come from the supervisor's pid files (`DIR/logs/<node>.pid`).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from health import wait_healthy  # tests/health.py

from engine.cluster.topology import Topology

from .conftest import free_base_port, wait_until

START_TIMEOUT = 120.0


@dataclass
class Supervised:
    """An `engine cluster up` subprocess, its stdout and stderr files, its cluster dir."""

    proc: subprocess.Popen[bytes]
    data: Path
    stdout: Path
    stderr: Path

    @property
    def topology(self) -> Topology:
        return Topology.load(self.data / "cluster.toml")

    def pids(self) -> dict[str, int]:
        """node id -> pid of every node the pid files say is running."""
        return {f.stem: int(f.read_text()) for f in (self.data / "logs").glob("*.pid")}

    def err(self) -> str:
        return self.stderr.read_text(errors="replace")

    def out(self) -> str:
        return self.stdout.read_text(errors="replace")

    def wait_err(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        match: re.Match[str] = wait_until(lambda: re.search(pattern, self.err(), re.M),
                                          timeout, f"{pattern!r} on stderr")
        return match

    def wait_up(self) -> dict[str, int]:
        wait_until(lambda: "Ctrl-C stops every node" in self.out()
                   or self.proc.poll() is not None, START_TIMEOUT, "the cluster to be up")
        assert self.proc.poll() is None, self.out() + self.err()
        return self.pids()


def node_processes(data: Path, pids: Iterator[int] | list[int]) -> list[psutil.Process]:
    """The processes among `pids` that are still nodes of the cluster in `data`: a pid
    may have been reused by the time a test looks."""
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE and str(data) in " ".join(proc.cmdline()):
                found.append(proc)
    return found


def assert_all_gone(data: Path, pids: list[int], timeout: float = 15.0) -> None:
    wait_until(lambda: not node_processes(data, pids), timeout, f"nodes {pids} to be gone")


@pytest.fixture
def cluster_up(tmp_path: Path) -> Iterator[Callable[..., Supervised]]:
    started: list[Supervised] = []
    seen: set[int] = set()

    def start(*flags: str) -> Supervised:
        data = tmp_path / f"cluster-{len(started)}"
        out, err = tmp_path / f"up-{len(started)}.out", tmp_path / f"up-{len(started)}.err"
        cmd = [sys.executable, "-m", "engine", "cluster", "up", "--nodes", "3", "--azs", "3",
               "--data", str(data), "--base-port", str(free_base_port(3)),
               "--start-timeout", str(START_TIMEOUT), *flags]
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
        up = Supervised(proc, data, out, err)
        started.append(up)
        return up

    def remember(up: Supervised) -> None:
        with contextlib.suppress(OSError, ValueError):
            seen.update(up.pids().values())

    yield start
    for up in started:  # the supervisor first (it stops its nodes), then any node left
        remember(up)
        if up.proc.poll() is None:
            up.proc.send_signal(signal.SIGTERM)
            try:
                up.proc.wait(30)
            except subprocess.TimeoutExpired:
                up.proc.kill()
                up.proc.wait(10)
        remember(up)
        for proc in node_processes(up.data, list(seen)):
            proc.kill()


def test_a_killed_node_is_reported_and_the_others_keep_serving(cluster_up):
    up = cluster_up()
    pids = up.wait_up()
    endpoints = {n.id: n.address for n in up.topology.nodes}
    assert sorted(pids) == ["n1", "n2", "n3"]
    for node, pid in pids.items():  # the pid files agree with the table
        assert re.search(rf"^{node}\s+{endpoints[node]}\s+az-\d\s+{pid}\s", up.out(), re.M)
    resp = ", ".join(f"{n.redis_address} ({n.id})" for n in up.topology.nodes)
    assert f"RESP (Redis) endpoints (redis-cli -c, redis-py RedisCluster): {resp}" in up.out()

    psutil.Process(pids["n2"]).send_signal(signal.SIGKILL)
    up.wait_err(rf"^node n2 \(az-2, pid {pids['n2']}\) killed by SIGKILL after \S+; "
                rf"log: \S+/logs/n2\.log$")
    up.wait_err(r"^n2 stays down \(2 of 3 nodes running")
    report = up.err().split("killed by SIGKILL", 1)[1].splitlines()[1:]
    tail = [line[4:] for line in report if line.startswith("  | ")]
    assert 1 <= len(tail) <= 20, report
    logged = (up.data / "logs" / "n2.log").read_text(errors="replace")
    assert all(line.removesuffix("...") in logged for line in tail)

    for node in ("n1", "n3"):
        wait_healthy(endpoints[node], 10, None)
    assert up.proc.poll() is None
    assert sorted(up.pids()) == ["n1", "n3"]

    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(60) == 0, up.err()
    assert "all nodes stopped" in up.out()
    assert_all_gone(up.data, list(pids.values()))


def test_restart_brings_the_node_back(cluster_up):
    up = cluster_up("--restart")
    pids = up.wait_up()
    psutil.Process(pids["n1"]).send_signal(signal.SIGKILL)
    up.wait_err(rf"^node n1 \(az-1, pid {pids['n1']}\) killed by SIGKILL")
    up.wait_err(r"^restarting n1 in 1s$")
    new_pid = wait_until(lambda: up.pids().get("n1", pids["n1"]) != pids["n1"]
                         and up.pids()["n1"], 30, "a new pid file for n1")
    up.wait_err(rf"^node n1 \(az-1\) restarted as pid {new_pid} \(restart 1\)$")
    wait_healthy(up.topology.node("n1").address, 60, None)
    up.wait_err(rf"^node n1 is serving again \(pid {new_pid}\)$")
    assert up.proc.poll() is None

    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(60) == 0, up.err()
    assert_all_gone(up.data, [new_pid, *pids.values()])


def test_exit_on_failure_stops_every_node_and_exits_1(cluster_up):
    up = cluster_up("--exit-on-failure")
    pids = up.wait_up()
    psutil.Process(pids["n3"]).send_signal(signal.SIGKILL)
    assert up.proc.wait(60) == 1, up.err()
    assert re.search(rf"^node n3 \(az-3, pid {pids['n3']}\) killed by SIGKILL", up.err(), re.M)
    assert "--exit-on-failure: stopping every node" in up.err()
    assert_all_gone(up.data, list(pids.values()), timeout=5)
    assert up.pids() == {}


def test_a_sigkilled_supervisor_takes_its_nodes_along(cluster_up):
    up = cluster_up()
    pids = up.wait_up()
    up.proc.kill()
    up.proc.wait(10)
    assert_all_gone(up.data, list(pids.values()))


def test_a_sigkilled_bench_takes_its_local_cluster_along(tmp_path):
    err = tmp_path / "bench.err"
    with err.open("wb") as e:
        bench = subprocess.Popen(
            [sys.executable, "-m", "engine", "bench", "mixed", "--local-cluster", "3x3",
             "--duration", "300", "--warmup", "0", "--no-baseline"],
            stdout=subprocess.DEVNULL, stderr=e, stdin=subprocess.DEVNULL)
    root: Path | None = None
    spawned: list[psutil.Process] = []
    try:
        found = wait_until(lambda: re.search(r"from (\S+)/cluster\.toml", err.read_text()),
                           60, "the bench to start its cluster")
        root = Path(found.group(1))
        pids = wait_until(lambda: len(list((root / "logs").glob("*.pid"))) == 3 and [
            int(f.read_text()) for f in (root / "logs").glob("*.pid")], 60, "3 pid files")
        spawned = psutil.Process(bench.pid).children(recursive=True)
        bench.kill()
        bench.wait(10)
        assert_all_gone(root, pids)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait(10)
        for proc in spawned:  # whatever the bench had started, should the test fail
            with contextlib.suppress(psutil.Error):
                proc.kill()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)  # the bench had no chance to
