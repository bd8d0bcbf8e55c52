"""The process supervisor behind `engine cluster up` and `engine bench --local-cluster`.

One process per node, each in its own process group (a terminal's Ctrl-C reaches only
the supervisor, which then stops the nodes in order instead of racing their own shutdown)
and tied to the supervisor by a parent-death signal (a `kill -9` of the supervisor takes
its nodes along instead of leaving them holding their ports). A node that dies is
reported on stderr with the end of its log; what follows is the OnDeath policy. SIGINT or
SIGTERM stop every node: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import enum
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from engine.cli.pdeathsig import popen_tied
from engine.cluster.layout import SetLayout, describe
from engine.cluster.topology import NodeSpec, Topology

POLL = 0.1  # seconds between liveness checks: bounds how late a death or Ctrl-C is noticed
HEALTH_TIMEOUT = 0.5
LOG_TAIL_LINES = 20
LOG_TAIL_BYTES = 64 * 1024
MAX_LINE = 400  # a log line longer than this is cut in a death report
START_MARKER = "--- engine cluster up: starting "
# a node that is still starting refuses connections; retry soon (gRPC's default grows to 120 s)
CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 1000)]

NodeCommand = Callable[[Topology, NodeSpec], list[str]]


class OnDeath(enum.Enum):
    """What the supervisor does after reporting that a node died."""

    REPORT = "report"  # the others keep running; exit 1 once none is left
    RESTART = "restart"  # start it again after a backoff (--restart)
    EXIT = "exit"  # stop every node and exit 1 (--exit-on-failure)


@dataclass(frozen=True)
class Backoff:
    """Restart delays: `first` seconds, doubling up to `cap`, so a node that crashes as it
    starts costs one start per `cap` seconds, not a spinning CPU. A node that stayed up
    `stable` seconds before dying starts again from `first`."""

    first: float = 1.0
    cap: float = 30.0
    stable: float = 60.0

    def after_death(self, failures: int, uptime: float) -> tuple[float, int]:
        """(seconds to wait, quick deaths in a row now) for a node that died after `uptime`
        seconds, having died quickly `failures` times in a row before."""
        if uptime >= self.stable:
            failures = 0
        return min(self.cap, self.first * 2.0 ** min(failures, 32)), failures + 1


def describe_exit(returncode: int) -> str:
    """Popen's returncode in words: negative numbers are signals."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:  # e.g. a real-time signal without a name
        name = f"signal {-returncode}"
    return f"killed by {name}"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def last_run_lines(text: str, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last `lines` non-blank lines after the latest start marker (a node's log is
    appended across runs, and an earlier run's lines would mislead), each cut to MAX_LINE."""
    marker = text.rfind(START_MARKER)
    if marker >= 0:
        text = text[marker:].partition("\n")[2]
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return [line if len(line) <= MAX_LINE else line[:MAX_LINE] + "..." for line in kept]


def read_log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """`last_run_lines` of the end of a log file; [] if it cannot be read."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - LOG_TAIL_BYTES))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    if size > LOG_TAIL_BYTES:  # the first line read is cut
        text = text.partition("\n")[2]
    return last_run_lines(text, lines)


def death_report(spec: NodeSpec, pid: int, returncode: int, uptime: float, log: Path,
                 tail: Sequence[str]) -> list[str]:
    """The lines that tell a node's death: who, where, how, and what it said last."""
    head = (f"node {spec.id} ({spec.zone}, pid {pid}) {describe_exit(returncode)} after "
            f"{format_duration(uptime)}; log: {log}")
    if not tail:
        return [head, "  (its log has nothing since it started)"]
    return [head, *(f"  | {line}" for line in tail)]


def print_plan(sets: Sequence[SetLayout], out: TextIO) -> None:
    out.write(f"erasure sets: {describe(sets)}\n")
    for s in sets:
        drives = " ".join(f"{d.node_id}/d{d.drive_index}@{d.zone}" for d in s.drives)
        out.write(f"  set {s.index}: {s.data_shards}+{s.parity_shards}  {drives}\n")


@dataclass
class NodeProcess:
    """A node's current (or last) process, and what restarting it needs to remember."""

    spec: NodeSpec
    proc: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)
    reported: bool = False  # its death has been told and handled
    failures: int = 0  # quick deaths in a row: the backoff's exponent
    restarts: int = 0
    restart_at: float | None = None  # monotonic time RESTART brings it back
    serving: bool = False  # answered SERVING since its latest start

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


class Supervisor:
    """Starts every node of a topology, watches them, and stops them all on the way out.

    Progress goes to `out`; deaths, restarts and errors to `err` (default: `out`). Each
    running node has a pid file, `log_dir/<node>.pid`, for scripts and tests.
    """

    def __init__(self, topology: Topology, sets: Sequence[SetLayout], command: NodeCommand,
                 log_dir: Path, out: TextIO, stop_timeout: float = 10.0, *,
                 err: TextIO | None = None, on_death: OnDeath = OnDeath.REPORT,
                 backoff: Backoff | None = None) -> None:
        self.topology = topology
        self.sets = sets
        self.command = command
        self.log_dir = log_dir
        self.out = out
        self.err = err or out
        self.stop_timeout = stop_timeout
        self.on_death = on_death
        self.backoff = backoff or Backoff()
        self.nodes: list[NodeProcess] = []
        self._channels: dict[str, grpc.Channel] = {}
        self._credentials: grpc.ChannelCredentials | None = None  # a TLS cluster's CA
        self._stop_signal: int | None = None  # a flag: Event.set in a handler can deadlock

    def run(self, start_timeout: float) -> int:
        """0 after Ctrl-C or SIGTERM; 1 if the cluster never came up, a node died under
        EXIT, or no node is left under REPORT. Call it from the main thread."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            try:
                self.start()
            except OSError as exc:  # e.g. a node command that does not exist
                node_id = self.topology.nodes[len(self.nodes)].id
                self.warn(f"error: cannot start node {node_id}: {exc}")
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

    def pid_file(self, spec: NodeSpec) -> Path:
        return self.log_dir / f"{spec.id}.pid"

    def start(self) -> None:
        """Start every node (from the main thread: the parent-death signal needs it)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.emit(f"starting {len(self.topology.nodes)} nodes of cluster "
                  f"{self.topology.name!r} from {self.topology.path}; logs in {self.log_dir}")
        for spec in self.topology.nodes:
            log = self.log_dir / f"{spec.id}.log"
            self.nodes.append(NodeProcess(spec, self._spawn(spec, log), log))

    def _spawn(self, spec: NodeSpec, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as f:
            f.write(f"{START_MARKER}{spec.id} at {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n"
                    .encode())
            f.flush()
            proc = popen_tied(self.command(self.topology, spec), stdin=subprocess.DEVNULL,
                              stdout=f, stderr=subprocess.STDOUT, process_group=0)
        tmp = self.pid_file(spec).with_suffix(".pid.tmp")
        tmp.write_text(f"{proc.pid}\n")
        tmp.replace(self.pid_file(spec))  # a reader never sees half a pid
        return proc

    def wait_healthy(self, timeout: float) -> bool:
        """True once every node's gRPC health check says SERVING; False on a signal, at the
        deadline, or when a node dies (unless RESTART, which starts it again meanwhile)."""
        deadline = time.monotonic() + timeout
        pending = list(self.nodes)
        while pending:
            if self._stop_signal is not None or self._handle_deaths(starting=True):
                return False
            self._restart_due()
            for n in pending:
                n.serving = n.alive and self._serving(n)
            pending = [n for n in pending if not n.serving]
            if pending and time.monotonic() > deadline:
                names = ", ".join(n.spec.id for n in pending)
                self.warn(f"error: not healthy after {timeout:g}s: {names}; see their logs "
                          f"in {self.log_dir}")
                return False
            if pending:
                time.sleep(POLL)
        return True

    def watch(self) -> int:
        """Until SIGINT or SIGTERM (0), a death under EXIT, or no node left under REPORT (1)."""
        while self._stop_signal is None:
            if self._handle_deaths(starting=False):
                return 1
            if self.on_death is OnDeath.RESTART:
                self._restart_due()
                for n in self.nodes:
                    if not n.serving and n.alive and self._serving(n):
                        n.serving = True
                        self.warn(f"node {n.spec.id} is serving again (pid {n.proc.pid})")
            elif not any(n.alive for n in self.nodes):
                self.warn("every node has died: nothing left to supervise")
                return 1
            time.sleep(POLL)
        self.emit(f"{signal.Signals(self._stop_signal).name}: stopping the cluster")
        return 0

    def _handle_deaths(self, starting: bool) -> bool:
        """Report each node that died since the last call and apply the policy. True if the
        supervisor must stop: under EXIT, or while starting unless under RESTART."""
        now = time.monotonic()
        must_stop = False
        for n in self.nodes:
            if n.reported or n.alive:
                continue
            n.reported, n.serving = True, False
            self.pid_file(n.spec).unlink(missing_ok=True)
            uptime = now - n.started
            for line in death_report(n.spec, n.proc.pid, n.proc.returncode, uptime, n.log,
                                     read_log_tail(n.log)):
                self.warn(line)
            if self.on_death is OnDeath.RESTART:
                delay, n.failures = self.backoff.after_death(n.failures, uptime)
                n.restart_at = now + delay
                self.warn(f"restarting {n.spec.id} in {delay:g}s")
            elif self.on_death is OnDeath.EXIT or starting:
                must_stop = True
            else:
                left = sum(m.alive for m in self.nodes)
                self.warn(f"{n.spec.id} stays down ({left} of {len(self.nodes)} nodes running; "
                          "--restart would bring it back)")
        if must_stop:
            why = ("--exit-on-failure" if self.on_death is OnDeath.EXIT
                   else "a node died before the cluster was up")
            self.warn(f"{why}: stopping every node")
        return must_stop

    def _restart_due(self) -> None:
        now = time.monotonic()
        for n in self.nodes:
            if n.restart_at is None or now < n.restart_at:
                continue
            n.restart_at = None
            try:
                proc = self._spawn(n.spec, n.log)
            except OSError as exc:
                delay, n.failures = self.backoff.after_death(n.failures, 0.0)
                n.restart_at = now + delay
                self.warn(f"error: cannot restart {n.spec.id}: {exc}; trying again in {delay:g}s")
                continue
            n.proc, n.started, n.reported, n.serving = proc, now, False, False
            n.restarts += 1
            self.warn(f"node {n.spec.id} ({n.spec.zone}) restarted as pid {proc.pid} "
                      f"(restart {n.restarts})")

    def _channel(self, address: str) -> grpc.Channel:
        """A TLS cluster's nodes serve clients over TLS only: check them as a client would,
        trusting the cluster CA."""
        ca = self.topology.tls_ca
        if ca is None:
            return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        if self._credentials is None:
            self._credentials = grpc.ssl_channel_credentials(ca.read_bytes())
        return grpc.secure_channel(address, self._credentials, options=CHANNEL_OPTIONS)

    def _serving(self, node: NodeProcess) -> bool:
        address = node.spec.address
        if address not in self._channels:
            try:
                self._channels[address] = self._channel(address)
            except OSError:  # the CA file is unreadable: the node says why in its log
                return False
        try:
            resp = health_pb2_grpc.HealthStub(self._channels[address]).Check(
                health_pb2.HealthCheckRequest(), timeout=HEALTH_TIMEOUT)
        except grpc.RpcError:
            return False
        return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)

    def stop(self) -> None:
        """SIGTERM every live node, SIGKILL whatever is left after stop_timeout."""
        for n in self.nodes:
            n.restart_at = None
        alive = [n for n in self.nodes if n.alive]
        if alive:
            self.emit(f"stopping {', '.join(n.spec.id for n in alive)}")
            for n in alive:
                n.proc.send_signal(signal.SIGTERM)  # a no-op once it has exited
            deadline = time.monotonic() + self.stop_timeout
            while time.monotonic() < deadline and any(n.alive for n in alive):
                time.sleep(0.05)
            for n in alive:
                if n.alive:
                    self.emit(f"node {n.spec.id} ignored SIGTERM for {self.stop_timeout:g}s: "
                              "SIGKILL")
                    n.proc.send_signal(signal.SIGKILL)
                n.proc.wait()
            self.emit("all nodes stopped")
        for n in self.nodes:
            self.pid_file(n.spec).unlink(missing_ok=True)
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def print_table(self) -> None:
        rows = [("NODE", "ENDPOINT", "ZONE", "PID", "LOG")] + [
            (n.spec.id, n.spec.address, n.spec.zone, str(n.proc.pid), str(n.log))
            for n in self.nodes]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            self.emit("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        print_plan(self.sets, self.out)
        first = self.nodes[0].spec.address
        ca = self.topology.tls_ca
        example = (f"engine status --endpoint {first}" if ca is None else
                   f"engine status --endpoint https://{first} --ca-bundle {ca}")
        self.emit(f"cluster {self.topology.name!r} is up: point the SDK or CLI at any node, "
                  f"e.g. {example}")
        if ca is not None:
            self.emit("TLS: clients over TLS (trust the CA above); nodes over mutual TLS "
                      "with that CA")
        scheme = "https" if ca is not None else "http"
        s3 = [f"{scheme}://{n.spec.http_address} ({n.spec.id})" for n in self.nodes
              if n.spec.http_address]
        if s3:
            self.emit(f"S3 REST endpoints (boto3/aws-cli endpoint_url): {', '.join(s3)}")
        resp = [f"{n.spec.redis_address} ({n.spec.id})" for n in self.nodes
                if n.spec.redis_address]
        if resp:
            self.emit(f"RESP (Redis) endpoints (redis-cli -c, redis-py RedisCluster): "
                      f"{', '.join(resp)}")
        creds = self.nodes[0].spec.drives[0].parent / "root-credentials"
        self.emit(f"root credentials (every node has a copy): "
                  f"export AWS_SHARED_CREDENTIALS_FILE={creds}")
        b = self.backoff
        self.emit({
            OnDeath.REPORT: "a node that dies is reported; the others keep running",
            OnDeath.RESTART: f"a node that dies is restarted after {b.first:g}s, doubling "
                             f"to {b.cap:g}s while it keeps dying",
            OnDeath.EXIT: "a node that dies stops every node (--exit-on-failure)",
        }[self.on_death])
        self.emit("Ctrl-C stops every node")

    def emit(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def warn(self, line: str) -> None:
        self.err.write(line + "\n")
        self.err.flush()
