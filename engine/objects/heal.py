"""Healing: bring every drive of a set back to what a read quorum agrees on.

For one key, the entry a read quorum of the set's drives agrees on is authoritative
(absence included). Every shard layout of its versions (one per body, one per stored
part of a multipart object) is verified on every reachable drive that should hold one
of its shards (``layout.drives``; every block's CRC32C is read); missing or corrupt
shards are rebuilt from k good ones with the layout's own code (decode the stripe,
re-encode, keep the block that drive owns) and made durable before the drive's metadata
is rewritten, so metadata never points at a shard that is not there. A compressed
layout is healed as its stored stream: it holds `stored_size` bytes, not the object's
size. Drives whose entry disagrees get the authoritative one, or lose a stale entry.

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
from dataclasses import dataclass, field, fields

from engine._hotpath import crc32c
from engine.clock import Clock
from engine.cluster.placement import ErasureSet, Placement
from engine.objects.storage_classes import shard_positions
from engine.storage.codec import layout_codec
from engine.storage.drive import AsyncShardWriter
from engine.storage.entries import layouts, signature
from engine.storage.errors import StorageError
from engine.storage.metastore import data_ids
from engine.v1.records_pb2 import BucketRecord, DataLayout, ObjectVersion

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
        # Sums of every report since start (scanner, `engine admin heal`, repairs) and
        # scanner passes, for metrics; keys fixed so a scrape thread can read them.
        self.totals: dict[str, int] = {f.name: 0 for f in fields(HealReport)}
        self.scans: dict[str, int] = {"ok": 0, "failed": 0}

    def tally(self, report: HealReport) -> None:
        for name, value in vars(report).items():
            self.totals[name] += len(value) if isinstance(value, list) else value

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
        rebuilt: dict[int, list[str]] = {}  # position -> data ids rebuilt there
        for version in winner.versions:
            for layout, size in striped(version):
                for i in await self._heal_shards(eset, bucket, key, layout, size,
                                                 set(online), report):
                    rebuilt.setdefault(i, []).append(layout.data_id)
        current = [layout.data_id for v in winner.versions for layout in layouts(v)]
        for i, entry in online.items():
            if signature(entry) == winner_sig and i not in rebuilt:
                continue
            # Rewriting the entry commits the write intents of the data it refers to:
            # the ones a rebuild just created, or any a missed write left behind.
            intents = rebuilt[i] if signature(entry) == winner_sig else current
            try:
                for data_id in intents or [None]:
                    await drives[i].write_entry(bucket, key, winner, data_id)
            except Failure as exc:
                report.errors.append(f"{drives[i].name}: {bucket}/{key}: {exc}")
                continue
            if signature(entry) != winner_sig:
                report.entries_fixed += 1

    async def _heal_shards(self, eset: ErasureSet, bucket: str, key: str,
                           layout: DataLayout, size: int, online: set[int],
                           report: HealReport) -> set[int]:
        """Verify and rebuild the shards of one layout of `size` striped bytes; the set
        positions whose shard was rebuilt."""
        positions = shard_positions(layout)
        blocks = -(-size // layout.stripe_size)
        held = [(shard, p) for shard, p in enumerate(positions) if p in online]
        states = await asyncio.gather(
            *(eset.drives[p].verify_shard(layout.data_id, shard, layout.block_size, blocks)
              for shard, p in held),
            return_exceptions=True,
        )
        report.shards_checked += len(states)
        state = {shard: s for (shard, _), s in zip(held, states, strict=True)}
        good = [shard for shard, s in state.items() if s == "ok"]
        bad = [shard for shard, s in state.items() if s in ("missing", "corrupt")]
        if not bad:
            return set()
        if len(good) < layout.data_shards or layout.parity_shards == 0:
            report.unresolved += 1
            report.errors.append(f"{bucket}/{key}: {len(good)} good shards, cannot rebuild")
            return set()
        done = await self._rebuild(eset, bucket, key, layout, size, good, bad, report)
        report.shards_rebuilt += len(done)
        return {positions[shard] for shard in done}

    async def _rebuild(self, eset: ErasureSet, bucket: str, key: str, layout: DataLayout,
                       size: int, good: list[int], bad: list[int],
                       report: HealReport) -> set[int]:
        """Rewrite shards `bad` from k of `good` (shard indexes); those rewritten."""
        codec = layout_codec(layout)
        drives = [eset.drives[p] for p in shard_positions(layout)]
        sources = good[: layout.data_shards]
        readers = {i: await drives[i].open_shard(layout.data_id, i) for i in sources}
        writers: dict[int, AsyncShardWriter] = {}
        for i in bad:
            try:
                writers[i] = await drives[i].create_shard(layout.data_id, i, bucket, key)
            except Failure as exc:
                report.errors.append(f"{drives[i].name}: cannot rebuild: {exc}")
        try:
            for s in range(-(-size // layout.stripe_size)):
                stripe_len = min(layout.stripe_size, size - s * layout.stripe_size)
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
        self.tally(report)
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
                self.scans["failed"] += 1
                log.warning("scanner pass failed: %s", exc)
                continue
            self.scans["ok"] += 1
            if report.shards_rebuilt or report.entries_fixed or report.entries_removed \
                    or report.pending_discarded:
                log.info("scanner: %s", report)


def striped(version: ObjectVersion) -> list[tuple[DataLayout, int]]:
    """Every shard layout of a version with the bytes striped into it: the compressed
    size for a compressed layout, else the body's (or the part's) size."""
    part_sizes = {p.layout.data_id: p.size for p in version.parts.parts
                  if p.WhichOneof("body") == "layout"}
    return [(layout, layout.stored_size or part_sizes.get(layout.data_id, version.size))
            for layout in layouts(version)]


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
            self._healer.tally(report)
            if report.shards_rebuilt or report.entries_fixed:
                log.info("repaired %s/%s: %d shards rebuilt, %d entries fixed", bucket, key,
                         report.shards_rebuilt, report.entries_fixed)
