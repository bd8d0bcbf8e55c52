"""The chaos scenarios `engine chaos SCENARIO` runs: each a nemesis schedule drawn from a
seed, played against a loopback cluster while the object workload runs.

A schedule leaves the first and last seconds of a run fault-free (``warmup`` and
``tail``: the workload warms up, and the last faults heal while it still runs), then
alternates faults and gaps whose lengths and targets come from ``random.Random`` seeded by
(scenario, seed, node count): the same command injects the same faults at the same
offsets. Durations scale with the run, so a 15 s CI run still sees several faults.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.chaos.nemesis import FaultPlan, Kind

MIN_NODES = 3  # a minority must be cut off from a majority that still has a quorum


@dataclass(frozen=True)
class Scenario:
    """A named nemesis: what it does to the cluster, and how long each fault holds and
    how long the cluster runs unharmed between two (seconds, drawn uniformly)."""

    name: str
    summary: str
    kind: Kind
    hold_s: tuple[float, float]
    gap_s: tuple[float, float]
    targets: Callable[[random.Random, Sequence[str], int], tuple[str, ...]]

    @property
    def needs_network(self) -> bool:
        return self.kind in ("isolate", "partition")

    def schedule(self, seed: int, nodes: Sequence[str], duration_s: float
                 ) -> list[FaultPlan]:
        """The faults of a run of ``duration_s`` (at least one, however short)."""
        rng = random.Random(f"{self.name}/{seed}/{len(nodes)}")
        order = sorted(nodes)
        rng.shuffle(order)  # the targets are drawn from this order
        warmup, last_end = warmup_s(duration_s), duration_s - tail_s(duration_s)
        plans: list[FaultPlan] = []
        t = warmup
        while True:
            hold = round(rng.uniform(*self.hold_s), 2)
            if t + hold > last_end:
                break
            plans.append(FaultPlan(round(t, 2), hold, self.kind,
                                   self.targets(rng, order, len(plans))))
            t += hold + rng.uniform(*self.gap_s)
        if not plans:  # too short for one full hold: one fault over the middle of it
            hold = round(max(1.0, min(self.hold_s[0], last_end - warmup)), 2)
            plans.append(FaultPlan(round(warmup, 2), hold, self.kind,
                                   self.targets(rng, order, 0)))
        return plans


def warmup_s(duration_s: float) -> float:
    return min(5.0, 0.15 * duration_s)


def tail_s(duration_s: float) -> float:
    """Fault-free seconds at the end: the last fault's healing is seen under load."""
    return min(10.0, 0.2 * duration_s)


def _rolling(rng: random.Random, order: Sequence[str], i: int) -> tuple[str, ...]:
    """Every node in turn, in the run's drawn order."""
    return (order[i % len(order)],)


def _one(rng: random.Random, order: Sequence[str], i: int) -> tuple[str, ...]:
    return (rng.choice(order),)


def _minority(rng: random.Random, order: Sequence[str], i: int) -> tuple[str, ...]:
    """The largest minority: (n - 1) // 2 nodes, the rest keep a quorum."""
    return tuple(sorted(rng.sample(list(order), (len(order) - 1) // 2)))


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("rolling-kill", "kill -9 one node at a time, restart it, next node",
             "kill", hold_s=(1.0, 3.0), gap_s=(1.0, 3.0), targets=_rolling),
    Scenario("isolate", "cut one node (drawn by seed) off from all others, heal, repeat",
             "isolate", hold_s=(3.0, 6.0), gap_s=(2.0, 4.0), targets=_one),
    Scenario("partition-minority", "cut (n-1)//2 nodes off from the rest both ways, heal, "
             "repeat",
             "partition", hold_s=(3.0, 6.0), gap_s=(2.0, 4.0), targets=_minority),
    Scenario("pause", "SIGSTOP one node (drawn by seed) for a while, SIGCONT, repeat",
             "pause", hold_s=(2.0, 5.0), gap_s=(2.0, 4.0), targets=_one),
)}
