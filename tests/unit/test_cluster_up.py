"""`engine cluster up` as a supervisor, with stand-in nodes that only serve gRPC health.

The supervisor runs as a real subprocess so that Ctrl-C (SIGINT) and SIGTERM reach it the
way they would from a terminal; every wait is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
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

from engine.cli import build_parser, main
from engine.cli.cluster import check_tls, prepare_topology, serve_command
from engine.cli.pdeathsig import die_with_parent
from engine.cli.supervisor import (
    MAX_LINE,
    START_MARKER,
    Backoff,
    OnDeath,
    death_report,
    describe_exit,
    format_duration,
    last_run_lines,
    read_log_tail,
)
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
    kill_stand_ins(tmp_path / "cluster" / "logs", str(script))


def kill_stand_ins(logs: Path, script: str) -> None:
    """Kill the nodes named by pid files left behind (a supervisor that was SIGKILLed
    leaves them), checking each one's command line first: a pid may have been reused."""
    for pid_file in logs.glob("*.pid"):
        with contextlib.suppress(ValueError, psutil.Error):
            proc = psutil.Process(int(pid_file.read_text()))
            if script in proc.cmdline():
                proc.kill()


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
    n1_data = topology.node("n1").drives[0].parent
    assert ("root credentials (every node has a copy): export "
            f"AWS_SHARED_CREDENTIALS_FILE={n1_data / 'root-credentials'}") in up.seen

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


def test_exit_on_failure_stops_the_rest_and_exits_1(cluster_up):
    up = cluster_up(3, 3, "--exit-on-failure")
    nodes = up.nodes()
    os.kill(nodes["n2"][2], signal.SIGKILL)
    code, out = up.finish()
    assert code == 1, out
    assert re.search(r"node n2 \(az-2, pid \d+\) killed by SIGKILL", out), out
    assert "--exit-on-failure: stopping every node" in out
    assert_all_gone([pid for _, _, pid in nodes.values()])


def test_a_death_is_reported_with_its_log_and_the_others_keep_running(cluster_up, tmp_path):
    up = cluster_up(3, 3)
    nodes = up.nodes()
    logs = tmp_path / "cluster" / "logs"
    assert {n: int((logs / f"{n}.pid").read_text()) for n in nodes} == {
        n: pid for n, (_, _, pid) in nodes.items()}
    os.kill(nodes["n3"][2], signal.SIGKILL)
    up.expect(rf"node n3 \(az-3, pid {nodes['n3'][2]}\) killed by SIGKILL after [\d.]+s; "
              r"log: \S+n3\.log")
    assert up.expect(r"^  \| ") == "  | n3: serving on " + nodes["n3"][0].split(":")[1]
    up.expect(r"n3 stays down \(2 of 3 nodes running")
    assert not (logs / "n3.pid").exists()
    assert psutil.pid_exists(nodes["n1"][2]) and up.proc.poll() is None
    up.proc.send_signal(signal.SIGINT)
    code, out = up.finish()
    assert code == 0, out
    assert_all_gone([pid for _, _, pid in nodes.values()])
    assert not list(logs.glob("*.pid"))


def test_the_supervisor_exits_1_once_every_node_has_died(cluster_up):
    up = cluster_up(3, 3, "--keep-going")  # the old flag: now the default, still accepted
    nodes = up.nodes()
    for _, _, pid in nodes.values():
        os.kill(pid, signal.SIGKILL)
    code, out = up.finish()
    assert code == 1, out
    assert len(re.findall(r"killed by SIGKILL", out)) == 3
    assert out.endswith("every node has died: nothing left to supervise")


def test_restart_brings_a_dead_node_back(cluster_up, tmp_path):
    up = cluster_up(3, 3, "--restart")
    nodes = up.nodes()
    assert any("restarted after 1s, doubling to 30s" in line for line in up.seen)
    os.kill(nodes["n2"][2], signal.SIGTERM)
    up.expect(r"node n2 \(az-2, pid \d+\) killed by SIGTERM")
    up.expect(r"^restarting n2 in 1s$")
    pid = int(up.expect(r"node n2 \(az-2\) restarted as pid \d+ \(restart 1\)").split()[-3])
    up.expect(rf"node n2 is serving again \(pid {pid}\)")
    assert int((tmp_path / "cluster" / "logs" / "n2.pid").read_text()) == pid
    up.proc.send_signal(signal.SIGTERM)
    code, out = up.finish()
    assert code == 0, out
    assert_all_gone([pid, nodes["n1"][2], nodes["n3"][2]])


def test_a_node_that_keeps_crashing_is_restarted_with_growing_delays(cluster_up, tmp_path):
    started = time.monotonic()
    up = cluster_up(3, 3, "--restart", "--start-timeout", "4", STANDIN_FAIL="n3")
    code, out = up.finish()
    assert code == 1, out
    assert time.monotonic() - started >= 4
    assert "restarting n3 in 1s" in out and "restarting n3 in 2s" in out
    assert "error: not healthy after 4s: n3" in out
    log = (tmp_path / "cluster" / "logs" / "n3.log").read_text()
    assert 2 <= log.count("n3: failing on purpose") <= 3  # 0 s, ~1 s, ~3 s: no spinning


def test_sigkill_of_the_supervisor_takes_every_node_along(cluster_up):
    up = cluster_up(3, 3)
    pids = [pid for _, _, pid in up.nodes().values()]
    up.proc.kill()
    up.proc.wait(10)
    assert_all_gone(pids)


def test_a_node_that_fails_to_start_is_named_with_its_log(cluster_up):
    up = cluster_up(3, 3, STANDIN_FAIL="n3")
    code, out = up.finish()
    assert code == 1, out
    assert re.search(r"node n3 \(az-3, pid \d+\) exited with code 3 after [\d.]+s; "
                     r"log: \S+n3\.log", out)
    assert "| n3: failing on purpose" in out
    assert "a node died before the cluster was up: stopping every node" in out
    assert "Ctrl-C stops every node" not in out


def args(data: Path, **over: object) -> argparse.Namespace:
    ns = argparse.Namespace(cluster=None, data=data, nodes=None, azs=None, base_port=None,
                            drives_per_node=None, az_latency_ms=None, tls=False)
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


def test_tls_is_made_once_kept_without_the_flag_and_added_to_a_plain_cluster(
        tmp_path: Path) -> None:
    tls = prepare_topology(args(tmp_path / "a", nodes=3, azs=3, tls=True))
    assert tls.tls_ca == (tmp_path / "a" / "tls" / "ca.pem").resolve()
    check_tls(tls, generated=True)  # what `cluster up` does before starting the nodes
    made = {p.name: p.read_bytes() for p in (tmp_path / "a" / "tls").iterdir()}
    assert sorted(made) == ["ca-key.pem", "ca.pem", "n1-key.pem", "n1.pem", "n2-key.pem",
                            "n2.pem", "n3-key.pem", "n3.pem"]
    again = prepare_topology(args(tmp_path / "a"))  # no --tls: a TLS cluster stays one
    check_tls(again, generated=True)
    assert again.nodes == tls.nodes and again.tls_ca == tls.tls_ca
    assert {p.name: p.read_bytes() for p in (tmp_path / "a" / "tls").iterdir()} == made

    plain = prepare_topology(args(tmp_path / "b", nodes=3, azs=3))
    assert plain.tls_ca is None
    upgraded = prepare_topology(args(tmp_path / "b", nodes=3, azs=3, tls=True))
    assert upgraded.secret == plain.secret and upgraded.tls_ca is not None
    assert [n.peer_address for n in upgraded.nodes] == [
        "127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"]
    assert Topology.load(tmp_path / "b" / "cluster.toml").tls_ca == upgraded.tls_ca

    file = tmp_path / "operator.toml"
    plain.dump(file)
    with pytest.raises(TopologyError, match=r"operator\.toml has no \[tls\] table"):
        prepare_topology(args(tmp_path, cluster=file, tls=True))
    Topology.load(tmp_path / "a" / "cluster.toml").dump(file)
    (tmp_path / "a" / "tls" / "n2.pem").unlink()
    with pytest.raises(TopologyError, match=r"cannot read certificate .*n2\.pem: No such file"):
        check_tls(prepare_topology(args(tmp_path, cluster=file)), generated=False)


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
    assert "error: cannot start node n1:" in capsys.readouterr().err


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
    assert serve_command(eviction_policy="volatile-ttl")(t, t.nodes[0])[-2:] == [
        "--cache-eviction-policy", "volatile-ttl"]


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


# -- the pure parts: backoff, death reports, flags ---------------------------------------


def test_backoff_doubles_to_the_cap_and_resets_after_a_stable_run() -> None:
    backoff = Backoff(first=1.0, cap=30.0, stable=60.0)
    delays, failures = [], 0
    for _ in range(8):
        delay, failures = backoff.after_death(failures, uptime=0.5)
        delays.append(delay)
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.after_death(failures, uptime=59.0) == (30, 9)  # not up long enough
    assert backoff.after_death(failures, uptime=60.0) == (1, 1)  # stayed up: start over
    assert backoff.after_death(10_000, uptime=0.0)[0] == 30  # no overflow after days


def test_describe_exit_and_durations() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(-signal.SIGSEGV) == "killed by SIGSEGV"
    assert describe_exit(-40) == "killed by signal 40"  # a real-time signal has no name
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(3) == "exited with code 3"
    assert [format_duration(s) for s in (0.04, 59.94, 61, 3725)] == [
        "0.0s", "59.9s", "1m01s", "1h02m05s"]


def test_the_log_tail_starts_at_the_latest_start() -> None:
    old_run = "".join(f"old {i}\n" for i in range(50))
    text = (f"{START_MARKER}n1 at 2024-01-01 ---\n{old_run}"
            f"{START_MARKER}n1 at 2024-01-02 ---\nnew 1\n\n  \nnew 2\n" + "x" * 1000)
    assert last_run_lines(text) == ["new 1", "new 2", "x" * MAX_LINE + "..."]
    assert last_run_lines(old_run) == [f"old {i}" for i in range(30, 50)]
    assert last_run_lines(old_run, lines=2) == ["old 48", "old 49"]


def test_read_log_tail_reads_only_the_end_of_a_big_log(tmp_path: Path) -> None:
    log = tmp_path / "n1.log"
    log.write_text("".join(f"line {i:07d}\n" for i in range(200_000)))  # 2.6 MB, no marker
    assert read_log_tail(log) == [f"line {i:07d}" for i in range(199_980, 200_000)]
    assert read_log_tail(tmp_path / "missing.log") == []


def test_death_report() -> None:
    spec = generate_local(3, 3, Path("/c"), 7001).nodes[1]
    log = Path("/c/logs/n2.log")
    assert death_report(spec, 41, -9, 75.0, log, ["a", "b"]) == [
        "node n2 (az-2, pid 41) killed by SIGKILL after 1m15s; log: /c/logs/n2.log",
        "  | a", "  | b"]
    assert death_report(spec, 41, 1, 0.2, log, [])[1] == (
        "  (its log has nothing since it started)")


@pytest.mark.parametrize("flags, policy", [
    ([], OnDeath.REPORT),
    (["--keep-going"], OnDeath.REPORT),
    (["--restart"], OnDeath.RESTART),
    (["--exit-on-failure"], OnDeath.EXIT),
])
def test_what_to_do_when_a_node_dies_is_one_flag(flags: list[str], policy: OnDeath) -> None:
    assert build_parser().parse_args(["cluster", "up", *flags]).on_death is policy


def test_restart_and_exit_on_failure_exclude_each_other(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["cluster", "up", "--restart", "--exit-on-failure"])
    assert exc.value.code == 2
    assert "not allowed with argument --restart" in capsys.readouterr().err


def test_only_the_main_thread_ties_children_to_itself() -> None:
    """PDEATHSIG follows the forking thread: a worker's exit would kill the nodes."""
    assert die_with_parent() is not None
    hooks: list[object] = []
    worker = threading.Thread(target=lambda: hooks.append(die_with_parent()))
    worker.start()
    worker.join()
    assert hooks == [None]


TIED = '''
import os, subprocess, sys
from engine.cli.pdeathsig import popen_tied
child = popen_tied([sys.executable, "-c", "import time; time.sleep(60)"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(child.pid, flush=True)
os.kill(os.getpid(), 9)
'''


def test_a_tied_child_dies_with_a_sigkilled_parent() -> None:
    parent = subprocess.run([sys.executable, "-c", TIED], capture_output=True, text=True,
                            timeout=30)
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    child = int(parent.stdout)
    try:
        assert_all_gone([child])
    finally:  # never leave the sleeper behind, even when the assertion fails
        with contextlib.suppress(psutil.Error):
            if "time.sleep(60)" in " ".join(psutil.Process(child).cmdline()):
                psutil.Process(child).kill()
