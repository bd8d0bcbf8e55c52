"""One worker process's side of the queue workload (engine/bench/queues.py): the calls
each phase times, the untimed stocking before them, and the pipeline's two roles.

A phase that runs out of supply would measure the supply, not itself, so the client
stocks up untimed in `prepare` (1.5-2 x the rate it saw in comparable earlier phases,
for warm-up + duration), and an empty receive or a delete with no handle left is
counted as an error (QueueEmpty, NoReceiptHandles) rather than passing silently. The
stock sits on the server, so it is no larger than that: a queue of ~10^5 messages
already makes a Raft snapshot take seconds (docs/benchmarks.md).

Producers wait while their process has more than `backlog` messages in the queue (sent
minus received; default one batch per consumer), so the pipeline measures a queue that
consumers keep up with rather than a backlog growing for the whole phase. At saturation
the end-to-end latency is then mostly that backlog over the rate (Little's law), which
is why the bound is a knob; the time producers spend waiting and the receives that came
back empty show which side limits the pipeline. What the runner's PhaseStats cannot
carry goes to the process's spool (engine/bench/queue_report.py).

Time is the runner's event-loop clock (`loop_ns`), so the client's window is the
runner's and both run in virtual time under a test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc

from engine.bench.queue_messages import (
    BATCH,
    RETRY_FOR_S,
    delete_queue,
    sent_at,
    stamped_body,
    unavailable,
)
from engine.bench.queue_report import E2E, EMPTY, SENT, WAIT, SpoolWriter
from engine.bench.runner import loop_ns
from engine.bench.sqs_http import SqsError, SqsStub
from engine.bench.workload import OpError, WorkloadClient
from engine.v1 import queues_pb2 as pb
from engine.v1 import queues_pb2_grpc

if TYPE_CHECKING:  # the workload builds its clients: a runtime import would be a cycle
    from engine.bench.queues import QueuesWorkload

WAIT_TIME_S = 1  # long poll: returns at once when messages exist
# Stock for this many times the best comparable rate seen: receives may outrun the sends
# they are judged by by half, deletes are judged by the receives themselves.
STOCK_HEADROOM = {"receive": 2.0, "delete-batch": 1.5, "delete": 1.5}
DEFAULT_BATCH_RATE = 5_000.0  # messages/s per process assumed before any batch phase ran
DEFAULT_SINGLE_RATE = 1_000.0  # same, for single-message phases
COMPARABLE = {  # whose rates predict how many messages a phase gets through
    "receive": ("send-batch", "receive", "delete-batch"),
    "delete-batch": ("send-batch", "receive", "delete-batch"),
    "delete": ("send", "delete"),
}
BACKLOG_BATCHES = 1  # producers wait while this many batches per consumer are queued
PRODUCER_POLL_S = 0.05  # a waiting producer rechecks at least this often

Stub = queues_pb2_grpc.QueuesStub | SqsStub  # gRPC, or SQS's JSON protocol over HTTP


def pipeline_roles(concurrency: int, backlog: int | None = None) -> tuple[int, int, int]:
    """(producers, consumers, most messages queued) per process in the pipeline:
    consumers get the odd one out, as each of them makes two calls per batch."""
    producers = concurrency // 2
    consumers = concurrency - producers
    return producers, consumers, backlog or BACKLOG_BATCHES * BATCH * consumers


@dataclass
class _Slot:
    """One coroutine of the running phase: its endpoint and, in the pipeline, its role."""

    stub: Stub
    producer: bool


@dataclass
class _PhaseClock:
    """When this process's first op of a phase started, so the client can apply the
    runner's window (first start + warm-up, then duration) to what only it sees."""

    window: tuple[int, int]
    first_ns: int
    last_ns: int = 0
    messages: int = 0

    def rate(self) -> float:
        span = (self.last_ns - self.first_ns) / 1e9
        return self.messages / span if span > 0 else 0.0


class QueuesClient(WorkloadClient):
    def __init__(self, workload: QueuesWorkload, stubs: Sequence[Stub],
                 process_index: int) -> None:
        self.w = workload
        self.stubs = list(stubs)
        self.process_index = process_index
        self.urls: dict[str, str] = {}
        self.sent = 0  # messages of the main queue, every op and stocking call counted
        self.received = 0
        self.handles: list[str] = []
        self.rates: dict[str, float] = {}  # messages/s this process reached per phase
        self.pipe_sent = 0
        self.pipe_received = 0
        _, _, self.backlog_limit = pipeline_roles(workload.concurrency, workload.backlog)
        self._drained = asyncio.Event()
        self._phase = ""
        self._clock: _PhaseClock | None = None
        self._slots: dict[asyncio.Task[object], _Slot] = {}
        self._ids = 0
        self._spool = SpoolWriter(workload.spool, process_index)
        self._unavailable: grpc.aio.AioRpcError | SqsError | None = None
        self._body = "x" * workload.message_size
        self._single: pb.SendMessageRequest | None = None
        self._batch: pb.SendMessageBatchRequest | None = None

    # -- phase bookkeeping -------------------------------------------------------------

    async def prepare(self, phase: str) -> None:
        if self._clock is not None:
            self.rates[self._phase] = self._clock.rate()
        if not self.urls:
            await self._resolve_urls()
        self._phase, self._clock, self._slots = phase, None, {}
        if phase == "receive":
            await self._stock_messages(self.stock_needed(phase))
        elif phase in ("delete-batch", "delete"):
            await self._stock_handles(self.stock_needed(phase))
        elif phase == "pipeline" and self.process_index == 0 and self.w.queue in self.urls:
            # what stocking left would otherwise stay in the partitions' replicated
            # state, whose snapshots stall the group for longer the more it holds
            await delete_queue(self.stubs[0], self.w.queue)

    async def _resolve_urls(self) -> None:
        stub = self.stubs[0]
        for name in self.w.queues():
            reply = await stub.GetQueueUrl(pb.GetQueueUrlRequest(queue_name=name))
            self.urls[name] = reply.queue_url
        if self.w.queue in self.urls and not self.w.fifo:  # the same request every time
            url = self.urls[self.w.queue]
            self._single = pb.SendMessageRequest(queue_url=url, message_body=self._body)
            self._batch = pb.SendMessageBatchRequest(queue_url=url, entries=[
                pb.SendMessageBatchRequestEntry(id=str(i), message_body=self._body)
                for i in range(BATCH)])

    def stock_needed(self, phase: str) -> int:
        """Messages (for `receive`) or handles (for deletes) this process should hold
        so that the phase cannot run dry at up to STOCK_HEADROOM x the rate seen.
        Stock is held by the server: keep it no larger than that."""
        seen = [self.rates[p] for p in COMPARABLE[phase] if self.rates.get(p)]
        default = DEFAULT_SINGLE_RATE if phase == "delete" else DEFAULT_BATCH_RATE
        rate = max(seen) if seen else default
        return math.ceil(STOCK_HEADROOM[phase] * rate * (self.w.warmup_s + self.w.duration_s))

    def _slot(self) -> _Slot:
        task = asyncio.current_task()
        assert task is not None
        slot = self._slots.get(task)
        if slot is None:
            k = len(self._slots)
            g = self.process_index * self.w.concurrency + k
            slot = self._slots[task] = _Slot(self.stubs[g % len(self.stubs)], k % 2 == 1)
        return slot

    def _started(self) -> None:
        if self._clock is None:
            now = loop_ns()
            start = now + int(self.w.warmup_s * 1e9)
            self._clock = _PhaseClock((start, start + int(self.w.duration_s * 1e9)), now)

    def _done(self, messages: int) -> bool:
        """Note an op's messages; True when it completed inside the measured window."""
        assert self._clock is not None
        now = self._clock.last_ns = loop_ns()
        self._clock.messages += messages
        return self._clock.window[0] <= now <= self._clock.window[1]

    # -- operations --------------------------------------------------------------------

    async def op(self, phase: str, seq: int) -> int:
        self._started()
        slot = self._slot()
        if phase == "pipeline":
            if slot.producer:
                return await self._produce(slot.stub)
            return await self._consume(slot.stub)
        if phase == "send":
            n = await self._send(slot.stub)
        elif phase == "send-batch":
            n = await self._send_batch(slot.stub)
        elif phase == "receive":
            n = await self._receive(slot.stub)
            if n == 0:
                self._done(0)
                raise OpError("QueueEmpty", "the bench did not stock enough messages")
        elif phase in ("delete-batch", "delete"):
            if not self.handles:
                await self._sleep_out_window()
                raise OpError("NoReceiptHandles", "the bench did not stock enough handles")
            n = await self._delete_batch(slot.stub) if phase == "delete-batch" \
                else await self._delete(slot.stub)
        else:
            raise ValueError(f"unknown phase {phase!r}")
        self._done(n)
        return n * self.w.message_size

    async def _sleep_out_window(self) -> None:
        """Idle until just before the window ends, so a dry phase shows one error per
        coroutine, inside the runner's window (which closes a few us before ours); a
        coroutine already that late sleeps past the end, where nothing is counted."""
        assert self._clock is not None
        start, end = self._clock.window
        margin = min(250_000_000, (end - start) // 4)  # room for a late wake-up
        now = loop_ns()
        until = end - margin if now < end - margin else end + margin
        await asyncio.sleep((until - now) / 1e9)

    def _fifo_ids(self, count: int) -> tuple[str, list[str]]:
        """A MessageGroupId of its own per call, so receives that keep their messages
        never stall on a group in flight, and a deduplication id per message."""
        first = self._ids
        self._ids += count
        tag = f"p{self.process_index}-"
        return tag + str(first), [f"{tag}{first + i}" for i in range(count)]

    async def _send(self, stub: Stub) -> int:
        request = self._single
        if request is None:
            group, (dedup,) = self._fifo_ids(1)
            request = pb.SendMessageRequest(
                queue_url=self.urls[self.w.queue], message_body=self._body,
                message_group_id=group, message_deduplication_id=dedup)
        await stub.SendMessage(request)
        self.sent += 1
        return 1

    def _batch_request(self, url: str, body: str) -> pb.SendMessageBatchRequest:
        group, dedups = self._fifo_ids(BATCH) if self.w.fifo else ("", [""] * BATCH)
        return pb.SendMessageBatchRequest(queue_url=url, entries=[
            pb.SendMessageBatchRequestEntry(id=str(i), message_body=body,
                                            message_group_id=group,
                                            message_deduplication_id=dedups[i])
            for i in range(BATCH)])

    async def _send_batch(self, stub: Stub) -> int:
        request = self._batch or self._batch_request(self.urls[self.w.queue], self._body)
        reply = await stub.SendMessageBatch(request)
        _check_failed(reply.failed)
        self.sent += len(reply.successful)
        return len(reply.successful)

    async def _receive(self, stub: Stub) -> int:
        reply = await stub.ReceiveMessage(self._receive_request(self.w.queue))
        self._check_bodies(reply.messages)
        self.handles.extend(m.receipt_handle for m in reply.messages)
        self.received += len(reply.messages)
        return len(reply.messages)

    def _receive_request(self, name: str) -> pb.ReceiveMessageRequest:
        return pb.ReceiveMessageRequest(queue_url=self.urls[name],
                                        max_number_of_messages=BATCH,
                                        wait_time_seconds=WAIT_TIME_S)

    def _check_bodies(self, messages: Iterable[pb.Message]) -> None:
        for m in messages:
            if len(m.body) != self.w.message_size:
                raise OpError("BodyMismatch",
                              f"got {len(m.body)} of {self.w.message_size} bytes")

    async def _delete_batch(self, stub: Stub) -> int:
        take = self.handles[-BATCH:]
        del self.handles[-BATCH:]
        return await self._delete_handles(stub, self.urls[self.w.queue], take)

    @staticmethod
    async def _delete_handles(stub: Stub, url: str, handles: Sequence[str]) -> int:
        reply = await stub.DeleteMessageBatch(pb.DeleteMessageBatchRequest(
            queue_url=url, entries=[pb.DeleteMessageBatchRequestEntry(id=str(i),
                                                                      receipt_handle=h)
                                    for i, h in enumerate(handles)]))
        _check_failed(reply.failed)
        return len(reply.successful)

    async def _delete(self, stub: Stub) -> int:
        handle = self.handles.pop()
        await stub.DeleteMessage(pb.DeleteMessageRequest(queue_url=self.urls[self.w.queue],
                                                         receipt_handle=handle))
        return 1

    # -- stocking (untimed, in prepare) ------------------------------------------------

    async def _gather(self, calls: int, make: Callable[[Stub], Awaitable[int]]) -> int:
        """The messages moved by `calls` calls of the coroutine function `make`,
        `concurrency` at a time. A call the server could not take now (UNAVAILABLE, e.g.
        while its Raft group writes a snapshot) moves nothing; callers loop on what is
        still missing, so a stall delays stocking instead of ending the run."""
        gate = asyncio.Semaphore(self.w.concurrency)

        async def one() -> int:
            async with gate:
                try:
                    return await make(self.stubs[0])
                except (grpc.aio.AioRpcError, SqsError) as exc:
                    if not unavailable(exc):
                        raise
                    self._unavailable = exc
                    return 0

        return sum(await asyncio.gather(*(one() for _ in range(calls))))

    def _progress(self, moved: int, since: float) -> float:
        """When stocking last moved anything; raise the server's error after
        RETRY_FOR_S without progress."""
        now = asyncio.get_running_loop().time()
        if moved:
            return now
        if now - since > RETRY_FOR_S and self._unavailable is not None:
            raise self._unavailable
        return since

    async def _stock_messages(self, need: int) -> None:
        """Send batches until this process has `need` more sent than received."""
        since = asyncio.get_running_loop().time()
        while (missing := need - (self.sent - self.received)) > 0:
            since = self._progress(
                await self._gather(math.ceil(missing / BATCH), self._send_batch), since)

    async def _stock_handles(self, need: int) -> None:
        """Receive (sending first as needed) until this process holds `need` handles.
        Other processes may take what this one sent, so a dry round sends more."""
        since = asyncio.get_running_loop().time()
        while (missing := need - len(self.handles)) > 0:
            await self._stock_messages(missing)
            calls = math.ceil(missing / BATCH)
            got = await self._gather(calls, self._receive)
            if got == 0:
                got = await self._gather(calls, self._send_batch)
            since = self._progress(got, since)

    # -- pipeline ----------------------------------------------------------------------

    async def _produce(self, stub: Stub) -> int:
        assert self._clock is not None
        wait_start = loop_ns()
        while self.pipe_sent - self.pipe_received >= self.backlog_limit:
            if loop_ns() > self._clock.window[1]:
                return 0  # consumers have stopped: nothing will make room
            self._drained.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), PRODUCER_POLL_S)
        # only the part inside the window, which is all the fraction is taken over
        waited = max(0, loop_ns() - max(wait_start, self._clock.window[0]))
        url = self.urls[self.w.pipeline_queue]
        reply = await stub.SendMessageBatch(self._batch_request(url, stamped_body(
            self.w.message_size)))
        _check_failed(reply.failed)
        n = len(reply.successful)
        self.pipe_sent += n
        if self._done(0):
            self._spool.write([SENT, n] + ([WAIT, waited] if waited else []))
        return 0

    async def _consume(self, stub: Stub) -> int:
        url = self.urls[self.w.pipeline_queue]
        reply = await stub.ReceiveMessage(self._receive_request(self.w.pipeline_queue))
        now = time.time_ns()  # the producer's stamp is wall-clock time too
        messages = reply.messages
        self.pipe_received += len(messages)
        self._drained.set()
        self._check_bodies(messages)
        latencies = [now - sent_at(m.body) for m in messages]
        if messages:
            await self._delete_handles(stub, url, [m.receipt_handle for m in messages])
        if self._done(len(messages)):
            record = [EMPTY, 1] if not messages else []
            for ns in latencies:
                record += (E2E, ns)
            self._spool.write(record)
        return len(messages) * self.w.message_size


def _check_failed(failed: Sequence[pb.BatchResultErrorEntry]) -> None:
    if failed:
        raise OpError(failed[0].code or "BatchEntryFailed", failed[0].message)
