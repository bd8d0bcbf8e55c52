"""The cache bench's own logic without a server: phases, the mixed interleaving, key
ownership and preloading, ops against an in-memory Cache stub, and the report figures
(keys/s and the server counters' deltas)."""

from __future__ import annotations

import asyncio
import io
import pickle

import pytest
from rich.console import Console

from engine.bench import cache as bc
from engine.bench.report import build_report, run_config
from engine.bench.runner import run_phase
from engine.bench.stats import PhaseStats
from engine.cli import build_parser
from engine.cli.bench import run_cache
from engine.v1 import cache_pb2 as pb


class FakeCache:  # method names are the gRPC stub's
    """A dict behind the Cache stub's Get/Set/MGet/MSet/Delete."""

    def __init__(self, short_by: int = 0) -> None:
        self.data: dict[bytes, bytes] = {}
        self.calls: dict[str, int] = {}
        self.short_by = short_by  # values come back this much shorter

    def _call(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def _reply(self, key: bytes) -> pb.CacheGetResponse:
        value = self.data.get(key)
        if value is None:
            return pb.CacheGetResponse(found=False)
        return pb.CacheGetResponse(found=True, value=value[self.short_by:])

    async def Get(self, request):
        self._call("Get")
        await asyncio.sleep(0)
        return self._reply(request.key)

    async def Set(self, request):
        self._call("Set")
        await asyncio.sleep(0)
        self.data[request.key] = request.value
        return pb.CacheSetResponse(written=True)

    async def MGet(self, request):
        self._call("MGet")
        return pb.CacheMGetResponse(values=[self._reply(k) for k in request.keys])

    async def MSet(self, request):
        self._call("MSet")
        for e in request.entries:
            self.data[e.key] = e.value
        return pb.CacheMSetResponse()


def workload(**kw) -> bc.CacheWorkload:
    return bc.CacheWorkload(prefix="bench-test", bucket="bench-b", **{"keys": 100, **kw})


def clients(w: bc.CacheWorkload, fake: FakeCache, processes: int = 1) -> list[bc.CacheClient]:
    return [bc.CacheClient(w, fake, None, i, processes) for i in range(processes)]


def test_parse_phases_keeps_run_order():
    assert bc.parse_phases("mget, set") == ("set", "mget")
    assert bc.parse_phases(",".join(reversed(bc.PHASES))) == bc.PHASES
    for bad in ("", "set,flush", ","):
        with pytest.raises(ValueError, match="choose from"):
            bc.parse_phases(bad)


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.5, 0.9, 0.95, 1.0])
def test_mixed_reads_are_exactly_the_ratio_and_evenly_spread(ratio):
    reads = [bc.is_read(s, ratio) for s in range(10_000)]
    assert sum(reads) == round(10_000 * ratio)
    for start in range(0, 10_000, 97):  # any window is within one of its share
        window = reads[start:start + 20]
        assert abs(sum(window) - len(window) * ratio) <= 1


def test_every_key_is_owned_by_one_process():
    owned = [list(bc.own_indexes(10, p, 3)) for p in range(3)]
    assert owned == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert sorted(i for part in owned for i in part) == list(range(10))
    assert bc.key_name("bench-x", 7) == b"bench-x:7"
    assert bc.new_prefix() != bc.new_prefix() and bc.new_prefix().startswith("bench-")


def test_preload_batches_are_about_a_mib_and_cover_every_key():
    own = range(0, 10_000)
    small = bc.preload_batches(own, 100)
    assert [len(b) for b in small] == [1000] * 10  # capped by key count
    big = bc.preload_batches(own, 64 * 1024)
    assert {len(b) for b in big} == {16} and sum(len(b) for b in big) == 10_000
    huge = bc.preload_batches(range(3), 8 * 1024 * 1024)
    assert [list(b) for b in huge] == [[0], [1], [2]]


def test_check_settings():
    bc.check_settings(100, 10_000, 0.9, 1, 100, 65536)
    for args, match in [((0, 10, 0.9, 1, 1, 1), "value size"),
                        ((100, 10, 1.5, 1, 1, 1), "read ratio"),
                        ((100, 10, 0.9, 20, 1, 1), "fewer than --processes"),
                        ((100, 5, 0.9, 1, 1, 1), "one MGET batch"),
                        ((100, 10, 0.9, 1, 0, 1), "object-count")]:
        with pytest.raises(ValueError, match=match):
            bc.check_settings(*args)


def test_workloads_survive_pickling_and_run_one_phase_at_a_time():
    w = workload(phase_names=("get", "mget"))
    assert pickle.loads(pickle.dumps(w)) == w
    assert w.only("mget").phase_names == ("mget",) and w.only("mget").prefix == w.prefix
    assert w.baseline_for("get") == ("unary", "ops_per_s")
    assert w.baseline_for("object-get") == ("unary-object", "ops_per_s")
    base = bc.CacheBaseline(value_size=100, object_size=65536, with_objects=False)
    assert pickle.loads(pickle.dumps(base)) == base and base.phases() == ("unary",)


def test_cli_defaults_and_options():
    args = build_parser().parse_args(["bench", "cache"])
    assert (args.keys, args.value_size, args.read_ratio, args.object_count,
            args.object_size, args.phases) == (10_000, 100, 0.9, 100, 262144, None)
    assert args.run is run_cache
    args = build_parser().parse_args(["bench", "cache", "--value-size", "4KiB", "--keys",
                                      "50", "--phases", "object-get,get", "--label", "x"])
    assert (args.value_size, args.keys, args.phases, args.label) == (
        4096, 50, ("get", "object-get"), "x")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "cache", "--phases", "everything"])


def test_cli_refuses_bad_settings_before_connecting(capsys):
    args = build_parser().parse_args(["bench", "cache", "--endpoint", "127.0.0.1:1",
                                      "--read-ratio", "2"])
    assert run_cache(args) == 2
    assert "read ratio" in capsys.readouterr().err


def test_phases_move_the_right_keys_and_bytes():
    w = workload(value_size=32, read_ratio=0.5)
    fake = FakeCache()
    c0, c1 = clients(w, fake, processes=2)

    async def main() -> dict[str, PhaseStats]:
        out = {}
        for phase in ("set", "get", "mixed", "mget"):
            for c in (c0, c1):
                await c.prepare(phase)
            out[phase] = await run_phase(c0, phase, 4, 0.0, 0.05)
        return out

    stats = asyncio.run(main())
    assert len(fake.data) == 100 and all(len(v) == 32 for v in fake.data.values())
    assert all(k.startswith(b"bench-test:") for k in fake.data)
    assert fake.calls["MSet"] == 2  # each process preloaded its 50 keys once
    for phase, s in stats.items():
        assert s.ops > 0 and not s.errors, phase
        per_op = 32 * (bc.MGET_BATCH if phase == "mget" else 1)
        assert s.bytes == s.ops * per_op, phase


def test_misses_and_short_values_are_errors():
    w = workload(value_size=16)
    c = clients(w, FakeCache())[0]  # never preloaded: every GET misses
    stats = asyncio.run(run_phase(c, "get", 2, 0.0, 0.02))
    assert stats.ops == 0 and set(stats.errors) == {"CacheMiss"}

    short = FakeCache(short_by=1)
    c = clients(w, short)[0]

    async def main() -> PhaseStats:
        await c.prepare("mget")
        return await run_phase(c, "mget", 2, 0.0, 0.02)

    stats = asyncio.run(main())
    assert stats.ops == 0 and set(stats.errors) == {"ValueMismatch"}


def test_counters_delta_and_ratios():
    before = {"hits": 10, "misses": 5, "evictions": 1, "expirations": 0, "keys": 3,
              "bytes_used": 100, "object_hits": 0, "object_misses": 0}
    after = {**before, "hits": 100, "misses": 15, "evictions": 4, "keys": 9,
             "bytes_used": 900, "object_hits": 30, "object_misses": 10}
    d = bc.counters_delta(before, after)
    assert (d["hits"], d["misses"], d["evictions"], d["expirations"]) == (90, 10, 3, 0)
    assert d["hit_ratio"] == 0.9 and d["object_hit_ratio"] == 0.75
    assert (d["keys_after"], d["bytes_used_after"]) == (9, 900)
    assert bc.counters_delta(before, before)["hit_ratio"] is None
    assert bc.ratio(0, 0) is None and bc.ratio(1, 3) == 0.25


def test_report_has_keys_per_second_and_counters():
    get = PhaseStats("get", seconds=2.0)
    mget = PhaseStats("mget", seconds=2.0)
    obj = PhaseStats("object-get", seconds=2.0)
    for _ in range(10):
        get.record(1_000_000, 100)
        mget.record(2_000_000, 100 * bc.MGET_BATCH)
        obj.record(3_000_000, 65536)
    unary = PhaseStats("unary", seconds=2.0)
    for _ in range(20):
        unary.record(500_000, 100)
    config = run_config(None, workload="cache", endpoint="x", size=100, size_text="100B",
                        concurrency=8, processes=1, duration=2.0, warmup=0.0, keys=10,
                        value_size_text="100B", read_ratio=0.9, object_count=1,
                        object_size_text="64KiB", label="on")
    w = workload()
    report = build_report(config, {"get": get, "mget": mget, "object-get": obj},
                          {"unary": unary}, {p: w.baseline_for(p) for p in bc.PHASES})
    counters = {"get": bc.counters_delta({}, {"hits": 10}),
                "object-get": bc.counters_delta({}, {"object_hits": 9, "object_misses": 1})}
    bc.add_cache_figures(report, 100, 65536, counters)
    p = report["phases"]
    assert (p["get"]["keys"], p["get"]["keys_per_s"]) == (10, 5.0)
    assert (p["mget"]["keys"], p["mget"]["keys_per_s"]) == (100, 50.0)
    assert (p["object-get"]["keys"], p["object-get"]["keys_per_s"]) == (10, 5.0)
    assert p["get"]["cache"]["hit_ratio"] == 1.0 and p["mget"]["cache"] is None
    assert p["object-get"]["cache"]["object_hit_ratio"] == 0.9
    assert report["vs_baseline"]["get"]["fraction"] == 0.5
    assert "object-get" not in report["vs_baseline"]  # no unary-object phase ran
    buf = io.StringIO()
    bc.render_cache(report, Console(file=buf, width=200))
    text = buf.getvalue()
    assert "hit ratio" in text and "100.0%" in text and "90.0%" in text and "label on" in text
