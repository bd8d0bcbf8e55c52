"""The bench suite's shared parts: time series and histograms in the stats, ops-bounded
and mixed phases in the runner, the mix schedule, cluster shapes, --compare and --plot."""

from __future__ import annotations

import asyncio
import json

import pytest

from engine.bench.compare import compare, load_report
from engine.bench.local_cluster import parse_shape
from engine.bench.mixed import KINDS, MixedWorkload, MixSchedule, parse_mix, schedule
from engine.bench.plot import write_plot
from engine.bench.report import PHASE_KEYS, TIMESERIES_KEYS, build_report, run_config
from engine.bench.runner import RunPlan, run_phase
from engine.bench.stats import PhaseStats, latency_histogram, series_interval
from engine.bench.workload import WorkloadClient

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_time_series_slots_and_merge():
    a = PhaseStats("p", seconds=2.0, interval_s=1.0)
    a.record(1_000_000, 10, at_s=0.2)
    a.record(1_000_000, 10, at_s=1.5)
    a.record_error("UNAVAILABLE", at_s=1.9)
    b = PhaseStats("p", seconds=2.0, interval_s=1.0)
    b.record(2_000_000, 30, at_s=0.9)
    merged = PhaseStats.merge([a, b])
    ts = merged.timeseries()
    assert set(ts) == set(TIMESERIES_KEYS)
    assert ts["t_s"] == [1.0, 2.0]
    assert ts["ops_per_s"] == [2.0, 1.0] and ts["errors"] == [0, 1]
    assert ts["mb_per_s"] == [40 / 1e6, 10 / 1e6]
    # a quiet tail still shows as zeros up to the window's end
    assert PhaseStats("q", seconds=3.0).timeseries()["ops_per_s"] == [0.0, 0.0, 0.0]


def test_series_interval_gives_short_phases_a_curve():
    assert series_interval(60) == 1.0 and series_interval(10) == 1.0
    assert series_interval(1) == 0.1 and series_interval(0.05) == 0.01


def test_latency_histogram_counts_every_call_in_trimmed_log_buckets():
    hist = latency_histogram([1_000_000] * 5 + [10_000_000] * 3)
    assert sum(hist["counts"]) == 8
    assert len(hist["edges_ms"]) == len(hist["counts"]) + 1
    assert hist["edges_ms"][0] <= 1.0 and hist["edges_ms"][-1] > 10.0
    assert hist["counts"][0] == 5 and hist["counts"][-1] == 3
    assert latency_histogram([]) == {"edges_ms": [], "counts": []}


class KindClient(WorkloadClient):
    def kind(self, phase, seq):
        return "even" if seq % 2 == 0 else "odd"

    async def op(self, phase, seq):
        await asyncio.sleep(0.001)
        return 7


def test_ops_bounded_phase_runs_exactly_n_calls_and_splits_kinds():
    stats = asyncio.run(run_phase(KindClient(), "mixed", 4, 0.05, 0.0, ops=101))
    assert stats.ops == 101 and stats.bytes == 707
    assert 0 < stats.seconds < 5
    assert set(stats.parts) == {"even", "odd"}
    assert stats.parts["even"].ops + stats.parts["odd"].ops == 101
    assert abs(stats.parts["even"].ops - stats.parts["odd"].ops) <= 5
    assert stats.parts["odd"].seconds == stats.seconds
    assert sum(stats.series_ops) == 101


def test_ops_split_over_processes():
    plan = RunPlan("e", processes=3, ops=10)
    assert [plan.ops_for(i) for i in range(3)] == [4, 3, 3]
    assert RunPlan("e").ops_for(0) is None
    assert RunPlan("a", endpoints=("a", "b")).targets == ("a", "b")


def test_mix_parsing_and_schedule():
    assert parse_mix("objects=1,cache=8") == {"objects": 1, "queues": 0, "cache": 8}
    assert parse_mix("queues") == {"objects": 0, "queues": 1, "cache": 0}
    for bad in ("bogus=1", "objects=x", "objects=-1", "objects=0", ""):
        with pytest.raises(ValueError):
            parse_mix(bad)
    cycle = schedule({"objects": 1, "queues": 1, "cache": 8})
    assert len(cycle) == 10 and cycle.count("cache") == 8
    assert "cache,cache,cache,cache,cache" not in ",".join(cycle)  # spread, not bunched


def test_mixed_kinds_follow_mix_and_read_ratio():
    mix = parse_mix("objects=1,queues=1,cache=2")
    w = MixedWorkload("b", "q", "p", mix=mix)
    plan = MixSchedule(mix, 0.75)
    kinds = [plan.kind(s) for s in range(400)]
    counts = {k: kinds.count(k) for k in KINDS}
    assert counts["object-get"] == 75 and counts["object-put"] == 25
    assert counts["cache-get"] == 150 and counts["cache-set"] == 50
    assert counts["queue-send"] == counts["queue-receive"] == 50
    assert w.baseline_for("mixed/object-put") == ("unary-object", "call_rate")
    assert w.baseline_for("mixed/cache-get") == ("unary-value", "call_rate")
    assert w.baseline_for("mixed") is None


def test_cluster_shapes():
    assert parse_shape("6x3") == (6, 3) and parse_shape(" 3X3 ") == (3, 3)
    for bad in ("6", "6x0", "2x3", "0x0", "axb", "1000x3"):
        with pytest.raises(ValueError):
            parse_shape(bad)


def _report(ops_per_s_scale: float = 1.0) -> dict:
    s = PhaseStats("mixed", seconds=1.0, interval_s=0.1)
    for i in range(int(100 * ops_per_s_scale)):
        s.part("cache-get").record(1_000_000 + i * 1000, 100, at_s=i / 100)
        s.record(1_000_000 + i * 1000, 100, at_s=i / 100)
    base = PhaseStats("unary-value", seconds=1.0)
    for _ in range(400):
        base.record(500_000, 100, at_s=0.5)
    config = run_config(workload="mixed", endpoint="e", concurrency=1, processes=1,
                        duration=1.0, warmup=0.0)
    return build_report(config, {"mixed": s}, {"unary-value": base},
                        {"mixed/cache-get": ("unary-value", "ops_per_s")})


def test_report_flattens_kinds_and_judges_them_by_their_baseline():
    report = _report()
    assert list(report["phases"]) == ["mixed", "mixed/cache-get"]
    for phase in report["phases"].values():
        assert tuple(phase) == PHASE_KEYS
    assert report["vs_baseline"]["mixed/cache-get"]["fraction"] == 0.25
    assert report["compare"] is None


def test_compare_gives_ratios_per_figure(tmp_path):
    old, new = _report(), _report(2.0)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    ratios = compare(new, load_report(path), path)
    assert ratios["phases"]["mixed"]["ops_per_s"] == pytest.approx(2.0)
    assert ratios["phases"]["mixed"]["p50"] > 1.0  # the slower second half of the calls
    assert ratios["baseline"]["unary-value"]["ops_per_s"] == pytest.approx(1.0)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="not an engine bench report"):
        load_report(bad)
    with pytest.raises(ValueError, match="cannot read"):
        load_report(tmp_path / "missing.json")


def test_plot_writes_a_png_from_a_saved_report(tmp_path):
    report = json.loads(json.dumps(_report()))  # as read back from --json
    out = tmp_path / "run.png"
    write_plot(report, out)
    assert out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 10_000
