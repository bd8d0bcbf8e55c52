"""What a benchmark workload is: named phases of one repeated operation.

A workload is a small picklable description (so worker processes can rebuild it); the
coordinator calls `setup`/`teardown` once around the run, and each worker process makes
a `WorkloadClient` on its own channel and runs every phase with it, so state such as
"the keys this process wrote" carries from one phase to the next. The runner owns time,
concurrency and statistics; a workload only says what one operation is. Queue, cache
and mixed workloads fit the same shape; a mixed phase names each op's `kind`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc

from engine.errors import EngineError


class OpError(Exception):
    """An operation the server accepted but whose result was wrong (e.g. a short read);
    counted under `code` like a gRPC error."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code


def select_phases(text: str, known: Sequence[str]) -> tuple[str, ...]:
    """`"b, a"` -> the named phases in ``known``'s (run) order; ValueError naming unknown
    ones."""
    wanted = {p.strip() for p in text.split(",") if p.strip()}
    unknown = sorted(wanted - set(known))
    if unknown or not wanted:
        raise ValueError(f"unknown phase(s) {', '.join(unknown) or text!r}; "
                         f"choose from {', '.join(known)}")
    return tuple(p for p in known if p in wanted)


def error_code(exc: grpc.RpcError | OpError) -> str:
    """The AWS code of a failed call (NoSuchKey), or its gRPC status name (UNAVAILABLE)."""
    if isinstance(exc, OpError):
        return exc.code
    return EngineError.from_rpc_error(exc).code


class WorkloadClient(ABC):
    """One worker process's side of a workload, bound to that process's channel."""

    async def prepare(self, phase: str) -> None:  # noqa: B027 - optional hook
        """Untimed work before `phase` starts (e.g. writing objects a GET phase reads)."""

    def kind(self, phase: str, seq: int) -> str | None:
        """The kind of operation `seq` of `phase` will be, when a phase mixes several
        (each kind gets figures of its own); None for a phase of one kind."""
        return None

    @abstractmethod
    async def op(self, phase: str, seq: int) -> int:
        """Do one operation of `phase` and return the payload bytes it moved.

        `seq` counts operations within the phase in this process. Raise
        grpc.aio.AioRpcError or OpError on failure."""


class Workload(ABC):
    name: str

    @abstractmethod
    def phases(self) -> Sequence[str]:
        """Phase names in the order they run."""

    def transport(self, endpoint: str) -> AbstractAsyncContextManager[Any] | None:
        """What the load's clients talk through at ``endpoint``; None: a signed gRPC
        channel (setup and teardown always get one)."""
        return None

    async def setup(self, channel: grpc.aio.Channel) -> None:  # noqa: B027 - optional hook
        """Create what the run needs (once, in the coordinator)."""

    async def teardown(self, channel: grpc.aio.Channel) -> None:  # noqa: B027 - optional hook
        """Remove what setup and the phases created; runs even when a phase failed."""

    @abstractmethod
    def client(self, channel: grpc.aio.Channel, process_index: int,
               processes: int) -> WorkloadClient:
        """The client worker process `process_index` (of `processes`) runs phases with."""
