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
`pipeline`: the messages received and deleted). How a worker process makes those calls,
and stocks up untimed so no phase runs out of supply, is engine/bench/queue_client.py;
the pipeline's own figures and the message view of a report are
engine/bench/queue_report.py.

With several endpoints, coroutine g of the run (over all processes) talks to endpoint
g mod n; the runner's channel serves the first endpoint and the client opens one channel
per other endpoint (grpc.aio channels close themselves when collected).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from engine.bench.echo import EchoWorkload
from engine.bench.queue_client import QueuesClient
from engine.bench.queue_messages import QUEUE_ATTRIBUTES, delete_queue, pipeline_queue_name
from engine.bench.runner import open_channel
from engine.bench.workload import Workload, select_phases
from engine.v1 import queues_pb2 as pb
from engine.v1 import queues_pb2_grpc

PHASES = ("send", "send-batch", "receive", "delete-batch", "delete", "pipeline")


def parse_phases(text: str) -> tuple[str, ...]:
    """`"send-batch,receive"` -> the phases in run order; ValueError naming unknown ones."""
    return select_phases(text, PHASES)


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


class UnaryBaseline(EchoWorkload):
    """Only Echo.Unary: every queue call is one small unary RPC, so the stream phases of
    the object bench's baseline would say nothing here."""

    def phases(self) -> Sequence[str]:
        return ("unary",)
