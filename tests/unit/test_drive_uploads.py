"""Multipart uploads on a LocalDrive: records read back as written, and every part's
shard files are deleted exactly when nothing refers to them any more (replaced part,
unused part at completion, abort, dropped bucket, write that never became a part)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from engine._hotpath import crc32c
from engine.storage.drive import LocalDrive
from engine.storage.errors import UploadNotFound, VolumeNotEmpty, VolumeNotFound
from engine.v1.records_pb2 import (
    BucketRecord,
    DataLayout,
    MultipartBody,
    ObjectVersion,
    PartBody,
    UploadRecord,
)

MAP = 1 << 28
NEVER = 1 << 62  # "started before" bound that every pending write meets
Scenario = Callable[[LocalDrive], Awaitable[None]]


def on_drive(tmp_path: Path, scenario: Scenario) -> None:
    async def main() -> None:
        drive = LocalDrive(tmp_path / "d0", MAP)
        try:
            await drive.make_volume(BucketRecord(name="b"))
            await scenario(drive)
        finally:
            drive.close()

    asyncio.run(main())


def shard_ids(drive: LocalDrive) -> set[str]:
    return {p.name.split(".")[0] for p in (drive.path / "shards").rglob("*.*")}


async def write_part(drive: LocalDrive, number: int, data_id: str, key: str = "k"
                     ) -> PartBody:
    """A part as the object service makes it: shard written (pending), then a record."""
    writer = await drive.create_shard(data_id, 0, "b", key)
    await writer.write_block(data_id.encode(), crc32c(data_id.encode()))
    await writer.commit()
    layout = DataLayout(data_id=data_id, data_shards=1, block_size=1024, codec="identity")
    return PartBody(number=number, size=len(data_id), etag=f"e{data_id}", layout=layout)


def upload(upload_id: str, key: str = "k", initiated_ns: int = 1) -> UploadRecord:
    return UploadRecord(upload_id=upload_id, key=key, initiated_ns=initiated_ns,
                        storage_class="STANDARD", metadata={"m": "1"})


def test_parts_are_stored_sorted_and_a_replaced_part_loses_its_data(tmp_path: Path) -> None:
    async def scenario(drive: LocalDrive) -> None:
        await drive.create_upload("b", upload("u1"))
        got = await drive.read_upload("b", "u1")
        assert got == upload("u1")
        for number, data_id in ((3, "p3"), (1, "p1"), (2, "p2")):
            await drive.put_part("b", "u1", await write_part(drive, number, data_id))
        assert await drive.pending_writes(NEVER) == []  # stored parts are not pending
        await drive.put_part("b", "u1", await write_part(drive, 1, "p1b"))
        got = await drive.read_upload("b", "u1")
        assert [(p.number, p.layout.data_id) for p in got.parts] == [
            (1, "p1b"), (2, "p2"), (3, "p3")]
        assert got.metadata["m"] == "1" and got.key == "k"
        assert shard_ids(drive) == {"p1b", "p2", "p3"}
        inline = PartBody(number=2, size=1, etag="x", inline_data=b"x")
        await drive.put_part("b", "u1", inline)
        assert shard_ids(drive) == {"p1b", "p3"}
        assert drive.meta.intents() == {}

    on_drive(tmp_path, scenario)


def test_complete_publishes_the_version_and_collects_what_it_does_not_use(
        tmp_path: Path) -> None:
    async def scenario(drive: LocalDrive) -> None:
        old = await write_part(drive, 1, "old")  # an existing object at the key
        await drive.write_version("b", "k", ObjectVersion(version_id="null", layout=old.layout),
                                  versioning="")
        await drive.create_upload("b", upload("u1"))
        parts = [await write_part(drive, n, f"p{n}") for n in (1, 2, 3)]
        for part in parts:
            await drive.put_part("b", "u1", part)
        version = ObjectVersion(version_id="null", etag="abc-2", size=4,
                                parts=MultipartBody(parts=parts[:2]), part_sizes=[2, 2])
        with pytest.raises(UploadNotFound):  # an upload belongs to one key
            await drive.complete_upload("b", "other", "u1", version, "")
        await drive.complete_upload("b", "k", "u1", version, "")
        assert await drive.read_upload("b", "u1") is None
        assert await drive.list_uploads("b", "") == []
        entry = await drive.read_entry("b", "k")
        assert entry is not None and list(entry.versions) == [version]
        assert shard_ids(drive) == {"p1", "p2"}  # unused part 3 and the old object gone
        assert drive.meta.intents() == {}
        with pytest.raises(UploadNotFound):  # completing twice
            await drive.complete_upload("b", "k", "u1", version, "")
        # the object's parts are its data: deleting it deletes them
        assert await drive.delete_entry("b", "k")
        assert shard_ids(drive) == set()

    on_drive(tmp_path, scenario)


def test_complete_keeps_older_versions_when_versioned(tmp_path: Path) -> None:
    async def scenario(drive: LocalDrive) -> None:
        old = await write_part(drive, 1, "old")
        await drive.write_version("b", "k", ObjectVersion(version_id="v1", layout=old.layout),
                                  versioning="Enabled")
        await drive.create_upload("b", upload("u1"))
        part = await write_part(drive, 1, "p1")
        await drive.put_part("b", "u1", part)
        version = ObjectVersion(version_id="v2", parts=MultipartBody(parts=[part]))
        await drive.complete_upload("b", "k", "u1", version, "Enabled")
        entry = await drive.read_entry("b", "k")
        assert [v.version_id for v in entry.versions] == ["v2", "v1"]
        assert shard_ids(drive) == {"old", "p1"}

    on_drive(tmp_path, scenario)


def test_abort_deletes_every_part(tmp_path: Path) -> None:
    async def scenario(drive: LocalDrive) -> None:
        await drive.create_upload("b", upload("u1"))
        await drive.create_upload("b", upload("u10"))  # an id the first one prefixes
        for n in (1, 2):
            await drive.put_part("b", "u1", await write_part(drive, n, f"a{n}"))
        await drive.put_part("b", "u10", await write_part(drive, 1, "keep"))
        assert await drive.abort_upload("b", "u1") is True
        assert shard_ids(drive) == {"keep"}
        assert await drive.read_upload("b", "u1") is None
        assert [p.layout.data_id for p in (await drive.read_upload("b", "u10")).parts] == [
            "keep"]
        assert await drive.abort_upload("b", "u1") is False
        assert drive.meta.intents() == {}

    on_drive(tmp_path, scenario)


def test_unknown_uploads(tmp_path: Path) -> None:
    async def scenario(drive: LocalDrive) -> None:
        part = PartBody(number=1, inline_data=b"x")
        version = ObjectVersion(version_id="null", inline_data=b"x")
        for bad in ("nope", "", "a\x00b", "x" * 2000):  # ids a client may send
            assert await drive.read_upload("b", bad) is None
            with pytest.raises(UploadNotFound):
                await drive.put_part("b", bad, part)
            with pytest.raises(UploadNotFound):
                await drive.complete_upload("b", "k", bad, version, "")
            assert await drive.abort_upload("b", bad) is False
        assert await drive.read_entry("b", "k") is None
        with pytest.raises(VolumeNotFound):
            await drive.create_upload("missing", upload("u1"))

    on_drive(tmp_path, scenario)


def test_list_uploads_by_key_then_time_then_id_with_a_prefix(tmp_path: Path) -> None:
    async def scenario(drive: LocalDrive) -> None:
        long_key = "a/" + "x" * 1020  # S3 keys reach 1024 bytes; they are not LMDB keys
        records = [upload("u5", "b/1", 1), upload("u4", "a/2", 1), upload("u3", "a/1", 9),
                   upload("u2", "a/1", 2), upload("u1", "a/1", 2), upload("u0", long_key, 1)]
        for r in records:
            await drive.create_upload("b", r)
            await drive.put_part("b", r.upload_id, PartBody(number=1, inline_data=b"x"))
            await drive.put_part("b", r.upload_id, PartBody(number=10000, inline_data=b"y"))
        await drive.make_volume(BucketRecord(name="b-2"))
        await drive.create_upload("b-2", upload("u9", "a/0"))
        listed = await drive.list_uploads("b", "")
        assert [(r.key, r.upload_id) for r in listed] == [
            ("a/1", "u1"), ("a/1", "u2"), ("a/1", "u3"), ("a/2", "u4"), (long_key, "u0"),
            ("b/1", "u5")]
        assert all(not r.parts for r in listed)
        assert [r.upload_id for r in await drive.list_uploads("b", "a/1")] == ["u1", "u2", "u3"]
        assert await drive.list_uploads("b", "c") == []
        assert [r.upload_id for r in await drive.list_uploads("b-2", "")] == ["u9"]
        got = await drive.read_upload("b", "u0")
        assert got.key == long_key and [p.number for p in got.parts] == [1, 10000]

    on_drive(tmp_path, scenario)


def test_dropping_a_bucket_drops_its_uploads_and_their_data(tmp_path: Path) -> None:
    async def scenario(drive: LocalDrive) -> None:
        await drive.make_volume(BucketRecord(name="b-2"))
        for bucket in ("b", "b-2"):
            await drive.create_upload(bucket, upload("u1"))
            await drive.put_part(bucket, "u1", await write_part(drive, 1, f"in{len(bucket)}"))
        await drive.write_version("b", "obj", ObjectVersion(version_id="null", inline_data=b""),
                                  versioning="")
        with pytest.raises(VolumeNotEmpty):  # objects still block; uploads are untouched
            await drive.delete_volume("b")
        assert await drive.read_upload("b", "u1") is not None
        await drive.delete_entry("b", "obj")
        await drive.delete_volume("b")
        assert shard_ids(drive) == {"in3"}  # b-2's part stays
        await drive.make_volume(BucketRecord(name="b"))
        assert await drive.list_uploads("b", "") == []
        assert await drive.read_upload("b", "u1") is None
        assert [r.upload_id for r in await drive.list_uploads("b-2", "")] == ["u1"]
        assert drive.meta.intents() == {}

    on_drive(tmp_path, scenario)


def test_a_part_never_recorded_is_pending_and_discarded(tmp_path: Path) -> None:
    async def scenario(drive: LocalDrive) -> None:
        await drive.create_upload("b", upload("u1"))
        await write_part(drive, 1, "lost")  # the coordinator died before PutPart
        assert await drive.pending_writes(NEVER) == [("lost", "b", "k")]
        assert (await drive.read_upload("b", "u1")).parts == []
        await drive.discard("lost")
        assert shard_ids(drive) == set()
        assert await drive.pending_writes(NEVER) == []

    on_drive(tmp_path, scenario)


def test_a_restart_deletes_a_part_never_recorded(tmp_path: Path) -> None:
    async def write() -> None:
        drive = LocalDrive(tmp_path / "d0", MAP)
        await drive.make_volume(BucketRecord(name="b"))
        await drive.create_upload("b", upload("u1"))
        await drive.put_part("b", "u1", await write_part(drive, 1, "kept"))
        await write_part(drive, 2, "lost")
        drive.close()  # as if the process died here: no discard

    asyncio.run(write())

    async def reopen(drive: LocalDrive) -> None:
        assert shard_ids(drive) == {"kept"}
        assert [p.number for p in (await drive.read_upload("b", "u1")).parts] == [1]
        assert drive.meta.intents() == {}

    async def main() -> None:
        drive = LocalDrive(tmp_path / "d0", MAP)
        try:
            await reopen(drive)
        finally:
            drive.close()

    asyncio.run(main())
