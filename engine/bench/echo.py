"""The bare gRPC baseline: the Echo service on the same server stack as the engine.

Same message sizes and chunking as the object workload but no storage behind them, so
engine figures can be read as a fraction of what this gRPC stack (and this client) can
do at all: Unary for the per-call cost, Upload/Download for streaming bandwidth.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from engine.bench.objects import CHUNK, chunks
from engine.bench.workload import OpError, Workload, WorkloadClient
from engine.v1 import echo_pb2 as pb
from engine.v1 import echo_pb2_grpc

UNARY_CAP = CHUNK  # a unary message the size of one stream chunk at most


@dataclass(frozen=True)
class EchoWorkload(Workload):
    size: int
    name: str = "baseline"

    def phases(self) -> Sequence[str]:
        return ("unary", "upload", "download")

    def client(self, channel: grpc.aio.Channel, process_index: int,
               processes: int) -> EchoClient:
        return EchoClient(self.size, echo_pb2_grpc.EchoStub(channel))


class EchoClient(WorkloadClient):
    def __init__(self, size: int, stub: echo_pb2_grpc.EchoStub) -> None:
        self.size = size
        self.stub = stub
        payload = os.urandom(size)
        self.unary = pb.EchoMessage(payload=payload[:UNARY_CAP])
        self.upload = [pb.EchoMessage(payload=c) for c in chunks(payload)]
        self.download = pb.DownloadRequest(size=size, chunk_size=CHUNK)

    async def op(self, phase: str, seq: int) -> int:
        if phase == "unary":
            reply = await self.stub.Unary(self.unary)
            return len(reply.payload)  # one direction, as PUT and GET count
        if phase == "upload":
            count = await self.stub.Upload(iter(self.upload))
            if count.bytes != self.size:
                raise OpError("ShortWrite", f"server got {count.bytes} of {self.size} bytes")
            return count.bytes
        if phase == "download":
            total = 0
            async for message in self.stub.Download(self.download):
                total += len(message.payload)
            if total != self.size:
                raise OpError("ShortRead", f"read {total} of {self.size} bytes")
            return total
        raise ValueError(f"unknown phase {phase!r}")
