"""The SQS actions of the Queues service: every operation is ``sqs:<Operation>`` on the
queue's ARN, and a batch is authorized as its single form (SendMessageBatch is
sqs:SendMessage), as the SQS Developer Guide's permission list has it. Every Access
names its queue, whose Policy attribute is weighed with the caller's policies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from engine.api.access_rules_types import Access, Rule, Target, rule
from engine.queues.move_tasks import decode_handle
from engine.queues.names import is_queue_arn, name_from_url
from engine.v1 import queues_pb2 as pb

SERVICE = "sqs"
QUEUE = "`arn:aws:sqs:<region>:<account>:<queue>`"

# Operation -> action, where the batch form is authorized as its single form.
_BATCHES = {
    "SendMessageBatch": "sqs:SendMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
_BY_URL = (
    "DeleteQueue", "GetQueueAttributes", "SetQueueAttributes", "PurgeQueue", "ListQueueTags",
    "ListDeadLetterSourceQueues", "SendMessage", "SendMessageBatch", "ReceiveMessage",
    "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch", "AddPermission", "RemovePermission",
)


def queue_arn(name: str, target: Target) -> str:
    return f"arn:aws:sqs:{target.region}:{target.account}:{name}"


def on_queue(action: str, name: str, target: Target,
             keys: Mapping[str, object] | None = None) -> Access:
    return Access(action, queue_arn(name, target), dict(keys or {}), queue=name)


def request_tag_keys(tags: Mapping[str, str]) -> dict[str, object]:
    """The global tag keys of a request that sets tags (CreateQueue, TagQueue)."""
    keys: dict[str, object] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        keys["aws:TagKeys"] = list(tags)
    return keys


def tag_key_list(names: Iterable[str]) -> dict[str, object]:
    listed = list(names)
    return {"aws:TagKeys": listed} if listed else {}


class _ByUrl(Protocol):
    queue_url: str


def url_rule(operation: str) -> Rule:
    """A queue named by its URL; a malformed or missing URL fails here with the error the
    operation itself would give (engine.queues.names.name_from_url)."""
    action = _BATCHES.get(operation, f"sqs:{operation}")

    def accesses(request: _ByUrl, target: Target) -> list[Access]:
        return [on_queue(action, name_from_url(request.queue_url), target)]
    return rule(SERVICE, f"`{action}` on {QUEUE} (the queue named by the URL)", accesses)


def _create(request: pb.CreateQueueRequest, target: Target) -> list[Access]:
    return [on_queue("sqs:CreateQueue", request.queue_name, target,
                     request_tag_keys(request.tags))]


def _get_url(request: pb.GetQueueUrlRequest, target: Target) -> list[Access]:
    return [on_queue("sqs:GetQueueUrl", request.queue_name, target)]


def _list(request: pb.ListQueuesRequest, target: Target) -> list[Access]:
    return [Access("sqs:ListQueues", "*")]


def _tag(request: pb.TagQueueRequest, target: Target) -> list[Access]:
    return [on_queue("sqs:TagQueue", name_from_url(request.queue_url), target,
                     request_tag_keys(request.tags))]


def _untag(request: pb.UntagQueueRequest, target: Target) -> list[Access]:
    return [on_queue("sqs:UntagQueue", name_from_url(request.queue_url), target,
                     tag_key_list(request.tag_keys))]


def on_arn(action: str, arn: str, target: Target) -> Access:
    """A queue named by its ARN; one that cannot be this engine's is checked as the ARN
    given (the operation then answers that it does not exist)."""
    parts = arn.split(":")
    if not is_queue_arn(arn) or parts[3:5] != [target.region, target.account]:
        return Access(action, arn or "*")
    return on_queue(action, parts[5], target)


def _start_move(request: pb.StartMessageMoveTaskRequest, target: Target) -> list[Access]:
    return [on_arn("sqs:StartMessageMoveTask", request.source_arn, target)]


def _list_moves(request: pb.ListMessageMoveTasksRequest, target: Target) -> list[Access]:
    return [on_arn("sqs:ListMessageMoveTasks", request.source_arn, target)]


def _cancel_move(request: pb.CancelMessageMoveTaskRequest, target: Target) -> list[Access]:
    """The task's source queue, which its (opaque) handle names."""
    return [on_arn("sqs:CancelMessageMoveTask", decode_handle(request.task_handle)[1],
                   target)]


SOURCE = f"{QUEUE} (the source queue)"
TAGS = "keys `aws:RequestTag/<tag>`, `aws:TagKeys`"
RULES: dict[str, Rule] = {
    "CreateQueue": rule(SERVICE, f"`sqs:CreateQueue` on {QUEUE}; {TAGS}", _create),
    "GetQueueUrl": rule(SERVICE, f"`sqs:GetQueueUrl` on {QUEUE}", _get_url),
    "ListQueues": rule(SERVICE, "`sqs:ListQueues` on `*`", _list),
    "TagQueue": rule(SERVICE, f"`sqs:TagQueue` on {QUEUE}; {TAGS}", _tag),
    "UntagQueue": rule(SERVICE, f"`sqs:UntagQueue` on {QUEUE}; key `aws:TagKeys`", _untag),
    "StartMessageMoveTask": rule(SERVICE, f"`sqs:StartMessageMoveTask` on {SOURCE}",
                                 _start_move),
    "ListMessageMoveTasks": rule(SERVICE, f"`sqs:ListMessageMoveTasks` on {SOURCE}",
                                 _list_moves),
    "CancelMessageMoveTask": rule(SERVICE, f"`sqs:CancelMessageMoveTask` on {SOURCE}",
                                  _cancel_move),
    **{operation: url_rule(operation) for operation in _BY_URL},
}
