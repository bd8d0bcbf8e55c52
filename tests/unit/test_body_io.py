"""Bodies of every storage class written to and read from a 6-drive 4+2 set over zones
a,a,b,b,c,c on six nodes (real LocalDrives in a temp dir): round trips, ranges,
multipart bodies, disk use, placement, drive loss and healing."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_bodies import chunks
from hypothesis import given, settings
from hypothesis import strategies as st

from engine._hotpath import crc32c
from engine.clock import ManualClock
from engine.cluster.placement import ErasureSet, StaticPlacement
from engine.config import StorageConfig
from engine.errors import EngineError
from engine.objects.body_reader import BodyReader
from engine.objects.body_writer import BodyWriter
from engine.objects.heal import Healer, HealReport
from engine.objects.storage_classes import plan_for
from engine.storage.codec import codec_for
from engine.storage.drive import LocalDrive
from engine.storage.entries import layouts
from engine.v1.records_pb2 import BucketRecord, ObjectEntry, ObjectVersion, PartBody

STRIPE = 64 * 1024
CONFIG = StorageConfig(stripe_size=STRIPE, inline_threshold=1024, max_object_size=64 << 20,
                       lmdb_map_size=1 << 28)
ZONES = ("a", "a", "b", "b", "c", "c")
NODES = ("n1", "n2", "n3", "n4", "n5", "n6")
CLASSES = ["STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "GLACIER"]
COMPRESSED = {"STANDARD_IA", "ONEZONE_IA", "GLACIER"}


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def mixed(size: int, seed: int = 1) -> bytes:
    """Compressible but not trivially so: text runs between random bytes."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += rng.randbytes(rng.randint(100, 3000))
        out += b"storage engine %d " % rng.randint(0, 9) * rng.randint(50, 2000)
    return bytes(out[:size])

class Down:
    """A drive whose node is unreachable: every call fails as a dead peer does."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.zone = ""

    def __getattr__(self, _name: str) -> Any:
        async def fail(*_args: Any, **_kwargs: Any) -> Any:
            raise ConnectionError(f"{self.name} is down")
        return fail


class Env:
    def __init__(self, root: Path) -> None:
        self.drives = [LocalDrive(root / f"d{i}", CONFIG.lmdb_map_size) for i in range(6)]
        self.eset = ErasureSet(0, tuple(self.drives), codec_for("isa_l_rs_vand", 4, 2),
                               zone="a", zones=ZONES, nodes=NODES)

    def without(self, *positions: int, zone: str = "a") -> ErasureSet:
        """The set as a coordinator in `zone` sees it with those drives down."""
        drives: Any = tuple(Down(d.name) if i in positions else d
                            for i, d in enumerate(self.drives))
        return dataclasses.replace(self.eset, drives=drives, zone=zone)

    def files(self, data_id: str) -> dict[int, Path]:
        """Set position -> that drive's shard file of `data_id`."""
        return {i: f for i, d in enumerate(self.drives)
                for f in (d.path / "shards").rglob(f"{data_id}.*")}

    def disk_bytes(self) -> int:
        return sum(d.shards.used_bytes() for d in self.drives)

    def close(self) -> None:
        for d in self.drives:
            d.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.close()


async def write(eset: ErasureSet, data: bytes, cls: str) -> ObjectVersion:
    writer = BodyWriter(eset, CONFIG, "bkt", "k", plan=plan_for(eset, cls, eset.zone))
    body = await writer.write(chunks(data), CONFIG.max_object_size)
    v = ObjectVersion(version_id="null", size=body.size, etag=body.md5_hex,
                      crc32c=body.crc32c, storage_class=cls)
    if body.inline is not None:
        v.inline_data = body.inline
    else:
        assert body.layout is not None
        v.layout.CopyFrom(body.layout)
    return v


async def write_parts(eset: ErasureSet, parts: list[bytes], cls: str) -> ObjectVersion:
    """A completed multipart object: each part written as a body of its own."""
    out = ObjectVersion(version_id="null", storage_class=cls)
    for number, data in enumerate(parts, 1):
        v = await write(eset, data, cls)
        part = PartBody(number=number, size=v.size, etag=v.etag, crc32c=v.crc32c)
        if v.WhichOneof("body") == "layout":
            part.layout.CopyFrom(v.layout)
        else:
            part.inline_data = v.inline_data
        out.parts.parts.append(part)
        out.part_sizes.append(v.size)
    out.size = sum(out.part_sizes)
    return out


async def read(version: ObjectVersion, eset: ErasureSet, first: int = 0,
               last: int | None = None, hook: Any = None) -> bytes:
    last = version.size - 1 if last is None else last
    reader = await BodyReader(version, eset, first, last, hook).open()
    return b"".join([bytes(c) async for c in reader.stream()])


# -- round trips ----------------------------------------------------------------------

@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("size", [0, 1024, 1025, STRIPE, 5 * STRIPE + 123])
def test_round_trip_of_every_class(env: Env, cls: str, size: int) -> None:
    data = mixed(size)
    v = run(write(env.eset, data, cls))
    assert (v.etag, v.crc32c) == (hashlib.md5(data).hexdigest(), crc32c(data))
    assert run(read(v, env.eset)) == data
    if size > CONFIG.inline_threshold:
        assert v.layout.compression == ("zstd" if cls in COMPRESSED else "")
    else:
        assert v.inline_data == data  # small bodies stay inline and uncompressed


def test_incompressible_data_under_a_compressed_class(env: Env) -> None:
    """Frames a little larger than a stripe straddle stored stripes."""
    data = random.Random(3).randbytes(4 * STRIPE + 9)
    v = run(write(env.eset, data, "GLACIER"))
    assert v.layout.stored_size > len(data) and len(v.layout.frame_sizes) == 5
    assert run(read(v, env.eset)) == data
    for first, last in [(STRIPE - 1, STRIPE), (2 * STRIPE + 3, 4 * STRIPE + 8), (0, 0)]:
        assert run(read(v, env.without(0, 5), first, last)) == data[first : last + 1]


@pytest.mark.parametrize("cls", CLASSES)
def test_any_range_of_plain_compressed_and_multipart_bodies(env: Env, cls: str) -> None:
    single = mixed(7 * STRIPE + 99, seed=2)
    parts = [mixed(2 * STRIPE + 5, seed=3), mixed(700, seed=4), mixed(3 * STRIPE, seed=5),
             mixed(STRIPE - 1, seed=6)]
    whole = b"".join(parts)
    v1 = run(write(env.eset, single, cls))
    v2 = run(write_parts(env.eset, parts, cls))
    assert v2.WhichOneof("body") == "parts" and v2.parts.parts[1].inline_data

    @settings(max_examples=40, deadline=None)
    @given(st.data())
    def check(draw: st.DataObject) -> None:
        for v, data in ((v1, single), (v2, whole)):
            first = draw.draw(st.integers(0, len(data) - 1))
            last = draw.draw(st.integers(first, min(len(data) - 1, first + 4 * STRIPE)))
            assert run(read(v, env.eset, first, last)) == data[first : last + 1]

    check()


def test_a_small_range_of_a_compressed_body_reads_only_its_frames(env: Env) -> None:
    data = mixed(20 * STRIPE, seed=7)
    v = run(write(env.eset, data, "STANDARD_IA"))
    calls = 0

    class Counting:
        def __init__(self, drive: LocalDrive) -> None:
            self.drive, self.name = drive, drive.name

        async def open_shard(self, data_id: str, index: int) -> Any:
            reader = await self.drive.open_shard(data_id, index)
            real = reader.read_block

            async def read_block(i: int, size: int) -> bytes:
                nonlocal calls
                calls += 1
                return await real(i, size)

            reader.read_block = read_block  # type: ignore[method-assign]
            return reader

    counted: Any = tuple(Counting(d) for d in env.drives)
    eset = dataclasses.replace(env.eset, drives=counted)
    middle = 10 * STRIPE + 17
    assert run(read(v, eset, middle, middle)) == data[middle : middle + 1]
    assert calls <= 2 * 4  # a frame spans at most two stored stripes of k blocks each


# -- what is on disk ------------------------------------------------------------------

def test_infrequent_access_takes_less_disk(env: Env) -> None:
    data = mixed(16 * STRIPE, seed=8)
    run(write(env.eset, data, "STANDARD"))
    standard = env.disk_bytes()
    run(write(env.eset, data, "STANDARD_IA"))
    compressed = env.disk_bytes() - standard
    assert compressed < standard / 2


def test_onezone_shards_live_only_in_one_zone(env: Env) -> None:
    data = mixed(3 * STRIPE, seed=9)
    for zone, positions in (("b", [2, 3]), ("c", [4, 5]), ("nowhere", [0, 1])):
        v = run(write(env.without(zone=zone), data, "ONEZONE_IA"))
        assert list(v.layout.drives) == positions
        assert (v.layout.data_shards, v.layout.parity_shards) == (1, 1)
        assert sorted(env.files(v.layout.data_id)) == positions
        assert run(read(v, env.eset)) == data


def test_rrs_is_five_plus_one_over_every_drive(env: Env) -> None:
    v = run(write(env.eset, mixed(3 * STRIPE), "REDUCED_REDUNDANCY"))
    assert (v.layout.data_shards, v.layout.parity_shards) == (5, 1)
    assert list(v.layout.drives) == []  # shard i on drive i: nothing to record
    assert sorted(env.files(v.layout.data_id)) == list(range(6))


# -- losing drives --------------------------------------------------------------------

SURVIVES = {  # class -> drive sets whose loss a read survives
    "STANDARD": [(4, 5), (0, 1), (0, 3)],
    "STANDARD_IA": [(2, 3), (1, 5)],
    "GLACIER": [(0, 1)],
    "REDUCED_REDUNDANCY": [(0,), (5,)],
    "ONEZONE_IA": [(2, 3, 4, 5), (0,), (1, 4)],
}
FAILS = {
    "STANDARD": [(0, 1, 2)],
    "STANDARD_IA": [(3, 4, 5)],
    "GLACIER": [(0, 2, 4)],
    "REDUCED_REDUNDANCY": [(0, 1), (2, 5)],
}


@pytest.mark.parametrize("cls", CLASSES)
def test_reads_survive_what_the_class_promises(env: Env, cls: str) -> None:
    data = mixed(4 * STRIPE + 3, seed=10)
    v = run(write(env.eset, data, cls))
    for lost in SURVIVES[cls]:
        assert run(read(v, env.without(*lost))) == data, lost
        assert run(read(v, env.without(*lost), STRIPE + 5, 3 * STRIPE)) \
            == data[STRIPE + 5 : 3 * STRIPE + 1]
    for lost in FAILS.get(cls, []):
        with pytest.raises(EngineError) as info:
            run(read(v, env.without(*lost)))
        # drives out of reach: a 503 to retry, not a 500
        assert (info.value.code, info.value.http_status) == ("ServiceUnavailable", 503), lost
        assert f"{len(lost)} of the " in info.value.message, lost
        assert "cannot be reached" in info.value.message, lost


def test_too_many_damaged_shards_are_an_internal_error_and_logged(
        env: Env, caplog: pytest.LogCaptureFixture) -> None:
    v = run(write(env.eset, mixed(2 * STRIPE, seed=3), "STANDARD"))
    files = env.files(v.layout.data_id)
    for position in (0, 1, 2):  # more than the code can rebuild from
        files[position].unlink()
    with caplog.at_level("WARNING", logger="engine.objects"), \
            pytest.raises(EngineError) as info:
        run(read(v, env.eset))
    assert (info.value.code, info.value.http_status) == ("InternalError", 500)
    assert "too few good shards" in info.value.message
    assert any("too few good shards to read" in r.getMessage() for r in caplog.records)


def test_onezone_data_is_unavailable_with_its_zone(env: Env) -> None:
    v = run(write(env.eset, mixed(2 * STRIPE), "ONEZONE_IA"))  # zone a: drives 0 and 1
    with pytest.raises(EngineError) as info:
        run(read(v, env.without(0, 1, zone="b")))
    assert info.value.code == "ServiceUnavailable" and info.value.http_status == 503
    assert "ONEZONE_IA" in info.value.message and "zone a" in info.value.message


def test_a_multipart_read_survives_a_dead_node_and_reports_it(env: Env) -> None:
    parts = [mixed(2 * STRIPE, seed=11), mixed(3 * STRIPE + 1, seed=12)]
    v = run(write_parts(env.eset, parts, "STANDARD_IA"))
    seen: list[set[int]] = []
    got = run(read(v, env.without(1), hook=lambda _v, bad: seen.append(set(bad))))
    assert got == b"".join(parts)
    assert seen and all(bad == {1} for bad in seen)


def test_writes_need_the_class_quorum(env: Env) -> None:
    data = mixed(2 * STRIPE)
    v = run(write(env.without(4, 5), data, "STANDARD"))  # a zone down: 4 of 4+2 remain
    assert sorted(env.files(v.layout.data_id)) == [0, 1, 2, 3]
    with pytest.raises(EngineError) as info:  # a 1+1 mirror needs both copies
        run(write(env.without(1), data, "ONEZONE_IA"))
    assert info.value.code == "ServiceUnavailable"
    with pytest.raises(EngineError):  # 5+1 needs five drives
        run(write(env.without(0, 3), data, "REDUCED_REDUNDANCY"))
    on_disk = {f.name.partition(".")[0] for d in env.drives for f in d.path.rglob("*.*")
               if f.parent.parent.name == "shards" or f.parent.name == "tmp"}
    assert on_disk == {v.layout.data_id}  # failed writes leave nothing behind


# -- healing --------------------------------------------------------------------------

async def store_entry(env: Env, version: ObjectVersion) -> None:
    """Commit the version on every drive, as a PUT does (its write intents too)."""
    entry = ObjectEntry(versions=[version])
    for d in env.drives:
        await d.make_volume(BucketRecord(name="bkt"))
        for data_id in [layout.data_id for layout in layouts(version)] or [None]:
            await d.write_entry("bkt", "k", entry, data_id)


def intents(env: Env) -> list[str]:
    return [i for d in env.drives for i in d.meta.intents()]


def heal(env: Env) -> HealReport:
    report = HealReport()
    healer = Healer(StaticPlacement([env.eset]), ManualClock())
    run(healer.heal_object(env.eset, "bkt", "k", report))
    return report


def damage(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_heal_rebuilds_a_shard_of_a_compressed_body(env: Env) -> None:
    data = mixed(6 * STRIPE + 7, seed=13)
    v = run(write(env.eset, data, "STANDARD_IA"))
    run(store_entry(env, v))
    files = env.files(v.layout.data_id)
    before = {i: f.read_bytes() for i, f in files.items()}
    files[2].unlink()
    damage(files[5])
    report = heal(env)
    assert (report.shards_rebuilt, report.unresolved, report.errors) == (2, 0, [])
    assert {i: f.read_bytes() for i, f in env.files(v.layout.data_id).items()} == before
    assert run(read(v, env.without(0, 1))) == data  # needs the rebuilt shards
    assert intents(env) == []
    assert heal(env).shards_rebuilt == 0


def test_heal_rebuilds_shards_of_multipart_parts(env: Env) -> None:
    parts = [mixed(2 * STRIPE, seed=14), mixed(500, seed=15), mixed(3 * STRIPE + 9, seed=16)]
    v = run(write_parts(env.eset, parts, "STANDARD"))
    run(store_entry(env, v))
    ids = [p.layout.data_id for p in v.parts.parts if p.WhichOneof("body") == "layout"]
    before = {d: {i: f.read_bytes() for i, f in env.files(d).items()} for d in ids}
    env.files(ids[0])[0].unlink()
    env.files(ids[1])[3].unlink()
    report = heal(env)
    assert (report.shards_rebuilt, report.errors) == (2, [])
    assert {d: {i: f.read_bytes() for i, f in env.files(d).items()} for d in ids} == before
    assert run(read(v, env.without(4, 5))) == b"".join(parts)
    assert intents(env) == []


def test_heal_rebuilds_a_onezone_mirror_copy_in_its_zone(env: Env) -> None:
    data = mixed(3 * STRIPE, seed=17)
    v = run(write(env.without(zone="c"), data, "ONEZONE_IA"))
    run(store_entry(env, v))
    files = env.files(v.layout.data_id)
    original = files[5].read_bytes()
    files[5].unlink()
    assert heal(env).shards_rebuilt == 1
    assert sorted(env.files(v.layout.data_id)) == [4, 5]
    assert env.files(v.layout.data_id)[5].read_bytes() == original
    assert run(read(v, env.without(4))) == data
    assert intents(env) == []
