"""Healing, the background scanner and lifecycle passes, as counters since start.

Read from the plain counters the healer and the lifecycle worker keep
(engine/objects/heal.py ``Healer.totals``/``scans``, lifecycle_worker.py
``LifecycleWorker.totals``/``passes``): the sums of their reports.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from engine.objects.heal import Healer
from engine.objects.lifecycle_worker import LifecycleWorker


class HealStats(Collector):
    def __init__(self, healer: Healer, lifecycle: LifecycleWorker | None) -> None:
        self.healer = healer
        self.lifecycle = lifecycle

    def collect(self) -> Iterator[CounterMetricFamily]:
        for name, value in list(self.healer.totals.items()):
            yield CounterMetricFamily(
                f"engine_heal_{name}", f"Healing since start, every source (scanner, admin "
                f"heal, repairs after degraded reads): {name.replace('_', ' ')}",
                value=value)
        scans = CounterMetricFamily("engine_scanner_passes", "Background scanner passes over "
                                    "the erasure sets this node scans", labels=("result",))
        for result, count in list(self.healer.scans.items()):
            scans.add_metric((result,), count)
        yield scans
        if self.lifecycle is None:
            return
        for name, value in list(self.lifecycle.totals.items()):
            yield CounterMetricFamily(
                f"engine_lifecycle_{name}", f"Lifecycle rule actions since start: "
                f"objects {name}", value=value)
        passes = CounterMetricFamily("engine_lifecycle_passes", "Lifecycle passes",
                                     labels=("result",))
        for result, count in list(self.lifecycle.passes.items()):
            passes.add_metric((result,), count)
        yield passes
