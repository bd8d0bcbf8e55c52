"""Multipart uploads (S3): parts stored as they arrive, assembled at completion.

An upload is a record on every drive of its key's erasure set; each part's body is
written like an object body (in the upload's storage class) and its record added
beside the upload's. Completion is one transaction per drive that removes the upload
and adds a version whose body is the list of parts, so no data is copied and readers
see the old object or the whole new one. Parts not named in the completion, replaced
parts and aborted uploads become garbage on each drive in the same transaction:
nothing is orphaned.

Whether an upload exists, and which parts it has, is decided like an entry read:
drives that answered vote, and a part counts when most of the drives holding the
upload hold that exact part.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from collections.abc import AsyncIterator

from engine._hotpath import crc32c_combine
from engine.cluster.placement import ErasureSet
from engine.errors import EngineError
from engine.objects import checksums
from engine.objects import conditions as cond
from engine.objects.access_settings import new_object_acl
from engine.objects.body_reader import BodyReader
from engine.objects.checksums import Checksum
from engine.objects.core import (
    ObjectCore,
    WriteOptions,
    new_version_id,
    shielded_commit,
)
from engine.objects.listing import page_size
from engine.objects.names import check_key, check_storage_class, normalize_metadata
from engine.objects.notifications.emitter import Change
from engine.objects.pages import PartsPage, UploadsPage
from engine.objects.quorum import fan_out
from engine.objects.tagging import parse_tagging
from engine.storage.drive import Drive
from engine.storage.errors import UploadNotFound, VolumeNotFound
from engine.v1.records_pb2 import MultipartBody, ObjectVersion, PartBody, UploadRecord

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # every part but the last
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_UPLOAD_SIZE = 5 * 1024 * 1024 * MIB  # 5 TiB
MAX_PARTS = 10_000
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
NO_CONDITIONS = cond.Conditions()
_COPY_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")


def check_part_number(number: int) -> None:
    if not 1 <= number <= MAX_PARTS:
        raise EngineError("InvalidArgument", "Part number must be an integer between 1 and "
                          f"{MAX_PARTS}, inclusive", ArgumentName="partNumber",
                          ArgumentValue=str(number))


def multipart_etag(parts: list[PartBody]) -> str:
    """S3's ETag of a completed upload: MD5 of the concatenated binary part MD5s, -N."""
    digest = hashlib.md5(b"".join(bytes.fromhex(p.etag) for p in parts)).hexdigest()
    return f"{digest}-{len(parts)}"


def _part_key(part: PartBody) -> tuple[int, str, str]:
    data_id = part.layout.data_id if part.WhichOneof("body") == "layout" else ""
    return (part.number, part.etag, data_id)


class MultipartOps(ObjectCore):
    async def create_multipart_upload(self, bucket: str, key: str, options: WriteOptions
                                      ) -> UploadRecord:
        record = await self.buckets.get(bucket, stale_ok=True)
        check_key(key)
        acl = new_object_acl(self.account, record, options.acl, options.writer,
                             options.requester)
        upload = UploadRecord(
            upload_id=new_version_id(self.clock), key=key, initiated_ns=self.clock.now_ns(),
            content=options.content, metadata=normalize_metadata(options.metadata),
            storage_class=check_storage_class(options.storage_class),
            tags=options.tags if options.tags is not None else parse_tagging(options.tagging),
            acl=acl,
        )
        if options.checksum is not None:
            upload.checksum_algorithm = options.checksum.algorithm
            upload.checksum_type = options.checksum_type
        eset = self.placement.set_for(bucket, key)
        try:
            await fan_out(eset.drives, lambda d: d.create_upload(bucket, upload),
                          eset.write_quorum)
        except VolumeNotFound as exc:
            raise EngineError("NoSuchBucket", BucketName=bucket) from exc
        return upload

    async def _upload(self, bucket: str, key: str, upload_id: str) -> UploadRecord:
        """The upload as the set's drives agree on it, with its agreed parts."""
        await self.buckets.get(bucket, stale_ok=True)
        check_key(key)
        if not _UPLOAD_ID.match(upload_id):
            raise EngineError("NoSuchUpload", UploadId=upload_id)
        eset = self.placement.set_for(bucket, key)

        async def read(drive: Drive) -> tuple[UploadRecord | None]:
            return (await drive.read_upload(bucket, upload_id),)

        answers = [a[0] for a in await fan_out(eset.drives, read, eset.read_quorum)
                   if a is not None]
        present = [r for r in answers if r is not None]
        if len(present) <= len(answers) - len(present) or present[0].key != key:
            raise EngineError("NoSuchUpload", UploadId=upload_id)
        votes: Counter[tuple[int, str, str]] = Counter()
        bodies: dict[tuple[int, str, str], PartBody] = {}
        for record in present:
            for part in record.parts:
                votes[_part_key(part)] += 1
                bodies[_part_key(part)] = part
        best: dict[int, tuple[int, tuple[int, str, str]]] = {}
        for pk, count in votes.items():
            if count * 2 > len(present) and count > best.get(pk[0], (0, pk))[0]:
                best[pk[0]] = (count, pk)
        upload = UploadRecord()
        upload.CopyFrom(present[0])
        del upload.parts[:]
        upload.parts.extend(bodies[best[n][1]] for n in sorted(best))
        return upload

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int,
        body: AsyncIterator[bytes], *, content_length: int | None = None,
        content_md5: str = "", checksum_crc32c: str = "", checksum: Checksum | None = None,
    ) -> PartBody:
        """``checksum``: the part's x-amz-checksum-* (verified by the API layer, its value
        filled in once the body ends), kept for the upload's checksum at completion. A
        part sent without the upload's checksum (a client that does not compute it, or
        UploadPartCopy) gets one computed here, as S3 computes it."""
        check_part_number(part_number)
        upload = await self._upload(bucket, key, upload_id)
        if checksum is not None and upload.checksum_algorithm and \
                checksum.algorithm != upload.checksum_algorithm:
            raise EngineError("InvalidRequest", "Checksum Type mismatch occurred, expected "
                              f"checksum Type: {upload.checksum_algorithm.lower()}, actual "
                              f"checksum Type: {checksum.algorithm.lower()}")
        computed = checksums.StreamChecksum(upload.checksum_algorithm) \
            if upload.checksum_algorithm and checksum is None else None
        if computed is not None:
            body = computed.through(body)
        eset = self.placement.set_for(bucket, key)
        writer, written = await self._write_checked(
            eset, bucket, key, body, upload.storage_class, max_size=MAX_PART_SIZE,
            content_length=content_length, content_md5=content_md5,
            checksum_crc32c=checksum_crc32c)
        part = PartBody(number=part_number, size=written.size, etag=written.md5_hex,
                        crc32c=written.crc32c, mtime_ns=self.clock.now_ns())
        if checksum is not None and checksum.algorithm == upload.checksum_algorithm:
            part.checksum = checksum.value
        elif computed is not None:
            part.checksum = computed.value
        if written.inline is not None:
            part.inline_data = written.inline
        else:
            assert written.layout is not None
            part.layout.CopyFrom(written.layout)
        drives = [eset.drives[i] for i in self._metadata_drives(eset, written)]

        async def commit() -> None:
            try:
                await fan_out(drives, lambda d: d.put_part(bucket, upload_id, part),
                              eset.write_quorum)
            except UploadNotFound as exc:
                raise EngineError("NoSuchUpload", UploadId=upload_id) from exc

        await shielded_commit(commit, writer.discard)
        return part

    async def upload_part_copy(
        self, bucket: str, key: str, upload_id: str, part_number: int, source_bucket: str,
        source_key: str, *, source_version_id: str = "", source_range: str = "",
        source_conditions: cond.Conditions = NO_CONDITIONS,
    ) -> tuple[ObjectVersion, PartBody]:
        check_part_number(part_number)
        await self._upload(bucket, key, upload_id)
        source = await self._source(source_bucket, source_key, source_version_id,
                                    source_conditions)
        first, last = 0, source.size - 1
        if source_range:
            match = _COPY_RANGE.match(source_range)
            if match is None:
                raise EngineError(
                    "InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                    "bytes=first-last where first and last are the zero-based offsets of the "
                    "first and last bytes to copy", ArgumentName="x-amz-copy-source-range")
            first, last = int(match[1]), int(match[2])
            if first > last or last >= source.size:
                raise EngineError("InvalidArgument", "Range specified is not valid for source "
                                  f"object of size: {source.size}",
                                  ArgumentName="x-amz-copy-source-range")
        reader = await BodyReader(source, self.placement.set_for(source_bucket, source_key),
                                  first, last).open()
        body = reader.stream()
        try:
            part = await self.upload_part(bucket, key, upload_id, part_number, body,
                                          content_length=last - first + 1)
        finally:
            await body.aclose()  # type: ignore[attr-defined]
            await reader.close()
        return source, part

    async def complete_multipart_upload(
        self, bucket: str, key: str, upload_id: str, parts: list[tuple[int, str]],
        part_checksums: dict[int, str] | None = None, object_checksum: Checksum | None = None,
    ) -> ObjectVersion:
        """``part_checksums``: the checksums the request names the parts with, by part
        number (InvalidPart when one differs from the part's); None when the protocol
        cannot name them (gRPC), else a COMPOSITE upload needs one for every part, as S3
        does. ``object_checksum``: the whole object's, compared with what the parts make
        (BadDigest)."""
        record = await self.buckets.get(bucket, stale_ok=True)
        eset = self.placement.set_for(bucket, key)
        watch = self.read_cache.watch(bucket, key, self._entry(eset, bucket, key)) \
            if self.read_cache is not None else None
        upload = await self._upload(bucket, key, upload_id)
        if not parts:
            raise EngineError("MalformedXML", "You must specify at least one part")
        numbers = [n for n, _ in parts]
        for n in numbers:
            check_part_number(n)
        if any(a >= b for a, b in itertools.pairwise(numbers)):
            raise EngineError("InvalidPartOrder")
        uploaded = {p.number: p for p in upload.parts}
        chosen: list[PartBody] = []
        for number, etag in parts:
            part = uploaded.get(number)
            claimed = (part_checksums or {}).get(number)
            if part is None or part.etag != etag.strip().strip('"') or (
                    claimed is not None and part.checksum and claimed != part.checksum):
                raise EngineError("InvalidPart", UploadId=upload_id, PartNumber=str(number),
                                  ETag=etag)
            chosen.append(part)
        _check_named_checksums(upload, numbers, part_checksums)
        for part in chosen[:-1]:
            if part.size < MIN_PART_SIZE:
                raise EngineError("EntityTooSmall", ProposedSize=str(part.size),
                                  MinSizeAllowed=str(MIN_PART_SIZE),
                                  PartNumber=str(part.number))
        size = sum(p.size for p in chosen)
        if size > MAX_UPLOAD_SIZE:
            raise EngineError("EntityTooLarge", MaxSizeAllowed=str(MAX_UPLOAD_SIZE))
        crc = 0
        for p in chosen:
            crc = crc32c_combine(crc, p.crc32c, p.size)
        version = ObjectVersion(
            version_id=self.new_version_id(record.versioning), size=size,
            etag=multipart_etag(chosen), crc32c=crc, mtime_ns=self.clock.now_ns(),
            content=upload.content, metadata=upload.metadata,
            storage_class=upload.storage_class, tags=upload.tags, acl=upload.acl,
            part_sizes=[p.size for p in chosen], parts=MultipartBody(parts=chosen),
        )
        _upload_checksum(version, upload, chosen)
        _check_object_checksum(version, object_checksum)
        events = self._events(record, Change("ObjectCreated:CompleteMultipartUpload", key,
                                             version))
        try:
            await fan_out(eset.drives, lambda d: d.complete_upload(
                bucket, key, upload_id, version, record.versioning, events), eset.write_quorum)
        except UploadNotFound as exc:
            raise EngineError("NoSuchUpload", UploadId=upload_id) from exc
        except VolumeNotFound as exc:
            raise EngineError("NoSuchBucket", BucketName=bucket) from exc
        self._announce(eset, events)
        if watch is not None:
            watch.superseded(version)
        return version

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        await self._upload(bucket, key, upload_id)
        eset = self.placement.set_for(bucket, key)
        await fan_out(eset.drives, lambda d: d.abort_upload(bucket, upload_id),
                      eset.write_quorum)

    async def list_parts(self, bucket: str, key: str, upload_id: str, *,
                         part_number_marker: int = 0, max_parts: int | None = None
                         ) -> PartsPage:
        upload = await self._upload(bucket, key, upload_id)
        limit = page_size(max_parts, "max-parts")
        after = [p for p in upload.parts if p.number > part_number_marker]
        page = PartsPage(upload=upload, parts=after[:limit], max_parts=limit)
        page.is_truncated = len(after) > limit
        if page.parts:
            page.next_part_number_marker = page.parts[-1].number
        return page

    async def list_multipart_uploads(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", key_marker: str = "",
        upload_id_marker: str = "", max_uploads: int | None = None,
    ) -> UploadsPage:
        await self.buckets.get(bucket, stale_ok=True)
        limit = page_size(max_uploads, "max-uploads")
        uploads: list[UploadRecord] = []
        for eset in self.placement.sets():
            uploads.extend(await set_uploads(eset, bucket, prefix))
        uploads.sort(key=lambda u: (u.key, u.upload_id))
        page = UploadsPage(max_uploads=limit)
        prefixes: set[str] = set()
        for upload in uploads:
            if (upload.key, upload.upload_id) <= (key_marker, upload_id_marker) or \
                    (key_marker and not upload_id_marker and upload.key <= key_marker):
                continue
            rolled = _rollup(upload.key, prefix, delimiter)
            if rolled is not None and (rolled in prefixes or rolled <= key_marker):
                continue
            if len(page.uploads) + len(page.common_prefixes) == limit:
                page.is_truncated = True
                break
            if rolled is not None:
                prefixes.add(rolled)
                page.common_prefixes.append(rolled)
                page.next_key_marker, page.next_upload_id_marker = rolled, ""
            else:
                page.uploads.append(upload)
                page.next_key_marker, page.next_upload_id_marker = upload.key, upload.upload_id
        if not page.is_truncated:
            page.next_key_marker = page.next_upload_id_marker = ""
        return page


def _rollup(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]


async def set_uploads(eset: ErasureSet, bucket: str, prefix: str) -> list[UploadRecord]:
    """The set's uploads that most of its answering drives hold."""
    answers = [a for a in await fan_out(eset.drives, lambda d: d.list_uploads(bucket, prefix),
                                        eset.read_quorum) if a is not None]
    votes: Counter[str] = Counter()
    records: dict[str, UploadRecord] = {}
    for listing in answers:
        for record in listing:
            votes[record.upload_id] += 1
            records[record.upload_id] = record
    return [records[u] for u, n in votes.items() if n * 2 > len(answers)]


def _check_named_checksums(upload: UploadRecord, numbers: list[int],
                           named: dict[int, str] | None) -> None:
    """A COMPOSITE checksum is made of the part checksums the request names: S3 refuses a
    completion that leaves one out (a FULL_OBJECT CRC needs none of them)."""
    algorithm = upload.checksum_algorithm
    if named is None or not algorithm or \
            (upload.checksum_type or checksums.COMPOSITE) != checksums.COMPOSITE:
        return
    missing = next((n for n in numbers if not named.get(n)), None)
    if missing is not None:
        raise EngineError("InvalidRequest", f"The upload was created using a "
                          f"{algorithm.lower()} checksum. The complete request must include "
                          f"the checksum for each part. It was missing for part {missing} "
                          "in the request.")


def _check_object_checksum(version: ObjectVersion, sent: Checksum | None) -> None:
    """The whole object's checksum a completion may carry: the upload's algorithm, and
    the value its parts make (a COMPOSITE one with or without its ``-N``)."""
    if sent is None:
        return
    if not version.checksum_algorithm or sent.algorithm != version.checksum_algorithm:
        raise EngineError("InvalidRequest", "The upload was created using the "
                          f"{(version.checksum_algorithm or 'null').lower()} checksum "
                          f"algorithm, not {sent.algorithm.lower()}.")
    if sent.value not in (version.checksum, version.checksum.rsplit("-", 1)[0]):
        raise EngineError("BadDigest", f"The {sent.algorithm} you specified did not match "
                          "the calculated checksum.")


def _upload_checksum(version: ObjectVersion, upload: UploadRecord,
                     parts: list[PartBody]) -> None:
    """The completed object's checksum in the upload's algorithm and type, when every
    part has one (a part uploaded without it leaves the object with CRC32C alone)."""
    algorithm = upload.checksum_algorithm
    if not algorithm or not all(p.checksum for p in parts):
        return
    kind = upload.checksum_type or checksums.COMPOSITE
    version.checksum_algorithm, version.checksum_type = algorithm, kind
    version.checksum = checksums.composite(algorithm, [p.checksum for p in parts]) \
        if kind == checksums.COMPOSITE else \
        checksums.full_object(algorithm, [(p.checksum, p.size) for p in parts])
