"""The cache workload: Redis-style GET/SET rates of the cache tier, and object GETs that
the read cache may serve.

Raw generated stubs over grpc.aio (like the object and queue workloads) so the client's
own cost stays small; `--protocol resp` sends the same cache phases through the RESP
endpoint with redis-py instead (cache_resp.py: a KeySpaceClient of its own). Every key
is `<prefix>:<index>` with a random prefix per run, so runs never collide, and every
value is exactly `value_size` bytes. Phases:

- `set`: SET of this process's keys in turn (process p owns every P-th index);
- `get`: GET of a random key of the whole key space, which is preloaded (MSET, untimed,
  in `prepare`), so every GET should hit: a miss or a value of the wrong length is an
  error (CacheMiss, ValueMismatch), not a fast answer;
- `mixed`: a random key, GET or SET so that exactly `read_ratio` of each process's ops
  are GETs (`is_read`, a deterministic interleaving rather than a coin per op);
- `mget`: MGET of MGET_BATCH random keys per call;
- `object-get`: GetObject of `object_count` objects of `object_size` bytes, written to a
  bench bucket before the phase. Whether these come from the read cache depends on the
  server (`engine serve --object-cache-max`, default 1 MiB; 0 turns it off) and on the
  size: bodies up to the inline threshold (128 KiB) sit in the object's record and are
  never cached, hence the default of 256 KiB. The effect of the read cache is measured
  by running this phase against two servers that differ only in that flag; the
  report's `cache` figures (object_hits/object_misses) show which one it was.

Each phase runs as a workload of its own (`CacheWorkload.only`): setup writes what it
needs, teardown deletes the bench keys and bucket, and the CLI reads the server's
`Cache.Stats` before and after, so every phase gets the tier's hits, misses, evictions
and object hits/misses over its run (warm-up included; any other client of the server
counts too) - figures the runner's PhaseStats cannot carry. Every op's bytes are the
value (or object) bytes it moved, so `keys` = bytes / value size.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import secrets
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import grpc
from rich.console import Console
from rich.table import Table

from engine.bench.echo import UNARY_CAP
from engine.bench.objects import CHUNK, chunks, delete_bucket
from engine.bench.workload import OpError, Workload, WorkloadClient, select_phases
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_pb2_grpc, echo_pb2, echo_pb2_grpc, objects_pb2_grpc
from engine.v1 import objects_pb2 as opb

PHASES = ("set", "get", "mixed", "mget", "object-get")
CACHE_PHASES = PHASES[:-1]
MGET_BATCH = 10
PRELOAD_BYTES = 1024 * 1024  # one MSET carries about this much while preloading
PRELOAD_MAX_KEYS = 1000
DELETE_BATCH = 1000  # keys per DEL in teardown
FILL_CONCURRENCY = 8  # calls in flight while preloading, writing objects, deleting
MAX_VALUE_SIZE = 8 * 1024 * 1024  # the server's largest value
# Above the server's default inline threshold (128 KiB: such bodies live in the object's
# record, which every GET reads anyway, so the read cache never keeps them) and within
# its default --object-cache-max (1 MiB).
DEFAULT_OBJECT_SIZE = 256 * 1024
STAT_COUNTERS = ("hits", "misses", "evictions", "expirations", "object_hits",
                 "object_misses")


def new_prefix() -> str:
    return f"bench-{secrets.token_hex(4)}"


def key_name(prefix: str, index: int) -> bytes:
    return f"{prefix}:{index}".encode()


def parse_phases(text: str) -> tuple[str, ...]:
    """`"get,mixed"` -> the phases in run order; ValueError naming unknown ones."""
    return select_phases(text, PHASES)


def check_settings(value_size: int, keys: int, read_ratio: float, processes: int,
                   object_count: int, object_size: int) -> None:
    if not 1 <= value_size <= MAX_VALUE_SIZE:
        raise ValueError(f"value size must be 1-{MAX_VALUE_SIZE} bytes, not {value_size}")
    if not 0.0 <= read_ratio <= 1.0:
        raise ValueError(f"read ratio must be between 0 and 1, not {read_ratio}")
    if keys < processes:
        raise ValueError(f"--keys {keys} is fewer than --processes {processes}")
    if keys < MGET_BATCH:
        raise ValueError(f"--keys must be at least {MGET_BATCH} (one MGET batch)")
    if object_count < 1 or object_size < 1:
        raise ValueError("--object-count and --object-size must be at least 1")


def own_indexes(keys: int, process_index: int, processes: int) -> range:
    """The key indexes process `process_index` writes in `set` and preloads."""
    return range(process_index, keys, processes)


def is_read(seq: int, read_ratio: float) -> bool:
    """Whether op `seq` of the mixed phase is a GET: reads are spread evenly so that of
    any n consecutive ops, round(n x ratio) (within one) are reads."""
    return math.floor((seq + 1) * read_ratio) > math.floor(seq * read_ratio)


def preload_batches(indexes: Sequence[int], value_size: int) -> list[Sequence[int]]:
    """`indexes` cut into MSETs of about PRELOAD_BYTES (at least one key each)."""
    per = max(1, min(PRELOAD_MAX_KEYS, PRELOAD_BYTES // value_size))
    return [indexes[i:i + per] for i in range(0, len(indexes), per)]


def object_key(index: int) -> str:
    return f"obj-{index:06d}"


@dataclass(frozen=True)
class CacheWorkload(Workload):
    prefix: str
    bucket: str
    keys: int = 10_000
    value_size: int = 100
    read_ratio: float = 0.9
    object_count: int = 100
    object_size: int = DEFAULT_OBJECT_SIZE
    phase_names: tuple[str, ...] = PHASES
    seed: int = 0
    name: str = "cache"

    def phases(self) -> Sequence[str]:
        return self.phase_names

    def only(self, phase: str) -> CacheWorkload:
        """The same workload with one phase, run (and set up, torn down) on its own."""
        return replace(self, phase_names=(phase,))

    def baseline_for(self, phase: str) -> tuple[str, str]:
        """Every phase is one unary call (GetObject: one stream of a header and a chunk
        or two) judged by its call rate against a bare call of the same payload."""
        return ("unary-object" if phase == "object-get" else "unary"), "ops_per_s"

    def key_bytes(self) -> int:
        """Key and value bytes the run keeps in the tier at most."""
        return self.keys * (self.value_size + len(key_name(self.prefix, self.keys)))

    async def setup(self, channel: grpc.aio.Channel) -> None:
        if "object-get" not in self.phase_names:
            return
        stub = objects_pb2_grpc.ObjectStoreStub(channel)
        await stub.CreateBucket(opb.CreateBucketRequest(bucket=self.bucket))
        body = [opb.PutObjectRequest(chunk=c) for c in chunks(os.urandom(self.object_size))]
        gate = asyncio.Semaphore(FILL_CONCURRENCY)

        async def put(index: int) -> None:
            header = opb.PutObjectRequest(header=opb.PutObjectHeader(
                bucket=self.bucket, key=object_key(index), content_length=self.object_size))
            async with gate:
                await stub.PutObject(iter([header, *body]))

        await asyncio.gather(*(put(i) for i in range(self.object_count)))

    async def teardown(self, channel: grpc.aio.Channel) -> None:
        if any(p in CACHE_PHASES for p in self.phase_names):
            stub = cache_pb2_grpc.CacheStub(channel)
            gate = asyncio.Semaphore(FILL_CONCURRENCY)

            async def delete(start: int) -> None:
                end = min(self.keys, start + DELETE_BATCH)
                async with gate:
                    await stub.Delete(pb.CacheKeysRequest(
                        keys=[key_name(self.prefix, i) for i in range(start, end)]))

            await asyncio.gather(*(delete(s) for s in range(0, self.keys, DELETE_BATCH)))
        if "object-get" in self.phase_names:
            await delete_bucket(objects_pb2_grpc.ObjectStoreStub(channel), self.bucket)

    def client(self, channel: grpc.aio.Channel, process_index: int,
               processes: int) -> CacheClient:
        return CacheClient(self, cache_pb2_grpc.CacheStub(channel),
                           objects_pb2_grpc.ObjectStoreStub(channel), process_index, processes)


class KeySpaceClient(WorkloadClient):
    """The phases over the bench's key space, whatever carries them: which key each op
    names, the preload and the checks of what a read returned. A subclass says how one
    SET, GET, MGET and MSET travel (gRPC here, RESP in cache_resp.py)."""

    def __init__(self, workload: CacheWorkload, process_index: int, processes: int) -> None:
        self.w = workload
        self.own = own_indexes(workload.keys, process_index, processes)
        if not self.own:
            raise ValueError("fewer keys than worker processes")
        self.rng = random.Random(workload.seed * 1_000_003 + process_index)
        self.value = os.urandom(workload.value_size)
        self.keys = [key_name(workload.prefix, i) for i in range(workload.keys)]
        self.preloaded = False

    async def prepare(self, phase: str) -> None:
        if phase in ("get", "mixed", "mget") and not self.preloaded:
            await self.preload()

    async def preload(self) -> None:
        """MSET every key this process owns (the others preload theirs before the
        barrier), so the read phases find the whole key space."""
        gate = asyncio.Semaphore(FILL_CONCURRENCY)

        async def mset(batch: Iterable[int]) -> None:
            async with gate:
                await self._mset([self.keys[i] for i in batch])

        await asyncio.gather(*(mset(b) for b in preload_batches(self.own, self.w.value_size)))
        self.preloaded = True

    def _random_key(self) -> bytes:
        return self.keys[self.rng.randrange(self.w.keys)]

    async def op(self, phase: str, seq: int) -> int:
        if phase == "set":
            return await self._set(self.keys[self.own[seq % len(self.own)]])
        if phase == "get":
            return await self._get(self._random_key())
        if phase == "mixed":
            key = self._random_key()
            return await (self._get(key) if is_read(seq, self.w.read_ratio)
                          else self._set(key))
        if phase == "mget":
            return await self._mget([self._random_key() for _ in range(MGET_BATCH)])
        if phase == "object-get":
            return await self._object_get(object_key(seq % self.w.object_count))
        raise ValueError(f"unknown phase {phase!r}")

    def _check(self, found: bool, value: bytes) -> int:
        if not found:
            raise OpError("CacheMiss", "a preloaded key was not found (evicted?)")
        if len(value) != self.w.value_size:
            raise OpError("ValueMismatch", f"got {len(value)} of {self.w.value_size} bytes")
        return len(value)

    @abstractmethod
    async def _set(self, key: bytes) -> int:
        """SET `key` to this process's value; the bytes written."""

    @abstractmethod
    async def _get(self, key: bytes) -> int:
        """GET a preloaded `key`; the bytes read (checked with `_check`)."""

    @abstractmethod
    async def _mget(self, keys: list[bytes]) -> int:
        """MGET preloaded `keys`; the bytes read (each value checked)."""

    @abstractmethod
    async def _mset(self, keys: list[bytes]) -> None:
        """MSET `keys` to this process's value (untimed: the preload)."""

    async def _object_get(self, key: str) -> int:
        raise ValueError(f"{type(self).__name__} reads no objects")


class CacheClient(KeySpaceClient):
    def __init__(self, workload: CacheWorkload, stub: cache_pb2_grpc.CacheStub,
                 objects: objects_pb2_grpc.ObjectStoreStub, process_index: int,
                 processes: int) -> None:
        super().__init__(workload, process_index, processes)
        self.stub = stub
        self.objects = objects

    async def _mset(self, keys: list[bytes]) -> None:
        await self.stub.MSet(pb.CacheMSetRequest(entries=[
            pb.CacheEntry(key=k, value=self.value) for k in keys]))

    async def _set(self, key: bytes) -> int:
        reply = await self.stub.Set(pb.CacheSetRequest(key=key, value=self.value))
        if not reply.written:
            raise OpError("NotWritten", "SET without nx/xx was not written")
        return len(self.value)

    async def _get(self, key: bytes) -> int:
        reply = await self.stub.Get(pb.CacheGetRequest(key=key))
        return self._check(reply.found, reply.value)

    async def _mget(self, keys: list[bytes]) -> int:
        reply = await self.stub.MGet(pb.CacheKeysRequest(keys=keys))
        if len(reply.values) != len(keys):
            raise OpError("ShortReply", f"{len(reply.values)} values for {len(keys)} keys")
        return sum(self._check(v.found, v.value) for v in reply.values)

    async def _object_get(self, key: str) -> int:
        total = 0
        header_seen = False
        async for message in self.objects.GetObject(opb.GetObjectRequest(
                bucket=self.w.bucket, key=key)):
            if message.HasField("header"):
                header_seen = True
            else:
                total += len(message.chunk)
        if not header_seen or total != self.w.object_size:
            raise OpError("ShortRead", f"read {total} of {self.w.object_size} bytes")
        return total


# -- the baseline ------------------------------------------------------------------------


@dataclass(frozen=True)
class CacheBaseline(Workload):
    """Echo.Unary with a value's payload (`unary`, for the cache phases) and with an
    object's (`unary-object`, capped at one stream chunk, for object-get)."""

    value_size: int
    object_size: int
    with_objects: bool = True
    name: str = "baseline"

    def phases(self) -> Sequence[str]:
        return ("unary", "unary-object") if self.with_objects else ("unary",)

    def client(self, channel: grpc.aio.Channel, process_index: int,
               processes: int) -> _BaselineClient:
        return _BaselineClient(echo_pb2_grpc.EchoStub(channel), {
            "unary": os.urandom(min(self.value_size, UNARY_CAP)),
            "unary-object": os.urandom(min(self.object_size, CHUNK)),
        })


class _BaselineClient(WorkloadClient):
    def __init__(self, stub: echo_pb2_grpc.EchoStub, payloads: dict[str, bytes]) -> None:
        self.stub = stub
        self.messages = {k: echo_pb2.EchoMessage(payload=v) for k, v in payloads.items()}

    async def op(self, phase: str, seq: int) -> int:
        reply = await self.stub.Unary(self.messages[phase])
        return len(reply.payload)


# -- server counters and the report ------------------------------------------------------


def counters_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the tier counted between two `stats()["total"]` dicts (engine/client/cache.py
    stats_result), with the hit ratios (None when there was nothing to divide)."""
    delta = {k: int(after.get(k, 0)) - int(before.get(k, 0)) for k in STAT_COUNTERS}
    delta["hit_ratio"] = ratio(delta["hits"], delta["misses"])
    delta["object_hit_ratio"] = ratio(delta["object_hits"], delta["object_misses"])
    delta["keys_after"] = int(after.get("keys", 0))
    delta["bytes_used_after"] = int(after.get("bytes_used", 0))
    return delta


def ratio(hits: int, misses: int) -> float | None:
    return hits / (hits + misses) if hits + misses > 0 else None


def add_cache_figures(report: dict[str, Any], value_size: int, object_size: int,
                      counters: dict[str, dict[str, Any]]) -> None:
    """Add `keys` and `keys_per_s` (values, or objects, moved) and the server's `cache`
    counters over the phase to every phase of a report from build_report."""
    for name, phase in report["phases"].items():
        size = object_size if name == "object-get" else value_size
        phase["keys"] = phase["bytes"] // size
        phase["keys_per_s"] = phase["keys"] / phase["seconds"] if phase["seconds"] else 0.0
        phase["cache"] = counters.get(name)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render_cache(report: dict[str, Any], console: Console) -> None:
    """The per-key view and the server's counters (after report.render's call view)."""
    c = report["config"]
    table = Table(title="cache tier (server counters over each phase, warm-up included)",
                  title_justify="left")
    for col in ("phase", "keys/s", "keys/call", "hits", "misses", "hit ratio", "evictions",
                "object hits", "object misses", "object hit ratio"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for name, p in report["phases"].items():
        s = p.get("cache") or {}
        per_call = f"{p['keys'] / p['ops']:.0f}" if p["ops"] else "-"
        table.add_row(name, f"{p['keys_per_s']:,.0f}", per_call,
                      *(f"{s[k]:,}" if k in s else "-"
                        for k in ("hits", "misses")),
                      _pct(s.get("hit_ratio")), f"{s['evictions']:,}" if s else "-",
                      *(f"{s[k]:,}" if k in s else "-"
                        for k in ("object_hits", "object_misses")),
                      _pct(s.get("object_hit_ratio")))
    console.print(table)
    objects = (f", {c['object_count']} objects of {c['object_size_text']}"
               if "object-get" in c.get("phases", PHASES) else "")
    console.print(f"[dim]keys {c['keys']:,} x {c['value_size_text']} values, read ratio "
                  f"{c['read_ratio']:g}{objects}"
                  f"{', label ' + c['label'] if c.get('label') else ''}[/dim]")
