"""The mover of a message move task: receive from the dead-letter queue, send to the
destination, delete from the dead-letter queue, at the task's rate, until done.

It goes through the queue service's own operations, so each step has SQS's guarantees: a
message is deleted from the dead-letter queue only after its send was acknowledged (at
least once: a crash in between leaves it in both, never in neither), and a message the
mover received but could not send shows again after the receive's visibility timeout.
Time for the rate comes from an injected monotonic clock and sleep, so tests need no
real waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from engine.errors import EngineError
from engine.queues.move_tasks import MoveTask
from engine.queues.names import name_from_arn
from engine.v1 import queues_pb2 as pb

log = logging.getLogger("engine.queues")

BATCH = 10  # messages per receive
VISIBILITY = 30  # seconds a received message stays hidden while it is moved
WAIT = 1  # long poll of a receive, seconds
_SYSTEM = ["AWSTraceHeader", "DeadLetterQueueSourceArn"]


class QueueOps(Protocol):
    """The queue service operations the mover uses."""

    async def receive_message(self, request: pb.ReceiveMessageRequest
                              ) -> pb.ReceiveMessageResponse: ...
    async def send_message(self, request: pb.SendMessageRequest) -> pb.SendMessageResponse: ...
    async def delete_message_batch(self, request: pb.DeleteMessageBatchRequest
                                   ) -> pb.DeleteMessageBatchResponse: ...
    async def get_queue_attributes(self, request: pb.GetQueueAttributesRequest
                                   ) -> pb.GetQueueAttributesResponse: ...


class Mover:
    def __init__(self, task: MoveTask, ops: QueueOps, source_url: str,
                 url_of: Callable[[str], str], *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.task = task
        self.ops = ops
        self.source_url = source_url
        self.url_of = url_of  # queue name -> its URL
        self.monotonic = monotonic
        self.sleep = sleep

    async def run(self) -> None:
        """Move until done, failed or cancelled; the task records how it ended."""
        try:
            reason = await self._move()
        except EngineError as err:
            reason = err.message
        except Exception:  # the task must end in a state a user can see
            log.exception("message move task %s failed", self.task.task_id)
            reason = "Internal error."
        self.task.finish(reason)

    async def _move(self) -> str:
        """"" when every message counted at the start moved (or none is left), else why
        the task cannot go on."""
        task, started = self.task, self.monotonic()
        while not task.stopping and task.moved < task.to_move:
            if task.rate:
                ahead = task.moved / task.rate - (self.monotonic() - started)
                if ahead > 0:
                    await self.sleep(ahead)
                    continue
            want = min(BATCH, task.to_move - task.moved, task.rate or BATCH)
            received = await self.ops.receive_message(pb.ReceiveMessageRequest(
                queue_url=self.source_url, max_number_of_messages=want,
                visibility_timeout=VISIBILITY, wait_time_seconds=WAIT,
                message_attribute_names=["All"], message_system_attribute_names=_SYSTEM))
            if not received.messages:
                if await self._drained():
                    return ""
                continue
            reason = await self._move_batch(list(received.messages))
            if reason:
                return reason
        return ""

    async def _move_batch(self, messages: list[pb.Message]) -> str:
        sent: list[pb.Message] = []
        reason = ""
        for message in messages:
            destination = self.task.destination_arn or message.attributes.get(
                "DeadLetterQueueSourceArn", "")
            name = name_from_arn(destination) if destination else None
            if name is None:
                reason = (f"Message {message.message_id} has no source queue to return to; "
                          "start the task with a DestinationArn.")
                break
            request = pb.SendMessageRequest(queue_url=self.url_of(name),
                                            message_body=message.body)
            for key, value in message.message_attributes.items():
                request.message_attributes[key].CopyFrom(value)
            trace = message.attributes.get("AWSTraceHeader")
            if trace:
                request.message_system_attributes["AWSTraceHeader"].CopyFrom(
                    pb.MessageAttributeValue(data_type="String", string_value=trace))
            try:
                await self.ops.send_message(request)
            except EngineError as err:
                reason = f"Could not send message {message.message_id} to {destination}: " \
                         f"{err.message}"
                break
            sent.append(message)
        if sent:  # only what the destination acknowledged leaves the dead-letter queue
            deleted = await self.ops.delete_message_batch(pb.DeleteMessageBatchRequest(
                queue_url=self.source_url, entries=[
                    pb.DeleteMessageBatchRequestEntry(id=str(i), receipt_handle=m.receipt_handle)
                    for i, m in enumerate(sent)]))
            self.task.moved_some(len(deleted.successful))
        return reason

    async def _drained(self) -> bool:
        attributes = await self.ops.get_queue_attributes(pb.GetQueueAttributesRequest(
            queue_url=self.source_url, attribute_names=["ApproximateNumberOfMessages"]))
        return attributes.attributes.get("ApproximateNumberOfMessages", "0") == "0"
