"""The queue workload: SQS send, receive and delete rates in messages/s, and a pipeline
of producers and consumers giving end-to-end latency.

Raw generated stubs (like the object workload) so the client's cost stays small. Phases
run in this order on one fresh queue:

- `send` (SendMessage) and `send-batch` (SendMessageBatch of 10) fill the queue;
- `receive` (ReceiveMessage, up to 10, long poll of 1 s) keeps the receipt handles; the
  queue's VisibilityTimeout is 12 h so they stay valid for the rest of the run;
- `delete-batch` (DeleteMessageBatch of 10) and `delete` (DeleteMessage) use them up;
- `pipeline`, on a second fresh queue (the first is deleted before it) so no earlier
  message skews it or weighs on the server: half of each process's coroutines send
  batches whose bodies start with the send time, the others receive and delete-batch
  what they got and note receive time minus send time.

Every message body is exactly `message_size` bytes and each op returns message_size x
the messages it handled, so a phase's messages are its bytes / message_size (for
`pipeline`: the messages received and deleted). A phase that runs out of supply would
measure the supply, not itself, so each worker stocks up untimed in `prepare` (1.5-2 x
the rate it saw in comparable earlier phases, for warm-up + duration), and an empty
receive or a delete with no handle left is counted as an error (QueueEmpty,
NoReceiptHandles) rather than passing silently. The stock sits on the server, so it is
no larger than that: a queue of ~10^5 messages already makes a Raft snapshot take
seconds (docs/benchmarks.md).

Producers wait while their process has more than `backlog` messages in the queue (sent
minus received; default one batch per consumer), so the pipeline measures a queue that
consumers keep up with rather than a backlog growing for the whole phase. At saturation
the end-to-end latency is then mostly that backlog over the rate (Little's law), which
is why the bound is a knob; the time producers spend waiting and the receives that came
back empty show which side limits the pipeline. Pipeline figures that the runner's
PhaseStats cannot carry (messages sent, latencies end to end, waits) go to one
append-only file per worker process in `spool`, read back by `PipelineTally.read`.

With several endpoints, coroutine g of the run (over all processes) talks to endpoint
g mod n; the runner's channel serves the first endpoint and the client opens one channel
per other endpoint (grpc.aio channels close themselves when collected).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from rich.console import Console
from rich.table import Table

from engine.bench.echo import EchoWorkload
from engine.bench.runner import open_channel
from engine.bench.stats import PhaseStats
from engine.bench.workload import OpError, Workload, WorkloadClient, error_code, select_phases
from engine.v1 import queues_pb2 as pb
from engine.v1 import queues_pb2_grpc

PHASES = ("send", "send-batch", "receive", "delete-batch", "delete", "pipeline")
BATCH = 10  # SQS's most entries per batch call and messages per receive
WAIT_TIME_S = 1  # long poll: returns at once when messages exist
VISIBILITY_S = 43_200  # SQS's maximum: handles from `receive` outlive the run
MAX_BATCH_BYTES = 1024 * 1024  # the queue's default MaximumMessageSize bounds a whole batch
STAMP_WIDTH = 20  # time.time_ns() zero-padded at the start of every body
MIN_MESSAGE_SIZE = STAMP_WIDTH
MAX_MESSAGE_SIZE = MAX_BATCH_BYTES // BATCH
QUEUE_ATTRIBUTES = {"VisibilityTimeout": str(VISIBILITY_S)}
# Stock for this many times the best comparable rate seen: receives may outrun the sends
# they are judged by by half, deletes are judged by the receives themselves.
STOCK_HEADROOM = {"receive": 2.0, "delete-batch": 1.5, "delete": 1.5}
RETRY_FOR_S = 60.0  # untimed calls (stocking, clean-up) ride out unavailability this long
DEFAULT_BATCH_RATE = 5_000.0  # messages/s per process assumed before any batch phase ran
DEFAULT_SINGLE_RATE = 1_000.0  # same, for single-message phases
BACKLOG_BATCHES = 1  # producers wait while this many batches per consumer are queued
PRODUCER_POLL_S = 0.05  # a waiting producer rechecks at least this often
COMPARABLE = {  # whose rates predict how many messages a phase gets through
    "receive": ("send-batch", "receive", "delete-batch"),
    "delete-batch": ("send-batch", "receive", "delete-batch"),
    "delete": ("send", "delete"),
}
# spool record kinds (int64 pairs: kind, value)
E2E, SENT, EMPTY, WAIT = 1, 2, 3, 4


def new_queue_name(fifo: bool) -> str:
    return f"bench-{secrets.token_hex(4)}" + (".fifo" if fifo else "")


def pipeline_queue_name(name: str) -> str:
    base = name.removesuffix(".fifo")
    return f"{base}-pipe" + (".fifo" if name.endswith(".fifo") else "")


def parse_phases(text: str) -> tuple[str, ...]:
    """`"send-batch,receive"` -> the phases in run order; ValueError naming unknown ones."""
    return select_phases(text, PHASES)


def check_message_size(size: int) -> None:
    if not MIN_MESSAGE_SIZE <= size <= MAX_MESSAGE_SIZE:
        raise ValueError(f"message size must be {MIN_MESSAGE_SIZE}-{MAX_MESSAGE_SIZE} bytes "
                         f"(room for the send time; ten fit in one batch), not {size}")


def pipeline_roles(concurrency: int, backlog: int | None = None) -> tuple[int, int, int]:
    """(producers, consumers, most messages queued) per process in the pipeline:
    consumers get the odd one out, as each of them makes two calls per batch."""
    producers = concurrency // 2
    consumers = concurrency - producers
    return producers, consumers, backlog or BACKLOG_BATCHES * BATCH * consumers


def stamped_body(size: int, now_ns: int | None = None) -> str:
    """A body of exactly `size` ASCII bytes starting with the send time in ns."""
    return f"{time.time_ns() if now_ns is None else now_ns:0{STAMP_WIDTH}d}".ljust(size, "x")


def sent_at(body: str) -> int:
    return int(body[:STAMP_WIDTH])


@dataclass(frozen=True)
class QueuesWorkload(Workload):
    queue: str
    endpoints: tuple[str, ...]
    message_size: int = 100
    phase_names: tuple[str, ...] = PHASES
    concurrency: int = 8  # the run's, for pipeline roles and stocking
    warmup_s: float = 1.0
    duration_s: float = 10.0
    spool: str | None = None  # directory for pipeline records; None keeps none
    backlog: int | None = None  # pipeline messages queued per process at most
    name: str = "queues"

    @property
    def fifo(self) -> bool:
        return self.queue.endswith(".fifo")

    @property
    def pipeline_queue(self) -> str:
        return pipeline_queue_name(self.queue)

    def phases(self) -> Sequence[str]:
        return self.phase_names

    def queues(self) -> list[str]:
        main = [self.queue] if any(p != "pipeline" for p in self.phase_names) else []
        return main + ([self.pipeline_queue] if "pipeline" in self.phase_names else [])

    def baseline_for(self, phase: str) -> tuple[str, str] | None:
        """Every single call is judged against a bare Unary call; pipeline ops are two
        kinds of work (and waits), so it has no baseline."""
        return None if phase == "pipeline" else ("unary", "ops_per_s")

    async def setup(self, channel: grpc.aio.Channel) -> None:
        stub = queues_pb2_grpc.QueuesStub(channel)
        attributes = {**QUEUE_ATTRIBUTES, **({"FifoQueue": "true"} if self.fifo else {})}
        for name in self.queues():
            await stub.CreateQueue(pb.CreateQueueRequest(queue_name=name, attributes=attributes))

    async def teardown(self, channel: grpc.aio.Channel) -> None:
        stub = queues_pb2_grpc.QueuesStub(channel)
        for name in self.queues():
            await delete_queue(stub, name)

    def client(self, channel: grpc.aio.Channel, process_index: int,
               processes: int) -> QueuesClient:
        stubs = [queues_pb2_grpc.QueuesStub(channel)]
        stubs += [queues_pb2_grpc.QueuesStub(open_channel(e)) for e in self.endpoints[1:]]
        return QueuesClient(self, stubs, process_index)


async def delete_queue(stub: queues_pb2_grpc.QueuesStub, name: str) -> None:
    """Delete the queue `name` with whatever it still holds; one already gone is fine.
    Retried while the server is UNAVAILABLE: a bench queue left behind holds on to its
    messages, and a big one makes the server's snapshots slower for everyone."""
    deadline = time.monotonic() + RETRY_FOR_S
    while True:
        try:
            url = (await stub.GetQueueUrl(pb.GetQueueUrlRequest(queue_name=name))).queue_url
            await stub.DeleteQueue(pb.DeleteQueueRequest(queue_url=url))
            return
        except grpc.aio.AioRpcError as exc:
            if "NonExistentQueue" in error_code(exc):
                return
            if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@dataclass
class _Slot:
    """One coroutine of the running phase: its endpoint and, in the pipeline, its role."""

    stub: queues_pb2_grpc.QueuesStub
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
    def __init__(self, workload: QueuesWorkload, stubs: Sequence[queues_pb2_grpc.QueuesStub],
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
        self._slots: dict[asyncio.Task[Any], _Slot] = {}
        self._ids = 0
        self._spool: Any = None
        self._unavailable: grpc.aio.AioRpcError | None = None
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
            now = time.perf_counter_ns()
            start = now + int(self.w.warmup_s * 1e9)
            self._clock = _PhaseClock((start, start + int(self.w.duration_s * 1e9)), now)

    def _done(self, messages: int) -> bool:
        """Note an op's messages; True when it completed inside the measured window."""
        assert self._clock is not None
        now = self._clock.last_ns = time.perf_counter_ns()
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
        now = time.perf_counter_ns()
        until = end - margin if now < end - margin else end + margin
        await asyncio.sleep((until - now) / 1e9)

    def _fifo_ids(self, count: int) -> tuple[str, list[str]]:
        """A MessageGroupId of its own per call, so receives that keep their messages
        never stall on a group in flight, and a deduplication id per message."""
        first = self._ids
        self._ids += count
        tag = f"p{self.process_index}-"
        return tag + str(first), [f"{tag}{first + i}" for i in range(count)]

    async def _send(self, stub: queues_pb2_grpc.QueuesStub) -> int:
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

    async def _send_batch(self, stub: queues_pb2_grpc.QueuesStub) -> int:
        request = self._batch or self._batch_request(self.urls[self.w.queue], self._body)
        reply = await stub.SendMessageBatch(request)
        _check_failed(reply.failed)
        self.sent += len(reply.successful)
        return len(reply.successful)

    async def _receive(self, stub: queues_pb2_grpc.QueuesStub) -> int:
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

    async def _delete_batch(self, stub: queues_pb2_grpc.QueuesStub) -> int:
        take = self.handles[-BATCH:]
        del self.handles[-BATCH:]
        return await self._delete_handles(stub, self.urls[self.w.queue], take)

    @staticmethod
    async def _delete_handles(stub: queues_pb2_grpc.QueuesStub, url: str,
                              handles: Sequence[str]) -> int:
        reply = await stub.DeleteMessageBatch(pb.DeleteMessageBatchRequest(
            queue_url=url, entries=[pb.DeleteMessageBatchRequestEntry(id=str(i),
                                                                      receipt_handle=h)
                                    for i, h in enumerate(handles)]))
        _check_failed(reply.failed)
        return len(reply.successful)

    async def _delete(self, stub: queues_pb2_grpc.QueuesStub) -> int:
        handle = self.handles.pop()
        await stub.DeleteMessage(pb.DeleteMessageRequest(queue_url=self.urls[self.w.queue],
                                                         receipt_handle=handle))
        return 1

    # -- stocking (untimed, in prepare) ------------------------------------------------

    async def _gather(self, calls: int, make: Any) -> int:
        """The messages moved by `calls` calls of the coroutine function `make`,
        `concurrency` at a time. A call the server could not take now (UNAVAILABLE, e.g.
        while its Raft group writes a snapshot) moves nothing; callers loop on what is
        still missing, so a stall delays stocking instead of ending the run."""
        gate = asyncio.Semaphore(self.w.concurrency)

        async def one() -> int:
            async with gate:
                try:
                    return int(await make(self.stubs[0]))
                except grpc.aio.AioRpcError as exc:
                    if exc.code() != grpc.StatusCode.UNAVAILABLE:
                        raise
                    self._unavailable = exc
                    return 0

        return sum(await asyncio.gather(*(one() for _ in range(calls))))

    def _progress(self, moved: int, since: float) -> float:
        """When stocking last moved anything; raise the server's error after
        RETRY_FOR_S without progress."""
        now = time.monotonic()
        if moved:
            return now
        if now - since > RETRY_FOR_S and self._unavailable is not None:
            raise self._unavailable
        return since

    async def _stock_messages(self, need: int) -> None:
        """Send batches until this process has `need` more sent than received."""
        since = time.monotonic()
        while (missing := need - (self.sent - self.received)) > 0:
            since = self._progress(
                await self._gather(math.ceil(missing / BATCH), self._send_batch), since)

    async def _stock_handles(self, need: int) -> None:
        """Receive (sending first as needed) until this process holds `need` handles.
        Other processes may take what this one sent, so a dry round sends more."""
        since = time.monotonic()
        while (missing := need - len(self.handles)) > 0:
            await self._stock_messages(missing)
            calls = math.ceil(missing / BATCH)
            got = await self._gather(calls, self._receive)
            if got == 0:
                got = await self._gather(calls, self._send_batch)
            since = self._progress(got, since)

    # -- pipeline ----------------------------------------------------------------------

    async def _produce(self, stub: queues_pb2_grpc.QueuesStub) -> int:
        assert self._clock is not None
        wait_start = time.perf_counter_ns()
        while self.pipe_sent - self.pipe_received >= self.backlog_limit:
            if time.perf_counter_ns() > self._clock.window[1]:
                return 0  # consumers have stopped: nothing will make room
            self._drained.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), PRODUCER_POLL_S)
        # only the part inside the window, which is all the fraction is taken over
        waited = max(0, time.perf_counter_ns() - max(wait_start, self._clock.window[0]))
        url = self.urls[self.w.pipeline_queue]
        reply = await stub.SendMessageBatch(self._batch_request(url, stamped_body(
            self.w.message_size)))
        _check_failed(reply.failed)
        n = len(reply.successful)
        self.pipe_sent += n
        if self._done(0):
            self._record([SENT, n] + ([WAIT, waited] if waited else []))
        return 0

    async def _consume(self, stub: queues_pb2_grpc.QueuesStub) -> int:
        url = self.urls[self.w.pipeline_queue]
        reply = await stub.ReceiveMessage(self._receive_request(self.w.pipeline_queue))
        now = time.time_ns()
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
            self._record(record)
        return len(messages) * self.w.message_size

    def _record(self, values: list[int]) -> None:
        if self.w.spool is None or not values:
            return
        if self._spool is None:
            path = Path(self.w.spool) / f"pipeline-{self.process_index}-{os.getpid()}.bin"
            self._spool = path.open("ab", buffering=0)  # one write(2) per op, no flush
        self._spool.write(array("q", values).tobytes())


def _check_failed(failed: Sequence[pb.BatchResultErrorEntry]) -> None:
    if failed:
        raise OpError(failed[0].code or "BatchEntryFailed", failed[0].message)


@dataclass
class PipelineTally:
    """The pipeline's window as every worker process recorded it."""

    sent: int = 0
    empty_receives: int = 0
    wait_ns: int = 0
    e2e_ns: list[int] = field(default_factory=list)

    @classmethod
    def read(cls, spool: Path) -> PipelineTally:
        tally = cls()
        for path in sorted(spool.glob("pipeline-*.bin")):
            values = array("q")
            values.frombytes(path.read_bytes())
            for kind, value in zip(values[::2], values[1::2], strict=True):
                if kind == E2E:
                    tally.e2e_ns.append(value)
                elif kind == SENT:
                    tally.sent += value
                elif kind == EMPTY:
                    tally.empty_receives += value
                elif kind == WAIT:
                    tally.wait_ns += value
        return tally


# -- report ------------------------------------------------------------------------------


class UnaryBaseline(EchoWorkload):
    """Only Echo.Unary: every queue call is one small unary RPC, so the stream phases of
    the object bench's baseline would say nothing here."""

    def phases(self) -> Sequence[str]:
        return ("unary",)


def add_queue_figures(report: dict[str, Any], message_size: int,
                      tally: PipelineTally | None, *, producers: int, consumers: int,
                      backlog_limit: int, processes: int = 1) -> None:
    """Add messages and messages/s to every engine phase and a `pipeline` section
    (None without that phase) to a report from engine.bench.report.build_report.
    `producers`, `consumers` and `backlog_limit` are per process."""
    for phase in report["phases"].values():
        phase["messages"] = phase["bytes"] // message_size
        phase["messages_per_s"] = phase["mb_per_s"] * 1e6 / message_size
    pipe = report["phases"].get("pipeline")
    if pipe is None or tally is None:
        report["pipeline"] = None
        return
    seconds = pipe["seconds"]
    e2e = PhaseStats("e2e", seconds=seconds, latencies_ns=sorted(tally.e2e_ns))
    report["pipeline"] = {
        "producers": producers,
        "consumers": consumers,
        "backlog_limit": backlog_limit,
        "sent": tally.sent,
        "sent_per_s": tally.sent / seconds if seconds else 0.0,
        "received": pipe["messages"],
        "received_per_s": pipe["messages_per_s"],
        "e2e_latency_ms": e2e.latency_ms(),
        "e2e_samples": e2e.ops,
        "empty_receives": tally.empty_receives,
        # of all producers' time in the window, over every process
        "producer_wait_fraction": tally.wait_ns / 1e9 / (seconds * producers * processes)
        if seconds and producers else 0.0,
    }


def render_messages(report: dict[str, Any], console: Console) -> None:
    """The message view of a report (after engine.bench.report.render's call view)."""
    table = Table(title="messages", title_justify="left")
    for col in ("phase", "messages", "msg/s", "calls/s", "msg/call", "call p50 ms",
                "call p99 ms"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for name, p in report["phases"].items():
        # pipeline ops are sends and receive+deletes (and waits): no per-call figure
        per_call = "-" if name == "pipeline" or not p["ops"] else \
            f"{p['messages'] / p['ops']:.1f}"
        table.add_row(name, f"{p['messages']:,}", f"{p['messages_per_s']:,.0f}",
                      f"{p['ops_per_s']:,.0f}", per_call,
                      f"{p['latency_ms']['p50']:.2f}", f"{p['latency_ms']['p99']:.2f}")
    console.print(table)
    pipe = report.get("pipeline")
    if not pipe:
        return
    lat = pipe["e2e_latency_ms"]
    table = Table(title=f"pipeline: {pipe['producers']} producer(s) + {pipe['consumers']} "
                  f"consumer(s) per process, at most {pipe['backlog_limit']} messages "
                  "queued per process", title_justify="left")
    for col in ("sent/s", "received+deleted/s", "e2e p50 ms", "e2e p95 ms", "e2e p99 ms",
                "e2e max ms", "producers waiting", "empty receives"):
        table.add_column(col, justify="right")
    table.add_row(f"{pipe['sent_per_s']:,.0f}", f"{pipe['received_per_s']:,.0f}",
                  *(f"{lat[k]:.2f}" for k in ("p50", "p95", "p99", "max")),
                  f"{pipe['producer_wait_fraction']:.0%}", f"{pipe['empty_receives']:,}")
    console.print(table)
