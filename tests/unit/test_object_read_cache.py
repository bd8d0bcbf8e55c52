"""The object read cache: key derivation, the size rule, and the GET/write hooks of the
object service over real drives with an in-memory cache tier."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers_bodies import chunks, read_all

from engine.cache.store import MAX_VALUE_BYTES
from engine.clock import ManualClock
from engine.cluster.placement import StaticPlacement
from engine.config import StorageConfig
from engine.errors import EngineError
from engine.objects.read_cache import KEY_PREFIX, ObjectReadCache, cache_key
from engine.objects.service import ObjectService, WriteOptions
from engine.storage.drive import LocalDrive
from engine.v1.records_pb2 import DataLayout, MultipartBody, ObjectVersion, PartBody

# Small stripes and inline threshold (as test_object_service.py): multi-stripe bodies
# are cheap, and only bodies up to 1 KiB are inline.
CONFIG = StorageConfig(stripe_size=64 * 1024, inline_threshold=1024,
                       max_object_size=4 << 20, lmdb_map_size=1 << 28)
class Env:
    def __init__(self, root: Path) -> None:
        self.drive = LocalDrive(root / "d0", CONFIG.lmdb_map_size)
        self.svc = ObjectService(StaticPlacement.single(self.drive), CONFIG, ManualClock())

    async def put(self, key: str, data: bytes, **kw: Any) -> ObjectVersion:
        return await self.svc.put_object("bkt", key, chunks(data), WriteOptions(**kw))

    async def get(self, key: str, **kw: Any) -> bytes:
        return await read_all((await self.svc.get_object("bkt", key, **kw)).body)


class MemoryTier:
    def __init__(self) -> None:
        self.values: dict[bytes, bytes] = {}
        self.hits = self.misses = self.puts = 0
        self.dropped: list[bytes] = []

    async def object_get(self, key: bytes) -> bytes | None:
        value = self.values.get(key)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    async def object_put(self, key: bytes, body: bytes) -> None:
        self.puts += 1
        self.values[key] = body

    async def object_drop(self, keys: Sequence[bytes]) -> None:
        self.dropped.extend(keys)
        for k in keys:
            self.values.pop(k, None)


class BrokenTier(MemoryTier):
    async def object_get(self, key: bytes) -> bytes | None:
        raise EngineError("ServiceUnavailable", "cache node n2 is unreachable")

    async def object_put(self, key: bytes, body: bytes) -> None:
        raise EngineError("ServiceUnavailable", "cache node n2 is unreachable")

    async def object_drop(self, keys: Sequence[bytes]) -> None:
        raise EngineError("ServiceUnavailable", "cache node n2 is unreachable")


def layout_version(**kw: Any) -> ObjectVersion:
    v = ObjectVersion(version_id="null", size=1000, etag="e", crc32c=7, mtime_ns=5, **kw)
    v.layout.CopyFrom(DataLayout(data_id="d1", data_shards=1, stripe_size=1 << 20))
    return v


# -- key derivation ----------------------------------------------------------------------


def test_key_names_the_exact_stored_data():
    v = layout_version()
    k = cache_key("b", "k", v)
    assert k is not None and k.startswith(KEY_PREFIX)
    assert cache_key("b", "k", layout_version()) == k  # deterministic
    assert cache_key("b2", "k", v) != k
    assert cache_key("b", "k2", v) != k
    # Field boundaries are length-prefixed: ("ab", "c") differs from ("a", "bc").
    assert cache_key("ab", "c", v) != cache_key("a", "bc", v)
    for change in ({"version_id": "v2"}, {"etag": "f"}, {"size": 999}, {"crc32c": 8},
                   {"mtime_ns": 6}, {"storage_class": "STANDARD_IA"}):
        other = layout_version()
        for name, value in change.items():
            setattr(other, name, value)
        assert cache_key("b", "k", other) != k, change


def test_a_new_write_with_identical_content_gets_a_new_key():
    """Same bucket, key, version id, ETag, size, CRC and even mtime: only the data id of
    the new write differs, and that alone changes the key."""
    a, b = layout_version(), layout_version()
    b.layout.data_id = "d2"
    assert cache_key("b", "k", a) != cache_key("b", "k", b)


def test_transitioned_version_gets_a_new_key():
    a = layout_version()
    b = layout_version(storage_class="GLACIER")
    b.layout.data_id = "d-reencoded"
    assert cache_key("b", "k", a) != cache_key("b", "k", b)


def test_multipart_key_covers_every_part():
    def mp(ids: list[str]) -> ObjectVersion:
        parts = [PartBody(number=i + 1, size=10, etag="p", layout=DataLayout(data_id=d))
                 for i, d in enumerate(ids)]
        parts.append(PartBody(number=len(ids) + 1, size=3, etag="q", inline_data=b"xyz"))
        return ObjectVersion(version_id="null", size=10 * len(ids) + 3, etag="m-3",
                             parts=MultipartBody(parts=parts))

    k = cache_key("b", "k", mp(["a", "b"]))
    assert k is not None
    assert cache_key("b", "k", mp(["a", "c"])) != k
    assert cache_key("b", "k", mp(["a", "b"])) == k


def test_nothing_to_cache_without_shard_data():
    assert cache_key("b", "k", ObjectVersion(version_id="null", size=5,
                                              inline_data=b"hello")) is None
    assert cache_key("b", "k", ObjectVersion(version_id="v", delete_marker=True)) is None
    inline_parts = ObjectVersion(size=3, parts=MultipartBody(parts=[
        PartBody(number=1, size=3, inline_data=b"abc")]))
    assert cache_key("b", "k", inline_parts) is None


# -- the size rule -----------------------------------------------------------------------


def test_size_rule():
    cache = ObjectReadCache(MemoryTier(), 1000)
    assert cache.key_for("b", "k", layout_version()) is not None  # size == max
    too_big = layout_version()
    too_big.size = 1001
    assert cache.key_for("b", "k", too_big) is None
    empty = layout_version()
    empty.size = 0
    assert cache.key_for("b", "k", empty) is None


def test_max_is_capped_by_the_tier_value_limit_and_zero_is_off():
    assert ObjectReadCache.build(MemoryTier(), 0) is None
    cache = ObjectReadCache.build(MemoryTier(), 1 << 40)
    assert cache is not None and cache.max_bytes == MAX_VALUE_BYTES


# -- the service's hooks -----------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.drive.close()


def with_cache(env: Env, tier: MemoryTier, max_bytes: int = 1 << 20) -> ObjectReadCache:
    cache = ObjectReadCache(tier, max_bytes)
    env.svc.read_cache = cache
    return cache


async def settled_get(env: Env, key: str, **kw: Any) -> bytes:
    data = await env.get(key, **kw)
    assert env.svc.read_cache is not None
    await env.svc.read_cache.settle()
    return data


def test_second_get_is_served_from_the_cache(env):
    tier = MemoryTier()
    cache = with_cache(env, tier)
    data = bytes(range(256)) * 800  # 200 KiB: several stripes, not inline

    async def scenario() -> None:
        await env.svc.buckets.create("bkt")
        await env.put("k", data)
        assert await settled_get(env, "k") == data
        assert (tier.hits, tier.misses, tier.puts) == (0, 1, 1)
        assert await settled_get(env, "k") == data
        assert (tier.hits, tier.puts) == (1, 1)
        # Ranges and parts are cut out of the cached whole body.
        assert await settled_get(env, "k", range_header="bytes=1000-70000") \
            == data[1000:70001]
        assert await settled_get(env, "k", range_header="bytes=-10") == data[-10:]
        assert await settled_get(env, "k", part_number=1) == data
        assert tier.hits == 4
        await cache.settle()

    asyncio.run(scenario())


def test_small_inline_and_large_objects_are_not_cached(env):
    tier = MemoryTier()
    with_cache(env, tier, max_bytes=100_000)

    async def scenario() -> None:
        await env.svc.buckets.create("bkt")
        await env.put("tiny", b"x" * 500)  # inline (threshold 1024 in these tests)
        await env.put("big", b"y" * 100_001)
        for _ in range(2):
            assert await settled_get(env, "tiny") == b"x" * 500
            assert await settled_get(env, "big") == b"y" * 100_001
        assert (tier.hits, tier.misses, tier.puts) == (0, 0, 0)

    asyncio.run(scenario())


def test_overwrites_never_serve_the_old_body_and_drop_it(env):
    tier = MemoryTier()
    with_cache(env, tier)
    a, b = b"a" * 50_000, b"b" * 50_000

    async def scenario() -> None:
        await env.svc.buckets.create("bkt")
        await env.put("k", a)
        assert await settled_get(env, "k") == a
        old_keys = set(tier.values)
        await env.put("k", b)
        assert await settled_get(env, "k") == b
        assert old_keys <= set(tier.dropped)
        # Identical content, new write: a new key (a miss), same bytes.
        await env.put("k", b)
        misses = tier.misses
        assert await settled_get(env, "k") == b
        assert tier.misses == misses + 1
        # Copy onto the key.
        await env.put("src", a)
        await env.svc.copy_object("bkt", "src", "bkt", "k")
        assert await settled_get(env, "k") == a
        # Delete: NoSuchKey.
        await env.svc.delete_object("bkt", "k")
        await env.svc.read_cache.settle()
        with pytest.raises(EngineError) as info:
            await env.get("k")
        assert info.value.code == "NoSuchKey"
        assert tier.values.keys().isdisjoint(old_keys)

    asyncio.run(scenario())


def test_delete_leaves_a_body_no_get_can_name(env):
    """DELETE does not wait to drop the entry (a hung peer would cost it twice); the body
    stays cached under its write's data id, which no later GET asks for."""
    tier = MemoryTier()
    with_cache(env, tier)

    async def scenario() -> None:
        await env.svc.buckets.create("bkt")
        await env.put("k", b"z" * 5000)
        await settled_get(env, "k")
        assert len(tier.values) == 1
        await env.svc.delete_objects("bkt", [("k", "")])
        await env.svc.read_cache.settle()
        with pytest.raises(EngineError) as info:
            await env.get("k")
        assert info.value.code == "NoSuchKey"
        await env.put("k", b"z" * 5000)  # the same bytes again: a new write, a new key
        assert await settled_get(env, "k") == b"z" * 5000
        assert len(tier.values) == 2

    asyncio.run(scenario())


def test_versions_are_cached_apart_and_version_delete_drops(env):
    tier = MemoryTier()
    with_cache(env, tier)
    a, b = b"1" * 3000, b"2" * 3000

    async def scenario() -> None:
        await env.svc.buckets.create("bkt")
        await env.svc.put_bucket_versioning("bkt", "Enabled")
        va = await env.put("k", a)
        await settled_get(env, "k")
        vb = await env.put("k", b)
        assert await settled_get(env, "k") == b
        assert await settled_get(env, "k", version_id=va.version_id) == a
        assert await settled_get(env, "k", version_id=va.version_id) == a
        assert await settled_get(env, "k", version_id=vb.version_id) == b
        assert tier.hits >= 2
        await env.svc.delete_object("bkt", "k", va.version_id)
        await env.svc.read_cache.settle()
        assert cache_key("bkt", "k", va) not in tier.values
        assert await settled_get(env, "k") == b

    asyncio.run(scenario())


def test_multipart_completion_serves_the_new_body(env):
    tier = MemoryTier()
    with_cache(env, tier)

    async def scenario() -> None:
        await env.svc.buckets.create("bkt")
        await env.put("k", b"old" * 2000)
        assert await settled_get(env, "k") == b"old" * 2000
        old = set(tier.values)
        upload = (await env.svc.create_multipart_upload("bkt", "k", WriteOptions())).upload_id
        part = await env.svc.upload_part("bkt", "k", upload, 1, chunks(b"new" * 2000),
                                         content_length=6000)
        await env.svc.complete_multipart_upload("bkt", "k", upload, [(1, part.etag)])
        assert await settled_get(env, "k") == b"new" * 2000
        assert await settled_get(env, "k") == b"new" * 2000
        assert old <= set(tier.dropped)

    asyncio.run(scenario())


def test_transition_gives_a_new_key(env):
    tier = MemoryTier()
    with_cache(env, tier)

    async def scenario() -> None:
        await env.svc.buckets.create("bkt")
        v = await env.put("k", b"t" * 4000)
        await settled_get(env, "k")
        assert await env.svc.transition_version("bkt", "k", v, "STANDARD_IA")
        head = (await env.svc.head_object("bkt", "k")).version
        assert cache_key("bkt", "k", head) != cache_key("bkt", "k", v)
        hits = tier.hits
        assert await settled_get(env, "k") == b"t" * 4000
        assert tier.hits == hits  # a miss: the re-encoded data has a new key

    asyncio.run(scenario())


def test_a_failing_cache_never_fails_reads_or_writes(env):
    tier = BrokenTier()
    with_cache(env, tier)
    data = b"q" * 20_000

    async def scenario() -> None:
        await env.svc.buckets.create("bkt")
        await env.put("k", data)
        assert await settled_get(env, "k") == data
        assert await settled_get(env, "k") == data
        await env.put("k", data[::-1])
        await env.svc.delete_object("bkt", "k")
        await env.svc.read_cache.settle()

    asyncio.run(scenario())


def test_a_cached_body_that_does_not_match_its_record_is_not_served(env):
    tier = MemoryTier()
    with_cache(env, tier)
    data = b"r" * 20_000

    async def scenario() -> None:
        await env.svc.buckets.create("bkt")
        await env.put("k", data)
        await settled_get(env, "k")
        (key,) = tier.values
        tier.values[key] = b"R" * 20_000  # same length, wrong bytes
        assert await settled_get(env, "k") == data

    asyncio.run(scenario())


def test_an_abandoned_read_stores_nothing(env):
    tier = MemoryTier()
    with_cache(env, tier)

    async def scenario() -> None:
        await env.svc.buckets.create("bkt")
        await env.put("k", b"s" * 200_000)
        read = await env.svc.get_object("bkt", "k")
        assert read.body is not None
        await read.body.__anext__()
        await read.body.aclose()  # type: ignore[attr-defined]
        await env.svc.read_cache.settle()
        assert tier.puts == 0
        assert await read_all((await env.svc.get_object("bkt", "k")).body) == b"s" * 200_000

    asyncio.run(scenario())


def test_an_overwrite_between_record_and_data_reads_the_new_version(env):
    """The record is read, then (during the cache lookup) a PUT replaces the object and
    its old shards are collected: the GET reads the new record and body, not a 500."""
    new = b"n" * 20_000

    class OverwritingTier(MemoryTier):
        armed = True

        async def object_get(self, key: bytes) -> bytes | None:
            if self.armed:
                self.armed = False
                await env.put("k", new)
            return await super().object_get(key)

    tier = OverwritingTier()
    with_cache(env, tier)

    async def scenario() -> None:
        await env.svc.buckets.create("bkt")
        await env.put("k", b"o" * 20_000)
        read = await env.svc.get_object("bkt", "k")
        assert await read_all(read.body) == new
        assert read.version.etag == (await env.svc.head_object("bkt", "k")).version.etag
        await env.svc.read_cache.settle()

    asyncio.run(scenario())
