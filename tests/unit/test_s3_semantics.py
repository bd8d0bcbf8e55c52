"""Versioning, multipart uploads, tagging, restores and lifecycle over real drives.

Six LMDB drives in temp dirs form one 4+2 set (zones a,a,b,b,c,c), or one drive forms
a single-node store; the engine clock is a ManualClock, so days pass without sleeping.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest

from engine.clock import ManualClock
from engine.cluster.placement import ErasureSet, StaticPlacement
from engine.config import StorageConfig
from engine.errors import EngineError
from engine.objects.lifecycle_worker import LifecycleWorker
from engine.objects.service import ObjectService, WriteOptions
from engine.storage.codec import ReedSolomonCodec
from engine.storage.drive import LocalDrive
from engine.v1 import lifecycle_pb2 as lc

STRIPE = 64 * 1024
CONFIG = StorageConfig(stripe_size=STRIPE, inline_threshold=1024, max_object_size=64 << 20,
                       lmdb_map_size=1 << 28)
MIB = 1024 * 1024
DAY = 86400.0


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


async def chunks(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


class Env:
    def __init__(self, root: Path, drives: int) -> None:
        self.clock = ManualClock()
        self.drives = [LocalDrive(root / f"d{i}", CONFIG.lmdb_map_size) for i in range(drives)]
        if drives == 1:
            placement = StaticPlacement.single(self.drives[0])
        else:
            zones = ("a", "a", "b", "b", "c", "c")
            placement = StaticPlacement([ErasureSet(
                0, tuple(self.drives), ReedSolomonCodec(4, 2), zone="a", zones=zones,
                nodes=tuple(f"n{i}" for i in range(6)))])
        self.svc = ObjectService(placement, CONFIG, self.clock)
        run(self.svc.buckets.create("bkt"))

    def shard_files(self) -> list[Path]:
        return sorted(p for d in self.drives for p in (d.path / "shards").rglob("*.*"))

    def stored_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.shard_files())

    async def put(self, key: str, data: bytes, **kw: Any) -> Any:
        return await self.svc.put_object("bkt", key, chunks(data), WriteOptions(**kw))

    async def get(self, key: str, **kw: Any) -> bytes:
        read = await self.svc.get_object("bkt", key, **kw)
        assert read.body is not None
        return b"".join([bytes(c) async for c in read.body])


@pytest.fixture(params=[1, 6], ids=["single", "4+2"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Env:
    return Env(tmp_path, request.param)


def code(coro: Coroutine[Any, Any, Any]) -> str:
    with pytest.raises(EngineError) as info:
        run(coro)
    return info.value.code


# -- versioning ------------------------------------------------------------------------


def test_versions_markers_and_undelete(env: Env) -> None:
    svc = env.svc
    run(svc.put_bucket_versioning("bkt", "Enabled"))
    v1 = run(env.put("k", b"one"))
    env.clock.advance(1)
    v2 = run(env.put("k", b"two" * 1000))
    assert v1.version_id != v2.version_id and "null" not in (v1.version_id, v2.version_id)
    assert run(env.get("k")) == b"two" * 1000
    assert run(env.get("k", version_id=v1.version_id)) == b"one"
    env.clock.advance(1)
    deleted = run(svc.delete_object("bkt", "k"))
    assert deleted.delete_marker and deleted.version_id
    assert code(env.get("k")) == "NoSuchKey"
    assert code(env.get("k", version_id=deleted.version_id)) == "MethodNotAllowed"
    page = run(svc.list_object_versions("bkt"))
    assert [(v.version_id, v.delete_marker, latest) for _, v, latest in page.versions] == [
        (deleted.version_id, True, True), (v2.version_id, False, False),
        (v1.version_id, False, False)]
    run(svc.delete_object("bkt", "k", deleted.version_id))  # removing the marker undeletes
    assert run(env.get("k")) == b"two" * 1000
    run(svc.delete_object("bkt", "k", v2.version_id))
    assert run(env.get("k")) == b"one"
    assert code(svc.put_bucket_versioning("bkt", "Off")) == "MalformedXML"


def test_suspended_bucket_replaces_only_the_null_version(env: Env) -> None:
    svc = env.svc
    run(env.put("k", b"unversioned"))
    run(svc.put_bucket_versioning("bkt", "Enabled"))
    kept = run(env.put("k", b"versioned"))
    run(svc.put_bucket_versioning("bkt", "Suspended"))
    assert run(svc.get_bucket_versioning("bkt")) == "Suspended"
    first = run(env.put("k", b"null-1"))
    second = run(env.put("k", b"null-2"))
    assert first.version_id == second.version_id == "null"
    ids = [v.version_id for _, v, _ in run(svc.list_object_versions("bkt")).versions]
    assert ids == ["null", kept.version_id]  # the pre-versioning null was replaced too
    assert run(env.get("k", version_id="null")) == b"null-2"
    assert run(env.get("k", version_id=kept.version_id)) == b"versioned"


def test_list_object_versions_pages_inside_a_key(env: Env) -> None:
    svc = env.svc
    run(svc.put_bucket_versioning("bkt", "Enabled"))
    expected = []
    for key in ("a", "b", "c"):
        for i in range(3):
            env.clock.advance(1)
            expected.append((key, run(env.put(key, f"{key}{i}".encode())).version_id))
    expected = sorted(expected, key=lambda kv: (kv[0], -expected.index(kv)))
    seen: list[tuple[str, str]] = []
    key_marker = vid_marker = ""
    while True:
        page = run(svc.list_object_versions("bkt", key_marker=key_marker,
                                            version_id_marker=vid_marker, max_keys=2))
        seen += [(k, v.version_id) for k, v, _ in page.versions]
        if not page.is_truncated:
            break
        key_marker, vid_marker = page.next_key_marker, page.next_version_id_marker
    assert seen == expected


# -- multipart -------------------------------------------------------------------------


def test_multipart_complete_etag_parts_and_no_orphans(env: Env) -> None:
    svc = env.svc
    run(env.put("k", b"old"))
    upload = run(svc.create_multipart_upload("bkt", "k", WriteOptions(metadata={"A": "1"})))
    p1, p2, p3 = os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(300_000)
    parts = [run(svc.upload_part("bkt", "k", upload.upload_id, n, chunks(d)))
             for n, d in ((1, p1), (2, p2), (3, p3))]
    run(svc.upload_part("bkt", "k", upload.upload_id, 4, chunks(os.urandom(200_000))))
    replaced = run(svc.upload_part("bkt", "k", upload.upload_id, 2, chunks(p2)))
    assert replaced.etag == parts[1].etag
    assert run(env.get("k")) == b"old"  # nothing visible before completion
    version = run(svc.complete_multipart_upload(
        "bkt", "k", upload.upload_id, [(1, parts[0].etag), (2, f'"{parts[1].etag}"'),
                                       (3, parts[2].etag)]))
    md5s = b"".join(hashlib.md5(d).digest() for d in (p1, p2, p3))
    assert version.etag == f"{hashlib.md5(md5s).hexdigest()}-3"
    assert run(env.get("k")) == p1 + p2 + p3
    assert run(env.get("k", range_header=f"bytes={5 * MIB - 10}-{5 * MIB + 9}")) == \
        (p1 + p2)[5 * MIB - 10 : 5 * MIB + 10]
    read = run(svc.head_object("bkt", "k", part_number=2))
    assert read.parts_count == 3 and read.content_length == 5 * MIB
    assert run(env.get("k", part_number=3)) == p3
    assert code(svc.head_object("bkt", "k", part_number=4)) == "InvalidPartNumber"
    assert dict(read.version.metadata) == {"a": "1"}
    assert code(svc.list_parts("bkt", "k", upload.upload_id)) == "NoSuchUpload"
    # Part 4 and the first copy of part 2 were dropped: only parts 1-3 remain on disk.
    width = len(env.drives)
    assert len(env.shard_files()) == 3 * width
    run(svc.delete_object("bkt", "k"))
    assert env.shard_files() == []


def test_multipart_errors(env: Env) -> None:
    svc = env.svc
    uid = run(svc.create_multipart_upload("bkt", "k", WriteOptions())).upload_id
    small = run(svc.upload_part("bkt", "k", uid, 1, chunks(b"x" * 2000)))
    last = run(svc.upload_part("bkt", "k", uid, 2, chunks(b"y" * 10)))
    for bad in (0, 10_001):
        assert code(svc.upload_part("bkt", "k", uid, bad, chunks(b"z"))) == "InvalidArgument"
    assert code(svc.complete_multipart_upload("bkt", "k", uid, [(1, small.etag),
                                                                (2, last.etag)])) \
        == "EntityTooSmall"
    assert code(svc.complete_multipart_upload("bkt", "k", uid, [(2, last.etag),
                                                                (1, small.etag)])) \
        == "InvalidPartOrder"
    assert code(svc.complete_multipart_upload("bkt", "k", uid, [(1, last.etag)])) \
        == "InvalidPart"
    assert code(svc.complete_multipart_upload("bkt", "k", uid, [(3, last.etag)])) \
        == "InvalidPart"
    assert code(svc.complete_multipart_upload("bkt", "k", uid, [])) == "MalformedXML"
    assert code(svc.upload_part("bkt", "other", uid, 1, chunks(b"z"))) == "NoSuchUpload"
    run(svc.abort_multipart_upload("bkt", "k", uid))
    assert code(svc.upload_part("bkt", "k", uid, 1, chunks(b"z"))) == "NoSuchUpload"
    assert code(svc.abort_multipart_upload("bkt", "k", uid)) == "NoSuchUpload"
    assert code(svc.complete_multipart_upload("bkt", "k", uid, [(1, small.etag)])) \
        == "NoSuchUpload"
    assert env.shard_files() == []
    assert code(svc.upload_part("bkt", "k", "not-an-id", 1, chunks(b"z"))) == "NoSuchUpload"


def test_upload_part_copy_and_listing(env: Env) -> None:
    svc = env.svc
    source = os.urandom(6 * MIB)
    run(env.put("src", source))
    ids = [run(svc.create_multipart_upload("bkt", key, WriteOptions())).upload_id
           for key in ("dir/a", "dir/b", "top")]
    uid = ids[2]
    _, p1 = run(svc.upload_part_copy("bkt", "top", uid, 1, "bkt", "src",
                                     source_range=f"bytes=0-{5 * MIB - 1}"))
    _, p2 = run(svc.upload_part_copy("bkt", "top", uid, 2, "bkt", "src",
                                     source_range=f"bytes={5 * MIB}-{6 * MIB - 1}"))
    assert code(svc.upload_part_copy("bkt", "top", uid, 3, "bkt", "src",
                                     source_range=f"bytes=0-{6 * MIB}")) == "InvalidArgument"
    listed = run(svc.list_parts("bkt", "top", uid, max_parts=1))
    assert [p.number for p in listed.parts] == [1] and listed.is_truncated
    rest = run(svc.list_parts("bkt", "top", uid,
                              part_number_marker=listed.next_part_number_marker))
    assert [p.number for p in rest.parts] == [2] and not rest.is_truncated
    uploads = run(svc.list_multipart_uploads("bkt", delimiter="/"))
    assert uploads.common_prefixes == ["dir/"]
    assert [u.upload_id for u in uploads.uploads] == [uid]
    page = run(svc.list_multipart_uploads("bkt", max_uploads=2))
    assert [u.key for u in page.uploads] == ["dir/a", "dir/b"] and page.is_truncated
    page = run(svc.list_multipart_uploads("bkt", key_marker=page.next_key_marker,
                                          upload_id_marker=page.next_upload_id_marker))
    assert [u.key for u in page.uploads] == ["top"]
    run(svc.complete_multipart_upload("bkt", "top", uid, [(1, p1.etag), (2, p2.etag)]))
    assert run(env.get("top")) == source


# -- tagging and restore ---------------------------------------------------------------


def test_tags_on_put_and_tagging_limits(env: Env) -> None:
    svc = env.svc
    run(env.put("k", b"data", tagging="team=a&env=prod%20x"))
    assert run(svc.get_object_tagging("bkt", "k"))[1] == {"team": "a", "env": "prod x"}
    run(svc.put_object_tagging("bkt", "k", {"x": "1"}))
    assert run(svc.head_object("bkt", "k")).version.tags == {"x": "1"}
    assert code(svc.put_object_tagging("bkt", "k", {f"k{i}": "v" for i in range(11)})) \
        == "BadRequest"
    assert code(svc.put_object_tagging("bkt", "k", {"k" * 129: "v"})) == "InvalidTag"
    assert code(svc.put_object_tagging("bkt", "k", {"k": "v" * 257})) == "InvalidTag"
    assert code(env.put("k2", b"d", tagging="a=1&a=2")) == "InvalidArgument"  # as S3
    run(svc.delete_object_tagging("bkt", "k"))
    assert run(svc.get_object_tagging("bkt", "k"))[1] == {}
    assert code(svc.put_object_tagging("bkt", "missing", {"a": "b"})) == "NoSuchKey"


def test_glacier_restore_on_the_engine_clock(env: Env) -> None:
    svc = env.svc
    data = os.urandom(200_000)
    run(env.put("cold", data, storage_class="GLACIER"))
    assert code(env.get("cold")) == "InvalidObjectState"
    assert run(svc.head_object("bkt", "cold")).restore == ""
    assert code(svc.restore_object("bkt", "cold", days=None)) == "MalformedXML"
    assert run(svc.restore_object("bkt", "cold", days=2)) is False
    assert run(svc.head_object("bkt", "cold")).restore == 'ongoing-request="true"'
    assert code(svc.restore_object("bkt", "cold", days=2)) == "RestoreAlreadyInProgress"
    assert code(env.get("cold")) == "InvalidObjectState"
    env.clock.advance(4 * 3600)  # a Standard retrieval
    assert run(svc.head_object("bkt", "cold")).restore.startswith(
        'ongoing-request="false", expiry-date="')
    assert run(env.get("cold")) == data
    env.clock.advance(2 * DAY)
    assert code(env.get("cold")) == "InvalidObjectState"
    run(env.put("warm", b"w"))
    assert code(svc.restore_object("bkt", "warm", days=1)) == "ObjectAlreadyInActiveTierError"


# -- lifecycle -------------------------------------------------------------------------


def rule(**kw: Any) -> lc.LifecycleConfiguration:
    return lc.LifecycleConfiguration(rules=[lc.LifecycleRule(id="r", status="Enabled", **kw)])


def worker(env: Env) -> LifecycleWorker:
    return LifecycleWorker(env.svc, env.svc.placement.sets())


def test_transitions_keep_data_and_compression_saves_space(env: Env) -> None:
    svc = env.svc
    text = b"".join(b"line %d of a very compressible log file\n" % i for i in range(60_000))
    run(env.put("logs/a", text))
    run(env.put("other", os.urandom(100_000)))
    before = env.stored_bytes()
    run(svc.put_bucket_lifecycle("bkt", rule(
        filter=lc.LifecycleFilter(prefix="logs/"),
        transitions=[lc.LifecycleTransition(days=30, storage_class="STANDARD_IA"),
                     lc.LifecycleTransition(days=60, storage_class="GLACIER")])))
    env.clock.advance(29 * DAY)
    assert run(worker(env).run_once()).transitioned == 0
    env.clock.advance(2 * DAY)
    assert run(worker(env).run_once()).transitioned == 1
    head = run(svc.head_object("bkt", "logs/a"))
    assert head.version.storage_class == "STANDARD_IA"
    assert run(env.get("logs/a")) == text
    assert env.stored_bytes() < before / 3
    assert run(svc.head_object("bkt", "other")).version.storage_class == "STANDARD"
    env.clock.advance(30 * DAY)
    assert run(worker(env).run_once()).transitioned == 1
    assert run(svc.head_object("bkt", "logs/a")).version.storage_class == "GLACIER"
    assert code(env.get("logs/a")) == "InvalidObjectState"
    run(svc.restore_object("bkt", "logs/a", days=1, tier="Expedited"))
    env.clock.advance(600)
    assert run(env.get("logs/a")) == text


def test_expiration_noncurrent_and_delete_markers(env: Env) -> None:
    svc = env.svc
    run(svc.put_bucket_versioning("bkt", "Enabled"))
    run(env.put("k", b"v1"))
    env.clock.advance(DAY)
    run(env.put("k", b"v2"))
    run(svc.put_bucket_lifecycle("bkt", lc.LifecycleConfiguration(rules=[
        lc.LifecycleRule(id="cur", status="Enabled",
                         expiration=lc.LifecycleExpiration(days=10)),
        lc.LifecycleRule(id="old", status="Enabled",
                         noncurrent_version_expiration=lc.NoncurrentVersionExpiration(
                             noncurrent_days=5)),
        lc.LifecycleRule(id="markers", status="Enabled",
                         expiration=lc.LifecycleExpiration(expired_object_delete_marker=True)),
    ])))
    env.clock.advance(6 * DAY)  # v1 noncurrent for 6 days
    assert run(worker(env).run_once()).removed == 1
    assert len(run(svc.list_object_versions("bkt")).versions) == 1
    env.clock.advance(5 * DAY)  # v2 is 11 days old: expires behind a delete marker
    assert run(worker(env).run_once()).expired == 1
    assert code(env.get("k")) == "NoSuchKey"
    env.clock.advance(6 * DAY)  # v2 now noncurrent for 6 days; then the lone marker goes
    run(worker(env).run_once())
    run(worker(env).run_once())
    assert run(svc.list_object_versions("bkt")).versions == []


def test_abort_incomplete_uploads(env: Env) -> None:
    svc = env.svc
    uid = run(svc.create_multipart_upload("bkt", "tmp/x", WriteOptions())).upload_id
    run(svc.upload_part("bkt", "tmp/x", uid, 1, chunks(os.urandom(300_000))))
    run(svc.put_bucket_lifecycle("bkt", rule(
        filter=lc.LifecycleFilter(prefix="tmp/"),
        abort_incomplete_multipart_upload=lc.AbortIncompleteMultipartUpload(
            days_after_initiation=3))))
    env.clock.advance(2 * DAY)
    assert run(worker(env).run_once()).aborted == 0
    env.clock.advance(2 * DAY)
    assert run(worker(env).run_once()).aborted == 1
    assert run(svc.list_multipart_uploads("bkt")).uploads == []
    assert env.shard_files() == []


def test_lifecycle_configuration_round_trip(env: Env) -> None:
    svc = env.svc
    assert code(svc.get_bucket_lifecycle("bkt")) == "NoSuchLifecycleConfiguration"
    config = rule(expiration=lc.LifecycleExpiration(days=3))
    run(svc.put_bucket_lifecycle("bkt", config))
    assert run(svc.get_bucket_lifecycle("bkt")) == config
    bad = rule(transitions=[lc.LifecycleTransition(days=1, storage_class="STANDARD_IA")])
    assert code(svc.put_bucket_lifecycle("bkt", bad)) == "InvalidArgument"
    run(svc.delete_bucket_lifecycle("bkt"))
    assert code(svc.get_bucket_lifecycle("bkt")) == "NoSuchLifecycleConfiguration"


def test_transition_loses_to_a_racing_put(env: Env) -> None:
    """The re-encoded copy is dropped when the object changed meanwhile."""
    svc = env.svc
    run(env.put("k", os.urandom(300_000)))
    old = run(svc.head_object("bkt", "k")).version
    new_data = os.urandom(300_000)
    run(env.put("k", new_data))
    assert run(svc.transition_version("bkt", "k", old, "STANDARD_IA")) is False
    assert run(env.get("k")) == new_data
    assert run(svc.head_object("bkt", "k")).version.storage_class == "STANDARD"
    assert len(env.shard_files()) == len(env.drives)
