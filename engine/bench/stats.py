"""What one phase of a workload measured, and the arithmetic on it.

Latencies are kept raw (nanosecond ints from perf_counter_ns) rather than bucketed, so
percentiles are exact and phases from several worker processes merge by concatenation;
a phase of even 100k ops is under a megabyte.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.bench.sizes import MB

PERCENTILES = (50, 95, 99)


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


@dataclass
class PhaseStats:
    """Successful ops (with their latencies and bytes) and failed ops by error code,
    counted over a measurement window of `seconds`."""

    name: str
    seconds: float = 0.0
    bytes: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def record(self, latency_ns: int, nbytes: int) -> None:
        self.latencies_ns.append(latency_ns)
        self.bytes += nbytes

    def record_error(self, code: str) -> None:
        self.errors[code] += 1

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
        merged = cls(parts[0].name, seconds=max(p.seconds for p in parts))
        for p in parts:
            merged.bytes += p.bytes
            merged.latencies_ns.extend(p.latencies_ns)
            merged.errors.update(p.errors)
        return merged

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
        }
