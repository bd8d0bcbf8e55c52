"""The scenarios' fault schedules: a seed names the same faults every time, faults stay
inside the run's fault window and never overlap, and each scenario hits what it says
(rolling-kill every node in turn, partition-minority a minority that leaves a quorum)."""

from __future__ import annotations

import itertools

import pytest

from engine.chaos.scenarios import SCENARIOS, tail_s, warmup_s

SIX = [f"n{i}" for i in range(1, 7)]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_seed_names_the_same_schedule_and_another_seed_another(name: str) -> None:
    scenario = SCENARIOS[name]
    assert scenario.schedule(7, SIX, 120) == scenario.schedule(7, SIX, 120)
    assert scenario.schedule(7, SIX, 120) != scenario.schedule(8, SIX, 120)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("duration", [5.0, 15.0, 120.0])
def test_faults_fit_the_run_one_at_a_time(name: str, duration: float) -> None:
    plans = SCENARIOS[name].schedule(1, SIX, duration)
    assert plans, "every run injects at least one fault"
    assert plans[0].at_s == pytest.approx(warmup_s(duration), abs=0.01)
    for before, after in itertools.pairwise(plans):
        assert before.at_s + before.hold_s < after.at_s
    assert plans[-1].at_s + plans[-1].hold_s <= duration - tail_s(duration) + 1.0
    assert all(p.kind == SCENARIOS[name].kind and p.targets for p in plans)


def test_rolling_kill_kills_every_node_in_turn() -> None:
    plans = SCENARIOS["rolling-kill"].schedule(3, SIX, 120)
    assert len(plans) >= 12
    first_round = [p.targets[0] for p in plans[:6]]
    assert sorted(first_round) == SIX
    assert [p.targets[0] for p in plans[6:12]] == first_round
    assert all(len(p.targets) == 1 for p in plans)


@pytest.mark.parametrize(("nodes", "minority"), [(3, 1), (5, 2), (6, 2), (7, 3)])
def test_partition_minority_leaves_a_quorum(nodes: int, minority: int) -> None:
    names = [f"n{i}" for i in range(1, nodes + 1)]
    for plan in SCENARIOS["partition-minority"].schedule(5, names, 60):
        assert len(plan.targets) == minority and set(plan.targets) <= set(names)
