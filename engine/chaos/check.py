"""The checkers' entry point: one history in, the figures and anomalies of a scenario's
report out (the harness renders them as Markdown, JSON and plots)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.chaos.checkers import cache, iam, queues, register
from engine.chaos.checkers.anomaly import Anomaly
from engine.chaos.checkers.cache import Window
from engine.chaos.checkers.linearizability import DEFAULT_MAX_CONFIGURATIONS
from engine.chaos.checkers.queue_visibility import DEFAULT_TOLERANCE_NS
from engine.chaos.history import Operation, load


@dataclass(frozen=True)
class CheckOptions:
    """What the harness knows about the run that the history does not say."""

    max_configurations: int = DEFAULT_MAX_CONFIGURATIONS  # per key, linearizability
    failover_windows: Sequence[Window] = ()  # ns intervals when a cache owner failed over
    cache_misses_allowed: bool = False  # evictions or TTLs were possible
    visibility_tolerance_ns: int = DEFAULT_TOLERANCE_NS
    key_revocation_bound_ns: int = iam.DEFAULT_BOUND_NS


@dataclass
class CheckResult:
    operations: int = 0
    acknowledged: int = 0
    indeterminate: int = 0
    failed_by_code: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    allowed: dict[str, int] = field(default_factory=dict)  # what the models allow, counted
    linearizability: dict[str, int] = field(default_factory=dict)
    unknown_keys: list[str] = field(default_factory=list)  # the bounded search gave up
    anomalies: list[Anomaly] = field(default_factory=list)

    @property
    def anomalies_by_kind(self) -> dict[str, int]:
        return dict(sorted(Counter(a.kind for a in self.anomalies).items()))

    @property
    def valid(self) -> bool:
        """No anomaly. Keys whose search was cut short are listed, not counted as valid
        proof: a report shows them beside the verdict."""
        return not self.anomalies

    def to_json(self) -> dict[str, Any]:
        return {"valid": self.valid, "operations": self.operations,
                "acknowledged": self.acknowledged, "indeterminate": self.indeterminate,
                "failed_by_code": self.failed_by_code, "lost": self.lost,
                "allowed": self.allowed, "linearizability": self.linearizability,
                "unknown_keys": self.unknown_keys,
                "anomalies_by_kind": self.anomalies_by_kind,
                "anomalies": [a.to_json() for a in self.anomalies]}


def check_all(history: Iterable[Operation] | str | Path,
              options: CheckOptions | None = None) -> CheckResult:
    """Runs every checker on a history (operations, or the path of a history file)."""
    options = options or CheckOptions()
    ops = load(history) if isinstance(history, str | Path) else list(history)
    result = CheckResult(operations=len(ops))
    result.acknowledged = sum(1 for op in ops if op.type == "ok")
    result.indeterminate = sum(1 for op in ops if op.type == "info")
    result.failed_by_code = dict(sorted(Counter(
        op.error or "unknown" for op in ops if op.type == "fail").items()))

    objects = register.check(ops, options.max_configurations)
    messages = queues.check(ops, options.visibility_tolerance_ns)
    cached = cache.check(ops, options.failover_windows, options.cache_misses_allowed)
    keys = iam.check(ops, options.key_revocation_bound_ns)

    result.lost = {"object_writes": objects.lost, "messages": messages.lost}
    result.allowed = {
        "cache_writes_lost_in_failover": cached.failover_lost_writes,
        "cache_counter_regressions_in_failover": cached.failover_counter_regressions,
        "standard_queue_redeliveries_after_delete": messages.redelivered_after_delete,
    }
    verdicts = Counter(objects.verdicts.values())
    result.linearizability = {v: verdicts.get(v, 0)
                              for v in ("linearizable", "nonlinearizable", "unknown")}
    result.unknown_keys = objects.unknown
    result.anomalies = [*objects.anomalies, *messages.anomalies, *cached.anomalies,
                        *keys.anomalies]
    return result
