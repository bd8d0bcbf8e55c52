"""StartMessageMoveTask, ListMessageMoveTasks and CancelMessageMoveTask: dead-letter queue
redrive with SQS's rules (a standard dead-letter queue some queue's RedrivePolicy names,
one active task per source queue, 1-500 messages a second, the newest 1-10 tasks listed).

The tasks live on the node that started them (move_tasks.py) and run as background
coroutines of its event loop (mover.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from engine.errors import EngineError
from engine.queues import attributes as qattrs
from engine.queues.management import QueueManagement
from engine.queues.messaging import Messaging
from engine.queues.move_tasks import FAILED, RUNNING, MoveTask, MoveTasks, new_task_id
from engine.queues.mover import Mover
from engine.queues.names import is_queue_arn, name_from_arn, queue_arn
from engine.v1 import queues_pb2 as pb
from engine.v1.queue_records_pb2 import QueueRecord

MAX_RATE = 500
MAX_LISTED = 10
NS_PER_MS = 1_000_000


class Redrive(QueueManagement, Messaging):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.move_tasks = MoveTasks()
        self._movers: set[asyncio.Task[None]] = set()  # held: the loop keeps weak refs

    async def start_message_move_task(self, request: pb.StartMessageMoveTaskRequest
                                      ) -> pb.StartMessageMoveTaskResponse:
        source = await self._queue_of_arn(request.source_arn, "SourceArn")
        if qattrs.is_fifo(source.attributes):
            raise EngineError("AWS.SimpleQueueService.UnsupportedOperation",
                              "Message move tasks support standard queues only.")
        if not await self._is_dead_letter_queue(source.name):
            raise EngineError("InvalidParameterValue",
                              "Source queue must be configured as a Dead Letter Queue.")
        if request.destination_arn:
            destination = await self._queue_of_arn(request.destination_arn, "DestinationArn")
            if qattrs.is_fifo(destination.attributes):
                raise EngineError("AWS.SimpleQueueService.UnsupportedOperation",
                                  "Message move tasks support standard queues only.")
        rate = None
        if request.HasField("max_number_of_messages_per_second"):
            rate = request.max_number_of_messages_per_second
            if not 1 <= rate <= MAX_RATE:
                raise EngineError(
                    "InvalidParameterValue",
                    f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. "
                    f"Reason: must be between 1 and {MAX_RATE}.")
        visible, _, _ = await self._counts(source)
        task = MoveTask(new_task_id(), queue_arn(source.name), request.destination_arn, rate,
                        to_move=visible, started_ms=self.clock.now_ns() // NS_PER_MS)
        self.move_tasks.add(task)
        mover = Mover(task, self, self.url(source.name), self.url)
        running = asyncio.get_running_loop().create_task(mover.run())
        self._movers.add(running)
        running.add_done_callback(self._movers.discard)
        return pb.StartMessageMoveTaskResponse(task_handle=task.handle)

    async def list_message_move_tasks(self, request: pb.ListMessageMoveTasksRequest
                                      ) -> pb.ListMessageMoveTasksResponse:
        source = await self._queue_of_arn(request.source_arn, "SourceArn")
        limit = 1
        if request.HasField("max_results"):
            limit = request.max_results
            if not 1 <= limit <= MAX_LISTED:
                raise EngineError("InvalidParameterValue",
                                  f"Value {limit} for parameter MaxResults is invalid. "
                                  f"Reason: must be between 1 and {MAX_LISTED}.")
        tasks = self.move_tasks.newest(queue_arn(source.name), limit)
        return pb.ListMessageMoveTasksResponse(results=[_entry(t) for t in tasks])

    async def cancel_message_move_task(self, request: pb.CancelMessageMoveTaskRequest
                                       ) -> pb.CancelMessageMoveTaskResponse:
        if not request.task_handle:
            raise EngineError("MissingParameter",
                              "The request must contain the parameter TaskHandle.")
        task = self.move_tasks.by_handle(request.task_handle)
        task.cancel()
        return pb.CancelMessageMoveTaskResponse(approximate_number_of_messages_moved=task.moved)

    def stop_move_tasks(self) -> None:
        """Cancel the movers (shutdown): a message being moved stays in the dead-letter
        queue, or is in both queues if its send was acknowledged, never in neither."""
        for running in list(self._movers):
            running.cancel()

    # -- helpers ---------------------------------------------------------------------------

    async def _queue_of_arn(self, arn: str, parameter: str) -> QueueRecord:
        if not arn:
            raise EngineError("MissingParameter",
                              f"The request must contain the parameter {parameter}.")
        if not is_queue_arn(arn):
            raise EngineError("InvalidParameterValue",
                              f"Value {arn} for parameter {parameter} is invalid. Reason: "
                              "not a queue ARN.")
        name = name_from_arn(arn)
        record = None if name is None else await self.catalog.get(name)
        if record is None:
            raise EngineError("ResourceNotFoundException",
                              f"The resource that you specified for the {parameter} "
                              "parameter doesn't exist.")
        return record

    async def _is_dead_letter_queue(self, name: str) -> bool:
        for record in await self.catalog.list():
            policy = qattrs.parse_redrive_policy(record.attributes.get("RedrivePolicy", ""))
            if policy is not None and policy.target_name == name:
                return True
        return False


def _entry(task: MoveTask) -> pb.ListMessageMoveTasksResultEntry:
    entry = pb.ListMessageMoveTasksResultEntry(
        status=task.status, source_arn=task.source_arn,
        destination_arn=task.destination_arn,
        approximate_number_of_messages_moved=task.moved,
        approximate_number_of_messages_to_move=task.to_move,
        started_timestamp=task.started_ms)
    if task.status == RUNNING:
        entry.task_handle = task.handle
    if task.rate is not None:
        entry.max_number_of_messages_per_second = task.rate
    if task.status == FAILED:
        entry.failure_reason = task.failure_reason
    return entry
