"""Message move tasks (DLQ redrive): their records, states and opaque handles.

A task moves the messages of a dead-letter queue back to the queues they came from (or to
one destination). Its state machine is SQS's: RUNNING, then COMPLETED when the messages
counted at the start are moved (or the queue ran dry), FAILED when a move cannot go on,
or CANCELLING after CancelMessageMoveTask and CANCELLED once the mover has stopped. The
registry holds this node's tasks, at most one RUNNING (or CANCELLING) per source queue and
the newest ``KEEP`` per source for ListMessageMoveTasks; the mover (mover.py) drives them.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass

from engine.errors import EngineError

RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED = (
    "RUNNING", "COMPLETED", "CANCELLING", "CANCELLED", "FAILED")
ACTIVE = frozenset({RUNNING, CANCELLING})
KEEP = 10  # tasks remembered per source queue: ListMessageMoveTasks' MaxResults bound


@dataclass
class MoveTask:
    task_id: str
    source_arn: str
    destination_arn: str  # "": each message back to the queue it came from
    rate: int | None  # MaxNumberOfMessagesPerSecond, None: as fast as it goes
    to_move: int
    started_ms: int
    status: str = RUNNING
    moved: int = 0
    failure_reason: str = ""

    @property
    def handle(self) -> str:
        return encode_handle(self.task_id, self.source_arn)

    def moved_some(self, count: int) -> None:
        self.moved += count

    def finish(self, reason: str = "") -> None:
        """The mover stopped: FAILED with a reason, CANCELLED after a cancel, or else
        COMPLETED. A finished task stays finished."""
        if self.status == RUNNING:
            self.status = FAILED if reason else COMPLETED
            self.failure_reason = reason
        elif self.status == CANCELLING:
            self.status = CANCELLED

    def cancel(self) -> None:
        if self.status != RUNNING:
            raise EngineError("AWS.SimpleQueueService.UnsupportedOperation",
                              f"Only a RUNNING task can be cancelled; this one is "
                              f"{self.status}.")
        self.status = CANCELLING

    @property
    def stopping(self) -> bool:
        return self.status != RUNNING


class MoveTasks:
    """This node's tasks, newest first per source queue."""

    def __init__(self) -> None:
        self._by_source: dict[str, list[MoveTask]] = {}

    def add(self, task: MoveTask) -> None:
        tasks = self._by_source.setdefault(task.source_arn, [])
        if any(t.status in ACTIVE for t in tasks):
            raise EngineError("AWS.SimpleQueueService.UnsupportedOperation",
                              "There is already a task running. Only one active task is "
                              "allowed for a source queue arn at a given time.")
        tasks.insert(0, task)
        del tasks[KEEP:]

    def newest(self, source_arn: str, limit: int) -> list[MoveTask]:
        return self._by_source.get(source_arn, [])[:limit]

    def by_handle(self, handle: str) -> MoveTask:
        task_id, source_arn = decode_handle(handle)
        for task in self._by_source.get(source_arn, []):
            if task.task_id == task_id:
                return task
        raise EngineError("ResourceNotFoundException", "Task does not exist.")


def new_task_id() -> str:
    return str(uuid.uuid4())


def encode_handle(task_id: str, source_arn: str) -> str:
    body = json.dumps({"taskId": task_id, "sourceArn": source_arn}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode()


def decode_handle(handle: str) -> tuple[str, str]:
    """(task id, source ARN) of a TaskHandle, or InvalidParameterValue."""
    try:
        body = json.loads(base64.urlsafe_b64decode(handle.encode()))
        task_id, source_arn = body["taskId"], body["sourceArn"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise EngineError("InvalidParameterValue",
                          "Value for parameter TaskHandle is invalid.") from None
    if not isinstance(task_id, str) or not isinstance(source_arn, str):
        raise EngineError("InvalidParameterValue", "Value for parameter TaskHandle is invalid.")
    return task_id, source_arn
