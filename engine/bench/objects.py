"""The object workload: PutObject and GetObject through the raw generated stubs.

Raw stubs rather than the SDK so the client's own cost is small and visible. Bodies are
random (nothing compresses them) and built once per process as ready-made 1 MiB chunk
messages, so a PUT costs the client one header message and serialisation only. Each
worker process owns every P-th key; the GET phase reads back the keys its process wrote.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from engine.bench.sizes import MIB
from engine.bench.workload import OpError, Workload, WorkloadClient, error_code
from engine.v1 import objects_pb2 as pb
from engine.v1 import objects_pb2_grpc

CHUNK = MIB  # body chunk per stream message, for PUT as for GET
KEY_BUDGET = 1024 * MIB  # default key count keeps at most this much data on the server
MAX_DEFAULT_KEYS = 100_000
DELETE_BATCH = 1000  # DeleteObjects' limit
FILL_CONCURRENCY = 8
OPS = ("put", "get", "both")


def new_bucket_name() -> str:
    return f"bench-{secrets.token_hex(4)}"


def default_keys(size: int, concurrency: int, processes: int) -> int:
    """Distinct keys when --keys is not given: small objects get (mostly) fresh keys,
    large ones are overwritten, so a run never leaves more than ~1 GiB behind; never
    fewer keys than calls in flight, so two calls rarely race on one key."""
    return max(concurrency * processes, min(MAX_DEFAULT_KEYS, KEY_BUDGET // max(size, 1)))


def key_name(index: int) -> str:
    return f"obj-{index:08d}"


def chunks(payload: bytes, size: int = CHUNK) -> list[bytes]:
    return [payload[i:i + size] for i in range(0, len(payload), size)]


@dataclass(frozen=True)
class ObjectsWorkload(Workload):
    bucket: str
    size: int
    keys: int
    op: str = "both"
    name: str = "objects"

    def phases(self) -> Sequence[str]:
        return ("put", "get") if self.op == "both" else (self.op,)

    def baseline_for(self, phase: str) -> tuple[str, str]:
        """(echo phase, metric) this phase is judged against: bandwidth against the bare
        stream for objects of a chunk or more, call rate against Unary below that."""
        if self.size < CHUNK:
            return "unary", "ops_per_s"
        return ("upload" if phase == "put" else "download"), "mb_per_s"

    async def setup(self, channel: grpc.aio.Channel) -> None:
        stub = objects_pb2_grpc.ObjectStoreStub(channel)
        await stub.CreateBucket(pb.CreateBucketRequest(bucket=self.bucket))

    async def teardown(self, channel: grpc.aio.Channel) -> None:
        await delete_bucket(objects_pb2_grpc.ObjectStoreStub(channel), self.bucket)

    def client(self, channel: grpc.aio.Channel, process_index: int,
               processes: int) -> ObjectsClient:
        return ObjectsClient(self, objects_pb2_grpc.ObjectStoreStub(channel),
                             [key_name(k) for k in range(process_index, self.keys, processes)])


class ObjectsClient(WorkloadClient):
    def __init__(self, workload: ObjectsWorkload, stub: objects_pb2_grpc.ObjectStoreStub,
                 own_keys: list[str]) -> None:
        if not own_keys:
            raise ValueError("fewer keys than worker processes")
        self.w = workload
        self.stub = stub
        self.own_keys = own_keys
        self.written: list[str] = []
        self._written_set: set[str] = set()
        self.body = [pb.PutObjectRequest(chunk=c) for c in chunks(os.urandom(workload.size))]

    async def prepare(self, phase: str) -> None:
        if phase == "get" and not self.written:
            await self._fill()

    async def _fill(self) -> None:
        """Write every owned key once, so a GET-only run has something to read."""
        gate = asyncio.Semaphore(FILL_CONCURRENCY)

        async def put(key: str) -> None:
            async with gate:
                await self.put(key)

        await asyncio.gather(*(put(k) for k in self.own_keys))

    async def op(self, phase: str, seq: int) -> int:
        if phase == "put":
            return await self.put(self.own_keys[seq % len(self.own_keys)])
        if phase == "get":
            return await self.get(self.written[seq % len(self.written)])
        raise ValueError(f"unknown phase {phase!r}")

    async def put(self, key: str) -> int:
        header = pb.PutObjectRequest(header=pb.PutObjectHeader(
            bucket=self.w.bucket, key=key, content_length=self.w.size))
        response = await self.stub.PutObject(iter([header, *self.body]))
        if response.size != self.w.size:
            raise OpError("SizeMismatch", f"stored {response.size} of {self.w.size} bytes")
        if key not in self._written_set:
            self._written_set.add(key)
            self.written.append(key)
        return self.w.size

    async def get(self, key: str) -> int:
        call = self.stub.GetObject(pb.GetObjectRequest(bucket=self.w.bucket, key=key))
        total = 0
        header_seen = False
        async for message in call:
            if message.HasField("header"):
                header_seen = True
            else:
                total += len(message.chunk)
        if not header_seen or total != self.w.size:
            raise OpError("ShortRead", f"read {total} of {self.w.size} bytes")
        return total


async def delete_bucket(stub: objects_pb2_grpc.ObjectStoreStub, bucket: str) -> None:
    """Delete every object (ListObjectsV2 pages of <= 1000, one DeleteObjects each), then
    the bucket. A bucket that is already gone is fine."""
    token = ""
    try:
        while True:
            page = await stub.ListObjectsV2(pb.ListObjectsV2Request(
                bucket=bucket, max_keys=DELETE_BATCH, continuation_token=token))
            if page.contents:
                result = await stub.DeleteObjects(pb.DeleteObjectsRequest(
                    bucket=bucket, quiet=True,
                    objects=[pb.ObjectIdentifier(key=o.key) for o in page.contents]))
                if result.errors:
                    e = result.errors[0]
                    raise OpError(e.code, f"deleting {e.key}: {e.message}")
            if not page.is_truncated:
                break
            token = page.next_continuation_token
        await stub.DeleteBucket(pb.DeleteBucketRequest(bucket=bucket))
    except grpc.aio.AioRpcError as exc:
        if error_code(exc) != "NoSuchBucket":
            raise
