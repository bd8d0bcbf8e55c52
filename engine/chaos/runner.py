"""One chaos run end to end: cluster up, workload and nemesis together, heal, settle,
final reads, check, report.

Everything a run leaves goes to its report directory: ``history.jsonl`` (every
operation), ``faults.jsonl`` (every fault window), ``report.md``/``report.json``/
``timeline.png`` (engine/chaos/report.py) and ``cluster/`` (the topology file and each
node's log; the nodes' data directories are removed at the end). Every process the run
started is killed and the nftables table removed, whatever happens.

The cluster is plain gRPC without TLS or authentication, driven through the SDK only: the
launcher (engine/chaos/launcher.py) does not start HTTP, RESP, TLS or auth yet.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grpc_health.v1 import health_pb2

from engine.bench.local_cluster import use_throwaway_root
from engine.chaos.check import CheckResult, check_all
from engine.chaos.faults import FaultLog, read_faults
from engine.chaos.history import HistoryWriter, load
from engine.chaos.launcher import LoopbackCluster
from engine.chaos.nemesis import FaultPlan, Nemesis
from engine.chaos.network import Network, NetworkError, nft_available
from engine.chaos.report import write_report
from engine.chaos.scenarios import Scenario, tail_s
from engine.chaos.workload.objects import ObjectWorkload, ObjectWorkloadConfig
from engine.chaos.workload.s3_clients import ObjectEndpoint
from engine.clock import Clock, SystemClock

HISTORY_NAME = "history.jsonl"
FAULTS_NAME = "faults.jsonl"
SETTLE_TIMEOUT_S = 60.0
SERVING = health_pb2.HealthCheckResponse.SERVING


class HarnessError(RuntimeError):
    """The run could not be made (no root, no nft, a cluster that would not start, a
    workload crash): no verdict on the engine."""


@dataclass(frozen=True)
class RunConfig:
    scenario: Scenario
    duration_s: float
    seed: int
    nodes: int
    azs: int
    out_dir: Path
    workers: int = 4
    command: Sequence[str] = ()


@dataclass
class RunResult:
    out_dir: Path
    report: dict[str, Any]
    check: CheckResult
    faults: int
    settled: bool  # every node served again after the last fault healed
    acknowledged_by_op: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # e.g. a node that did not restart

    @property
    def passed(self) -> bool:
        return self.check.valid and self.settled

    @property
    def history_path(self) -> Path:
        return self.out_dir / HISTORY_NAME

    @property
    def faults_path(self) -> Path:
        return self.out_dir / FAULTS_NAME


def preflight(out_dir: Path) -> None:
    """Raises HarnessError when this machine or directory cannot hold a run."""
    if (reason := nft_available()) is not None:
        raise HarnessError(f"cannot run chaos scenarios here: {reason}")
    if (out_dir / HISTORY_NAME).exists():
        raise HarnessError(f"{out_dir} already holds a run ({HISTORY_NAME}); "
                           "pass another --report DIR")


def run(config: RunConfig, progress: Callable[[str], None] = lambda _: None,
        clock: Clock | None = None) -> RunResult:
    clock = clock or SystemClock()
    out = config.out_dir
    preflight(out)
    out.mkdir(parents=True, exist_ok=True)
    history_path, faults_path = out / HISTORY_NAME, out / FAULTS_NAME
    cluster = LoopbackCluster(out / "cluster", nodes=config.nodes, azs=config.azs)
    schedule = config.scenario.schedule(config.seed, cluster.node_ids, config.duration_s)
    try:
        network = Network(cluster.identities)  # before the nodes: conntrack sees them all
    except NetworkError as e:
        raise HarnessError(str(e)) from e
    # a root key of this run's own: the nodes bootstrap it (ENGINE_ROOT_*), the workload
    # signs with it (AWS_*); the caller's credentials are for some other cluster
    restore_credentials = use_throwaway_root()
    with contextlib.ExitStack() as undo:
        undo.callback(restore_credentials)
        undo.enter_context(network)
        undo.enter_context(cluster)
        history = undo.enter_context(HistoryWriter(history_path, clock))
        log = undo.enter_context(FaultLog(faults_path, clock))
        progress(f"starting {config.nodes} nodes in {config.azs} AZs")
        try:
            cluster.start()
        except RuntimeError as e:
            raise HarnessError(str(e)) from e
        endpoints = [ObjectEndpoint(n, cluster.endpoint(n)) for n in cluster.node_ids]
        workload = ObjectWorkload(ObjectWorkloadConfig(
            endpoints, seed=config.seed, workers=config.workers,
            duration_s=config.duration_s), history, clock)
        try:
            workload.setup()
            progress(f"running {config.scenario.name} for {config.duration_s:g}s: "
                     f"{len(schedule)} faults planned")
            settled, problems = _drive(config, cluster, network, log, workload, schedule,
                                       clock)
            progress("final reads")
            workload.final_reads()
        finally:
            workload.close()
    shutil.rmtree(out / "cluster" / "data", ignore_errors=True)
    progress("checking the history")
    result = check_all(history_path)
    report = write_report(history_path, faults_path, result, out, config.scenario.name,
                          config.seed, list(config.command))
    acked = Counter(str(op.extra.get("op")) for op in load(history_path) if op.type == "ok")
    return RunResult(out, report, result, len(read_faults(faults_path)), settled,
                     dict(sorted(acked.items())), problems)


def _drive(config: RunConfig, cluster: LoopbackCluster, network: Network, log: FaultLog,
           workload: ObjectWorkload, schedule: Sequence[FaultPlan], clock: Clock
           ) -> tuple[bool, list[str]]:
    """Workload and nemesis together; after the workload's time, every fault healed.
    Returns whether every node served again within the settle timeout, and the nemesis's
    problems (nodes that would not restart)."""
    stop = threading.Event()
    crashes: list[BaseException] = []

    def drive_workload() -> None:
        try:
            workload.run(stop)
        except BaseException as e:  # a harness bug: reported, not a verdict
            crashes.append(e)
            stop.set()

    thread = threading.Thread(target=drive_workload, name="chaos-workload")
    nemesis = Nemesis(cluster, network, log, clock)
    t0 = clock.monotonic()
    thread.start()
    try:
        nemesis.play(schedule, stop, t0,
                     last_start_s=config.duration_s - tail_s(config.duration_s))
        thread.join()
    finally:
        stop.set()
        thread.join()
    if crashes:
        raise HarnessError(f"the workload crashed: {crashes[0]!r}") from crashes[0]
    nemesis.heal_all()
    return wait_serving(cluster, SETTLE_TIMEOUT_S, clock), nemesis.problems


def wait_serving(cluster: LoopbackCluster, timeout: float, clock: Clock) -> bool:
    """Polls every node's gRPC health until all say SERVING (True) or ``timeout``."""
    deadline = clock.monotonic() + timeout
    pending = set(cluster.node_ids)
    idle = threading.Event()  # never set: a wait that cannot be cut short
    while pending:
        pending = {n for n in pending if cluster.health(n) != SERVING}
        if not pending:
            return True
        if clock.monotonic() > deadline:
            return False
        idle.wait(0.2)  # polling other processes, not waiting on engine time
    return True
