"""The nemesis: a schedule of faults drawn from a seed, played against a running cluster.

A schedule is a list of :class:`FaultPlan` (when to start, how long to hold, what to do to
which nodes), made before the run so a seed names the same faults every time. The
:class:`Nemesis` plays it: it injects each fault at its offset from the run's start (or as
soon as the previous one has healed, if that took longer), holds it, heals it, and
records both ends in the fault log (engine/chaos/faults.py) on the clock the history
uses, so faults and operations share one time axis.

Kinds: ``kill`` (SIGKILL, then a restart that waits until the node serves again),
``pause`` (SIGSTOP, then SIGCONT), ``isolate`` and ``partition`` (nftables rules through
:class:`~engine.chaos.network.Network`, then ``heal()``). A fault's window ends when its
healing action is taken (the restart is issued, SIGCONT sent, the rules removed); how
long the cluster took to recover after that is the report's figure, not the fault's.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from engine.clock import Clock, SystemClock

if TYPE_CHECKING:  # the CLI lists scenarios without importing grpc
    from engine.chaos.faults import FaultLog
    from engine.chaos.launcher import LoopbackCluster
    from engine.chaos.network import Network

Kind = Literal["kill", "pause", "isolate", "partition"]
RESTART_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class FaultPlan:
    """One planned fault: ``at_s`` after the run starts, held ``hold_s``. ``targets`` are
    the nodes it hits (for ``partition``, the minority cut off from the rest)."""

    at_s: float
    hold_s: float
    kind: Kind
    targets: tuple[str, ...]

    @property
    def description(self) -> str:
        nodes = " ".join(self.targets)
        return {"kill": f"kill -9 {nodes}, restart after {self.hold_s:.1f}s",
                "pause": f"SIGSTOP {nodes} for {self.hold_s:.1f}s",
                "isolate": f"isolate {nodes} for {self.hold_s:.1f}s",
                "partition": f"partition {nodes} | rest for {self.hold_s:.1f}s",
                }[self.kind]


class Nemesis:
    """Plays a schedule against ``cluster`` (and ``network`` for partitions)."""

    def __init__(self, cluster: LoopbackCluster, network: Network | None, log: FaultLog,
                 clock: Clock | None = None) -> None:
        self._cluster = cluster
        self._network = network
        self._log = log
        self._clock = clock or SystemClock()
        self._stopped: set[str] = set()  # SIGSTOPped nodes, for heal_all
        self._killed: set[str] = set()
        self.problems: list[str] = []  # nodes that would not restart: the run goes on

    def play(self, schedule: Sequence[FaultPlan], stop: threading.Event,
             start_monotonic: float | None = None, last_start_s: float | None = None) -> int:
        """Runs the schedule until its end or ``stop``; every fault it started is healed
        before it returns. A fault running late (a restart took longer than planned)
        starts as soon as the previous one healed, but none starts after
        ``last_start_s`` (so the run keeps its fault-free tail). Returns how many faults
        were injected."""
        t0 = self._clock.monotonic() if start_monotonic is None else start_monotonic
        injected = 0
        try:
            for plan in schedule:
                if self._wait_until(t0 + plan.at_s, stop):
                    break
                if last_start_s is not None and self._clock.monotonic() - t0 > last_start_s:
                    break
                fault = self._log.start(plan.kind, plan.targets, plan.description)
                injected += 1
                try:
                    self._inject(plan)
                    self._wait_until(self._clock.monotonic() + plan.hold_s, stop)
                finally:
                    self._heal(plan, fault_end=lambda f=fault: self._log.end(f))
        finally:
            self.heal_all()
        return injected

    def heal_all(self) -> None:
        """Every fault undone: rules removed, paused nodes continued, killed nodes
        restarted (and serving)."""
        if self._network is not None:
            self._network.heal()
        for node in sorted(self._stopped):
            self._signal(node, signal.SIGCONT)
        self._stopped.clear()
        if self._killed:
            killed = sorted(self._killed)
            self._killed.clear()
            self._restart(killed)

    # -- one fault -----------------------------------------------------------------------

    def _inject(self, plan: FaultPlan) -> None:
        if plan.kind == "kill":
            for node in plan.targets:
                self._killed.add(node)
                proc = self._cluster.procs[node]
                self._signal(node, signal.SIGKILL)
                proc.wait(10)
        elif plan.kind == "pause":
            for node in plan.targets:
                self._stopped.add(node)
                self._signal(node, signal.SIGSTOP)
        else:
            network = self._need_network()
            if plan.kind == "isolate":
                for node in plan.targets:
                    network.isolate(node)
            else:
                minority = set(plan.targets)
                network.partition([sorted(minority), [n for n in self._cluster.node_ids
                                                      if n not in minority]])

    def _heal(self, plan: FaultPlan, fault_end: Callable[[], object]) -> None:
        """Undoes ``plan``; the fault's end is recorded when the healing action is taken
        (before a restarted node has come up)."""
        if plan.kind == "kill":
            fault_end()
            nodes = [n for n in plan.targets if n in self._killed]
            self._killed.difference_update(nodes)
            self._restart(nodes)
        elif plan.kind == "pause":
            for node in plan.targets:
                self._signal(node, signal.SIGCONT)
                self._stopped.discard(node)
            fault_end()
        else:
            self._need_network().heal()
            fault_end()

    def _restart(self, nodes: Sequence[str]) -> None:
        """Starts killed nodes and waits until they serve; one that does not is noted in
        ``problems`` (the run's settle check then fails) rather than ending the run."""
        try:
            self._cluster.start(nodes, timeout=RESTART_TIMEOUT_S)
        except RuntimeError as e:
            self.problems.append(str(e).splitlines()[0])

    def _need_network(self) -> Network:
        if self._network is None:
            raise RuntimeError("a partition needs a Network (open it before the nodes)")
        return self._network

    def _signal(self, node: str, sig: signal.Signals) -> None:
        proc = self._cluster.procs[node]
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    def _wait_until(self, deadline: float, stop: threading.Event) -> bool:
        """Waits for the run's clock to reach ``deadline``; True if stopped first."""
        while (left := deadline - self._clock.monotonic()) > 0:
            if stop.wait(min(left, 0.5)):
                return True
        return stop.is_set()
