"""The object service over real drives (LMDB + shard files in a temp dir).

Small stripes and inline threshold make multi-stripe objects cheap to test."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from helpers_bodies import chunks, read_all
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.clock import ManualClock
from engine.cluster.placement import StaticPlacement
from engine.config import StorageConfig
from engine.errors import EngineError
from engine.objects.conditions import Conditions
from engine.objects.service import ObjectService, WriteOptions
from engine.storage.drive import LocalDrive
from engine.v1.records_pb2 import ContentRecord, ObjectEntry, ObjectVersion

STRIPE = 64 * 1024
CONFIG = StorageConfig(stripe_size=STRIPE, inline_threshold=1024, max_object_size=4 << 20,
                       lmdb_map_size=1 << 28)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)
class Env:
    def __init__(self, root: Path, drives: int = 1) -> None:
        self.root = root
        self.clock = ManualClock()
        self.drives = [LocalDrive(root / f"d{i}", CONFIG.lmdb_map_size) for i in range(drives)]
        placement = StaticPlacement.single(self.drives[0]) if drives == 1 else \
            StaticPlacement.erasure(self.drives, 4, 2)
        self.svc = ObjectService(placement, CONFIG, self.clock)

    def shard_files(self) -> list[Path]:
        return sorted(p for d in self.drives for p in (d.path / "shards").rglob("*.*"))

    def leftovers(self) -> list[Any]:
        return [*self.shard_files(), *(p for d in self.drives for p in d.shards.tmp.iterdir()),
                *(i for d in self.drives for i in d.meta.intents())]

    async def put(self, key: str, data: bytes, **kw: Any) -> Any:
        return await self.svc.put_object("bkt", key, chunks(data), WriteOptions(**kw))

    async def get(self, key: str, **kw: Any) -> bytes:
        return await read_all((await self.svc.get_object("bkt", key, **kw)).body)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    e = Env(tmp_path)
    run(e.svc.buckets.create("bkt"))
    return e


def code_of(env: Env, make: Callable[[], Coroutine[Any, Any, Any]]) -> str:
    with pytest.raises(EngineError) as info:
        run(make())
    return info.value.code


@pytest.mark.parametrize("size", [0, 1, 1024, 1025, STRIPE, 3 * STRIPE + 5])
def test_round_trip_etag_and_crc(env: Env, size: int) -> None:
    data = os.urandom(size)
    v = run(env.put("k", data))
    assert v.etag == hashlib.md5(data).hexdigest() and v.size == size
    assert run(env.get("k")) == data
    assert len(env.shard_files()) == (1 if size > 1024 else 0)


@settings(max_examples=40, deadline=None)
@given(first=st.integers(0, 3 * STRIPE), length=st.integers(1, 2 * STRIPE + 3))
def test_any_range_of_a_striped_object(tmp_path_factory: pytest.TempPathFactory, first: int,
                                       length: int) -> None:
    e = Env(tmp_path_factory.mktemp("r"))

    async def go() -> bytes:
        await e.svc.buckets.create("bkt")
        await e.put("k", DATA)
        return await e.get("k", range_header=f"bytes={first}-{first + length - 1}")

    assert run(go()) == DATA[first : first + length]


DATA = os.urandom(3 * STRIPE + 11)


def test_overwrite_leaves_only_the_new_data(env: Env) -> None:
    run(env.put("k", os.urandom(5000)))
    first = env.shard_files()
    new = os.urandom(7000)
    run(env.put("k", new))
    assert env.shard_files() != first and len(env.shard_files()) == 1
    assert run(env.get("k")) == new
    run(env.svc.delete_object("bkt", "k"))
    assert env.leftovers() == []


def test_a_body_that_fails_midway_leaves_nothing(env: Env) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(3 * STRIPE)
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        run(env.svc.put_object("bkt", "k", broken(), WriteOptions()))
    assert env.leftovers() == []
    assert code_of(env, lambda: env.get("k")) == "NoSuchKey"


@pytest.mark.parametrize(("options", "expected"), [
    ({"content_length": 10}, "IncompleteBody"),
    ({"content_length": 99_999}, "IncompleteBody"),
    ({"content_md5": "AAAAAAAAAAAAAAAAAAAAAA=="}, "BadDigest"),
    ({"content_md5": "not base64!"}, "InvalidDigest"),
    ({"checksum_crc32c": "AAAAAA=="}, "BadDigest"),
    ({"storage_class": "NOPE"}, "InvalidStorageClass"),
    ({"if_none_match": "etag"}, "NotImplemented"),
])
def test_bad_puts_are_rejected_and_leave_nothing(env: Env, options: dict[str, Any],
                                                 expected: str) -> None:
    assert code_of(env, lambda: env.put("k", os.urandom(50_000), **options)) == expected
    assert env.leftovers() == []


def test_size_limit(env: Env) -> None:
    assert code_of(env, lambda: env.put("k", bytes(5 << 20))) == "EntityTooLarge"
    assert code_of(env, lambda: env.put("k", b"", content_length=5 << 20)) == "EntityTooLarge"
    assert env.leftovers() == []


def test_conditional_writes(env: Env) -> None:
    v = run(env.put("k", b"one"))
    assert code_of(env, lambda: env.put("k", b"two", if_none_match="*")) == "PreconditionFailed"
    assert code_of(env, lambda: env.put("k", b"two", if_match="nope")) == "PreconditionFailed"
    run(env.put("k", b"two", if_match=f'"{v.etag}"'))
    run(env.put("new", b"x", if_none_match="*"))
    assert code_of(env, lambda: env.put("absent", b"x", if_match='"abc"')) == "NoSuchKey"
    assert run(env.get("k")) == b"two"


def test_conditional_reads_and_last_modified(env: Env) -> None:
    v = run(env.put("k", b"data"))
    assert v.mtime_ns == env.clock.now_ns()
    later = Conditions(if_modified_since_ns=env.clock.now_ns() + 10**9)
    assert code_of(env, lambda: env.get("k", conditions=later)) == "NotModified"
    assert run(env.get("k", conditions=Conditions(if_match=v.etag))) == b"data"


def test_a_read_in_progress_survives_an_overwrite(env: Env) -> None:
    old = os.urandom(4 * STRIPE)

    async def go() -> bytes:
        await env.put("k", old)
        read = await env.svc.get_object("bkt", "k")
        assert read.body is not None
        first = await read.body.__anext__()
        await env.put("k", b"new" * 1000)
        rest = b"".join([bytes(c) async for c in read.body])
        return bytes(first) + rest

    assert run(go()) == old
    assert len(env.shard_files()) == 1


def test_copy_directives(env: Env) -> None:
    data = os.urandom(3 * STRIPE)
    run(env.put("src", data, metadata={"a": "1"}, content=ContentRecord(content_type="x/y")))
    _, v = run(env.svc.copy_object("bkt", "src", "bkt", "dst"))
    assert (dict(v.metadata), v.content.content_type) == ({"a": "1"}, "x/y")
    assert run(env.get("dst")) == data
    _, v = run(env.svc.copy_object("bkt", "src", "bkt", "dst2", directive="REPLACE",
                                   options=WriteOptions(metadata={"b": "2"})))
    assert dict(v.metadata) == {"b": "2"} and v.content.content_type == ""
    assert code_of(env, lambda: env.svc.copy_object("bkt", "src", "bkt", "src")) \
        == "InvalidRequest"
    assert code_of(env, lambda: env.svc.copy_object("bkt", "src", "bkt", "d", directive="X")) \
        == "InvalidArgument"
    _, v = run(env.svc.copy_object("bkt", "src", "bkt", "src",
                                   options=WriteOptions(storage_class="STANDARD_IA")))
    assert v.storage_class == "STANDARD_IA" and run(env.get("src")) == data
    assert code_of(env, lambda: env.svc.copy_object(
        "bkt", "src", "bkt", "d", source_conditions=Conditions(if_none_match="*"))) \
        == "PreconditionFailed"
    assert len(env.shard_files()) == 3


def test_buckets(env: Env) -> None:
    assert code_of(env, lambda: env.svc.buckets.create("bkt")) == "BucketAlreadyOwnedByYou"
    assert code_of(env, lambda: env.svc.buckets.create("Bad")) == "InvalidBucketName"
    run(env.put("k", b"x"))
    assert code_of(env, lambda: env.svc.buckets.delete("bkt")) == "BucketNotEmpty"
    run(env.svc.delete_object("bkt", "k"))
    run(env.svc.buckets.delete("bkt"))
    assert code_of(env, lambda: env.svc.buckets.delete("bkt")) == "NoSuchBucket"
    assert code_of(env, lambda: env.put("k", b"x")) == "NoSuchBucket"


def test_listing_arguments(env: Env) -> None:
    for k in ["a/1", "a/2", "b"]:
        run(env.put(k, b"x"))
    page, keys = run(env.svc.list_objects_v2("bkt", max_keys=0))
    assert (page.contents, page.is_truncated, keys) == ([], False, 0)
    page, keys = run(env.svc.list_objects_v2("bkt", max_keys=5000))
    assert keys == 1000 and [k for k, _ in page.contents] == ["a/1", "a/2", "b"]
    page, _ = run(env.svc.list_objects_v2("bkt", delimiter="/", max_keys=1))
    assert page.common_prefixes == ["a/"] and page.is_truncated
    page, _ = run(env.svc.list_objects_v2("bkt", delimiter="/",
                                          continuation_token=page.next_token))
    assert [k for k, _ in page.contents] == ["b"] and not page.common_prefixes
    assert code_of(env, lambda: env.svc.list_objects_v2("bkt", max_keys=-1)) == "InvalidArgument"
    assert code_of(env, lambda: env.svc.list_objects_v2("bkt", continuation_token="%%")) \
        == "InvalidArgument"


def test_delete_objects_limits_and_per_key_errors(env: Env) -> None:
    run(env.put("a", b"x"))
    outcomes = run(env.svc.delete_objects("bkt", [("a", ""), ("k" * 1025, ""), ("zz", "")]))
    assert [(k[:3], e.code if e else None) for k, _, _, e in outcomes] == [
        ("a", None), ("kkk", "KeyTooLongError"), ("zz", None)]
    assert code_of(env, lambda: env.svc.delete_objects("bkt", [])) == "MalformedXML"
    assert code_of(env, lambda: env.svc.delete_objects("bkt", [("k", "")] * 1001)) \
        == "MalformedXML"


def test_restart_finishes_interrupted_writes(tmp_path: Path) -> None:
    e = Env(tmp_path)
    run(e.svc.buckets.create("bkt"))
    drive = e.drives[0]
    writer = drive.shards.create("deadbeef", 0)  # a write that never reached its commit
    writer.write_block(b"x", 0)
    drive.meta.add_intent("cafe01")
    drive.shards.create("cafe01", 0).commit()
    drive.close()
    again = LocalDrive(tmp_path / "d0", CONFIG.lmdb_map_size)
    assert list(again.shards.tmp.iterdir()) == []
    assert list((again.path / "shards").rglob("*.*")) == []
    assert again.meta.intents() == {}


def test_erasure_set_reads_through_two_lost_drives(tmp_path: Path) -> None:
    e = Env(tmp_path, drives=6)
    data = os.urandom(3 * STRIPE + 99)

    async def go() -> bytes:
        await e.svc.buckets.create("bkt")
        await e.put("k", data)
        for d in e.drives[:2]:  # lose two data shards
            for f in (d.path / "shards").rglob("*.*"):
                f.unlink()
        return await e.get("k", range_header=f"bytes=100-{3 * STRIPE + 50}")

    assert run(go()) == data[100 : 3 * STRIPE + 51]
    assert len(e.shard_files()) == 4


def test_restart_deletes_data_replaced_just_before_a_crash(tmp_path: Path) -> None:
    """A crash between the commit that replaced a version and the deletion of its shard
    files leaves them recorded as garbage; the next start removes them."""
    e = Env(tmp_path)
    run(e.svc.buckets.create("bkt"))
    run(e.put("k", os.urandom(5000)))
    drive = e.drives[0]
    old_files = e.shard_files()
    new = ObjectEntry(versions=[ObjectVersion(version_id="null", inline_data=b"new")])
    garbage = drive.meta.update_entry("bkt", "k", lambda _old: new)  # ...and crash here
    assert garbage and all(p.exists() for p in old_files)
    drive.close()
    again = LocalDrive(tmp_path / "d0", CONFIG.lmdb_map_size)
    assert not any(p.exists() for p in old_files)
    assert again.meta.intents() == {}
    assert again.meta.get_entry("bkt", "k").versions[0].inline_data == b"new"
