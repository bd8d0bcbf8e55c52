"""Message move tasks: the state machine (RUNNING -> COMPLETED / FAILED, RUNNING ->
CANCELLING -> CANCELLED), one active task per source, handles, and the mover's loop (send
before delete, the rate on an injected clock, a cancel between batches) against a small
in-memory stand-in for the queue service's operations."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from engine.errors import EngineError
from engine.queues.move_tasks import (
    CANCELLED,
    CANCELLING,
    COMPLETED,
    FAILED,
    RUNNING,
    MoveTask,
    MoveTasks,
    decode_handle,
    new_task_id,
)
from engine.queues.mover import Mover
from engine.v1 import queues_pb2 as pb

DLQ = "arn:aws:sqs:us-east-1:000000000000:dlq"
SRC = "arn:aws:sqs:us-east-1:000000000000:src"


def task(to_move: int = 3, *, rate: int | None = None, destination: str = "") -> MoveTask:
    return MoveTask(new_task_id(), DLQ, destination, rate, to_move=to_move, started_ms=1)


def test_a_task_completes_or_fails_once() -> None:
    done = task()
    done.finish()
    assert done.status == COMPLETED
    done.finish("late")
    assert (done.status, done.failure_reason) == (COMPLETED, "")
    failed = task()
    failed.finish("no destination")
    assert (failed.status, failed.failure_reason) == (FAILED, "no destination")


def test_a_cancel_is_cancelling_until_the_mover_stops() -> None:
    t = task()
    t.cancel()
    assert t.status == CANCELLING and t.stopping
    t.finish()
    assert t.status == CANCELLED
    with pytest.raises(EngineError) as info:
        t.cancel()
    assert (info.value.code, info.value.message) == (
        "AWS.SimpleQueueService.UnsupportedOperation",
        "Only a RUNNING task can be cancelled; this one is CANCELLED.")


def test_one_active_task_per_source_and_the_newest_first() -> None:
    tasks = MoveTasks()
    first = task()
    tasks.add(first)
    with pytest.raises(EngineError) as info:
        tasks.add(task())
    assert info.value.code == "AWS.SimpleQueueService.UnsupportedOperation"
    first.finish()
    later = [task() for _ in range(11)]
    for t in later:
        tasks.add(t)
        t.finish()
    assert tasks.newest(DLQ, 10) == later[::-1][:10]  # ten kept, newest first
    assert tasks.by_handle(later[-1].handle) is later[-1]
    assert decode_handle(first.handle) == (first.task_id, DLQ)
    with pytest.raises(EngineError) as gone:
        tasks.by_handle(first.handle)  # dropped: older than the ten kept
    assert (gone.value.code, gone.value.message) == ("ResourceNotFoundException",
                                                     "Task does not exist.")
    with pytest.raises(EngineError) as bad:
        tasks.by_handle("not-a-handle")
    assert bad.value.code == "InvalidParameterValue"


@dataclass
class FakeQueues:
    """Queues by name holding (id, body, source ARN); a receive hides what it returns."""

    queues: dict[str, list[tuple[str, str, str]]]
    hidden: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)
    refuse: str = ""  # a queue whose sends fail

    async def receive_message(self, request: pb.ReceiveMessageRequest
                              ) -> pb.ReceiveMessageResponse:
        name = request.queue_url.rsplit("/", 1)[1]
        out = []
        for mid, body, source in self.queues[name]:
            if mid in self.hidden or len(out) >= request.max_number_of_messages:
                continue
            self.hidden.add(mid)
            attributes = {"DeadLetterQueueSourceArn": source} if source else {}
            out.append(pb.Message(message_id=mid, receipt_handle=mid, body=body,
                                  attributes=attributes))
        self.log.append(f"receive {len(out)}")
        return pb.ReceiveMessageResponse(messages=out)

    async def send_message(self, request: pb.SendMessageRequest) -> pb.SendMessageResponse:
        name = request.queue_url.rsplit("/", 1)[1]
        if name == self.refuse:
            raise EngineError("AWS.SimpleQueueService.NonExistentQueue",
                              "The specified queue does not exist.")
        self.queues.setdefault(name, []).append((f"new-{request.message_body}",
                                                 request.message_body, ""))
        self.log.append(f"send {request.message_body}")
        return pb.SendMessageResponse()

    async def delete_message_batch(self, request: pb.DeleteMessageBatchRequest
                                   ) -> pb.DeleteMessageBatchResponse:
        name = request.queue_url.rsplit("/", 1)[1]
        handles = {e.receipt_handle for e in request.entries}
        self.queues[name] = [m for m in self.queues[name] if m[0] not in handles]
        self.log.append(f"delete {len(handles)}")
        return pb.DeleteMessageBatchResponse(
            successful=[pb.DeleteMessageBatchResultEntry(id=e.id) for e in request.entries])

    async def get_queue_attributes(self, request: pb.GetQueueAttributesRequest
                                   ) -> pb.GetQueueAttributesResponse:
        name = request.queue_url.rsplit("/", 1)[1]
        visible = [m for m in self.queues[name] if m[0] not in self.hidden]
        return pb.GetQueueAttributesResponse(
            attributes={"ApproximateNumberOfMessages": str(len(visible))})


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def mover(t: MoveTask, queues: FakeQueues, clock: FakeTime | None = None) -> Mover:
    clock = clock or FakeTime()
    return Mover(t, queues, "http://h/000000000000/dlq", lambda name: f"http://h/0/{name}",
                 monotonic=clock.monotonic, sleep=clock.sleep)


def test_every_message_goes_back_to_its_source_sent_before_deleted() -> None:
    queues = FakeQueues({"dlq": [(f"m{i}", f"b{i}", SRC) for i in range(12)], "src": []})
    t = task(12)
    asyncio.run(mover(t, queues).run())
    assert (t.status, t.moved) == (COMPLETED, 12)
    assert queues.queues["dlq"] == []
    assert sorted(b for _, b, _ in queues.queues["src"]) == sorted(f"b{i}" for i in range(12))
    assert queues.log[:12] == ["receive 10", *[f"send b{i}" for i in range(10)], "delete 10"]


def test_the_rate_paces_batches_on_the_injected_clock() -> None:
    queues = FakeQueues({"dlq": [(f"m{i}", f"b{i}", SRC) for i in range(5)], "src": []})
    clock = FakeTime()
    t = task(5, rate=2)
    asyncio.run(mover(t, queues, clock).run())
    assert (t.status, t.moved) == (COMPLETED, 5)
    assert [e for e in queues.log if e.startswith("receive")] == ["receive 2"] * 2 + [
        "receive 1"]
    assert clock.slept == [1.0, 1.0]  # two per second: 2 now, 2 after 1 s, 1 after 2 s


def test_a_destination_that_refuses_fails_the_task_and_keeps_the_message() -> None:
    queues = FakeQueues({"dlq": [("m0", "b0", SRC), ("m1", "b1", SRC)], "src": []},
                        refuse="src")
    t = task(2)
    asyncio.run(mover(t, queues).run())
    assert t.status == FAILED
    assert t.failure_reason == (f"Could not send message m0 to {SRC}: The specified queue "
                                "does not exist.")
    assert [m[0] for m in queues.queues["dlq"]] == ["m0", "m1"]  # nothing lost


def test_a_message_with_no_source_needs_a_destination() -> None:
    queues = FakeQueues({"dlq": [("m0", "b0", "")], "other": []})
    failed = task(1)
    asyncio.run(mover(failed, queues).run())
    assert failed.status == FAILED
    assert failed.failure_reason.startswith("Message m0 has no source queue to return to")
    queues.hidden.clear()
    moved = task(1, destination="arn:aws:sqs:us-east-1:000000000000:other")
    asyncio.run(mover(moved, queues).run())
    assert (moved.status, [m[1] for m in queues.queues["other"]]) == (COMPLETED, ["b0"])


def test_a_cancel_stops_the_mover_between_batches() -> None:
    queues = FakeQueues({"dlq": [(f"m{i}", f"b{i}", SRC) for i in range(6)], "src": []})
    clock = FakeTime()
    t = task(6, rate=1)

    async def sleep_then_cancel(seconds: float) -> None:
        await clock.sleep(seconds)
        if t.status == RUNNING and t.moved == 2:
            t.cancel()

    m = Mover(t, queues, "http://h/0/dlq", lambda name: f"http://h/0/{name}",
              monotonic=clock.monotonic, sleep=sleep_then_cancel)
    asyncio.run(m.run())
    assert (t.status, t.moved) == (CANCELLED, 2)
    assert len(queues.queues["dlq"]) == 4 and len(queues.queues["src"]) == 2


def test_a_drained_queue_completes_early() -> None:
    queues = FakeQueues({"dlq": [("m0", "b0", SRC)], "src": []})
    t = task(5)  # counted 5, but only one is left
    asyncio.run(mover(t, queues).run())
    assert (t.status, t.moved) == (COMPLETED, 1)
