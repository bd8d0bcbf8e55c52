"""Losing a whole availability zone loses nothing and stops nothing; healing restores it.

Six nodes in three AZs hold one 4+2 erasure set with two shards per AZ. 200 objects from
0 B to 20 MiB are written through every node; then both nodes of az-2 are killed with
SIGKILL. Every object must read back byte-identical through every one of the four
surviving nodes, and writes, deletes and a CreateBucket must go on working. After the
two nodes are restarted, `engine admin heal` must put every shard back on its home
drive (counted on disk) and remove the shards of objects deleted during the outage; a
second pass must find nothing left to do.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from .conftest import (
    INLINE_THRESHOLD,
    KIB,
    MIB,
    Cluster,
    body_for,
    error_code,
    list_keys,
    md5_hex,
    read_md5,
)

BUCKET = "az-loss"
OUTAGE_BUCKET = "az-loss-outage"
THREADS = 8


@dataclass(frozen=True)
class Obj:
    bucket: str
    key: str
    size: int
    seed: str

    def body(self) -> bytes:
        return body_for(self.seed, self.size)

    @property
    def inline(self) -> bool:
        return self.size <= INLINE_THRESHOLD


def catalogue() -> list[Obj]:
    """200 objects: mostly small, around the inline threshold, a few multi-MiB, two ~20 MiB."""
    rng = random.Random(20240613)
    sizes = [20 * MIB, 20 * MIB - 12_345]  # a couple of ~20 MiB, one not stripe-aligned
    sizes += [rng.randrange(2 * MIB, 8 * MIB) for _ in range(4)] + [3 * MIB]
    sizes += [rng.randrange(INLINE_THRESHOLD + 1, MIB + MIB // 2) for _ in range(20)]
    sizes += [INLINE_THRESHOLD + 1, MIB, MIB + 1]  # just over inline, one stripe, and a bit
    sizes += [0, 1, INLINE_THRESHOLD, INLINE_THRESHOLD - 1]  # empty and inline edges
    while len(sizes) < 200:
        sizes.append(int(rng.paretovariate(1.2) * 300) % (64 * KIB))
    prefixes = ["small/", "photos/2024/", "logs/app/", "deep/a/b/c/", "top-"]
    objs = []
    for i, size in enumerate(sizes):
        if size >= 8 * MIB:
            prefix = "huge/"
        elif size > INLINE_THRESHOLD:
            prefix = "large/"
        else:
            prefix = prefixes[i % len(prefixes)]
        objs.append(Obj(BUCKET, f"{prefix}{i:03d}-{size}", size, f"az-loss#{i}"))
    return objs


def put(cluster: Cluster, node: str, obj: Obj) -> None:
    r = cluster.client(node).put_object(Bucket=obj.bucket, Key=obj.key, Body=obj.body())
    assert r["ETag"].strip('"') == md5_hex(obj.body()), obj.key


def check_read(cluster: Cluster, node: str, obj: Obj) -> str | None:
    """None if `obj` reads back exactly through `node`, else what is wrong."""
    s3 = cluster.client(node)
    try:
        if obj.size <= 256 * KIB:
            got = s3.get_object(Bucket=obj.bucket, Key=obj.key)["Body"].read()
            if got != obj.body():
                return f"{node} {obj.key}: {len(got)} bytes differ from the {obj.size} PUT"
            return None
        digest, size = read_md5(s3, obj.bucket, obj.key)
    except Exception as exc:
        return f"{node} {obj.key}: {error_code(exc)}: {exc}"
    want = md5_hex(obj.body())
    if (digest, size) != (want, obj.size):
        return f"{node} {obj.key}: got {size} bytes md5 {digest}, want {obj.size} md5 {want}"
    return None


def check_all(cluster: Cluster, nodes: list[str], objs: list[Obj]) -> None:
    """Every object through every node, in parallel; one assertion listing all failures."""
    jobs = [(n, o) for o in objs for n in nodes]
    with ThreadPoolExecutor(THREADS) as pool:
        problems = [p for p in pool.map(lambda j: check_read(cluster, *j), jobs) if p]
    assert not problems, f"{len(problems)} of {len(jobs)} reads wrong:\n" + "\n".join(
        problems[:20])


def check_gone(cluster: Cluster, nodes: list[str], objs: list[Obj]) -> None:
    for node in nodes:
        s3 = cluster.client(node)
        for obj in objs:
            with pytest.raises(s3.exceptions.NoSuchKey):
                s3.get_object(Bucket=obj.bucket, Key=obj.key)


def test_losing_one_az_loses_nothing_and_heal_restores_every_shard(cluster: Cluster) -> None:
    nodes = cluster.node_ids
    lost = cluster.nodes_in("az-2")
    assert lost == ["n2", "n5"]
    survivors = [n for n in nodes if n not in lost]

    # -- 200 objects through all six nodes -----------------------------------------------
    cluster.client("n1").create_bucket(Bucket=BUCKET)
    objs = catalogue()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda io: put(cluster, nodes[io[0] % len(nodes)], io[1]),
                      enumerate(objs)))
    assert sorted(list_keys(cluster.client("n4"), BUCKET)) == sorted(o.key for o in objs)
    assert cluster.shard_counts() == dict.fromkeys(nodes, sum(not o.inline for o in objs))

    # -- kill -9 both nodes of az-2 ------------------------------------------------------
    cluster.kill9(lost)
    check_all(cluster, survivors, objs)

    # -- writes, deletes and a new bucket during the outage -----------------------------
    cluster.client("n3").create_bucket(Bucket=OUTAGE_BUCKET)
    for node in survivors:
        cluster.client(node).head_bucket(Bucket=OUTAGE_BUCKET)
    live = {(o.bucket, o.key): o for o in objs}
    big = sorted((o for o in objs if not o.inline), key=lambda o: o.size)
    deleted = [big[0], big[5], big[-1], objs[-1], objs[-2]]  # large (one 20 MiB) and small
    overwritten = [
        Obj(BUCKET, big[1].key, 2 * MIB + 7, "outage#big-over-big"),
        Obj(BUCKET, big[2].key, 5 * KIB, "outage#small-over-big"),
        Obj(BUCKET, objs[-3].key, 300 * KIB, "outage#big-over-small"),
    ]
    added = [
        Obj(BUCKET, "outage/new-6m", 6 * MIB + 3, "outage#1"),
        Obj(BUCKET, "outage/new-small", 10, "outage#2"),
        Obj(BUCKET, "outage/new-empty", 0, "outage#3"),
        Obj(OUTAGE_BUCKET, "x/new-1m", MIB + 11, "outage#4"),
        Obj(OUTAGE_BUCKET, "x/new-200k", 200 * KIB, "outage#5"),
        Obj(OUTAGE_BUCKET, "y/new-tiny", 99, "outage#6"),
    ]
    for i, obj in enumerate(overwritten + added):
        put(cluster, survivors[i % len(survivors)], obj)
        live[(obj.bucket, obj.key)] = obj
    for i, obj in enumerate(deleted):
        cluster.client(survivors[-1 - i % len(survivors)]).delete_object(Bucket=obj.bucket,
                                                                         Key=obj.key)
        del live[(obj.bucket, obj.key)]
    check_all(cluster, survivors, overwritten + added)
    check_gone(cluster, survivors, deleted)
    for bucket in (BUCKET, OUTAGE_BUCKET):
        want = sorted(k for b, k in live if b == bucket)
        assert sorted(list_keys(cluster.client("n6"), bucket)) == want

    # -- the az comes back; one healing pass repairs everything --------------------------
    cluster.restart(lost)
    for node in lost:
        s3 = cluster.client(node)
        s3.head_bucket(Bucket=OUTAGE_BUCKET)  # the Raft table caught up
    # Healing through a restarted node: its channels to the others are fresh (a survivor's
    # channel to n2 may still be in reconnect backoff for up to a second).
    report = cluster.heal("n2", grace=0)
    changed = [o for o in overwritten + added if not o.inline]
    assert report["errors"] == [] and report["unresolved"] == 0, report
    assert report["exit_code"] == 0, report
    # Two shards (az-2's) of every non-inline object written during the outage.
    assert report["shards_rebuilt"] == 2 * len(changed), report
    assert report["entries_fixed"] == 2 * len(overwritten + added), report
    assert report["entries_removed"] == 2 * len(deleted), report

    # Counted on disk: one shard of every live non-inline object on each of the 6 drives,
    # at its home index; the shards of deleted and overwritten objects are gone.
    cluster.assert_shards_at_home(sum(not o.inline for o in live.values()),
                                  buckets=[BUCKET, OUTAGE_BUCKET])
    assert {n: f for n, f in cluster.tmp_files().items() if f} == {}

    # The restarted nodes serve everything, and nothing is left to heal.
    check_all(cluster, lost, list(live.values()))
    second = cluster.heal("n4", grace=0)
    assert second["exit_code"] == 0, second
    assert (second["shards_rebuilt"], second["entries_fixed"], second["entries_removed"],
            second["unresolved"], second["pending_discarded"]) == (0, 0, 0, 0, 0), second
    assert second["objects_checked"] == len(live), second
