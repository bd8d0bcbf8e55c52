"""Version patches: the pure rule (entries.apply_patch) field by field, and a drive
applying one, where replaced data must disappear from disk and new data stop pending."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from engine._hotpath import crc32c
from engine.storage.drive import LocalDrive
from engine.storage.entries import apply_patch, fingerprint
from engine.v1.records_pb2 import (
    BucketRecord,
    DataLayout,
    MultipartBody,
    ObjectEntry,
    ObjectVersion,
    PartBody,
    RestoreState,
    VersionPatch,
)

NEVER = 1 << 62  # "started before" bound that every pending write meets


def version(vid: str, data_id: str = "", **kw: object) -> ObjectVersion:
    v = ObjectVersion(version_id=vid, etag=f"etag-{vid}", mtime_ns=7, size=3,
                      storage_class="STANDARD", **kw)  # type: ignore[arg-type]
    if data_id:
        v.layout.data_id = data_id
    else:
        v.inline_data = b"abc"
    return v


def two_versions() -> ObjectEntry:
    new = version("v2", "d2", tags={"a": "1"}, metadata={"m": "x"}, part_sizes=[1, 2])
    return ObjectEntry(versions=[new, version("v1")])


def test_set_tags_replaces_the_whole_map_and_leaves_the_input_alone() -> None:
    before = two_versions()
    saved = before.SerializeToString()
    out, outcome = apply_patch(before, VersionPatch(version_id="v2", set_tags=True,
                                                    tags={"b": "2"}))
    assert outcome == "applied"
    assert out is not None and dict(out.versions[0].tags) == {"b": "2"}
    assert out.versions[1] == before.versions[1]
    assert before.SerializeToString() == saved  # garbage is computed from the input


def test_set_tags_with_no_tags_clears_them() -> None:
    out, _ = apply_patch(two_versions(), VersionPatch(version_id="v2", set_tags=True))
    assert out is not None and dict(out.versions[0].tags) == {}


def test_tags_stay_unless_set_tags() -> None:
    out, outcome = apply_patch(two_versions(), VersionPatch(version_id="v2", tags={"z": "9"}))
    assert outcome == "applied"
    assert out is not None and dict(out.versions[0].tags) == {"a": "1"}


def test_restore_replaces_the_restore_state() -> None:
    entry = two_versions()
    entry.versions[1].restore.CopyFrom(RestoreState(requested_ns=1, days=1))
    state = RestoreState(requested_ns=5, ready_ns=6, expiry_ns=9, days=2, tier="Bulk")
    out, outcome = apply_patch(entry, VersionPatch(version_id="v1", restore=state))
    assert outcome == "applied"
    assert out is not None and out.versions[1].restore == state
    assert not out.versions[0].HasField("restore")


def test_body_replaces_the_body_and_class_and_keeps_the_rest() -> None:
    entry = two_versions()
    parts = MultipartBody(parts=[PartBody(number=1, layout=DataLayout(data_id="p1"))])
    patch = VersionPatch(version_id="v2", body=ObjectVersion(
        parts=parts, storage_class="GLACIER", etag="ignored", mtime_ns=99))
    out, outcome = apply_patch(entry, patch)
    assert outcome == "applied" and out is not None
    got = out.versions[0]
    assert got.WhichOneof("body") == "parts" and got.parts == parts
    assert got.storage_class == "GLACIER"
    kept = (got.version_id, got.etag, got.mtime_ns, dict(got.tags), dict(got.metadata),
            list(got.part_sizes))
    assert kept == ("v2", "etag-v2", 7, {"a": "1"}, {"m": "x"}, [1, 2])


@pytest.mark.parametrize("kind", ["inline_data", "layout"])
def test_body_of_each_kind_clears_the_others(kind: str) -> None:
    body = ObjectVersion(storage_class="STANDARD_IA")
    if kind == "inline_data":
        body.inline_data = b""  # an empty object is still an inline body
    else:
        body.layout.data_id = "new"
    out, _ = apply_patch(two_versions(), VersionPatch(version_id="v2", body=body))
    assert out is not None
    assert out.versions[0].WhichOneof("body") == kind
    assert out.versions[0].storage_class == "STANDARD_IA"


def test_expect_guards_against_a_racing_writer() -> None:
    entry = two_versions()
    patch = VersionPatch(version_id="v2", set_tags=True, expect="v2:1:stale:d0")
    out, outcome = apply_patch(entry, patch)
    assert (out, outcome) == (entry, "changed")
    patch.expect = fingerprint(entry.versions[0])
    assert apply_patch(entry, patch)[1] == "applied"


def test_an_unknown_version_is_missing() -> None:
    entry = two_versions()
    assert apply_patch(entry, VersionPatch(version_id="v9", remove=True)) == (entry, "missing")
    assert apply_patch(None, VersionPatch(version_id="v1", remove=True)) == (None, "missing")


def test_remove_drops_one_version_and_the_entry_with_the_last() -> None:
    out, outcome = apply_patch(two_versions(), VersionPatch(version_id="v2", remove=True))
    assert outcome == "applied" and out is not None
    assert [v.version_id for v in out.versions] == ["v1"]
    out, outcome = apply_patch(out, VersionPatch(version_id="v1", remove=True))
    assert (out, outcome) == (None, "applied")


# -- on a drive ----------------------------------------------------------------------


async def write_shard(drive: LocalDrive, data_id: str, key: str) -> DataLayout:
    writer = await drive.create_shard(data_id, 0, "b", key)
    await writer.write_block(b"payload", crc32c(b"payload"))
    await writer.commit()
    return DataLayout(data_id=data_id, data_shards=1, block_size=1024, codec="identity")


def shard_ids(drive: LocalDrive) -> set[str]:
    return {p.name.split(".")[0] for p in (drive.path / "shards").rglob("*.*")}


def on_drive(tmp_path: Path, scenario: Callable[[LocalDrive], Awaitable[None]]) -> None:
    async def main() -> None:
        drive = LocalDrive(tmp_path / "d0", 1 << 28)
        try:
            await drive.make_volume(BucketRecord(name="b"))
            await scenario(drive)
        finally:
            drive.close()

    asyncio.run(main())


def test_a_transition_swaps_the_data_and_collects_the_old(tmp_path: Path) -> None:
    async def scenario(drive: LocalDrive) -> None:
        old = ObjectVersion(version_id="null", etag="e", layout=await write_shard(drive, "d1", "k"))
        await drive.write_version("b", "k", old, versioning="")
        new = ObjectVersion(layout=await write_shard(drive, "d2", "k"), storage_class="GLACIER")
        patch = VersionPatch(version_id="null", body=new, expect=fingerprint(old))
        assert await drive.patch_version("b", "k", patch) == "applied"
        got = (await drive.read_entry("b", "k")).versions[0]
        assert (got.layout.data_id, got.storage_class, got.etag) == ("d2", "GLACIER", "e")
        assert shard_ids(drive) == {"d2"}
        assert await drive.pending_writes(NEVER) == []  # the new data is committed
        # the same patch again: the version was re-encoded meanwhile
        new3 = ObjectVersion(layout=await write_shard(drive, "d3", "k"))
        patch = VersionPatch(version_id="null", body=new3, expect=fingerprint(old))
        assert await drive.patch_version("b", "k", patch) == "changed"
        assert [w[0] for w in await drive.pending_writes(NEVER)] == ["d3"]  # caller discards

    on_drive(tmp_path, scenario)


def test_removing_versions_collects_their_data(tmp_path: Path) -> None:
    async def scenario(drive: LocalDrive) -> None:
        for vid in ("v1", "v2"):
            layout = await write_shard(drive, f"d{vid}", "k")
            v = ObjectVersion(version_id=vid, layout=layout)
            await drive.write_version("b", "k", v, versioning="Enabled")
        assert await drive.patch_version("b", "k", VersionPatch(version_id="v1", remove=True)) \
            == "applied"
        assert shard_ids(drive) == {"dv2"}
        assert await drive.patch_version("b", "k", VersionPatch(version_id="v1", remove=True)) \
            == "missing"
        await drive.patch_version("b", "k", VersionPatch(version_id="v2", remove=True))
        assert await drive.read_entry("b", "k") is None
        assert shard_ids(drive) == set()
        assert drive.meta.intents() == {}

    on_drive(tmp_path, scenario)
