"""Healing: bring every drive of a set back to what a read quorum agrees on.

For one key, the entry a read quorum of the set's drives agrees on is authoritative
(absence included). Each of its versions' shards is verified on every reachable drive
(every block's CRC32C is read); missing or corrupt shards are rebuilt from k good ones
(decode the stripe, re-encode, keep the block that drive owns) and made durable before
the drive's metadata is rewritten, so metadata never points at a shard that is not
there. Drives whose entry disagrees get the authoritative one, or lose a stale entry.

Writes whose coordinator died leave pending intents on the drives it reached. Once
older than a grace period, each such key is healed and the intent's data, if nothing
refers to it, discarded: no orphaned shards remain.

Healing is idempotent, so the background scanner, degraded reads and `engine admin
heal` may run it concurrently on the same key.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from engine._hotpath import crc32c
from engine.clock import Clock
from engine.cluster.placement import ErasureSet, Placement
from engine.storage.codec import layout_codec
from engine.storage.drive import AsyncShardWriter
from engine.storage.entries import signature
from engine.storage.errors import StorageError
from engine.storage.metastore import data_ids
from engine.v1.records_pb2 import BucketRecord, ObjectVersion

log = logging.getLogger(__name__)
ListBuckets = Callable[[], Awaitable[list[BucketRecord]]]
Failure = (StorageError, ConnectionError, OSError, asyncio.TimeoutError)
PAGE = 1000
DEFAULT_GRACE_SECONDS = 3600.0  # a write running longer than this is presumed dead


@dataclass
class HealReport:
    objects_checked: int = 0
    entries_fixed: int = 0
    entries_removed: int = 0
    shards_checked: int = 0
    shards_rebuilt: int = 0
    pending_discarded: int = 0
    unresolved: int = 0
    partial: int = 0  # objects healed while some of their drives were unreachable
    errors: list[str] = field(default_factory=list)


class Healer:
    def __init__(self, placement: Placement, clock: Clock) -> None:
        self.placement = placement
        self.clock = clock

    # -- one key ---------------------------------------------------------------------

    async def heal_object(self, eset: ErasureSet, bucket: str, key: str,
                          report: HealReport) -> None:
        drives = eset.drives
        results = await asyncio.gather(*(d.read_entry(bucket, key) for d in drives),
                                       return_exceptions=True)
        online = {i: r for i, r in enumerate(results) if not isinstance(r, BaseException)}
        if len(online) < eset.read_quorum:
            report.unresolved += 1
            return
        votes = Counter(signature(e) for e in online.values())
        winner_sig, count = votes.most_common(1)[0]
        if count < eset.read_quorum:
            report.unresolved += 1  # no majority yet (a write in flight): next pass
            return
        report.objects_checked += 1
        if len(online) < len(drives):
            report.partial += 1
        winner = next(e for e in online.values() if signature(e) == winner_sig)
        if winner is None:
            for i, entry in online.items():
                if entry is not None:
                    await drives[i].write_entry(bucket, key, None)
                    report.entries_removed += 1
            return
        rebuilt: set[int] = set()
        for version in winner.versions:
            if version.WhichOneof("body") == "layout":
                rebuilt |= await self._heal_shards(eset, bucket, key, version, set(online),
                                                   report)
        current = [v.layout.data_id for v in winner.versions
                   if v.WhichOneof("body") == "layout"]
        for i, entry in online.items():
            if signature(entry) == winner_sig and i not in rebuilt:
                continue
            try:
                for data_id in current or [None]:
                    await drives[i].write_entry(bucket, key, winner, data_id)
            except Failure as exc:
                report.errors.append(f"{drives[i].name}: {bucket}/{key}: {exc}")
                continue
            if signature(entry) != winner_sig:
                report.entries_fixed += 1

    async def _heal_shards(self, eset: ErasureSet, bucket: str, key: str,
                           version: ObjectVersion, online: set[int],
                           report: HealReport) -> set[int]:
        layout = version.layout
        blocks = -(-version.size // layout.stripe_size)
        states = await asyncio.gather(
            *(eset.drives[i].verify_shard(layout.data_id, i, layout.block_size, blocks)
              for i in sorted(online)),
            return_exceptions=True,
        )
        report.shards_checked += len(states)
        state = dict(zip(sorted(online), states, strict=True))
        good = [i for i, s in state.items() if s == "ok"]
        bad = [i for i, s in state.items() if s in ("missing", "corrupt")]
        if not bad:
            return set()
        if len(good) < layout.data_shards or layout.parity_shards == 0:
            report.unresolved += 1
            report.errors.append(f"{bucket}/{key}: {len(good)} good shards, cannot rebuild")
            return set()
        done = await self._rebuild(eset, bucket, key, version, good, bad, report)
        report.shards_rebuilt += len(done)
        return done

    async def _rebuild(self, eset: ErasureSet, bucket: str, key: str,
                       version: ObjectVersion, good: list[int], bad: list[int],
                       report: HealReport) -> set[int]:
        layout = version.layout
        codec = layout_codec(layout)
        sources = good[: layout.data_shards]
        readers = {i: await eset.drives[i].open_shard(layout.data_id, i) for i in sources}
        writers: dict[int, AsyncShardWriter] = {}
        for i in bad:
            try:
                writers[i] = await eset.drives[i].create_shard(layout.data_id, i, bucket, key)
            except Failure as exc:
                report.errors.append(f"{eset.drives[i].name}: cannot rebuild: {exc}")
        try:
            stripes = -(-version.size // layout.stripe_size)
            for s in range(stripes):
                stripe_len = min(layout.stripe_size, version.size - s * layout.stripe_size)
                got = await asyncio.gather(
                    *(r.read_block(s, layout.block_size) for r in readers.values()))
                blocks = dict(zip(readers, got, strict=True))
                stripe = await asyncio.to_thread(codec.decode, blocks, stripe_len)
                shards = await asyncio.to_thread(codec.encode, stripe)
                for i, w in writers.items():
                    await w.write_block(shards[i], crc32c(shards[i]))
            for w in writers.values():
                await w.commit()
        except BaseException:
            for w in writers.values():
                await w.abort()
            raise
        finally:
            for r in readers.values():
                await r.close()
        return set(writers)

    # -- whole sets ------------------------------------------------------------------

    async def keys(self, eset: ErasureSet, bucket: str) -> list[list[str]]:
        """Every key any reachable drive of the set holds, in pages, sorted."""
        pages: list[list[str]] = []
        after = ""
        while True:
            listed = await asyncio.gather(
                *(d.list_entries(bucket, "", after, "", PAGE) for d in eset.drives),
                return_exceptions=True)
            live = [page for page in listed if not isinstance(page, BaseException)]
            ends = [page[-1][0] for page in live if len(page) >= PAGE]
            boundary = min(ends) if ends else None
            names = sorted({n for page in live for n, _ in page
                            if boundary is None or n <= boundary})
            if names:
                pages.append(names)
            if boundary is None:
                return pages
            after = boundary

    async def heal_set(self, eset: ErasureSet, buckets: list[str], report: HealReport,
                       rate: float | None = None) -> None:
        for bucket in buckets:
            for page in await self.keys(eset, bucket):
                for key in page:
                    try:
                        await self.heal_object(eset, bucket, key, report)
                    except Failure as exc:
                        report.errors.append(f"{bucket}/{key}: {exc}")
                    if rate:
                        await asyncio.sleep(1.0 / rate)

    async def discard_stale_writes(self, eset: ErasureSet, grace_seconds: float,
                                   report: HealReport) -> None:
        """Heal the keys of writes that never committed, then drop their data."""
        cutoff = self.clock.now_ns() - int(grace_seconds * 1e9)
        for drive in eset.drives:
            try:
                pending = await drive.pending_writes(cutoff)
            except Failure:
                continue
            for data_id, bucket, key in pending:
                if bucket and key:
                    await self.heal_object(eset, bucket, key, report)
                entry = await drive.read_entry(bucket, key) if bucket and key else None
                if data_id not in data_ids(entry):
                    await drive.discard(data_id)
                    report.pending_discarded += 1

    async def heal_all(self, buckets: list[str], *, grace_seconds: float = DEFAULT_GRACE_SECONDS,
                       rate: float | None = None,
                       sets: list[ErasureSet] | None = None) -> HealReport:
        report = HealReport()
        for eset in sets if sets is not None else self.placement.sets():
            await self.discard_stale_writes(eset, grace_seconds, report)
            await self.heal_set(eset, buckets, report, rate)
        return report

    async def scan_forever(self, sets: list[ErasureSet], list_buckets: ListBuckets,
                           interval: float, rate: float) -> None:
        """The background scanner: a rate-limited pass over `sets` every `interval`."""
        while True:
            await asyncio.sleep(interval)
            try:
                buckets = [b.name for b in await list_buckets()]
                report = await self.heal_all(buckets, rate=rate, sets=sets)
            except Exception as exc:  # the scanner must outlive any one failure
                log.warning("scanner pass failed: %s", exc)
                continue
            if report.shards_rebuilt or report.entries_fixed or report.entries_removed \
                    or report.pending_discarded:
                log.info("scanner: %s", report)


class RepairQueue:
    """Keys a degraded read found damaged, healed one at a time in the background.
    Bounded: when full, a key is left for the scanner rather than queued."""

    def __init__(self, healer: Healer, size: int = 1024) -> None:
        self._healer = healer
        self._queue: asyncio.Queue[tuple[ErasureSet, str, str]] = asyncio.Queue(size)
        self._queued: set[tuple[str, str]] = set()

    def submit(self, eset: ErasureSet, bucket: str, key: str) -> None:
        if (bucket, key) in self._queued or self._queue.full():
            return
        self._queued.add((bucket, key))
        self._queue.put_nowait((eset, bucket, key))

    async def run(self) -> None:
        while True:
            eset, bucket, key = await self._queue.get()
            self._queued.discard((bucket, key))
            report = HealReport()
            try:
                await self._healer.heal_object(eset, bucket, key, report)
            except Failure as exc:
                log.warning("repair of %s/%s failed: %s", bucket, key, exc)
            if report.shards_rebuilt or report.entries_fixed:
                log.info("repaired %s/%s: %d shards rebuilt, %d entries fixed", bucket, key,
                         report.shards_rebuilt, report.entries_fixed)
