"""A drive's metadata: bucket volumes, object entries and write intents, in LMDB.

One LMDB environment per drive, opened with full durability (a committed transaction
has been fsynced). Four sub-databases:

- ``volumes``: bucket name -> BucketRecord. An object can only be committed into an
  existing volume and a volume can only be dropped when empty, both checked inside the
  same transaction, so DeleteBucket never races a PUT into leaving orphans.
- ``objects``: see :mod:`engine.storage.keyspace`; values are ObjectEntry records
  (all versions of a key, newest first) or OverflowEntry records.
- ``intents``: data id -> b"P" (shard files being written, not yet referenced) or b"G"
  (no longer referenced, to be deleted). A crash leaves at most these behind, and
  :meth:`MetaStore.intents` lets recovery finish the job without scanning the drive.
- ``uploads``: multipart uploads in progress and their parts, one record each (see
  :mod:`engine.storage.keyspace`). A part's data is referenced by its part record until
  the upload completes (then by the object) or is aborted (then it becomes garbage).
- ``outbox``: event notifications waiting for delivery (:mod:`engine.storage.outbox`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import lmdb

from engine.storage import keyspace
from engine.storage.durable_dirs import durable_store_dir, make_durable_dirs
from engine.storage.entries import APPLIED, MISSING, add_version, apply_patch, layouts
from engine.storage.errors import UploadNotFound, VolumeExists, VolumeNotEmpty, VolumeNotFound
from engine.storage.outbox import Outbox
from engine.v1.records_pb2 import (
    BucketRecord,
    ObjectEntry,
    ObjectVersion,
    OverflowEntry,
    PartBody,
    UploadRecord,
    VersionPatch,
)

PENDING = b"P"
GARBAGE = b"G"
_STAMP = struct.Struct("<q")

EntryUpdate = Callable[[ObjectEntry | None], ObjectEntry | None]
Listing = list[tuple[str, ObjectEntry | None]]  # None marks a common prefix


def data_ids(entry: ObjectEntry | None) -> set[str]:
    """Shard-file data ids an entry refers to: every layout of every version, including
    each stored part of a multipart object."""
    if entry is None:
        return set()
    return {layout.data_id for v in entry.versions for layout in layouts(v)}


def body_ids(body: ObjectVersion | PartBody) -> set[str]:
    """Shard-file data ids one version or part refers to."""
    return {layout.data_id for layout in layouts(body)}


def successor(raw: bytes) -> bytes:
    """The smallest byte string greater than every string that starts with `raw`."""
    trimmed = raw.rstrip(b"\xff")
    return trimmed[:-1] + bytes([trimmed[-1] + 1]) if trimmed else raw + b"\xff"


class MetaStore:
    def __init__(self, path: Path, map_size: int) -> None:
        make_durable_dirs(path)
        self.env = lmdb.open(
            str(path), map_size=map_size, max_dbs=6, sync=True, metasync=True,
            max_readers=256, readahead=False,
        )
        durable_store_dir(path)
        self._volumes = self.env.open_db(b"volumes")
        self._objects = self.env.open_db(b"objects")
        self._intents = self.env.open_db(b"intents")
        self._uploads = self.env.open_db(b"uploads")
        self.outbox = Outbox(self.env, self.env.open_db(b"outbox"))

    def close(self) -> None:
        self.env.close()

    # -- volumes ---------------------------------------------------------------------

    def make_volume(self, record: BucketRecord) -> None:
        with self.env.begin(write=True, db=self._volumes) as txn:
            if not txn.put(record.name.encode(), record.SerializeToString(), overwrite=False):
                raise VolumeExists(record.name)

    def put_volume(self, record: BucketRecord) -> None:
        with self.env.begin(write=True, db=self._volumes) as txn:
            if txn.get(record.name.encode()) is None:
                raise VolumeNotFound(record.name)
            txn.put(record.name.encode(), record.SerializeToString())

    def get_volume(self, name: str) -> BucketRecord | None:
        with self.env.begin(db=self._volumes) as txn:
            raw = txn.get(name.encode())
        return None if raw is None else BucketRecord.FromString(raw)

    def list_volumes(self) -> list[BucketRecord]:
        with self.env.begin(db=self._volumes) as txn:
            return [BucketRecord.FromString(v) for _, v in txn.cursor()]

    def delete_volume(self, name: str) -> list[str]:
        """Drop an empty volume; see :meth:`delete_volume_in`."""
        with self.env.begin(write=True) as txn:
            return self.delete_volume_in(txn, name)

    def delete_volume_in(self, txn: lmdb.Transaction, name: str) -> list[str]:
        """Drop a volume that holds no object, with its uploads in progress (S3 lets a
        bucket with unfinished uploads be deleted). Their parts' data becomes garbage in
        the same transaction, so nothing is orphaned; returns those data ids."""
        if txn.get(name.encode(), db=self._volumes) is None:
            raise VolumeNotFound(name)
        cursor = txn.cursor(db=self._objects)
        prefix = keyspace.bucket_prefix(name)
        if cursor.set_range(prefix) and cursor.key().startswith(prefix):
            raise VolumeNotEmpty(name)
        garbage = sorted(self._drop_range(txn, name, prefix))
        self._mark_garbage(txn, garbage)
        txn.delete(name.encode(), db=self._volumes)
        return garbage

    # -- objects ---------------------------------------------------------------------

    def get_entry(self, bucket: str, key: str) -> ObjectEntry | None:
        lkey, overflow = keyspace.lmdb_key(bucket, key)
        with self.env.begin(db=self._objects) as txn:
            raw = txn.get(lkey)
        if raw is None:
            return None
        if not overflow:
            return ObjectEntry.FromString(raw)
        return OverflowEntry.FromString(raw).entries.get(key)

    def update_entry(
        self, bucket: str, key: str, update: EntryUpdate, commit_intent: str | None = None
    ) -> list[str]:
        """Atomically replace a key's entry with ``update(old)`` (None deletes it).

        `update` may raise to abort. Data ids the old entry referenced and the new one
        does not become garbage in the same transaction, and `commit_intent` (the data
        id of the write being committed) stops being pending. Returns the garbage ids,
        which the caller deletes and then clears with :meth:`clear_intents`.
        """
        with self.env.begin(write=True) as txn:
            return self.update_in(txn, bucket, key, update, commit_intent)

    def update_in(
        self, txn: lmdb.Transaction, bucket: str, key: str, update: EntryUpdate,
        commit_intent: str | None = None,
    ) -> list[str]:
        """:meth:`update_entry` inside a write transaction the caller commits."""
        lkey, overflow = keyspace.lmdb_key(bucket, key)
        if txn.get(bucket.encode(), db=self._volumes) is None:
            raise VolumeNotFound(bucket)
        raw = txn.get(lkey, db=self._objects)
        holder = OverflowEntry.FromString(raw) if overflow and raw else OverflowEntry()
        old: ObjectEntry | None
        if overflow:
            old = ObjectEntry() if key in holder.entries else None
            if old is not None:
                old.CopyFrom(holder.entries[key])
        else:
            old = None if raw is None else ObjectEntry.FromString(raw)
        before = data_ids(old)  # taken first: `update` may modify `old` in place
        new = update(old)
        if new is not None and not new.versions:
            new = None
        if overflow:
            if new is None:
                holder.entries.pop(key, None)
            else:
                holder.entries[key].CopyFrom(new)
            if holder.entries:
                txn.put(lkey, holder.SerializeToString(), db=self._objects)
            else:
                txn.delete(lkey, db=self._objects)
        elif new is None:
            txn.delete(lkey, db=self._objects)
        else:
            txn.put(lkey, new.SerializeToString(), db=self._objects)
        garbage = sorted(before - data_ids(new))
        if commit_intent is not None:
            self._commit_intents(txn, [commit_intent])
        self._mark_garbage(txn, garbage)
        return garbage

    def patch_in(
        self, txn: lmdb.Transaction, bucket: str, key: str, patch: VersionPatch
    ) -> tuple[str, list[str]]:
        """Apply a :class:`VersionPatch` (see :func:`entries.apply_patch`): (outcome,
        garbage ids). A new body's data, written under this key, stops being pending."""
        outcome = MISSING

        def update(entry: ObjectEntry | None) -> ObjectEntry | None:
            nonlocal outcome
            new, outcome = apply_patch(entry, patch)
            return new

        garbage = self.update_in(txn, bucket, key, update)
        if outcome == APPLIED and patch.HasField("body"):
            self._commit_intents(txn, body_ids(patch.body))
        return outcome, garbage

    def list_entries(
        self, bucket: str, prefix: str, after: str, delimiter: str, limit: int
    ) -> Listing:
        """Up to `limit` items in key order: keys > `after` that start with `prefix`,
        with keys sharing a common prefix (up to the next `delimiter` after `prefix`)
        rolled into one ``(common_prefix, None)`` item.

        A common prefix is skipped by seeking past it, so a page costs O(page) LMDB
        lookups however many keys each prefix holds. A common prefix that `after` lies
        in (or equals) was returned by an earlier page and is not returned again.
        """
        out: Listing = []
        if limit <= 0:
            return out
        pos = max(prefix, after).encode()
        skip: str | None = None
        with self.env.begin(db=self._objects) as txn:
            while True:
                reseek: bytes | None = None
                for key, entry in self._entries_from(txn, bucket, pos):
                    if key <= after or (skip is not None and key.startswith(skip)):
                        continue
                    if not key.startswith(prefix):
                        if key > prefix:
                            return out
                        continue
                    cut = key.find(delimiter, len(prefix)) if delimiter else -1
                    if cut >= 0:
                        common = key[: cut + len(delimiter)]
                        skip = common
                        if not after.startswith(common):
                            out.append((common, None))
                            after = common
                            if len(out) >= limit:
                                return out
                        reseek = successor(common.encode())
                        break
                    out.append((key, entry))
                    after = key
                    if len(out) >= limit:
                        return out
                if reseek is None:
                    return out
                pos = reseek

    def _entries_from(
        self, txn: lmdb.Transaction, bucket: str, start: bytes
    ) -> Iterator[tuple[str, ObjectEntry]]:
        bprefix = keyspace.bucket_prefix(bucket)
        cursor = txn.cursor(db=self._objects)
        if not cursor.set_range(bprefix + start[: keyspace.DIRECT_LIMIT]):
            return
        for stored, raw in cursor.iternext():
            if not stored.startswith(bprefix):
                return
            part, overflow = keyspace.split(bucket, stored)
            if not overflow:
                yield part, ObjectEntry.FromString(raw)
                continue
            members = OverflowEntry.FromString(raw).entries
            for name in sorted(members):
                yield name, members[name]

    def raw_records(self) -> Iterator[tuple[bytes, bytes]]:
        """Every object record as stored (key, serialized value), in one read transaction:
        for whole-drive scans (per-bucket metrics) that must not decode what they skip."""
        with self.env.begin(db=self._objects) as txn:
            for stored, raw in txn.cursor():
                yield bytes(stored), bytes(raw)

    def count_records(self) -> int:
        """Object records on this drive (an overflow record counts once): for status."""
        with self.env.begin(db=self._objects) as txn:
            return int(txn.stat(self._objects)["entries"])

    # -- multipart uploads -----------------------------------------------------------

    def create_upload_in(self, txn: lmdb.Transaction, bucket: str, record: UploadRecord) -> None:
        """Store an upload record (without parts: they have records of their own)."""
        if txn.get(bucket.encode(), db=self._volumes) is None:
            raise VolumeNotFound(bucket)
        if not keyspace.valid_upload_id(record.upload_id):
            raise ValueError(f"invalid upload id {record.upload_id!r}")
        stored = UploadRecord()
        stored.CopyFrom(record)
        stored.ClearField("parts")
        txn.put(keyspace.upload_key(bucket, record.upload_id), stored.SerializeToString(),
                db=self._uploads)

    def get_upload(self, bucket: str, upload_id: str) -> UploadRecord | None:
        """An upload with its parts, sorted by number; None if there is no such upload."""
        with self.env.begin(db=self._uploads) as txn:
            record = self._upload_in(txn, bucket, upload_id)
            if record is None:
                return None
            prefix = keyspace.parts_prefix(bucket, upload_id)
            cursor = txn.cursor(db=self._uploads)
            found = cursor.set_range(prefix)
            while found and cursor.key().startswith(prefix):
                record.parts.add().ParseFromString(cursor.value())
                found = cursor.next()
        return record

    def put_part_in(
        self, txn: lmdb.Transaction, bucket: str, upload_id: str, part: PartBody
    ) -> list[str]:
        """Store or replace one part; its data stops being pending and the data of the
        part it replaces becomes garbage. Returns the garbage ids."""
        if self._upload_in(txn, bucket, upload_id) is None:
            raise UploadNotFound(upload_id)
        pkey = keyspace.part_key(bucket, upload_id, part.number)
        raw = txn.get(pkey, db=self._uploads)
        before = body_ids(PartBody.FromString(raw)) if raw is not None else set()
        txn.put(pkey, part.SerializeToString(), db=self._uploads)
        now = body_ids(part)
        self._commit_intents(txn, now)
        garbage = sorted(before - now)
        self._mark_garbage(txn, garbage)
        return garbage

    def complete_upload_in(
        self, txn: lmdb.Transaction, bucket: str, key: str, upload_id: str,
        version: ObjectVersion, versioning: str,
    ) -> list[str]:
        """Turn an upload into a version of `key`, atomically: the upload and its parts
        go, the version is added as a PUT would add it, its data stops being pending, and
        parts it does not use plus data the key no longer refers to become garbage.
        An upload of another key does not exist as far as this call is concerned."""
        record = self._upload_in(txn, bucket, upload_id)
        if record is None or record.key != key:
            raise UploadNotFound(upload_id)
        parts = self._drop_upload(txn, bucket, upload_id)
        kept: set[str] = set()

        def update(entry: ObjectEntry | None) -> ObjectEntry:
            new = add_version(entry, version, versioning)
            kept.update(data_ids(new))
            return new

        replaced = self.update_in(txn, bucket, key, update)
        self._commit_intents(txn, body_ids(version))
        unused = sorted(parts - kept)
        self._mark_garbage(txn, unused)
        return sorted(set(replaced) | set(unused))

    def abort_upload_in(
        self, txn: lmdb.Transaction, bucket: str, upload_id: str
    ) -> tuple[bool, list[str]]:
        """Drop an upload and its parts: (whether it existed, garbage ids)."""
        if self._upload_in(txn, bucket, upload_id) is None:
            return False, []
        garbage = sorted(self._drop_upload(txn, bucket, upload_id))
        self._mark_garbage(txn, garbage)
        return True, garbage

    def list_uploads(self, bucket: str, prefix: str) -> list[UploadRecord]:
        """Uploads of a bucket whose key starts with `prefix` (without their parts),
        sorted by (key, initiated_ns, upload_id). Parts are skipped by seeking."""
        out: list[UploadRecord] = []
        bprefix = keyspace.bucket_prefix(bucket)
        with self.env.begin(db=self._uploads) as txn:
            cursor = txn.cursor(db=self._uploads)
            found = cursor.set_range(bprefix)
            while found and cursor.key().startswith(bprefix):
                stored = cursor.key()
                if not keyspace.is_upload_key(bucket, stored):
                    found = cursor.next()
                    continue
                record = UploadRecord.FromString(cursor.value())
                if record.key.startswith(prefix):
                    out.append(record)
                found = cursor.set_range(stored + b"\x01")  # past its parts (\x00 ...)
        out.sort(key=lambda r: (r.key.encode(), r.initiated_ns, r.upload_id))
        return out

    def _upload_in(self, txn: lmdb.Transaction, bucket: str, upload_id: str
                   ) -> UploadRecord | None:
        if not keyspace.valid_upload_id(upload_id):
            return None  # no such id could have been stored
        raw = txn.get(keyspace.upload_key(bucket, upload_id), db=self._uploads)
        return None if raw is None else UploadRecord.FromString(raw)

    def _drop_upload(self, txn: lmdb.Transaction, bucket: str, upload_id: str) -> set[str]:
        """Delete an upload record and its parts; the data ids of the parts."""
        txn.delete(keyspace.upload_key(bucket, upload_id), db=self._uploads)
        return self._drop_range(txn, bucket, keyspace.parts_prefix(bucket, upload_id))

    def _drop_range(self, txn: lmdb.Transaction, bucket: str, prefix: bytes) -> set[str]:
        """Delete every record of the uploads database (of `bucket`) whose key starts
        with `prefix`; the data ids of the parts among them."""
        ids: set[str] = set()
        cursor = txn.cursor(db=self._uploads)
        cursor.set_range(prefix)
        while cursor.key().startswith(prefix):  # an unpositioned cursor's key is b""
            if not keyspace.is_upload_key(bucket, cursor.key()):
                ids |= body_ids(PartBody.FromString(cursor.value()))
            cursor.delete()  # moves to the next record
        return ids

    # -- intents ---------------------------------------------------------------------

    def _commit_intents(self, txn: lmdb.Transaction, ids: Iterable[str]) -> None:
        """These writes are referenced now: no longer pending."""
        for data_id in ids:
            txn.delete(data_id.encode(), db=self._intents)

    def _mark_garbage(self, txn: lmdb.Transaction, ids: Iterable[str]) -> None:
        for data_id in ids:
            txn.put(data_id.encode(), GARBAGE, db=self._intents)

    def add_intent(self, data_id: str, bucket: str = "", key: str = "", now_ns: int = 0) -> None:
        """Record a write about to start; bucket and key let healing judge it later."""
        value = PENDING + _STAMP.pack(now_ns) + bucket.encode() + b"\x00" + key.encode()
        with self.env.begin(write=True, db=self._intents) as txn:
            txn.put(data_id.encode(), value)

    def clear_intents(self, data_ids_: list[str]) -> None:
        with self.env.begin(write=True, db=self._intents) as txn:
            for data_id in data_ids_:
                txn.delete(data_id.encode())

    def intents(self) -> dict[str, bytes]:
        """Every data id whose shard files may need deleting: pending or garbage."""
        with self.env.begin(db=self._intents) as txn:
            return {k.decode(): v[:1] for k, v in txn.cursor()}

    def pending_writes(self, started_before_ns: int) -> list[tuple[str, str, str]]:
        """(data id, bucket, key) of writes begun before the given time and never
        committed here: their coordinator died or gave up. Healing decides their fate."""
        out = []
        with self.env.begin(db=self._intents) as txn:
            for k, v in txn.cursor():
                if v[:1] != PENDING or len(v) < 1 + _STAMP.size:
                    continue
                (started,) = _STAMP.unpack_from(v, 1)
                if started < started_before_ns:
                    bucket, _, key = v[1 + _STAMP.size :].partition(b"\x00")
                    out.append((k.decode(), bucket.decode(), key.decode()))
        return out
