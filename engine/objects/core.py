"""What every object operation shares: quorum reads of entries, body writes in a storage
class, metadata commits and in-place version patches.

:class:`ObjectCore` holds the placement, clock and bucket registry; the operation groups
(objects, multipart uploads, subresources) build on it, so each rule lives in one place.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from engine.clock import Clock
from engine.cluster.placement import ErasureSet, Placement
from engine.config import StorageConfig
from engine.errors import EngineError
from engine.iam.acl import AclRequest, Owner
from engine.iam.public_access import Denial
from engine.objects import conditions as cond
from engine.objects import restore
from engine.objects.access_settings import AccountSettings, StaticAccount
from engine.objects.body_writer import BodyWriter, WrittenBody
from engine.objects.buckets import BucketRegistry, Buckets, RequestMemo
from engine.objects.checksums import Checksum
from engine.objects.names import check_key
from engine.objects.notifications.dispatcher import Notifier
from engine.objects.notifications.emitter import Change, events_for
from engine.objects.quorum import fan_out, first_agreement
from engine.objects.read_cache import ObjectReadCache
from engine.objects.storage_classes import plan_for
from engine.storage.entries import NULL_VERSION, PreconditionMismatch, latest, signature
from engine.storage.errors import VolumeNotFound
from engine.v1.records_pb2 import (
    BucketRecord,
    ContentRecord,
    EventRecord,
    ObjectEntry,
    ObjectVersion,
    VersionPatch,
)

DAY_SECONDS = 86400.0
MAX_COPY_SOURCE = 5 * 1024**3


@dataclass
class WriteOptions:
    """Everything a PUT (or the destination of a copy or upload) may set besides the body."""

    content: ContentRecord = field(default_factory=ContentRecord)
    metadata: dict[str, str] = field(default_factory=dict)
    storage_class: str = ""
    content_length: int | None = None
    content_md5: str = ""
    checksum_crc32c: str = ""
    # The x-amz-checksum-* the client sent (verified by the API layer as the body
    # streamed), kept with the object; multipart uploads: the algorithm and type only.
    checksum: Checksum | None = None
    checksum_type: str = ""
    if_match: str | None = None
    if_none_match: str | None = None
    tagging: str = ""  # URL-encoded, as the x-amz-tagging header
    tags: dict[str, str] | None = None  # already parsed (copies); wins over `tagging`
    acl: AclRequest | None = None  # x-amz-acl / x-amz-grant-*: None sets none
    writer: Owner | None = None  # the owner where the writer owns (None: the bucket owner)
    requester: Denial | None = None  # names the caller in a Block Public Access refusal
    event: str = "ObjectCreated:Put"  # the notification it raises (Copy, Post)


def crc32c_b64(value: int) -> str:
    return base64.b64encode(value.to_bytes(4, "big")).decode()


def new_version_id(clock: Clock) -> str:
    """Unique, alphanumeric, roughly time-ordered (as S3's ids are opaque, any would do)."""
    return f"{clock.now_ns():016x}{secrets.token_hex(8)}"


def _marker(version: ObjectVersion) -> dict[str, str]:
    """What an answer about a delete marker tells (S3 sends it as headers on the 404 or
    405): lower-case details are the engine's own, never elements of the error document."""
    return {"delete_marker": "true", "version_id": version.version_id,
            "mtime_ns": str(version.mtime_ns)}


class ObjectCore:
    def __init__(self, placement: Placement, config: StorageConfig, clock: Clock,
                 buckets: Buckets | None = None, *, zone: str = "",
                 day_seconds: float = DAY_SECONDS) -> None:
        self.placement = placement
        self.config = config
        self.clock = clock
        self.zone = zone  # the coordinator's zone: where ONEZONE_IA data written here goes
        self.day_ns = int(day_seconds * 1_000_000_000)  # one lifecycle/restore day
        self.buckets: Buckets = RequestMemo(buckets or BucketRegistry(placement, clock))
        # Told about every key a read found damaged (missing/corrupt shard, dead drive).
        self.on_degraded: Callable[[ErasureSet, str, str], None] | None = None
        # Small bodies served from the cache tier (read_cache.py); None: off.
        self.read_cache: ObjectReadCache | None = None
        # The account's id and Block Public Access (the identity store's, once wired).
        self.account: AccountSettings = StaticAccount()
        # Event notifications' delivery (None: events are not recorded at all).
        self.notifier: Notifier | None = None
        self.region = "us-east-1"  # the node's, for event records of region-less buckets

    def _events(self, record: BucketRecord, change: Change) -> list[EventRecord]:
        """The outbox records a change raises, to commit with it."""
        if self.notifier is None or not record.notification.queues:
            return []
        return events_for(record, change, now_ns=self.clock.now_ns(), region=self.region,
                          owner=self.account.account_id())

    def _announce(self, eset: ErasureSet, events: list[EventRecord]) -> None:
        """The change committed: deliver its events now (the outbox keeps them until
        their queue has them)."""
        if events and self.notifier is not None:
            self.notifier.committed(eset, events)

    async def _update_bucket(self, record: BucketRecord,
                             change: Callable[[BucketRecord], object]) -> None:
        """Replace the bucket's configuration with ``change`` applied to a copy."""
        updated = BucketRecord()
        updated.CopyFrom(record)
        change(updated)
        await self.buckets.update(updated)

    # -- reads -----------------------------------------------------------------------

    async def _entry(self, eset: ErasureSet, bucket: str, key: str) -> ObjectEntry | None:
        """The entry a read quorum of the set's drives agrees on (None: agreed absent).

        A drive that missed a write or a delete disagrees and is outvoted, so a stale
        copy never resurfaces. The answer is taken as soon as a quorum agrees, so a hung
        drive does not slow reads down. With no agreement possible (a write in flight
        while drives are down) the read fails with 503 rather than guess.
        """
        if len(eset.drives) == 1:
            return await eset.drives[0].read_entry(bucket, key)
        return await first_agreement(
            eset.drives, lambda d: d.read_entry(bucket, key), eset.read_quorum, signature
        )

    async def _version(self, bucket: str, key: str, version_id: str,
                       *, markers: bool = False) -> ObjectVersion:
        """The current version (NoSuchKey when absent or a delete marker) or the named
        one; a named delete marker is MethodNotAllowed unless `markers`."""
        await self.buckets.get(bucket, stale_ok=True)
        check_key(key)
        entry = await self._entry(self.placement.set_for(bucket, key), bucket, key)
        if not version_id:
            current = latest(entry)
            if current is None:
                if entry is not None and entry.versions:  # behind a delete marker
                    raise EngineError("NoSuchKey", Key=key, **_marker(entry.versions[0]))
                raise EngineError("NoSuchKey", Key=key)
            return current
        for v in entry.versions if entry else []:
            if v.version_id == version_id:
                if v.delete_marker and not markers:
                    raise EngineError("MethodNotAllowed", Method="GET",
                                      ResourceType="DeleteMarker", **_marker(v))
                return v
        check_version_id(version_id)
        raise EngineError("NoSuchVersion", Key=key, VersionId=version_id)

    async def _source(self, bucket: str, key: str, version_id: str,
                      conditions: cond.Conditions) -> ObjectVersion:
        """A copy source: readable now (not an unrestored archive), within the size cap."""
        source = await self._version(bucket, key, version_id)
        cond.check(conditions, source.etag, source.mtime_ns, copy_source=True)
        restore.check_readable(source, self.clock.now_ns())
        if source.size > MAX_COPY_SOURCE:
            raise EngineError("InvalidRequest", "The specified copy source is larger than the "
                              f"maximum allowable size for a copy source: {MAX_COPY_SOURCE}")
        return source

    # -- writes ----------------------------------------------------------------------

    async def _write_body(
        self, eset: ErasureSet, bucket: str, key: str, body: AsyncIterator[bytes],
        max_size: int, storage_class: str,
    ) -> tuple[BodyWriter, WrittenBody]:
        """Stream a body into the set in the class's placement, code and compression."""
        writer = BodyWriter(eset, self.config, bucket, key,
                            plan=plan_for(eset, storage_class, self.zone))
        return writer, await writer.write(body, max_size)

    async def _write_checked(
        self, eset: ErasureSet, bucket: str, key: str, body: AsyncIterator[bytes],
        storage_class: str, *, max_size: int, content_length: int | None,
        content_md5: str, checksum_crc32c: str,
    ) -> tuple[BodyWriter, WrittenBody]:
        """A PUT's or part's body: at most `max_size` bytes, exactly `content_length` when
        given, matching the digests given. On any mismatch no shard stays behind."""
        if content_length is not None:
            if content_length < 0:
                raise EngineError("InvalidArgument", "Content-Length must not be negative")
            if content_length > max_size:
                raise EngineError("EntityTooLarge", MaxSizeAllowed=str(max_size))
            max_size = content_length
        expected_md5 = decode_digest(content_md5, 16, "Content-MD5")
        expected_crc = decode_digest(checksum_crc32c, 4, "x-amz-checksum-crc32c")
        try:
            writer, written = await self._write_body(eset, bucket, key, body, max_size,
                                                     storage_class)
        except EngineError as exc:
            if exc.code == "EntityTooLarge" and content_length is not None:
                raise EngineError("IncompleteBody", "The body is longer than Content-Length") \
                    from exc
            raise
        try:
            check_body(written, content_length, expected_md5, expected_crc)
        except BaseException:
            await writer.discard()
            raise
        return writer, written

    @staticmethod
    def _metadata_drives(eset: ErasureSet, written: WrittenBody) -> tuple[int, ...]:
        """Drives to commit a new version's metadata on: those holding a durable shard
        and those the body's placement does not use (a single-zone class keeps data in
        one zone but its metadata on the whole set, so HEAD and LIST survive the zone).
        Metadata never points at a shard its drive was meant to hold and lacks."""
        if written.layout is None:
            return tuple(range(len(eset.drives)))
        used = set(written.layout.drives) if written.layout.drives \
            else set(range(len(eset.drives)))
        return tuple(sorted(set(written.durable) | (set(range(len(eset.drives))) - used)))

    async def _commit(
        self, eset: ErasureSet, bucket: str, key: str, version: ObjectVersion,
        versioning: str, options: WriteOptions | None = None, durable: tuple[int, ...] = (),
        events: list[EventRecord] | None = None,
    ) -> None:
        """Commit the version's metadata on `durable` drives (all drives when empty),
        with its events in the same transaction on each."""
        drives = [eset.drives[i] for i in durable] if durable else list(eset.drives)
        if_match = options.if_match if options else None
        if_none_match = options.if_none_match if options else None
        try:
            await fan_out(
                drives,
                lambda d: d.write_version(bucket, key, version, versioning=versioning,
                                          if_match=if_match, if_none_match=if_none_match,
                                          events=events or ()),
                eset.write_quorum,
            )
        except PreconditionMismatch as exc:
            if exc.missing:
                raise EngineError("NoSuchKey", Key=key) from exc
            raise EngineError("PreconditionFailed", Condition=exc.header) from exc
        except VolumeNotFound as exc:
            raise EngineError("NoSuchBucket", BucketName=bucket) from exc
        if events:
            self._announce(eset, events)

    async def _patch(self, bucket: str, key: str, patch: VersionPatch,
                     positions: tuple[int, ...] = (),
                     events: list[EventRecord] | None = None) -> None:
        """Apply an in-place change to one version on a write quorum of its set (on the
        drives at `positions` only, when given: those holding a new body's shards).

        Raises NoSuchVersion when a quorum has no such version, and
        ConditionalRequestConflict when the version changed under an `expect`.
        """
        eset = self.placement.set_for(bucket, key)
        drives = [eset.drives[i] for i in positions] if positions else list(eset.drives)
        try:
            outcomes = await fan_out(
                drives, lambda d: d.patch_version(bucket, key, patch, events or ()), 1)
        except VolumeNotFound as exc:
            raise EngineError("NoSuchBucket", BucketName=bucket) from exc
        tally = Counter(o for o in outcomes if o is not None)
        if tally["applied"] >= eset.write_quorum:
            if events:
                self._announce(eset, events)
            return
        if tally["missing"] >= tally["changed"] and tally["missing"]:
            raise EngineError("NoSuchVersion", Key=key, VersionId=patch.version_id)
        if tally["changed"]:
            raise EngineError("ConditionalRequestConflict")
        raise EngineError("ServiceUnavailable",
                          f"only {tally['applied']} drives applied the change; "
                          f"{eset.write_quorum} are needed")

    def new_version_id(self, versioning: str) -> str:
        return new_version_id(self.clock) if versioning == "Enabled" else NULL_VERSION


def check_version_id(version_id: str) -> None:
    if version_id != NULL_VERSION and not version_id.isalnum():
        raise EngineError("InvalidArgument", "Invalid version id specified",
                          ArgumentName="versionId")


def decode_digest(value: str, size: int, header: str) -> bytes | None:
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EngineError("InvalidDigest", Header=header) from exc
    if len(raw) != size:
        raise EngineError("InvalidDigest", Header=header)
    return raw


def check_body(written: WrittenBody, content_length: int | None, md5: bytes | None,
               crc: bytes | None) -> None:
    if content_length is not None and written.size != content_length:
        raise EngineError("IncompleteBody", f"Received {written.size} of "
                          f"{content_length} bytes")
    if md5 is not None and md5 != written.md5_digest:
        raise EngineError("BadDigest", "The Content-MD5 you specified did not match what we "
                          "received.")
    if crc is not None and int.from_bytes(crc, "big") != written.crc32c:
        raise EngineError("BadDigest", "The CRC32C you specified did not match the "
                          "calculated checksum.")


async def shielded_commit(commit: Callable[[], Awaitable[None]],
                         discard: Callable[[], Awaitable[None]]) -> None:
    """Run `commit`; on failure run `discard` (the new data's shards) and re-raise.

    Shielded: once the commit has started, only its outcome may decide whether the
    shard files are discarded. A caller cancelled mid-commit (client gone) must not
    delete data that a committed version refers to.
    """

    async def run() -> None:
        try:
            await commit()
        except BaseException:
            await discard()
            raise

    await asyncio.shield(asyncio.ensure_future(run()))
