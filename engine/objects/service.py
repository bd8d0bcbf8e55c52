"""The object API's semantics (S3): what each operation checks, stores and returns.

Pure Python over the placement's erasure sets and the drive API; the gRPC layer only
translates messages. Every user mistake is an EngineError with S3's code. Multipart
uploads (multipart.py), bucket/object subresources (subresources.py), access control
(permissions.py) and the REST-only bucket settings (bucket_settings.py) are mixed in,
all on the shared :class:`ObjectCore`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from engine.cluster.placement import ErasureSet
from engine.errors import EngineError
from engine.objects import conditions as cond
from engine.objects import restore
from engine.objects.access_settings import new_object_acl
from engine.objects.body_reader import BodyReader, DegradedHook
from engine.objects.bucket_settings import BucketSettingsOps
from engine.objects.checksums import Checksum
from engine.objects.core import (
    ObjectCore,
    WriteOptions,
    check_version_id,
    crc32c_b64,
    shielded_commit,
)
from engine.objects.listing import ListPage, decode_token, list_page, page_size
from engine.objects.multipart import MultipartOps, check_part_number
from engine.objects.names import check_key, check_storage_class, normalize_metadata
from engine.objects.notifications.emitter import Change
from engine.objects.notifications.ops import NotificationOps
from engine.objects.pages import VersionPage
from engine.objects.permissions import PermissionOps
from engine.objects.quorum import fan_out
from engine.objects.ranges import ByteRange, parse_range
from engine.objects.subresources import SubresourceOps
from engine.objects.tagging import parse_tagging
from engine.objects.versions import list_versions
from engine.storage.errors import VolumeNotFound
from engine.v1.records_pb2 import ContentRecord, ObjectVersion, VersionPatch

__all__ = ["DeleteResult", "ObjectRead", "ObjectService", "WriteOptions", "crc32c_b64"]

MAX_DELETE_KEYS = 1000
GET_ATTEMPTS = 3  # reads of a record whose data a racing overwrite collected
NO_CONDITIONS = cond.Conditions()


@dataclass
class ObjectRead:
    version: ObjectVersion
    range: ByteRange | None
    body: AsyncIterator[bytes] | None = None
    parts_count: int = 0  # set when a part was asked for
    part_number: int = 0  # the part asked for
    restore: str = ""  # x-amz-restore

    @property
    def content_length(self) -> int:
        return self.range.length if self.range else self.version.size


@dataclass
class DeleteResult:
    delete_marker: bool = False
    version_id: str = ""  # the marker created, or the version removed ("" unversioned)


def part_range(version: ObjectVersion, number: int) -> ByteRange | None:
    """The bytes of part `number` (a non-multipart object is one part)."""
    check_part_number(number)
    sizes = list(version.part_sizes) or [version.size]
    if number > len(sizes):
        raise EngineError("InvalidPartNumber", PartNumberRequested=str(number),
                          ActualPartCount=str(len(sizes)))
    first = sum(sizes[: number - 1])
    if sizes[number - 1] == 0:
        return None
    return ByteRange(first, first + sizes[number - 1] - 1)


class ObjectService(MultipartOps, SubresourceOps, PermissionOps, BucketSettingsOps,
                    NotificationOps, ObjectCore):
    # -- reads -----------------------------------------------------------------------

    async def head_object(
        self, bucket: str, key: str, *, version_id: str = "", range_header: str | None = None,
        part_number: int = 0, conditions: cond.Conditions = NO_CONDITIONS,
    ) -> ObjectRead:
        version = await self._version(bucket, key, version_id)
        cond.check(conditions, version.etag, version.mtime_ns)
        read = ObjectRead(version, None, restore=restore.header(version, self.clock.now_ns()))
        if part_number:
            if range_header is not None:
                raise EngineError("InvalidRequest", "Cannot specify both Range header and "
                                  "partNumber query parameter")
            read.range = part_range(version, part_number)
            read.parts_count = len(version.part_sizes) or 1
            read.part_number = part_number
        else:
            read.range = parse_range(range_header, version.size)
        return read

    async def get_object(
        self, bucket: str, key: str, *, version_id: str = "", range_header: str | None = None,
        part_number: int = 0, conditions: cond.Conditions = NO_CONDITIONS,
    ) -> ObjectRead:
        """A version overwritten between reading its record and opening its data (its
        shards already collected) is read again: the GET answers with the newer one."""
        for attempt in range(GET_ATTEMPTS):
            read = await self.head_object(bucket, key, version_id=version_id,
                                          range_header=range_header, part_number=part_number,
                                          conditions=conditions)
            try:
                return await self._open_body(bucket, key, read, part_number)
            except EngineError as exc:
                if attempt + 1 == GET_ATTEMPTS \
                        or exc.code not in ("InternalError", "ServiceUnavailable") \
                        or not await self._superseded(bucket, key, read.version):
                    raise
        raise AssertionError("unreachable")

    async def _open_body(self, bucket: str, key: str, read: ObjectRead,
                         part_number: int) -> ObjectRead:
        restore.check_readable(read.version, self.clock.now_ns())
        eset = self.placement.set_for(bucket, key)
        whole = (0, read.version.size - 1)
        first, last = (read.range.first, read.range.last) if read.range else whole
        if part_number and read.range is None:
            first, last = 0, -1  # an empty part

        async def open_body(lo: int, hi: int) -> AsyncIterator[bytes]:
            reader = await BodyReader(read.version, eset, lo, hi,
                                      self._degraded_hook(eset, bucket, key)).open()
            return reader.stream()

        if self.read_cache is not None:
            read.body = await self.read_cache.serve(bucket, key, read.version, first, last,
                                                    open_body)
        else:
            read.body = await open_body(first, last)
        return read

    async def _superseded(self, bucket: str, key: str, version: ObjectVersion) -> bool:
        """The version was overwritten, removed or re-encoded since it was read."""
        try:
            return not await self._still_there(self.placement.set_for(bucket, key), bucket,
                                               key, version)
        except EngineError:
            return False

    def _degraded_hook(self, eset: ErasureSet, bucket: str, key: str) -> DegradedHook | None:
        hook = self.on_degraded
        if hook is None:
            return None
        return lambda _version, _bad: hook(eset, bucket, key)

    # -- writes ----------------------------------------------------------------------

    async def put_object(
        self, bucket: str, key: str, body: AsyncIterator[bytes], options: WriteOptions
    ) -> ObjectVersion:
        record = await self.buckets.get(bucket, stale_ok=True)
        check_key(key)
        acl = new_object_acl(self.account, record, options.acl, options.writer,
                             options.requester)
        metadata = normalize_metadata(options.metadata)
        storage_class = check_storage_class(options.storage_class)
        tags = options.tags if options.tags is not None else parse_tagging(options.tagging)
        if options.if_none_match is not None and options.if_none_match.strip() != "*":
            raise EngineError("NotImplemented", "If-None-Match on PUT accepts only '*'",
                              Header="If-None-Match")
        eset = self.placement.set_for(bucket, key)
        watch = self.read_cache.watch(bucket, key, self._entry(eset, bucket, key)) \
            if self.read_cache is not None else None
        writer, written = await self._write_checked(
            eset, bucket, key, body, storage_class, max_size=self.config.max_object_size,
            content_length=options.content_length, content_md5=options.content_md5,
            checksum_crc32c=options.checksum_crc32c)
        version = ObjectVersion(
            version_id=self.new_version_id(record.versioning), size=written.size,
            etag=written.md5_hex, crc32c=written.crc32c, mtime_ns=self.clock.now_ns(),
            content=options.content, metadata=metadata, storage_class=storage_class,
            tags=tags, acl=acl,
        )
        if options.checksum is not None and options.checksum.value:
            version.checksum_algorithm = options.checksum.algorithm
            version.checksum = options.checksum.value
            version.checksum_type = "FULL_OBJECT"
        if written.inline is not None:
            version.inline_data = written.inline
        else:
            assert written.layout is not None
            version.layout.CopyFrom(written.layout)
        events = self._events(record, Change(options.event, key, version))
        await shielded_commit(
            lambda: self._commit(eset, bucket, key, version, record.versioning, options,
                                 self._metadata_drives(eset, written), events),
            writer.discard,
        )
        if watch is not None:
            watch.superseded(version)
        return version

    async def delete_object(self, bucket: str, key: str, version_id: str = "") -> DeleteResult:
        """S3 answers 204 whether or not the key (or version) existed.

        Without a version id, a versioned bucket gets a delete marker (a new one when
        Enabled, the null one when Suspended); an unversioned bucket forgets the key.
        With one, exactly that version (or marker) is removed for good.
        """
        record = await self.buckets.get(bucket, stale_ok=True)
        check_key(key)
        eset = self.placement.set_for(bucket, key)
        if version_id:
            check_version_id(version_id)
            entry = await self._entry(eset, bucket, key)
            target = next((v for v in entry.versions if v.version_id == version_id), None) \
                if entry else None
            if target is None:
                return DeleteResult(version_id=version_id)
            events = self._events(record, Change("ObjectRemoved:Delete", key,
                                                 version_id=version_id))
            try:
                await self._patch(bucket, key, VersionPatch(version_id=version_id, remove=True),
                                  events=events)
            except EngineError as exc:
                if exc.code != "NoSuchVersion":
                    raise
            if self.read_cache is not None:
                self.read_cache.forget(bucket, key, [target])
            return DeleteResult(target.delete_marker, version_id)
        # The read cache is left alone: a marker keeps the old versions readable, and the
        # body of a forgotten key is cached under its write's data id, which no later GET
        # can name, so the LRU evicts it. Reading the entry first to drop it would make a
        # DELETE wait on a hung peer twice.
        if record.versioning:
            marker = ObjectVersion(version_id=self.new_version_id(record.versioning),
                                   delete_marker=True, mtime_ns=self.clock.now_ns())
            await self._commit(eset, bucket, key, marker, record.versioning, events=self._events(
                record, Change("ObjectRemoved:DeleteMarkerCreated", key, marker)))
            return DeleteResult(True, marker.version_id)
        events = self._events(record, Change("ObjectRemoved:Delete", key))
        try:
            existed = await fan_out(eset.drives, lambda d: d.delete_entry(bucket, key, events),
                                    eset.write_quorum)
        except VolumeNotFound as exc:
            raise EngineError("NoSuchBucket", BucketName=bucket) from exc
        if any(existed):  # S3 reports a removal only of something there
            self._announce(eset, events)
        return DeleteResult()

    async def delete_objects(
        self, bucket: str, keys: list[tuple[str, str]]
    ) -> list[tuple[str, str, DeleteResult | None, EngineError | None]]:
        """Each key's outcome; a bad key fails alone, the others are still deleted."""
        await self.buckets.get(bucket, stale_ok=True)
        if not keys:
            raise EngineError("MalformedXML", "The Delete request must name at least one key")
        if len(keys) > MAX_DELETE_KEYS:
            raise EngineError("MalformedXML", f"At most {MAX_DELETE_KEYS} keys per request")
        out: list[tuple[str, str, DeleteResult | None, EngineError | None]] = []
        for key, version_id in keys:
            try:
                result = await self.delete_object(bucket, key, version_id)
                out.append((key, version_id, result, None))
            except EngineError as exc:
                if exc.code == "NoSuchBucket":
                    raise
                out.append((key, version_id, None, exc))
        return out

    async def copy_object(
        self, source_bucket: str, source_key: str, bucket: str, key: str, *,
        source_version_id: str = "", directive: str = "", tagging_directive: str = "",
        source_conditions: cond.Conditions = NO_CONDITIONS,
        options: WriteOptions | None = None,
    ) -> tuple[ObjectVersion, ObjectVersion]:
        """(source version, new version). The body streams from source to destination."""
        options = options or WriteOptions()
        directive = directive or "COPY"
        tagging_directive = tagging_directive or "COPY"
        if directive not in ("COPY", "REPLACE"):
            raise EngineError("InvalidArgument", "Unknown metadata directive.",
                              ArgumentName="x-amz-metadata-directive")
        if tagging_directive not in ("COPY", "REPLACE"):
            raise EngineError("InvalidArgument", "Unknown tagging directive.",
                              ArgumentName="x-amz-tagging-directive")
        source = await self._source(source_bucket, source_key, source_version_id,
                                    source_conditions)
        # S3: a copy without x-amz-storage-class is STANDARD, whatever the source's class
        new_class = options.storage_class or "STANDARD"
        unchanged = not options.storage_class or \
            new_class == (source.storage_class or "STANDARD")
        if (source_bucket, source_key) == (bucket, key) and directive == "COPY" \
                and unchanged and not source_version_id \
                and not options.content.website_redirect_location:
            raise EngineError(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself "
                "without changing the object's metadata, storage class, website redirect "
                "location or encryption attributes.",
            )
        tags = dict(source.tags) if tagging_directive == "COPY" \
            else parse_tagging(options.tagging)
        if directive == "COPY":
            content = ContentRecord()
            content.CopyFrom(source.content)
            content.website_redirect_location = options.content.website_redirect_location
            options = WriteOptions(content=content, metadata=dict(source.metadata),
                                   storage_class=new_class, tags=tags, acl=options.acl,
                                   writer=options.writer, requester=options.requester)
        else:
            options.storage_class = new_class
            options.tags = tags
        options.event = "ObjectCreated:Copy"
        if source.checksum and source.checksum_type != "COMPOSITE":
            options.checksum = Checksum(source.checksum_algorithm, source.checksum)
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
        await self.buckets.get(bucket, stale_ok=True)
        keys = page_size(max_keys, "max-keys")
        after = decode_token(continuation_token) if continuation_token else start_after
        page = await list_page(self.placement.sets(), bucket, prefix, delimiter, after, keys)
        return page, keys

    async def list_object_versions(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", key_marker: str = "",
        version_id_marker: str = "", max_keys: int | None = None,
    ) -> VersionPage:
        await self.buckets.get(bucket, stale_ok=True)
        if version_id_marker and not key_marker:
            raise EngineError("InvalidArgument", "A version-id marker cannot be specified "
                              "without a key marker.", ArgumentName="version-id-marker")
        return await list_versions(self, bucket, prefix, delimiter, key_marker,
                                   version_id_marker, page_size(max_keys, "max-keys"))
