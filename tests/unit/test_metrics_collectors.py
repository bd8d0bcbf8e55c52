"""Scrape-time collectors: bucket usage from a drive's LMDB, and collectors that fail
quietly instead of failing the scrape."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from engine.observability.bucket_stats import BucketStats
from engine.observability.cache_stats import CacheStats
from engine.observability.queue_stats import QueueStats
from engine.storage.drive import LocalDrive
from engine.v1.records_pb2 import BucketRecord, ObjectEntry, ObjectVersion


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _put(drive: LocalDrive, bucket: str, key: str, *versions: ObjectVersion) -> None:
    drive.meta.update_entry(bucket, key, lambda _: ObjectEntry(versions=list(versions)))


def test_bucket_usage_counts_versions_bytes_and_listed_keys(tmp_path: Path) -> None:
    drive = LocalDrive(tmp_path / "d0", 1 << 30)
    try:
        drive.meta.make_volume(BucketRecord(name="photos"))
        drive.meta.make_volume(BucketRecord(name="empty"))
        _put(drive, "photos", "a", ObjectVersion(version_id="2", size=10),
             ObjectVersion(version_id="1", size=7, storage_class="GLACIER"))
        _put(drive, "photos", "b", ObjectVersion(version_id="3", delete_marker=True),
             ObjectVersion(version_id="2", size=5))
        _put(drive, "photos", "long/" + "k" * 600, ObjectVersion(version_id="1", size=1))
        now = [0.0]
        stats = BucketStats(lambda: [drive], max_age=30.0, clock=lambda: now[0])
        registry = CollectorRegistry()
        registry.register(stats)
        got = _samples(registry)
        assert got[("engine_bucket_objects", (("bucket", "photos"),))] == 5
        assert got[("engine_bucket_keys", (("bucket", "photos"),))] == 2  # b is deleted
        assert got[("engine_bucket_bytes", (("bucket", "photos"),
                                            ("storage_class", "STANDARD")))] == 16
        assert got[("engine_bucket_bytes", (("bucket", "photos"),
                                            ("storage_class", "GLACIER")))] == 7
        assert got[("engine_bucket_objects", (("bucket", "empty"),))] == 0
        _put(drive, "photos", "c", ObjectVersion(version_id="1", size=1))
        assert _samples(registry)[("engine_bucket_objects", (("bucket", "photos"),))] == 5
        now[0] = 31.0  # the cached scan is stale now
        assert _samples(registry)[("engine_bucket_objects", (("bucket", "photos"),))] == 6
    finally:
        drive.close()
    now[0] = 100.0  # a closed drive: the last figures stay and the failure is counted
    got = _samples(registry)
    assert got[("engine_bucket_objects", (("bucket", "photos"),))] == 6
    assert got[("engine_bucket_scan_failures", ())] == 1


class _Broken:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("not ready")


def test_failing_sources_cost_their_series_not_the_scrape() -> None:
    registry = CollectorRegistry()
    registry.register(CacheStats(_Broken()))  # type: ignore[arg-type]
    registry.register(QueueStats(SimpleNamespace(router=_Broken())))  # type: ignore[arg-type]
    got = _samples(registry)  # no exception
    assert not [k for k in got if k[0].startswith("engine_cache_")]
    assert not [k for k in got if k[0] == "engine_queue_messages"]
