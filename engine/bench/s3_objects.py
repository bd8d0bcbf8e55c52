"""The object workload over the S3 REST endpoint, and its bare HTTP baseline.

The same phases, keys and sizes as the gRPC object workload (engine/bench/objects.py),
so the two protocols' figures line up; only the load's transport differs. The bucket is
created and emptied over gRPC by the coordinator (ObjectsWorkload's setup and teardown),
so a run leaves nothing behind even before the REST API lists and deletes in bulk.

The baseline is the node's ``/_engine/echo`` handler on the same HTTP server: a signed
request, authenticated and authorized like any other, with no storage behind it; its
rate is what this HTTP stack (and this client) can do at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from engine.bench.echo import UNARY_CAP
from engine.bench.objects import ObjectsWorkload, key_name
from engine.bench.s3_http import S3Target
from engine.bench.workload import OpError, Workload, WorkloadClient


@dataclass(frozen=True)
class S3ObjectsWorkload(ObjectsWorkload):
    """``http``: each gRPC endpoint's S3 endpoint (the load goes to the latter)."""

    http: Mapping[str, str] = field(default_factory=dict)
    name: str = "objects-s3"

    def transport(self, endpoint: str) -> AbstractAsyncContextManager[Any]:
        return S3Target(self.http[endpoint])

    def client(self, channel: Any, process_index: int, processes: int) -> S3ObjectsClient:
        return S3ObjectsClient(self, channel, [key_name(k) for k in range(
            process_index, self.keys, processes)])


class S3ObjectsClient(WorkloadClient):
    def __init__(self, workload: S3ObjectsWorkload, target: S3Target,
                 own_keys: list[str]) -> None:
        if not own_keys:
            raise ValueError("fewer keys than worker processes")
        self.w = workload
        self.target = target
        self.own_keys = own_keys
        self.written: list[str] = []
        self._written_set: set[str] = set()
        self.body = os.urandom(workload.size)

    async def prepare(self, phase: str) -> None:
        if phase == "get" and not self.written:
            for key in self.own_keys:
                await self.put(key)

    async def op(self, phase: str, seq: int) -> int:
        if phase == "put":
            return await self.put(self.own_keys[seq % len(self.own_keys)])
        if phase == "get":
            key = self.written[seq % len(self.written)]
            size = await self.target.get_object(self.w.bucket, key)
            if size != self.w.size:
                raise OpError("ShortRead", f"read {size} of {self.w.size} bytes")
            return size
        raise ValueError(f"unknown phase {phase!r}")

    async def put(self, key: str) -> int:
        await self.target.put_object(self.w.bucket, key, self.body)
        if key not in self._written_set:
            self._written_set.add(key)
            self.written.append(key)
        return self.w.size


@dataclass(frozen=True)
class S3EchoWorkload(Workload):
    """The bare handler, in the gRPC Echo baseline's phase names (unary for calls
    smaller than a chunk, upload and download for bandwidth)."""

    size: int
    http: Mapping[str, str] = field(default_factory=dict)
    name: str = "baseline-s3"

    def phases(self) -> Sequence[str]:
        return ("unary", "upload", "download")

    def transport(self, endpoint: str) -> AbstractAsyncContextManager[Any]:
        return S3Target(self.http[endpoint])

    def client(self, channel: Any, process_index: int, processes: int) -> S3EchoClient:
        return S3EchoClient(self.size, channel)


class S3EchoClient(WorkloadClient):
    def __init__(self, size: int, target: S3Target) -> None:
        self.size = size
        self.target = target
        self.body = os.urandom(size)
        self.unary = self.body[:UNARY_CAP]  # at most a chunk, as gRPC's Unary echo

    async def op(self, phase: str, seq: int) -> int:
        if phase == "unary":  # the body there and back, as gRPC's Unary echo
            got = await self.target.echo("POST", len(self.unary), self.unary)
            if got != len(self.unary):
                raise OpError("ShortTransfer", f"moved {got} of {len(self.unary)} bytes")
            return got
        elif phase == "download":
            got = await self.target.echo("GET", self.size)
        elif phase == "upload":
            got = await self.target.echo("PUT", self.size, self.body)
        else:
            raise ValueError(f"unknown phase {phase!r}")
        if got != self.size:
            raise OpError("ShortTransfer", f"moved {got} of {self.size} bytes")
        return got
