"""Bitrot on disk: reads stay correct and healing rewrites the damaged shard files.

Bytes are flipped inside block payloads of shard files on several nodes (never more than
m = 2 shards of one object, so the data is still there). Every GET, through any node and
also a Range GET over a damaged stripe, must return the original bytes; `engine admin
heal` must report the shards it rebuilt, and afterwards every block of every shard file
on disk must pass its CRC32C and every file must be byte-identical to what the PUT wrote.
"""

from __future__ import annotations

import random
from pathlib import Path

from engine._hotpath import crc32c

from .conftest import HEADER_SIZE, KIB, MIB, Cluster, body_for, parse_blocks

BUCKET = "bitrot"
SIZES = {
    "inline/small": 5 * KIB,
    "obj/200k": 200 * KIB,
    "obj/1m": MIB,
    "obj/1m-plus-1": MIB + 1,
    "obj/3m": 3 * MIB + 5,
    "obj/5m": 5 * MIB,
    "obj/9m": 9 * MIB + 123,
    "deep/dir/7m": 7 * MIB - 77,
}
STRIPE = MIB


def bad_blocks(path: Path) -> list[int]:
    """Indexes of the blocks of a shard file whose payload fails the stored CRC32C."""
    return [i for i, (_, _, crc, payload) in enumerate(parse_blocks(path))
            if crc32c(payload) != crc]


def corrupt(path: Path, rng: random.Random) -> int:
    """Flip a few bytes inside one block's payload (header untouched); the block index."""
    blocks = list(parse_blocks(path))
    index = rng.randrange(len(blocks))
    offset, length, _, _ = blocks[index]
    assert length > 0
    with path.open("r+b") as f:
        for _ in range(rng.randint(1, 4)):
            where = offset + HEADER_SIZE + rng.randrange(length)
            f.seek(where)
            byte = f.read(1)[0]
            f.seek(where)
            f.write(bytes([byte ^ rng.randrange(1, 256)]))
    return index


def files_by_data_id(cluster: Cluster) -> dict[str, dict[str, Path]]:
    """data id -> node -> its shard file."""
    out: dict[str, dict[str, Path]] = {}
    for node, files in cluster.shard_files().items():
        for f in files:
            out.setdefault(f.name.rpartition(".")[0], {})[node] = f
    return out


def damage(cluster: Cluster, rng: random.Random, victims: int,
           originals: dict[Path, bytes]) -> dict[Path, int]:
    """Corrupt 1 or 2 shards (on different nodes) of `victims` objects; path -> block."""
    by_id = files_by_data_id(cluster)
    hit: dict[Path, int] = {}
    for data_id in rng.sample(sorted(by_id), victims):
        nodes = rng.sample(sorted(by_id[data_id]), rng.choice([1, 2, 2]))
        for node in nodes:
            path = by_id[data_id][node]
            hit[path] = corrupt(path, rng)
    assert len({p.parts[-5] for p in hit}) >= 3, "damage should span several nodes"
    for path in hit:
        assert path.read_bytes() != originals[path]
        assert bad_blocks(path), f"{path}: the flip must be detectable by its CRC32C"
    return hit


def assert_disk_clean(cluster: Cluster, originals: dict[Path, bytes]) -> None:
    files = [f for fs in cluster.shard_files().values() for f in fs]
    assert sorted(files) == sorted(originals)
    bad = {str(f): bad_blocks(f) for f in files if bad_blocks(f)}
    assert not bad, f"shard files still failing their CRC32C after heal: {bad}"
    changed = [str(f) for f in files if f.read_bytes() != originals[f]]
    assert not changed, f"healed shard files differ from what the PUT wrote: {changed}"


def test_bitrot_is_read_around_and_healed(cluster: Cluster) -> None:
    s3 = cluster.client("n1")
    s3.create_bucket(Bucket=BUCKET)
    bodies = {k: body_for(f"bitrot#{k}", n) for k, n in SIZES.items()}
    for i, (key, data) in enumerate(bodies.items()):
        cluster.client(cluster.node_ids[i % 6]).put_object(Bucket=BUCKET, Key=key, Body=data)
    shard_objects = sum(n > 128 * KIB for n in SIZES.values())
    cluster.assert_shards_at_home(shard_objects, buckets=[BUCKET])
    originals = {f: f.read_bytes() for fs in cluster.shard_files().values() for f in fs}
    rng = random.Random(4242)

    # -- 1: damage, then heal before anything reads: heal finds and rebuilds every one --
    hit = damage(cluster, rng, victims=5, originals=originals)
    report = cluster.heal("n2", grace=0)
    assert report["exit_code"] == 0 and report["errors"] == [], report
    assert report["shards_rebuilt"] == len(hit), (report, sorted(map(str, hit)))
    assert report["shards_checked"] == 6 * shard_objects, report
    assert report["objects_checked"] == len(SIZES), report
    assert_disk_clean(cluster, originals)

    # -- 2: damage again (two shards of the largest object among them); reads correct ---
    hit = damage(cluster, rng, victims=4, originals=originals)
    by_id = files_by_data_id(cluster)
    biggest = max((len(originals[next(iter(v.values()))]), d) for d, v in by_id.items())[1]
    first_two = [by_id[biggest][n] for n in cluster.node_ids[:2]]  # two data shards
    for path in first_two:
        if path not in hit:
            hit[path] = corrupt(path, rng)
    others = [p for p in hit if p.name.rpartition(".")[0] == biggest and p not in first_two]
    for path in others:  # keep at most m = 2 damaged shards of that object
        path.write_bytes(originals[path])
        del hit[path]

    for node in cluster.node_ids:
        c = cluster.client(node)
        for key, data in bodies.items():
            got = c.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert got == data, f"GET {key} through {node}: wrong bytes"
    big_key = max(SIZES, key=SIZES.__getitem__)
    for block in sorted({hit[p] for p in first_two}):
        # inside the damaged stripe and the object (the last stripe may be short)
        start = min(block * STRIPE + 1000, SIZES[big_key] - 1)
        end = min(start + 200 * KIB, SIZES[big_key] - 1)
        got = cluster.client("n5").get_object(Bucket=BUCKET, Key=big_key,
                                              Range=f"bytes={start}-{end}")["Body"].read()
        assert got == bodies[big_key][start:end + 1], f"Range GET over damaged stripe {block}"

    # Heal (together with the repairs the degraded reads scheduled) fixes every file.
    report = cluster.heal("n3", grace=0)
    assert report["exit_code"] == 0 and report["errors"] == [], report
    assert report["shards_rebuilt"] <= len(hit), report
    assert_disk_clean(cluster, originals)
    again = cluster.heal("n4", grace=0)
    assert (again["shards_rebuilt"], again["unresolved"], again["errors"]) == (0, 0, []), again
