"""MetaStore (LMDB) micro-benchmarks: the per-operation cost of the object metadata
records every PUT, GET, DELETE and LIST goes through.

- get hit / get miss: ``get_entry`` of random keys among ``KEYS`` stored ones (a read
  transaction and a protobuf parse each);
- update, one transaction each: ``update_entry`` as a lone PUT commits it (LMDB's
  writer lock plus an fsync per call, so this is bound by the disk under pytest's tmp
  dir; pick it with ``--basetemp``);
- update, ``BATCH`` per transaction: ``update_in`` the way group commit
  (engine/storage/group_commit.py) batches concurrent PUTs into one fsync;
- list: one ``list_entries`` page of 1000 keys (ListObjectsV2's largest), from a random
  start.

``extra_info["ops_per_call"]`` gives the operations per timed call; divide by it for one.

Run with:
    .venv/bin/python -m pytest bench/test_bench_metastore.py --benchmark-only
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engine.storage.metastore import MetaStore
from engine.v1.records_pb2 import BucketRecord, ObjectEntry, ObjectVersion

KEYS = 20_000
OPS = 1000
BATCH = 100
PAGE = 1000
MAP = 1 << 30
BUCKET = "bench"


def _key(i: int) -> str:
    return f"photos/2026/{i:08d}.jpg"


def _entry(i: int) -> ObjectEntry:
    """A typical small object's record: one version with an ETag and a layout."""
    v = ObjectVersion(version_id="null", etag=f"{i:032x}", size=4096)
    v.layout.data_id = f"d{i:031x}"
    return ObjectEntry(versions=[v])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> MetaStore:
    s = MetaStore(Path(tmp_path_factory.mktemp("metastore")) / "meta", MAP)
    s.make_volume(BucketRecord(name=BUCKET))
    for start in range(0, KEYS, 1000):
        with s.env.begin(write=True) as txn:
            for i in range(start, start + 1000):
                s.update_in(txn, BUCKET, _key(i), lambda _old, i=i: _entry(i))
    yield s
    s.close()


def _run(benchmark, fn, name: str, ops: int, rounds: int = 100) -> None:
    benchmark.group = "metadata store"
    benchmark.name = name
    benchmark.extra_info["ops_per_call"] = ops
    benchmark.pedantic(fn, rounds=rounds, warmup_rounds=2)


def test_get_hit(benchmark, store: MetaStore) -> None:
    keys = [_key(i) for i in random.Random(1).sample(range(KEYS), OPS)]

    def run() -> None:
        for key in keys:
            assert store.get_entry(BUCKET, key) is not None

    _run(benchmark, run, "get hit", OPS)


def test_get_miss(benchmark, store: MetaStore) -> None:
    keys = [f"missing/{i}" for i in range(OPS)]

    def run() -> None:
        for key in keys:
            store.get_entry(BUCKET, key)

    _run(benchmark, run, "get miss", OPS)


def test_update_one_transaction_each(benchmark, store: MetaStore) -> None:
    rng = random.Random(2)
    ops = 20

    def run() -> None:
        for _ in range(ops):
            i = rng.randrange(KEYS)
            store.update_entry(BUCKET, _key(i), lambda _old, i=i: _entry(i))

    _run(benchmark, run, "update, one fsynced transaction each", ops, rounds=20)


def test_update_batched(benchmark, store: MetaStore) -> None:
    rng = random.Random(3)

    def run() -> None:
        with store.env.begin(write=True) as txn:
            for _ in range(BATCH):
                i = rng.randrange(KEYS)
                store.update_in(txn, BUCKET, _key(i), lambda _old, i=i: _entry(i))

    _run(benchmark, run, f"update, {BATCH} per transaction", BATCH, rounds=50)


def test_list_page(benchmark, store: MetaStore) -> None:
    rng = random.Random(4)

    def run() -> None:
        after = _key(rng.randrange(KEYS - PAGE))
        listing = store.list_entries(BUCKET, "photos/", after, "", PAGE)
        assert len(listing) == PAGE

    _run(benchmark, run, f"list page of {PAGE}", PAGE)
