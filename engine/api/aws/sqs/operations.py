"""The SQS operations the HTTP endpoint serves: each is its gRPC Queues twin.

An operation's name (the ``X-Amz-Target`` suffix, or the query protocol's ``Action``) is
its Queues RPC, whose request message it decodes to, whose access rule authorizes it
(engine/api/access_table.py) and whose queue-service coroutine
(engine/api/queues_servicer.py's QueueApi) runs it. SQS operations the engine does not
have yet are UnsupportedOperation, anything else InvalidAction, as SQS answers an unknown
action.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from engine.api.queues_servicer import QueueApi
from engine.errors import EngineError
from engine.v1 import queues_pb2

TARGET_PREFIX = "AmazonSQS."
RPC_PREFIX = "/engine.v1.Queues/"
# SQS's operations the engine does not serve (none today; docs/sqs-api.md)
NOT_YET: frozenset[str] = frozenset()
_SERVICE = queues_pb2.DESCRIPTOR.services_by_name["Queues"]


@dataclass(frozen=True)
class SqsOperation:
    name: str
    request: type[Message]
    method: str  # the queue service's coroutine

    @property
    def rpc(self) -> str:
        return RPC_PREFIX + self.name

    def bound(self, service: QueueApi) -> Callable[[Any], Awaitable[Message]]:
        coroutine: Callable[[Any], Awaitable[Message]] = getattr(service, self.method)
        return coroutine


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


OPERATIONS: dict[str, SqsOperation] = {
    method.name: SqsOperation(method.name,
                              getattr(queues_pb2, method.input_type.name),
                              _snake(method.name))
    for method in _SERVICE.methods
}


def operation_of(target: str | None) -> SqsOperation:
    """The operation an ``X-Amz-Target`` header names (the JSON protocol)."""
    if not target:
        raise EngineError("MissingAction", "The request must name its operation in "
                          "X-Amz-Target (AmazonSQS.<Operation>).", http_status=400)
    if not target.startswith(TARGET_PREFIX):
        raise invalid_action()
    return operation_named(target.removeprefix(TARGET_PREFIX))


def operation_named(name: str) -> SqsOperation:
    """The operation of a name, the target's suffix or the query protocol's ``Action``."""
    found = OPERATIONS.get(name)
    if found is not None:
        return found
    if name in NOT_YET:
        raise EngineError("AWS.SimpleQueueService.UnsupportedOperation",
                          f"{name} is not served by this endpoint yet (see docs/sqs-api.md).")
    raise invalid_action()


def invalid_action() -> EngineError:
    return EngineError("InvalidAction", "The action or operation requested is invalid. "
                       "Verify that the action is typed correctly.")
