"""The object read cache: whole bodies of small objects kept in the cache tier.

A GET always reads the authoritative version record first (as without the cache); only
the body may come from the cache. The cache key names the exact stored data of that
record: bucket, key, version id, size, ETag, CRC32C, mtime, storage class and the data
ids of every shard layout the body occupies. A data id is a fresh UUID for every body
write (PUT, copy, upload part, lifecycle transition), so a new write -- even an
unversioned overwrite with identical bytes, a multipart completion or a re-encode into
another class -- gets a new key, and a record can only ever find the body it names.
Staleness is impossible by construction; invalidation (``forget``/``watch``) only frees
the memory of versions that stopped being current or were removed, best effort.

Only bodies with at least one shard layout are cached: an inline body (up to the inline
threshold) is already inside the record the GET has just read, so the cache could not
save any read. Bodies larger than ``--object-cache-max`` (or the tier's 8 MiB value
limit) are never cached.

A miss reads the body from the erasure set as usual and, once the whole body was read
and its length and CRC32C match the record, stores it in the background. A hit is
checked the same way before it is served; ranges and parts are sliced out of a cached
whole body. Any cache failure (unreachable owner, timeout, OOM) falls back to storage
and never fails a GET or a write; after a failed lookup the tier is skipped for
``BACKOFF_SECONDS`` so a dead cache node costs one timeout, not one per GET.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, Protocol

from engine._hotpath import crc32c
from engine.cache.store import MAX_VALUE_BYTES
from engine.storage.entries import latest, layouts
from engine.v1.records_pb2 import ObjectEntry, ObjectVersion

log = logging.getLogger(__name__)

KEY_PREFIX = b"obj1:"  # bump when the key derivation changes
CHUNK = 1024 * 1024  # bytes per chunk when a hit is streamed out
GET_TIMEOUT = 0.5  # seconds a lookup may take before the GET reads storage instead
WRITE_TIMEOUT = 5.0  # background put/drop
BACKOFF_SECONDS = 1.0  # after a failed lookup, skip the tier this long

OpenBody = Callable[[int, int], Awaitable[AsyncIterator[bytes]]]


class ObjectTier(Protocol):
    """What the read cache needs of the cache tier (engine/cache/service.py)."""

    async def object_get(self, key: bytes) -> bytes | None: ...
    async def object_put(self, key: bytes, body: bytes) -> None: ...
    async def object_drop(self, keys: Sequence[bytes]) -> None: ...


def cache_key(bucket: str, key: str, version: ObjectVersion) -> bytes | None:
    """The cache key of exactly this stored body, or None when it has no shard data
    (inline, empty, a delete marker): nothing to cache."""
    if version.delete_marker:
        return None
    data_ids = [layout.data_id for layout in layouts(version)]
    if not data_ids or not all(data_ids):
        return None
    fields = [bucket, key, version.version_id, str(version.size), version.etag,
              str(version.crc32c), str(version.mtime_ns), version.storage_class,
              version.WhichOneof("body") or "", *data_ids]
    h = hashlib.sha256()
    for f in fields:
        raw = f.encode()
        h.update(len(raw).to_bytes(8, "big"))
        h.update(raw)
    return KEY_PREFIX + h.digest()


def intact(body: bytes, version: ObjectVersion) -> bool:
    """The body is the one the record describes (length and CRC32C)."""
    return len(body) == version.size and crc32c(body) == version.crc32c


class ObjectReadCache:
    def __init__(self, tier: ObjectTier, max_bytes: int,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.tier = tier
        self.max_bytes = min(max_bytes, MAX_VALUE_BYTES)
        self._monotonic = monotonic
        self._resting_until = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._storing: set[bytes] = set()

    @classmethod
    def build(cls, tier: ObjectTier, max_bytes: int) -> ObjectReadCache | None:
        """The read cache, or None when `--object-cache-max` is 0 (off)."""
        return cls(tier, max_bytes) if max_bytes > 0 else None

    # -- the size rule and keys ------------------------------------------------------

    def key_for(self, bucket: str, key: str, version: ObjectVersion) -> bytes | None:
        """The version's cache key when its body may be cached, else None."""
        if not 0 < version.size <= self.max_bytes:
            return None
        return cache_key(bucket, key, version)

    # -- GET ---------------------------------------------------------------------------

    async def serve(self, bucket: str, key: str, version: ObjectVersion, first: int,
                    last: int, open_body: OpenBody) -> AsyncIterator[bytes]:
        """Bytes first..last of `version`'s body: from the cache when it holds the body,
        else from `open_body` (storage), keeping a whole body read that way."""
        ck = self.key_for(bucket, key, version) if last >= first else None
        if ck is None:
            return await open_body(first, last)
        cached = await self._lookup(ck, version)
        if cached is not None:
            return _slices(cached, first, last)
        stream = await open_body(first, last)
        if (first, last) != (0, version.size - 1):
            return stream
        return self._filling(ck, version, stream)

    async def _lookup(self, ck: bytes, version: ObjectVersion) -> bytes | None:
        if self._monotonic() < self._resting_until:
            return None
        try:
            value = await asyncio.wait_for(self.tier.object_get(ck), GET_TIMEOUT)
        except Exception as exc:  # the cache must never fail a GET
            self._resting_until = self._monotonic() + BACKOFF_SECONDS
            log.debug("object cache lookup failed: %s", exc)
            return None
        if value is None:
            return None
        if not intact(value, version):
            log.warning("object cache held a body that does not match its record; dropped")
            self._spawn(self._drop([ck]))
            return None
        return value

    async def _filling(self, ck: bytes, version: ObjectVersion,
                       stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Pass `stream` through, and store the body once it was read whole and intact."""
        buf = bytearray()
        try:
            async for chunk in stream:
                buf += chunk
                yield chunk
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        body = bytes(buf)
        if intact(body, version) and ck not in self._storing:
            self._storing.add(ck)
            self._spawn(self._store(ck, body))

    async def _store(self, ck: bytes, body: bytes) -> None:
        try:
            await asyncio.wait_for(self.tier.object_put(ck, body), WRITE_TIMEOUT)
        except Exception as exc:  # best effort (OOM, unreachable, ...)
            log.debug("object cache store failed: %s", exc)
        finally:
            self._storing.discard(ck)

    # -- invalidation (frees memory only: keys never name another body) ---------------

    def forget(self, bucket: str, key: str, versions: Iterable[ObjectVersion]) -> None:
        """Drop the bodies of `versions` (removed, re-encoded or no longer current)."""
        keys = [k for v in versions if (k := cache_key(bucket, key, v)) is not None]
        if keys:
            self._spawn(self._drop(keys))

    def watch(self, bucket: str, key: str,
              read_entry: Coroutine[Any, Any, ObjectEntry | None]) -> EntryWatch:
        """Start reading the key's entry before a write replaces part of it; the
        returned watch drops what the write superseded once it is committed."""
        return EntryWatch(self, bucket, key, self._spawn(_quietly(read_entry)))

    async def _drop(self, keys: Sequence[bytes]) -> None:
        try:
            await asyncio.wait_for(self.tier.object_drop(keys), WRITE_TIMEOUT)
        except Exception as exc:  # best effort
            log.debug("object cache drop failed: %s", exc)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def settle(self) -> None:
        """Wait for the background stores and drops started so far (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class EntryWatch:
    """The entry of a key as it was before a write (read concurrently with it)."""

    def __init__(self, cache: ObjectReadCache, bucket: str, key: str,
                 prior: asyncio.Task[ObjectEntry | None]) -> None:
        self.cache, self.bucket, self.key, self.prior = cache, bucket, key, prior

    def superseded(self, new: ObjectVersion | None) -> None:
        """The write committed `new` (None: the key's entry is gone): drop the prior
        current version and any prior version `new` replaced under the same id (all
        prior versions when the entry is gone). A callback, not a task: most writes find
        the prior read done and nothing cached to drop."""
        if self.prior.done():
            self._drop_superseded(new, self.prior)
        else:
            self.prior.add_done_callback(lambda prior: self._drop_superseded(new, prior))

    def _drop_superseded(self, new: ObjectVersion | None,
                         prior: asyncio.Task[ObjectEntry | None]) -> None:
        old = None if prior.cancelled() else prior.result()  # _quietly: never raises
        if old is None:
            return
        if new is None:
            gone = list(old.versions)
        else:
            current = 0 if latest(old) is not None else -1
            gone = [v for i, v in enumerate(old.versions)
                    if v.version_id == new.version_id or i == current]
            new_key = cache_key(self.bucket, self.key, new)
            gone = [v for v in gone if cache_key(self.bucket, self.key, v) != new_key]
        self.cache.forget(self.bucket, self.key, gone)


async def _quietly(read: Coroutine[Any, Any, ObjectEntry | None]) -> ObjectEntry | None:
    try:
        return await read
    except Exception as exc:  # best effort
        log.debug("object cache: reading the prior entry failed: %s", exc)
        return None


def _slices(body: bytes, first: int, last: int) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for start in range(first, last + 1, CHUNK):
            yield body[start : min(start + CHUNK, last + 1)]

    return gen()
