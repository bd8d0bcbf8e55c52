"""The background worker that applies buckets' lifecycle rules on the engine clock.

Each node works through the erasure sets it scans (the sets whose first drive it owns),
so every key is looked at by exactly one node. For every bucket with rules it pages
through the set's keys (quorum-agreed entries, all versions), asks the pure rules in
lifecycle.py what is due, and applies it through the object service, whose patches
expect the version unchanged: a write that races a transition or expiration wins, and
the worker's work is simply dropped (and retried on the next pass if still due).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, fields

from engine.cluster.placement import ErasureSet
from engine.errors import EngineError
from engine.objects import lifecycle
from engine.objects.listing import list_page, whole_entry
from engine.objects.multipart import set_uploads
from engine.objects.service import ObjectService
from engine.storage.errors import StorageError
from engine.v1.lifecycle_pb2 import LifecycleConfiguration
from engine.v1.records_pb2 import ObjectEntry

log = logging.getLogger(__name__)
PAGE = 500


@dataclass
class LifecycleReport:
    scanned: int = 0
    transitioned: int = 0
    expired: int = 0
    removed: int = 0
    aborted: int = 0
    failed: int = 0


class LifecycleWorker:
    def __init__(self, service: ObjectService, sets: list[ErasureSet]) -> None:
        self.service = service
        self.sets = sets
        # Sums of every pass's report since start and passes, for metrics; keys fixed
        # so a scrape thread can read them.
        self.totals: dict[str, int] = {f.name: 0 for f in fields(LifecycleReport)}
        self.passes: dict[str, int] = {"ok": 0, "failed": 0}

    async def run_once(self) -> LifecycleReport:
        report = LifecycleReport()
        for record in await self.service.buckets.list(stale_ok=True):
            if not record.lifecycle.rules:
                continue
            for eset in self.sets:
                await self._objects(eset, record.name, record.lifecycle, report)
                await self._uploads(eset, record.name, record.lifecycle, report)
        return report

    async def run_forever(self, interval: float) -> None:
        while True:
            try:
                report = await self.run_once()
                self.passes["ok"] += 1
                for name, value in vars(report).items():
                    self.totals[name] += value
                if report.transitioned or report.expired or report.removed or report.aborted:
                    log.info("lifecycle pass: %s", report)
            except (EngineError, StorageError, OSError, ConnectionError) as exc:
                self.passes["failed"] += 1
                log.warning("lifecycle pass failed: %s", exc)
            except Exception:  # a bug must not stop lifecycle rules for good
                self.passes["failed"] += 1
                log.exception("lifecycle pass failed")
            await asyncio.sleep(interval)

    async def _objects(self, eset: ErasureSet, bucket: str, config: LifecycleConfiguration,
                       report: LifecycleReport) -> None:
        after = ""
        while True:
            page = await list_page([eset], bucket, "", "", after, PAGE, keep=whole_entry)
            for key, entry in page.contents:
                report.scanned += 1
                now = self.service.clock.now_ns()
                for action in lifecycle.plan_entry(config, key, entry, now, self.service.day_ns):
                    await self._apply(bucket, key, entry, action, report)
            if not page.is_truncated or not page.contents:
                return
            after = page.contents[-1][0]

    async def _apply(self, bucket: str, key: str, entry: ObjectEntry,
                     action: lifecycle.Action, report: LifecycleReport) -> None:
        version = next((v for v in entry.versions if v.version_id == action.version_id), None)
        if version is None:
            return
        try:
            if isinstance(action, lifecycle.Transition):
                done = await self.service.transition_version(bucket, key, version,
                                                             action.storage_class)
                report.transitioned += done
            elif isinstance(action, lifecycle.ExpireCurrent):
                done = await self.service.expire_current(bucket, key, version)
                report.expired += done
            else:
                done = await self.service.remove_version(bucket, key, version)
                report.removed += done
            if done and self.service.read_cache is not None:
                # The old body was re-encoded, removed or is no longer current.
                self.service.read_cache.forget(bucket, key, [version])
        except (EngineError, StorageError, OSError, ConnectionError) as exc:
            report.failed += 1
            log.warning("lifecycle %s on %s/%s failed: %s", type(action).__name__, bucket,
                        key, exc)

    async def _uploads(self, eset: ErasureSet, bucket: str, config: LifecycleConfiguration,
                       report: LifecycleReport) -> None:
        uploads = await set_uploads(eset, bucket, "")
        now = self.service.clock.now_ns()
        due = set(lifecycle.due_uploads(config, uploads, now, self.service.day_ns))
        for upload in uploads:
            if upload.upload_id not in due:
                continue
            try:
                await self.service.abort_multipart_upload(bucket, upload.key, upload.upload_id)
                report.aborted += 1
            except EngineError as exc:
                if exc.code != "NoSuchUpload":
                    report.failed += 1
                    log.warning("aborting upload %s failed: %s", upload.upload_id, exc)
