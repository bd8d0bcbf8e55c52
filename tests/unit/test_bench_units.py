"""The load generator's arithmetic: sizes, percentiles, phase timing, report shape."""

from __future__ import annotations

import asyncio
import json
import random
import statistics

import grpc
import pytest

from engine.bench.objects import ObjectsWorkload, chunks, default_keys
from engine.bench.report import LATENCY_KEYS, PHASE_KEYS, build_report, run_config, write_json
from engine.bench.runner import run_phase
from engine.bench.sizes import format_size, parse_size
from engine.bench.stats import PhaseStats, percentile
from engine.bench.workload import OpError, WorkloadClient, error_code
from engine.cli import build_parser
from engine.errors import EngineError

# -- sizes -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("0", 0), ("512", 512), ("512B", 512),
    ("4KiB", 4096), ("4kib", 4096), ("4K", 4096), ("4KB", 4000),
    ("64MiB", 64 * 1024**2), ("1MB", 1_000_000), ("1M", 1024**2),
    ("2GiB", 2 * 1024**3), ("1.5KiB", 1536), (" 8 MiB ", 8 * 1024**2),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "KiB", "-1", "4XB", "4 KiB B", "1.3B", "four"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match=r"size|bytes"):
        parse_size(text)


@pytest.mark.parametrize(("n", "text"), [
    (4096, "4KiB"), (64 * 1024**2, "64MiB"), (1000, "1000B"), (1536, "1536B"), (0, "0B"),
])
def test_format_size_round_trips(n, text):
    assert format_size(n) == text
    assert parse_size(text) == n


def test_cli_parses_sizes_and_durations():
    args = build_parser().parse_args(
        ["bench", "objects", "--size", "64MiB", "--duration", "500ms", "--warmup", "0"])
    assert (args.size, args.duration, args.warmup) == (64 * 1024**2, 0.5, 0.0)
    defaults = build_parser().parse_args(["bench", "objects"])
    assert defaults.size == 4096 and defaults.concurrency == 8 and defaults.processes == 1
    assert defaults.duration == 10.0 and defaults.warmup == 1.0 and defaults.op == "both"
    assert defaults.endpoint == "127.0.0.1:50051" and not defaults.no_baseline
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "objects", "--size", "lots"])


# -- percentiles -------------------------------------------------------------------------


def test_percentile_known_values():
    values = [1, 2, 3, 4]
    assert percentile(values, 0) == 1
    assert percentile(values, 50) == 2.5
    assert percentile(values, 100) == 4
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert percentile([7], 99) == 7
    assert percentile([], 50) == 0.0
    with pytest.raises(ValueError):
        percentile(values, 101)


@pytest.mark.parametrize("n", [2, 3, 10, 101, 1000])
def test_percentile_matches_statistics_quantiles(n):
    rng = random.Random(n)
    data = sorted(rng.expovariate(1 / 5) for _ in range(n))
    cuts = statistics.quantiles(data, n=100, method="inclusive")
    for p in (1, 25, 50, 95, 99):
        assert percentile(data, p) == pytest.approx(cuts[p - 1])


def test_phase_stats_figures_and_merge():
    a = PhaseStats("put", seconds=2.0)
    for ms in (1, 2, 3, 4):
        a.record(ms * 1_000_000, 1_000_000)
    a.record_error("SlowDown")
    b = PhaseStats("put", seconds=1.9)
    b.record(10_000_000, 1_000_000)
    b.record_error("SlowDown")
    b.record_error("InternalError")
    m = PhaseStats.merge([a, b])
    assert m.ops == 5 and m.bytes == 5_000_000 and m.seconds == 2.0
    assert m.ops_per_s == 2.5 and m.mb_per_s == 2.5
    assert m.errors == {"SlowDown": 2, "InternalError": 1}
    lat = m.latency_ms()
    assert lat["p50"] == 3.0 and lat["max"] == 10.0 and lat["mean"] == 4.0
    assert PhaseStats("get").latency_ms() == dict.fromkeys(LATENCY_KEYS, 0.0)


# -- phase timing ------------------------------------------------------------------------


class FakeClient(WorkloadClient):
    """Each op sleeps `delay`; every third fails, alternating gRPC and client-side errors."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.started = 0

    async def op(self, phase, seq):
        self.started += 1
        await asyncio.sleep(self.delay)
        if seq % 3 == 2:
            if seq % 2:
                raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, None, None, "down")
            raise OpError("ShortRead")
        return 100


def test_run_phase_counts_only_the_window():
    client = FakeClient(0.01)
    stats = asyncio.run(run_phase(client, "put", concurrency=4, warmup_s=0.2, duration_s=0.3))
    assert stats.seconds == 0.3
    counted = stats.ops + sum(stats.errors.values())
    # ~4 calls per 10 ms for 0.5 s started, but only those ending in the 0.3 s window count
    assert client.started > counted > 0
    assert counted <= 4 * 0.3 / 0.01 + 4
    assert set(stats.errors) == {"UNAVAILABLE", "ShortRead"}
    assert stats.bytes == 100 * stats.ops
    assert all(lat >= 10_000_000 * 0.9 for lat in stats.latencies_ns)


# -- objects workload --------------------------------------------------------------------


def test_default_keys_bound_data_and_cover_concurrency():
    assert default_keys(4096, 8, 1) == 100_000
    assert default_keys(64 * 1024**2, 2, 1) == 16
    assert default_keys(1024**3, 8, 2) == 16
    assert default_keys(0, 1, 1) == 100_000


def test_chunks_and_baseline_matching():
    assert [len(c) for c in chunks(bytes(5 * 1024**2 // 2), 1024**2)] == [1024**2] * 2 + [
        1024**2 // 2]
    assert chunks(b"") == []
    small = ObjectsWorkload("b", 4096, 10)
    large = ObjectsWorkload("b", 64 * 1024**2, 10, op="put")
    assert small.phases() == ("put", "get") and large.phases() == ("put",)
    assert small.baseline_for("put") == ("unary", "ops_per_s")
    assert large.baseline_for("put") == ("upload", "mb_per_s")
    assert large.baseline_for("get") == ("download", "mb_per_s")


# -- report ------------------------------------------------------------------------------


def _stats(name: str, ops: int, nbytes: int) -> PhaseStats:
    s = PhaseStats(name, seconds=2.0)
    for i in range(ops):
        s.record((i + 1) * 1_000_000, nbytes)
    return s


def test_report_shape_and_fractions(tmp_path):
    config = run_config(workload="objects", endpoint="127.0.0.1:1", size=4096,
                        concurrency=8, processes=1, duration=2.0, warmup=0.0)
    phases = {"put": _stats("put", 10, 4096), "get": _stats("get", 40, 4096)}
    baseline = {"unary": _stats("unary", 80, 4096), "upload": _stats("upload", 20, 4096),
                "download": _stats("download", 20, 4096)}
    matches = {"put": ("unary", "ops_per_s"), "get": ("unary", "ops_per_s")}
    report = build_report(config, phases, baseline, matches)
    path = tmp_path / "out.json"
    write_json(report, path)
    loaded = json.loads(path.read_text())

    assert set(loaded) == {"config", "phases", "baseline", "vs_baseline", "compare"}
    cfg = loaded["config"]
    for key in ("endpoint", "size", "concurrency", "processes", "duration", "engine_version",
                "timestamp"):
        assert key in cfg
    assert set(cfg["host"]) >= {"nproc", "cpu_model", "python_version"}
    assert cfg["host"]["nproc"] >= 1
    for section in ("phases", "baseline"):
        for phase in loaded[section].values():
            assert tuple(phase) == PHASE_KEYS
            assert tuple(phase["latency_ms"]) == LATENCY_KEYS
    assert loaded["phases"]["put"]["ops_per_s"] == 5.0
    assert loaded["vs_baseline"]["put"] == {"baseline": "unary", "metric": "ops_per_s",
                                            "fraction": 0.125}
    assert loaded["vs_baseline"]["get"]["fraction"] == 0.5

    without = build_report(config, phases, None, matches)
    assert without["baseline"] is None and without["vs_baseline"] == {}


def test_error_code_decodes_aio_errors():
    err = EngineError("NoSuchKey")
    status = err.to_rpc_status()
    trailing = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    exc = grpc.aio.AioRpcError(err.grpc_status, grpc.aio.Metadata(), trailing, err.message)
    assert error_code(exc) == "NoSuchKey"
    bare = grpc.aio.AioRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, None, None, "late")
    assert error_code(bare) == "DEADLINE_EXCEEDED"
    assert error_code(OpError("ShortRead", "read 1 of 2 bytes")) == "ShortRead"
