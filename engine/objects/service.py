"""The object API's semantics (S3): what each operation checks, stores and returns.

Pure Python over the placement's erasure sets and the drive API; the gRPC layer only
translates messages. Every user mistake is an EngineError with S3's code.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from engine.clock import Clock
from engine.cluster.placement import ErasureSet, Placement
from engine.config import StorageConfig
from engine.errors import EngineError
from engine.objects import conditions as cond
from engine.objects.body_reader import BodyReader
from engine.objects.body_writer import BodyWriter, WrittenBody
from engine.objects.buckets import BucketRegistry, Buckets
from engine.objects.listing import MAX_KEYS, ListPage, decode_token, list_page
from engine.objects.names import check_key, check_storage_class, normalize_metadata
from engine.objects.quorum import fan_out, first_agreement
from engine.objects.ranges import ByteRange, parse_range
from engine.storage.entries import NULL_VERSION, PreconditionMismatch, latest, signature
from engine.storage.errors import VolumeNotFound
from engine.v1.records_pb2 import ContentRecord, ObjectEntry, ObjectVersion

MAX_DELETE_KEYS = 1000
MAX_COPY_SOURCE = 5 * 1024**3
NO_CONDITIONS = cond.Conditions()


@dataclass
class WriteOptions:
    """Everything a PUT (or the destination of a copy) may set besides the body."""

    content: ContentRecord = field(default_factory=ContentRecord)
    metadata: dict[str, str] = field(default_factory=dict)
    storage_class: str = ""
    content_length: int | None = None
    content_md5: str = ""
    checksum_crc32c: str = ""
    if_match: str | None = None
    if_none_match: str | None = None


@dataclass
class ObjectRead:
    version: ObjectVersion
    range: ByteRange | None
    body: AsyncIterator[bytes] | None = None

    @property
    def content_length(self) -> int:
        return self.range.length if self.range else self.version.size


def crc32c_b64(value: int) -> str:
    return base64.b64encode(value.to_bytes(4, "big")).decode()


class ObjectService:
    def __init__(self, placement: Placement, config: StorageConfig, clock: Clock,
                 buckets: Buckets | None = None) -> None:
        self.placement = placement
        self.config = config
        self.clock = clock
        self.buckets: Buckets = buckets or BucketRegistry(placement, clock)
        # Told about every key a read found damaged (missing/corrupt shard, dead drive).
        self.on_degraded: Callable[[ErasureSet, str, str], None] | None = None

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

    async def _version(self, bucket: str, key: str, version_id: str) -> ObjectVersion:
        await self.buckets.get(bucket)
        check_key(key)
        entry = await self._entry(self.placement.set_for(bucket, key), bucket, key)
        if not version_id:
            current = latest(entry)
            if current is None:
                raise EngineError("NoSuchKey", Key=key)
            return current
        for v in entry.versions if entry else []:
            if v.version_id == version_id:
                return v
        if version_id != NULL_VERSION and not version_id.isalnum():
            raise EngineError("InvalidArgument", "Invalid version id specified",
                              ArgumentName="versionId")
        raise EngineError("NoSuchVersion", Key=key, VersionId=version_id)

    async def head_object(
        self, bucket: str, key: str, *, version_id: str = "", range_header: str | None = None,
        conditions: cond.Conditions = NO_CONDITIONS,
    ) -> ObjectRead:
        version = await self._version(bucket, key, version_id)
        cond.check(conditions, version.etag, version.mtime_ns)
        return ObjectRead(version, parse_range(range_header, version.size))

    async def get_object(
        self, bucket: str, key: str, *, version_id: str = "", range_header: str | None = None,
        conditions: cond.Conditions = NO_CONDITIONS,
    ) -> ObjectRead:
        read = await self.head_object(bucket, key, version_id=version_id,
                                      range_header=range_header, conditions=conditions)
        eset = self.placement.set_for(bucket, key)
        whole = (0, read.version.size - 1)
        first, last = (read.range.first, read.range.last) if read.range else whole
        reader = await BodyReader(read.version, eset, first, last,
                                  self._degraded_hook(eset, bucket, key)).open()
        read.body = reader.stream()
        return read

    def _degraded_hook(self, eset: ErasureSet, bucket: str, key: str
                       ) -> Callable[[ObjectVersion, set[int]], None] | None:
        hook = self.on_degraded
        if hook is None:
            return None
        return lambda _version, _bad: hook(eset, bucket, key)

    # -- writes ----------------------------------------------------------------------

    async def put_object(
        self, bucket: str, key: str, body: AsyncIterator[bytes], options: WriteOptions
    ) -> ObjectVersion:
        record = await self.buckets.get(bucket)
        check_key(key)
        metadata = normalize_metadata(options.metadata)
        storage_class = check_storage_class(options.storage_class)
        if options.if_none_match is not None and options.if_none_match.strip() != "*":
            raise EngineError("NotImplemented", "If-None-Match on PUT accepts only '*'",
                              Header="If-None-Match")
        max_size = self.config.max_object_size
        if options.content_length is not None:
            if options.content_length < 0:
                raise EngineError("InvalidArgument", "Content-Length must not be negative")
            if options.content_length > max_size:
                raise EngineError("EntityTooLarge", MaxSizeAllowed=str(max_size))
            max_size = options.content_length
        expected_md5 = _decode_digest(options.content_md5, 16, "Content-MD5")
        expected_crc = _decode_digest(options.checksum_crc32c, 4, "x-amz-checksum-crc32c")
        eset = self.placement.set_for(bucket, key)
        writer = BodyWriter(eset, self.config, bucket, key)
        try:
            written = await writer.write(body, max_size)
        except EngineError as exc:
            if exc.code == "EntityTooLarge" and options.content_length is not None \
                    and max_size == options.content_length:
                raise EngineError("IncompleteBody", "The body is longer than Content-Length") \
                    from exc
            raise
        try:
            _check_body(written, options, expected_md5, expected_crc)
        except BaseException:
            if written.layout is not None:
                await writer.discard()
            raise
        version = ObjectVersion(
            version_id=NULL_VERSION, size=written.size, etag=written.md5_hex,
            crc32c=written.crc32c, mtime_ns=self.clock.now_ns(), content=options.content,
            metadata=metadata, storage_class=storage_class,
        )
        if written.inline is not None:
            version.inline_data = written.inline
        else:
            assert written.layout is not None
            version.layout.CopyFrom(written.layout)

        async def commit_or_discard() -> None:
            try:
                await self._commit(eset, bucket, key, version, record.versioning, options,
                                   written.durable)
            except BaseException:
                if written.layout is not None:
                    await writer.discard()
                raise

        # Shielded: once the commit has started, only its outcome may decide whether the
        # shard files are discarded. A caller cancelled mid-commit (client gone) must not
        # delete data that a committed version refers to.
        await asyncio.shield(asyncio.ensure_future(commit_or_discard()))
        return version

    async def _commit(
        self, eset: ErasureSet, bucket: str, key: str, version: ObjectVersion,
        versioning: str, options: WriteOptions, durable: tuple[int, ...] = (),
    ) -> None:
        """Commit the version's metadata on the drives that hold its data (all drives
        for an inline object): metadata never points at a shard a drive lacks, and a
        drive that failed during the data phase costs no second deadline."""
        drives = [eset.drives[i] for i in durable] if durable else list(eset.drives)
        try:
            await fan_out(
                drives,
                lambda d: d.write_version(bucket, key, version, versioning=versioning,
                                          if_match=options.if_match,
                                          if_none_match=options.if_none_match),
                eset.write_quorum,
            )
        except PreconditionMismatch as exc:
            if exc.missing:
                raise EngineError("NoSuchKey", Key=key) from exc
            raise EngineError("PreconditionFailed", Condition=exc.header) from exc
        except VolumeNotFound as exc:
            raise EngineError("NoSuchBucket", BucketName=bucket) from exc

    async def delete_object(self, bucket: str, key: str, version_id: str = "") -> None:
        """Unversioned delete: S3 answers 204 whether or not the key existed."""
        await self.buckets.get(bucket)
        check_key(key)
        if version_id and version_id != NULL_VERSION:
            raise EngineError("InvalidArgument", "Invalid version id specified",
                              ArgumentName="versionId")
        eset = self.placement.set_for(bucket, key)
        try:
            await fan_out(eset.drives, lambda d: d.delete_entry(bucket, key), eset.write_quorum)
        except VolumeNotFound as exc:
            raise EngineError("NoSuchBucket", BucketName=bucket) from exc

    async def delete_objects(
        self, bucket: str, keys: list[tuple[str, str]]
    ) -> list[tuple[str, str, EngineError | None]]:
        """Each key's outcome; a bad key fails alone, the others are still deleted."""
        await self.buckets.get(bucket)
        if not keys:
            raise EngineError("MalformedXML", "The Delete request must name at least one key")
        if len(keys) > MAX_DELETE_KEYS:
            raise EngineError("MalformedXML", f"At most {MAX_DELETE_KEYS} keys per request")
        out: list[tuple[str, str, EngineError | None]] = []
        for key, version_id in keys:
            try:
                await self.delete_object(bucket, key, version_id)
                out.append((key, version_id, None))
            except EngineError as exc:
                if exc.code == "NoSuchBucket":
                    raise
                out.append((key, version_id, exc))
        return out

    async def copy_object(
        self, source_bucket: str, source_key: str, bucket: str, key: str, *,
        source_version_id: str = "", directive: str = "",
        source_conditions: cond.Conditions = NO_CONDITIONS,
        options: WriteOptions | None = None,
    ) -> tuple[ObjectVersion, ObjectVersion]:
        """(source version, new version). The body streams from source to destination."""
        options = options or WriteOptions()
        directive = directive or "COPY"
        if directive not in ("COPY", "REPLACE"):
            raise EngineError("InvalidArgument", "Unknown metadata directive.",
                              ArgumentName="x-amz-metadata-directive")
        source = await self._version(source_bucket, source_key, source_version_id)
        cond.check(source_conditions, source.etag, source.mtime_ns, copy_source=True)
        if source.size > MAX_COPY_SOURCE:
            raise EngineError("InvalidRequest", "The specified copy source is larger than the "
                              f"maximum allowable size for a copy source: {MAX_COPY_SOURCE}")
        new_class = options.storage_class or source.storage_class
        if (source_bucket, source_key) == (bucket, key) and directive == "COPY" \
                and new_class == source.storage_class and not source_version_id:
            raise EngineError(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself "
                "without changing the object's metadata, storage class, website redirect "
                "location or encryption attributes.",
            )
        if directive == "COPY":
            options = WriteOptions(content=source.content, metadata=dict(source.metadata),
                                   storage_class=new_class)
        else:
            options.storage_class = new_class
        source_set = self.placement.set_for(source_bucket, source_key)
        reader = await BodyReader(source, source_set, 0, source.size - 1).open()
        body = reader.stream()
        try:
            return source, await self.put_object(bucket, key, body, options)
        finally:
            await body.aclose()  # type: ignore[attr-defined]
            await reader.close()  # in case the body was never started

    # -- listing ---------------------------------------------------------------------

    async def list_objects_v2(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", max_keys: int | None = None,
        continuation_token: str = "", start_after: str = "",
    ) -> tuple[ListPage, int]:
        """The page and the effective MaxKeys."""
        await self.buckets.get(bucket)
        keys = MAX_KEYS if max_keys is None else max_keys
        if keys < 0:
            raise EngineError("InvalidArgument", "MaxKeys must not be negative",
                              ArgumentName="max-keys")
        keys = min(keys, MAX_KEYS)
        after = decode_token(continuation_token) if continuation_token else start_after
        page = await list_page(self.placement.sets(), bucket, prefix, delimiter, after, keys)
        return page, keys


def _decode_digest(value: str, size: int, header: str) -> bytes | None:
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EngineError("InvalidDigest", Header=header) from exc
    if len(raw) != size:
        raise EngineError("InvalidDigest", Header=header)
    return raw


def _check_body(
    written: WrittenBody, options: WriteOptions, md5: bytes | None, crc: bytes | None
) -> None:
    if options.content_length is not None and written.size != options.content_length:
        raise EngineError("IncompleteBody", f"Received {written.size} of "
                          f"{options.content_length} bytes")
    if md5 is not None and md5 != written.md5_digest:
        raise EngineError("BadDigest", "The Content-MD5 you specified did not match what we "
                          "received.")
    if crc is not None and int.from_bytes(crc, "big") != written.crc32c:
        raise EngineError("BadDigest", "The CRC32C you specified did not match the "
                          "calculated checksum.")
