"""The mixed workload: objects, queues and cache at once on the same nodes, one phase
whose operations are interleaved by a weighted mix, each kind with figures of its own.

What it answers: how the three services do when they share a node's CPU, disk and event
loop, which no single-service bench shows. Operation `seq` of a client is chosen
deterministically (no coin flips, so two runs do the same work):

- the family by smooth weighted round robin over `mix` (e.g. objects=1,queues=1,cache=8:
  of every 10 ops one object op, one queue op, eight cache ops, evenly spread);
- within objects and cache, a read or a write so that exactly `read_ratio` of that
  family's ops are reads (cache.is_read): `object-get` reads one of `object_count`
  objects written in setup, `object-put` overwrites one of this client's `keys`;
  `cache-get` reads a random key of the preloaded key space, `cache-set` writes one;
- queues alternate `queue-send` (SendMessage) and `queue-receive` (ReceiveMessage of up
  to 10 without waiting, then DeleteMessageBatch of what came): a receive drains what
  sends add, so the queue stays short. A receive that finds nothing is a successful op
  that moved 0 bytes (short polls may miss messages, as in SQS).

Bytes are payload bytes moved (object body, value, message bodies). Misses, short
reads and wrong lengths are errors, as in the single-service workloads.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc

from engine.bench.cache import is_read, key_name, preload_batches
from engine.bench.echo import UNARY_CAP, EchoClient
from engine.bench.objects import CHUNK, chunks, delete_bucket
from engine.bench.queue_messages import check_message_size, delete_queue
from engine.bench.report import CALL_RATE
from engine.bench.workload import OpError, Workload, WorkloadClient
from engine.v1 import (
    cache_pb2,
    cache_pb2_grpc,
    echo_pb2,
    echo_pb2_grpc,
    objects_pb2_grpc,
    queues_pb2_grpc,
)
from engine.v1 import objects_pb2 as opb
from engine.v1 import queues_pb2 as qpb

FAMILIES = ("objects", "queues", "cache")
KINDS = ("object-put", "object-get", "queue-send", "queue-receive", "cache-set", "cache-get")
DEFAULT_MIX = "objects=1,queues=1,cache=1"
QUEUE_BATCH = 10
FILL_CONCURRENCY = 8
DELETE_BATCH = 1000
MAX_VALUE_SIZE = 8 * 1024 * 1024


def parse_mix(text: str) -> dict[str, int]:
    """`"objects=1,cache=8"` -> {"objects": 1, "queues": 0, "cache": 8}; ValueError
    naming what is wrong."""
    mix = dict.fromkeys(FAMILIES, 0)
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        name, sep, weight = item.partition("=")
        name = name.strip()
        if name not in mix:
            raise ValueError(f"unknown family {name!r} in --mix; choose from "
                             f"{', '.join(FAMILIES)}")
        try:
            mix[name] = int(weight) if sep else 1
        except ValueError:
            raise ValueError(f"not a whole-number weight in --mix: {item!r}") from None
        if mix[name] < 0:
            raise ValueError(f"negative weight in --mix: {item!r}")
    if not sum(mix.values()):
        raise ValueError(f"--mix {text!r} gives every family weight 0")
    return mix


def schedule(mix: dict[str, int]) -> tuple[str, ...]:
    """One cycle of families by smooth weighted round robin (nginx's): each family as
    often as its weight, as evenly spread as possible."""
    current = dict.fromkeys(mix, 0)
    total = sum(mix.values())
    out = []
    for _ in range(total):
        for f in mix:
            current[f] += mix[f]
        best = max(mix, key=lambda f: current[f])
        current[best] -= total
        out.append(best)
    return tuple(out)


class MixSchedule:
    """Which kind operation `seq` is: the family from the cycle, then read or write from
    that family's own op count (so the read ratio holds within every family)."""

    def __init__(self, mix: dict[str, int], read_ratio: float) -> None:
        self.mix = mix
        self.read_ratio = read_ratio
        self.cycle = schedule(mix)
        # position of each cycle slot among its family's slots
        self.rank = [self.cycle[:i].count(f) for i, f in enumerate(self.cycle)]

    def kind(self, seq: int) -> str:
        cycles, slot = divmod(seq, len(self.cycle))
        family = self.cycle[slot]
        n = cycles * self.mix[family] + self.rank[slot]  # this family's op number
        if family == "queues":
            return "queue-receive" if n % 2 else "queue-send"
        reads = is_read(n, self.read_ratio)
        if family == "objects":
            return "object-get" if reads else "object-put"
        return "cache-get" if reads else "cache-set"


def check_settings(mix: dict[str, int], object_size: int, value_size: int,
                   message_size: int, keys: int, read_ratio: float) -> None:
    if not 0.0 <= read_ratio <= 1.0:
        raise ValueError(f"read ratio must be between 0 and 1, not {read_ratio}")
    if object_size < 1:
        raise ValueError("--object-size must be at least 1 byte")
    if not 1 <= value_size <= MAX_VALUE_SIZE:
        raise ValueError(f"value size must be 1-{MAX_VALUE_SIZE} bytes, not {value_size}")
    if mix["queues"]:
        check_message_size(message_size)
    if keys < 1:
        raise ValueError("--keys must be at least 1")


@dataclass(frozen=True)
class MixedWorkload(Workload):
    bucket: str
    queue: str
    prefix: str
    mix: dict[str, int] = field(default_factory=lambda: parse_mix(DEFAULT_MIX))
    object_size: int = 4096
    object_count: int = 100
    value_size: int = 100
    message_size: int = 100
    keys: int = 10_000
    read_ratio: float = 0.9
    name: str = "mixed"

    def phases(self) -> Sequence[str]:
        return ("mixed",)

    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k in KINDS if self.mix[_family(k)])

    def baseline_for(self, name: str) -> tuple[str, str] | None:
        """(echo phase, metric) for "mixed/kind"; the whole mix has none. A kind gets a
        share of the calls, so its ops/s is no match for a bare call's: it is judged by
        call rate from mean latency (report.CALL_RATE) against the bare call of its
        payload, or by MB/s against the stream of an object of a chunk or more."""
        kind = name.partition("/")[2]
        if kind.startswith("object-"):
            if self.object_size < CHUNK:
                return "unary-object", CALL_RATE
            return ("upload" if kind == "object-put" else "download"), CALL_RATE
        if kind.startswith("cache-"):
            return "unary-value", CALL_RATE
        if kind.startswith("queue-"):
            return "unary-message", CALL_RATE
        return None

    async def setup(self, channel: grpc.aio.Channel) -> None:
        gate = asyncio.Semaphore(FILL_CONCURRENCY)
        if self.mix["objects"]:
            stub = objects_pb2_grpc.ObjectStoreStub(channel)
            await stub.CreateBucket(opb.CreateBucketRequest(bucket=self.bucket))
            body = [opb.PutObjectRequest(chunk=c) for c in chunks(os.urandom(self.object_size))]

            async def put(index: int) -> None:
                async with gate:
                    await stub.PutObject(iter([_put_header(self, f"read-{index:06d}"), *body]))

            await asyncio.gather(*(put(i) for i in range(self.object_count)))
        if self.mix["queues"]:
            await queues_pb2_grpc.QueuesStub(channel).CreateQueue(
                qpb.CreateQueueRequest(queue_name=self.queue))
        if self.mix["cache"]:
            cache = cache_pb2_grpc.CacheStub(channel)
            value = os.urandom(self.value_size)

            async def mset(batch: Sequence[int]) -> None:
                async with gate:
                    await cache.MSet(cache_pb2.CacheMSetRequest(entries=[
                        cache_pb2.CacheEntry(key=key_name(self.prefix, i), value=value)
                        for i in batch]))

            await asyncio.gather(*(mset(b) for b in preload_batches(range(self.keys),
                                                                     self.value_size)))

    async def teardown(self, channel: grpc.aio.Channel) -> None:
        if self.mix["objects"]:
            await delete_bucket(objects_pb2_grpc.ObjectStoreStub(channel), self.bucket)
        if self.mix["queues"]:
            await delete_queue(queues_pb2_grpc.QueuesStub(channel), self.queue)
        if self.mix["cache"]:
            cache = cache_pb2_grpc.CacheStub(channel)
            for start in range(0, self.keys, DELETE_BATCH):
                await cache.Delete(cache_pb2.CacheKeysRequest(keys=[
                    key_name(self.prefix, i)
                    for i in range(start, min(self.keys, start + DELETE_BATCH))]))

    def client(self, channel: grpc.aio.Channel, process_index: int,
               processes: int) -> MixedClient:
        return MixedClient(self, channel, process_index, processes)


def _family(kind: str) -> str:
    return {"object": "objects", "queue": "queues", "cache": "cache"}[kind.split("-")[0]]


def _put_header(w: MixedWorkload, key: str) -> opb.PutObjectRequest:
    return opb.PutObjectRequest(header=opb.PutObjectHeader(
        bucket=w.bucket, key=key, content_length=w.object_size))


def new_names() -> tuple[str, str, str]:
    """(bucket, queue, cache key prefix) of a fresh run."""
    tag = f"bench-{secrets.token_hex(4)}"
    return tag, tag, tag


class MixedClient(WorkloadClient):
    def __init__(self, workload: MixedWorkload, channel: grpc.aio.Channel,
                 process_index: int, processes: int) -> None:
        self.w = workload
        self.objects = objects_pb2_grpc.ObjectStoreStub(channel)
        self.queues = queues_pb2_grpc.QueuesStub(channel)
        self.cache = cache_pb2_grpc.CacheStub(channel)
        self.index = process_index
        self.schedule = MixSchedule(workload.mix, workload.read_ratio)
        self.rng = random.Random(process_index)
        self.body = [opb.PutObjectRequest(chunk=c)
                     for c in chunks(os.urandom(workload.object_size))]
        self.own_puts = max(1, workload.keys // processes)
        self.value = os.urandom(workload.value_size)
        self.url = ""

    async def prepare(self, phase: str) -> None:
        if self.w.mix["queues"] and not self.url:
            self.url = (await self.queues.GetQueueUrl(
                qpb.GetQueueUrlRequest(queue_name=self.w.queue))).queue_url

    def kind(self, phase: str, seq: int) -> str:
        return self.schedule.kind(seq)

    async def op(self, phase: str, seq: int) -> int:
        kind = self.kind(phase, seq)
        if kind == "object-put":
            key = f"w{self.index}-{seq % self.own_puts}"
            reply = await self.objects.PutObject(iter([_put_header(self.w, key), *self.body]))
            if reply.size != self.w.object_size:
                raise OpError("SizeMismatch", f"stored {reply.size} bytes")
            return self.w.object_size
        if kind == "object-get":
            return await self._object_get(f"read-{self.rng.randrange(self.w.object_count):06d}")
        if kind == "queue-send":
            await self.queues.SendMessage(qpb.SendMessageRequest(
                queue_url=self.url, message_body="x" * self.w.message_size))
            return self.w.message_size
        if kind == "queue-receive":
            return await self._receive()
        key = key_name(self.w.prefix, self.rng.randrange(self.w.keys))
        if kind == "cache-set":
            await self.cache.Set(cache_pb2.CacheSetRequest(key=key, value=self.value))
            return len(self.value)
        reply = await self.cache.Get(cache_pb2.CacheGetRequest(key=key))
        if not reply.found:
            raise OpError("CacheMiss", "a preloaded key was not found (evicted?)")
        if len(reply.value) != self.w.value_size:
            raise OpError("ValueMismatch", f"got {len(reply.value)} bytes")
        return len(reply.value)

    async def _object_get(self, key: str) -> int:
        total = 0
        async for message in self.objects.GetObject(opb.GetObjectRequest(
                bucket=self.w.bucket, key=key)):
            if not message.HasField("header"):
                total += len(message.chunk)
        if total != self.w.object_size:
            raise OpError("ShortRead", f"read {total} of {self.w.object_size} bytes")
        return total

    async def _receive(self) -> int:
        reply = await self.queues.ReceiveMessage(qpb.ReceiveMessageRequest(
            queue_url=self.url, max_number_of_messages=QUEUE_BATCH, wait_time_seconds=0))
        if not reply.messages:
            return 0
        done = await self.queues.DeleteMessageBatch(qpb.DeleteMessageBatchRequest(
            queue_url=self.url, entries=[
                qpb.DeleteMessageBatchRequestEntry(id=str(i), receipt_handle=m.receipt_handle)
                for i, m in enumerate(reply.messages)]))
        if done.failed:
            raise OpError(done.failed[0].code or "BatchEntryFailed", done.failed[0].message)
        return sum(len(m.body) for m in reply.messages)


# -- the baseline ------------------------------------------------------------------------


@dataclass(frozen=True)
class MixedBaseline(Workload):
    """Bare Echo calls with each kind's payload: Unary with a value, a message and an
    object (capped at one chunk), and Upload/Download streams of an object's size."""

    object_size: int
    value_size: int
    message_size: int
    name: str = "baseline"

    def phases(self) -> Sequence[str]:
        streams = ("upload", "download") if self.object_size >= CHUNK else ()
        return ("unary-value", "unary-message", "unary-object", *streams)

    def client(self, channel: grpc.aio.Channel, process_index: int,
               processes: int) -> WorkloadClient:
        return _MixedBaselineClient(echo_pb2_grpc.EchoStub(channel), {
            "unary-value": self.value_size, "unary-message": self.message_size,
            "unary-object": min(self.object_size, UNARY_CAP)},
            EchoClient(self.object_size, echo_pb2_grpc.EchoStub(channel)))


class _MixedBaselineClient(WorkloadClient):
    def __init__(self, stub: echo_pb2_grpc.EchoStub, sizes: dict[str, int],
                 streams: WorkloadClient) -> None:
        self.stub = stub
        self.messages = {k: echo_pb2.EchoMessage(payload=os.urandom(n))
                         for k, n in sizes.items()}
        self.streams = streams

    async def op(self, phase: str, seq: int) -> int:
        if phase in self.messages:
            return len((await self.stub.Unary(self.messages[phase])).payload)
        return await self.streams.op(phase, seq)
