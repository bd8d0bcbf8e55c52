"""Per-bucket object count and bytes, as CloudWatch's S3 storage metrics show them.

Nothing keeps running totals per bucket, so they come from a scan of the metadata:
each node reads, from its own LMDB, the erasure sets whose first drive it owns (the sets
it also scans for healing), so across a cluster every set is counted by exactly one node
and ``sum by (bucket)`` over nodes is the bucket's total.

Cost: a read-only LMDB transaction over every object record of those drives, parsing
each (inline bodies up to 128 KiB are copied by the parse); no network, no lock on
writers. The result is cached and a scrape rescans only when it is older than
``--metrics-bucket-refresh`` seconds (default 60), so a million objects cost a few
seconds of one core per refresh interval at most, and nothing when nobody scrapes.

Definitions (CloudWatch's): ``engine_bucket_objects`` counts every stored version
(noncurrent versions and delete markers included); ``engine_bucket_bytes`` sums their
sizes by storage class. ``engine_bucket_keys`` counts the keys a listing shows (latest
version not a delete marker). Parts of unfinished multipart uploads are not counted.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from engine.storage import keyspace
from engine.storage.drive import LocalDrive
from engine.v1.records_pb2 import ObjectEntry, OverflowEntry


@dataclass
class BucketUsage:
    objects: int = 0
    keys: int = 0
    bytes_by_class: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _add(usage: BucketUsage, entry: ObjectEntry) -> None:
    versions = entry.versions
    if not versions:
        return
    usage.objects += len(versions)
    if not versions[0].delete_marker:  # newest first
        usage.keys += 1
    for v in versions:
        if not v.delete_marker:
            usage.bytes_by_class[v.storage_class or "STANDARD"] += v.size


def scan_drive(drive: LocalDrive, out: dict[str, BucketUsage]) -> None:
    """Add the objects of one drive's metadata to `out`, bucket by bucket."""
    meta = drive.meta
    for record in meta.list_volumes():
        out.setdefault(record.name, BucketUsage())
    for stored, raw in meta.raw_records():
        bucket_raw, sep, part = stored.partition(keyspace.SEPARATOR)
        if not sep:
            continue
        usage = out.setdefault(bucket_raw.decode(errors="replace"), BucketUsage())
        if len(part) >= keyspace.DIRECT_LIMIT:  # an overflow record of long keys
            for entry in OverflowEntry.FromString(raw).entries.values():
                _add(usage, entry)
        else:
            _add(usage, ObjectEntry.FromString(raw))


class BucketStats(Collector):
    """The cached scan, refreshed by a scrape when older than `max_age` seconds."""

    def __init__(self, drives: Callable[[], list[LocalDrive]], max_age: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._drives = drives
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()  # one scan at a time; concurrent scrapes share it
        self._usage: dict[str, BucketUsage] = {}
        self._at: float | None = None
        self._scan_seconds = 0.0
        self._failures = 0

    def usage(self) -> dict[str, BucketUsage]:
        with self._lock:
            now = self._clock()
            if self._at is None or now - self._at >= self.max_age:
                start = time.perf_counter()
                fresh: dict[str, BucketUsage] = {}
                try:
                    for drive in self._drives():
                        scan_drive(drive, fresh)
                except Exception:  # closed at shutdown, a drive gone: keep the last scan
                    self._failures += 1
                else:
                    self._usage = fresh
                    self._at = now
                self._scan_seconds = time.perf_counter() - start
            return self._usage

    def collect(self) -> Iterator[GaugeMetricFamily]:
        objects = GaugeMetricFamily(
            "engine_bucket_objects", "Stored object versions (delete markers and "
            "noncurrent versions included), CloudWatch's NumberOfObjects; erasure sets "
            "scanned by this node", labels=("bucket",))
        keys = GaugeMetricFamily(
            "engine_bucket_keys", "Keys whose latest version is not a delete marker",
            labels=("bucket",))
        size = GaugeMetricFamily(
            "engine_bucket_bytes", "Bytes of stored object versions by storage class, "
            "CloudWatch's BucketSizeBytes", labels=("bucket", "storage_class"))
        for name, usage in sorted(self.usage().items()):
            objects.add_metric((name,), usage.objects)
            keys.add_metric((name,), usage.keys)
            for storage_class, total in sorted(usage.bytes_by_class.items()):
                size.add_metric((name, storage_class), total)
        yield objects
        yield keys
        yield size
        yield GaugeMetricFamily("engine_bucket_scan_seconds",
                                "Duration of the last metadata scan behind the bucket "
                                "gauges", value=self._scan_seconds)
        age = 0.0 if self._at is None else self._clock() - self._at
        yield GaugeMetricFamily("engine_bucket_stats_age_seconds",
                                "Age of the scan the bucket gauges show", value=age)
        yield GaugeMetricFamily("engine_bucket_scan_failures",
                                "Bucket scans that failed (the previous figures stay)",
                                value=self._failures)
