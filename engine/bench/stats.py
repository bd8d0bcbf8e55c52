"""What one phase of a workload measured, and the arithmetic on it.

Latencies are kept raw (nanosecond ints, runner.loop_ns) rather than bucketed, so
percentiles are exact and phases from several worker processes merge by concatenation;
a phase of even 100k ops is under a megabyte. Beside them, completions are counted per
`interval_s` slot of the measured window (the time series a plot of throughput over time
needs), and the JSON carries a log-spaced latency histogram, so a saved report can be
plotted without the raw latencies.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.bench.sizes import MB

PERCENTILES = (50, 95, 99)
# Histogram bucket edges in ms: 10 per decade from 1 us to 1000 s.
HISTOGRAM_EDGES_MS: tuple[float, ...] = tuple(
    round(10 ** (e / 10), 6) for e in range(-30, 61))


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile with linear interpolation between closest ranks (numpy's
    default, statistics.quantiles(method="inclusive")); 0 for no values."""
    if not sorted_values:
        return 0.0
    if not 0 <= p <= 100:
        raise ValueError(f"percentile out of range: {p}")
    pos = (len(sorted_values) - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def series_interval(duration_s: float) -> float:
    """Slot width of a phase's time series: 1 s, or a tenth of a phase shorter than 10 s
    (so even a smoke run has a curve)."""
    if duration_s <= 0 or duration_s >= 10:
        return 1.0
    return max(0.01, round(duration_s / 10, 3))


def latency_histogram(latencies_ns: Iterable[int]) -> dict[str, list[float] | list[int]]:
    """Counts per bucket of HISTOGRAM_EDGES_MS, trimmed to the buckets from the first to
    the last non-empty one: `edges_ms` has one more entry than `counts`. Latencies
    outside the edges land in the first or last bucket."""
    counts = [0] * (len(HISTOGRAM_EDGES_MS) - 1)
    for ns in latencies_ns:
        i = bisect.bisect_right(HISTOGRAM_EDGES_MS, ns / 1e6) - 1
        counts[min(max(i, 0), len(counts) - 1)] += 1
    used = [i for i, n in enumerate(counts) if n]
    if not used:
        return {"edges_ms": [], "counts": []}
    lo, hi = used[0], used[-1]
    return {"edges_ms": list(HISTOGRAM_EDGES_MS[lo:hi + 2]), "counts": counts[lo:hi + 1]}


@dataclass
class PhaseStats:
    """Successful ops (with their latencies and bytes) and failed ops by error code,
    counted over a measurement window of `seconds`, plus ops/bytes/errors per
    `interval_s` slot of that window. `parts` splits a phase that mixes kinds of
    operation (the mixed workload) into one PhaseStats per kind."""

    name: str
    seconds: float = 0.0
    bytes: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    interval_s: float = 1.0
    series_ops: list[int] = field(default_factory=list)
    series_bytes: list[int] = field(default_factory=list)
    series_errors: list[int] = field(default_factory=list)
    parts: dict[str, PhaseStats] = field(default_factory=dict)

    def _slot(self, at_s: float | None) -> int | None:
        if at_s is None or at_s < 0:
            return None
        slot = int(at_s / self.interval_s)
        while len(self.series_ops) <= slot:
            self.series_ops.append(0)
            self.series_bytes.append(0)
            self.series_errors.append(0)
        return slot

    def record(self, latency_ns: int, nbytes: int, at_s: float | None = None) -> None:
        """One successful op; `at_s` is when it completed, in seconds into the window."""
        self.latencies_ns.append(latency_ns)
        self.bytes += nbytes
        if (slot := self._slot(at_s)) is not None:
            self.series_ops[slot] += 1
            self.series_bytes[slot] += nbytes

    def record_error(self, code: str, at_s: float | None = None) -> None:
        self.errors[code] += 1
        if (slot := self._slot(at_s)) is not None:
            self.series_errors[slot] += 1

    def part(self, kind: str) -> PhaseStats:
        """The sub-phase of one kind of operation, created on first use."""
        if kind not in self.parts:
            self.parts[kind] = PhaseStats(kind, seconds=self.seconds,
                                          interval_s=self.interval_s)
        return self.parts[kind]

    def set_seconds(self, seconds: float) -> None:
        """The window's real length (ops-bounded phases know it only at the end)."""
        self.seconds = seconds
        for p in self.parts.values():
            p.seconds = seconds

    @property
    def ops(self) -> int:
        return len(self.latencies_ns)

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / MB / self.seconds if self.seconds > 0 else 0.0

    def latency_ms(self) -> dict[str, float]:
        """p50/p95/p99/max/mean in milliseconds."""
        ordered = sorted(self.latencies_ns)
        out = {f"p{p}": percentile(ordered, p) / 1e6 for p in PERCENTILES}
        out["max"] = ordered[-1] / 1e6 if ordered else 0.0
        out["mean"] = sum(ordered) / len(ordered) / 1e6 if ordered else 0.0
        return out

    @classmethod
    def merge(cls, parts: Iterable[PhaseStats]) -> PhaseStats:
        """One phase as run concurrently by several processes over the same window."""
        parts = list(parts)
        if not parts:
            raise ValueError("nothing to merge")
        merged = cls(parts[0].name, seconds=max(p.seconds for p in parts),
                     interval_s=parts[0].interval_s)
        for p in parts:
            merged.bytes += p.bytes
            merged.latencies_ns.extend(p.latencies_ns)
            merged.errors.update(p.errors)
            for series, theirs in ((merged.series_ops, p.series_ops),
                                   (merged.series_bytes, p.series_bytes),
                                   (merged.series_errors, p.series_errors)):
                series.extend([0] * (len(theirs) - len(series)))
                for i, n in enumerate(theirs):
                    series[i] += n
        for kind in sorted({k for p in parts for k in p.parts}):
            merged.parts[kind] = cls.merge([p.parts[kind] for p in parts if kind in p.parts])
            merged.parts[kind].seconds = merged.seconds
        return merged

    def timeseries(self) -> dict[str, Any]:
        """Per-slot figures over the window: ops/s and MB/s as rates, so slots of any
        width plot on the same axis as the phase's totals."""
        slots = max(len(self.series_ops), math.ceil(self.seconds / self.interval_s - 1e-9))
        ops = self.series_ops + [0] * (slots - len(self.series_ops))
        nbytes = self.series_bytes + [0] * (slots - len(self.series_bytes))
        errors = self.series_errors + [0] * (slots - len(self.series_errors))
        return {
            "interval_s": self.interval_s,
            "t_s": [round((i + 1) * self.interval_s, 6) for i in range(slots)],
            "ops_per_s": [n / self.interval_s for n in ops],
            "mb_per_s": [b / MB / self.interval_s for b in nbytes],
            "errors": errors,
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a phase (see engine.bench.report)."""
        return {
            "ops": self.ops,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 6),
            "ops_per_s": self.ops_per_s,
            "mb_per_s": self.mb_per_s,
            "latency_ms": self.latency_ms(),
            "errors": dict(sorted(self.errors.items())),
            "timeseries": self.timeseries(),
            "latency_histogram": latency_histogram(self.latencies_ns),
        }
