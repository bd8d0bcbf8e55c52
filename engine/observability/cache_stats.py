"""This node's share of the cache tier: what ``engine cache stats`` shows per node.

Read at scrape time from the store's own counters (CacheService.local_stats): plain
integers, so reading them from the scrape thread costs nothing on the loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from engine.cache.service import CacheService

# (field of CacheNodeStats, metric name without the engine_cache_ prefix, help)
COUNTERS = (
    ("hits", "hits", "GET/MGET lookups that found a live key"),
    ("misses", "misses", "GET/MGET lookups that found nothing"),
    ("evictions", "evictions", "Keys evicted (least recently used) to fit the budget"),
    ("expirations", "expirations", "Keys removed because their TTL passed"),
    ("object_hits", "object_hits", "Object GETs served from the read cache"),
    ("object_misses", "object_misses", "Object GETs the read cache did not have"),
)
GAUGES = (
    ("keys", "keys", "Keys held (expired ones not yet swept included)"),
    ("bytes_used", "bytes", "Bytes held: keys, values and per-entry overhead"),
    ("budget", "budget_bytes", "The budget (--cache-bytes)"),
)


class CacheStats(Collector):
    def __init__(self, cache: CacheService) -> None:
        self.cache = cache

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        try:
            stats = self.cache.local_stats()
        except Exception:
            return
        for field, name, text in COUNTERS:
            with contextlib.suppress(Exception):
                yield CounterMetricFamily(f"engine_cache_{name}", text,
                                          value=int(getattr(stats, field)))
        for field, name, text in GAUGES:
            with contextlib.suppress(Exception):
                yield GaugeMetricFamily(f"engine_cache_{name}", text,
                                        value=int(getattr(stats, field)))
