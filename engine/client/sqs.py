"""The SQS client: boto3's SQS method names, parameters and response dicts over gRPC.

Code written against ``boto3.client("sqs")`` for these operations runs unchanged against
``engine.client.client("sqs", endpoint=...)``. Parameters are checked as botocore checks
them (sqs_shapes.py); the proto mapping is in sqs_convert.py; calls, timeouts and error
mapping are the shared Caller's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from google.protobuf.message import Message

from engine.client import sqs_convert as conv
from engine.client.base import DEFAULT_TIMEOUT, ServiceClient
from engine.client.calls import Caller
from engine.client.credentials import DEFAULT_REGION
from engine.client.errors import SQS_EXCEPTIONS
from engine.client.paginate import PaginationModel
from engine.client.signing import Clock
from engine.client.sqs_shapes import DELETE_ENTRIES, SEND_ENTRIES, VISIBILITY_ENTRIES, operation
from engine.client.transport import DEFAULT_ENDPOINT
from engine.sigv4 import Credentials
from engine.v1 import queues_pb2 as pb
from engine.v1 import queues_pb2_grpc

# botocore's SQS paginators: NextToken in, NextToken out; a page without one is the last.
_PAGINATORS = {
    "list_queues": PaginationModel(
        input_token="NextToken",
        output_token="NextToken",
        more_results="NextToken",
        limit_key="MaxResults",
        result_keys=("QueueUrls",),
    ),
    "list_dead_letter_source_queues": PaginationModel(
        input_token="NextToken",
        output_token="NextToken",
        more_results="NextToken",
        limit_key="MaxResults",
        result_keys=("queueUrls",),
    ),
}

AttributeValues = Mapping[str, Mapping[str, Any]]


class SQSClient(ServiceClient):
    """An SQS client bound to one endpoint; thread-safe, one gRPC channel, reusable."""

    PAGINATORS = _PAGINATORS

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        channel: grpc.Channel | None = None,
        credentials: Credentials | None = None,
        region_name: str = DEFAULT_REGION,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(endpoint, timeout=timeout, channel=channel, exceptions=SQS_EXCEPTIONS,
                         credentials=credentials, region_name=region_name, clock=clock)
        self._stub = queues_pb2_grpc.QueuesStub(self._channel)

    def _call(self, op: str, request: Message, calls: Caller | None = None) -> Any:
        """Run the RPC named like the SQS operation (they are the same names)."""
        return (calls or self._calls).unary(op, getattr(self._stub, op), request)

    # -- queues ------------------------------------------------------------------------

    @operation()
    def create_queue(
        self,
        *,
        QueueName: str,
        Attributes: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Create a queue, or return the URL of an identical one (SQS is idempotent)."""
        resp = self._call("CreateQueue", pb.CreateQueueRequest(
            queue_name=QueueName, attributes=dict(Attributes or {}), tags=dict(tags or {}),
        ))
        return conv.ok(QueueUrl=resp.queue_url)

    @operation()
    def delete_queue(self, *, QueueUrl: str) -> dict[str, Any]:
        self._call("DeleteQueue", pb.DeleteQueueRequest(queue_url=QueueUrl))
        return conv.ok()

    @operation()
    def list_queues(
        self,
        *,
        QueueNamePrefix: str | None = None,
        NextToken: str | None = None,
        MaxResults: int | None = None,
    ) -> dict[str, Any]:
        """Queue URLs; NextToken comes back only when MaxResults was given (as in SQS)."""
        request = pb.ListQueuesRequest(queue_name_prefix=QueueNamePrefix or "",
                                       next_token=NextToken or "")
        conv.set_optional(request, max_results=MaxResults)
        resp = self._call("ListQueues", request)
        return conv.ok(**conv.present(QueueUrls=list(resp.queue_urls),
                                      NextToken=resp.next_token))

    @operation()
    def get_queue_url(
        self, *, QueueName: str, QueueOwnerAWSAccountId: str | None = None
    ) -> dict[str, Any]:
        resp = self._call("GetQueueUrl", pb.GetQueueUrlRequest(
            queue_name=QueueName, queue_owner_aws_account_id=QueueOwnerAWSAccountId or "",
        ))
        return conv.ok(QueueUrl=resp.queue_url)

    @operation()
    def get_queue_attributes(
        self, *, QueueUrl: str, AttributeNames: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """Attributes asked for ("All" for every one); none asked, none returned."""
        resp = self._call("GetQueueAttributes", pb.GetQueueAttributesRequest(
            queue_url=QueueUrl, attribute_names=list(AttributeNames or ()),
        ))
        return conv.ok(**conv.present(Attributes=dict(resp.attributes)))

    @operation()
    def set_queue_attributes(
        self, *, QueueUrl: str, Attributes: Mapping[str, str]
    ) -> dict[str, Any]:
        self._call("SetQueueAttributes", pb.SetQueueAttributesRequest(
            queue_url=QueueUrl, attributes=dict(Attributes),
        ))
        return conv.ok()

    @operation()
    def purge_queue(self, *, QueueUrl: str) -> dict[str, Any]:
        self._call("PurgeQueue", pb.PurgeQueueRequest(queue_url=QueueUrl))
        return conv.ok()

    @operation()
    def tag_queue(self, *, QueueUrl: str, Tags: Mapping[str, str]) -> dict[str, Any]:
        self._call("TagQueue", pb.TagQueueRequest(queue_url=QueueUrl, tags=dict(Tags)))
        return conv.ok()

    @operation()
    def untag_queue(self, *, QueueUrl: str, TagKeys: Sequence[str]) -> dict[str, Any]:
        self._call("UntagQueue", pb.UntagQueueRequest(queue_url=QueueUrl,
                                                      tag_keys=list(TagKeys)))
        return conv.ok()

    @operation()
    def list_queue_tags(self, *, QueueUrl: str) -> dict[str, Any]:
        resp = self._call("ListQueueTags", pb.ListQueueTagsRequest(queue_url=QueueUrl))
        return conv.ok(**conv.present(Tags=dict(resp.tags)))

    @operation()
    def list_dead_letter_source_queues(
        self, *, QueueUrl: str, NextToken: str | None = None, MaxResults: int | None = None
    ) -> dict[str, Any]:
        """Queues whose RedrivePolicy targets this one; ``queueUrls`` is always there and
        spelled in lower camel case, as in boto3."""
        request = pb.ListDeadLetterSourceQueuesRequest(queue_url=QueueUrl,
                                                       next_token=NextToken or "")
        conv.set_optional(request, max_results=MaxResults)
        resp = self._call("ListDeadLetterSourceQueues", request)
        return conv.ok(queueUrls=list(resp.queue_urls),
                       **conv.present(NextToken=resp.next_token))

    @operation()
    def add_permission(
        self, *, QueueUrl: str, Label: str, AWSAccountIds: Sequence[str], Actions: Sequence[str]
    ) -> dict[str, Any]:
        """Grant the accounts the actions through a statement of the queue's Policy."""
        self._call("AddPermission", pb.AddPermissionRequest(
            queue_url=QueueUrl, label=Label, aws_account_ids=list(AWSAccountIds),
            actions=list(Actions),
        ))
        return conv.ok()

    @operation()
    def remove_permission(self, *, QueueUrl: str, Label: str) -> dict[str, Any]:
        self._call("RemovePermission", pb.RemovePermissionRequest(queue_url=QueueUrl,
                                                                  label=Label))
        return conv.ok()

    # -- dead-letter queue redrive ---------------------------------------------------------

    @operation()
    def start_message_move_task(
        self, *, SourceArn: str, DestinationArn: str | None = None,
        MaxNumberOfMessagesPerSecond: int | None = None,
    ) -> dict[str, Any]:
        """Move the messages of a dead-letter queue back to their source queues (or to
        DestinationArn) in the background; the handle cancels it."""
        request = pb.StartMessageMoveTaskRequest(source_arn=SourceArn,
                                                 destination_arn=DestinationArn or "")
        conv.set_optional(request, max_number_of_messages_per_second=MaxNumberOfMessagesPerSecond)
        resp = self._call("StartMessageMoveTask", request)
        return conv.ok(TaskHandle=resp.task_handle)

    @operation()
    def list_message_move_tasks(
        self, *, SourceArn: str, MaxResults: int | None = None
    ) -> dict[str, Any]:
        """The newest tasks of a source queue (MaxResults 1-10, default 1)."""
        request = pb.ListMessageMoveTasksRequest(source_arn=SourceArn)
        conv.set_optional(request, max_results=MaxResults)
        resp = self._call("ListMessageMoveTasks", request)
        return conv.ok(Results=[conv.move_task(e) for e in resp.results])

    @operation()
    def cancel_message_move_task(self, *, TaskHandle: str) -> dict[str, Any]:
        resp = self._call("CancelMessageMoveTask",
                          pb.CancelMessageMoveTaskRequest(task_handle=TaskHandle))
        return conv.ok(ApproximateNumberOfMessagesMoved=resp.approximate_number_of_messages_moved)

    # -- messages ----------------------------------------------------------------------

    @operation()
    def send_message(
        self,
        *,
        QueueUrl: str,
        MessageBody: str,
        DelaySeconds: int | None = None,
        MessageAttributes: AttributeValues | None = None,
        MessageSystemAttributes: AttributeValues | None = None,
        MessageDeduplicationId: str | None = None,
        MessageGroupId: str | None = None,
    ) -> dict[str, Any]:
        resp = self._call("SendMessage", pb.SendMessageRequest(
            queue_url=QueueUrl,
            **conv.message_fields(
                MessageBody=MessageBody,
                DelaySeconds=DelaySeconds,
                MessageAttributes=MessageAttributes,
                MessageSystemAttributes=MessageSystemAttributes,
                MessageDeduplicationId=MessageDeduplicationId,
                MessageGroupId=MessageGroupId,
            ),
        ))
        return conv.ok(**conv.send_result(resp))

    @operation(Entries=SEND_ENTRIES)
    def send_message_batch(
        self, *, QueueUrl: str, Entries: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Up to 10 messages; per-entry failures come back in Failed, not raised."""
        resp = self._call("SendMessageBatch", pb.SendMessageBatchRequest(
            queue_url=QueueUrl, entries=[conv.send_entry(e) for e in Entries],
        ))
        return conv.batch_result(resp.successful, resp.failed, conv.send_batch_entry)

    @operation()
    def receive_message(
        self,
        *,
        QueueUrl: str,
        AttributeNames: Sequence[str] | None = None,
        MessageSystemAttributeNames: Sequence[str] | None = None,
        MessageAttributeNames: Sequence[str] | None = None,
        MaxNumberOfMessages: int | None = None,
        VisibilityTimeout: int | None = None,
        WaitTimeSeconds: int | None = None,
        ReceiveRequestAttemptId: str | None = None,
    ) -> dict[str, Any]:
        """Receive up to MaxNumberOfMessages; no "Messages" key when none came.

        A long poll may legitimately take WaitTimeSeconds (or the queue's default wait),
        so its deadline is the client's timeout on top of that."""
        request = pb.ReceiveMessageRequest(
            queue_url=QueueUrl,
            attribute_names=list(AttributeNames or ()),
            message_system_attribute_names=list(MessageSystemAttributeNames or ()),
            message_attribute_names=list(MessageAttributeNames or ()),
            receive_request_attempt_id=ReceiveRequestAttemptId or "",
        )
        conv.set_optional(request, max_number_of_messages=MaxNumberOfMessages,
                          visibility_timeout=VisibilityTimeout,
                          wait_time_seconds=WaitTimeSeconds)
        deadline = conv.long_poll_timeout(self._calls.timeout, WaitTimeSeconds)
        resp = self._call("ReceiveMessage", request,
                          Caller(self._calls.endpoint, deadline, self.exceptions))
        return conv.ok(**conv.present(Messages=[conv.message(m) for m in resp.messages]))

    @operation()
    def delete_message(self, *, QueueUrl: str, ReceiptHandle: str) -> dict[str, Any]:
        self._call("DeleteMessage", pb.DeleteMessageRequest(queue_url=QueueUrl,
                                                            receipt_handle=ReceiptHandle))
        return conv.ok()

    @operation(Entries=DELETE_ENTRIES)
    def delete_message_batch(
        self, *, QueueUrl: str, Entries: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        resp = self._call("DeleteMessageBatch", pb.DeleteMessageBatchRequest(
            queue_url=QueueUrl, entries=[conv.delete_entry(e) for e in Entries],
        ))
        return conv.batch_result(resp.successful, resp.failed, conv.batch_id)

    @operation()
    def change_message_visibility(
        self, *, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int
    ) -> dict[str, Any]:
        request = pb.ChangeMessageVisibilityRequest(queue_url=QueueUrl,
                                                    receipt_handle=ReceiptHandle)
        conv.set_optional(request, visibility_timeout=VisibilityTimeout)
        self._call("ChangeMessageVisibility", request)
        return conv.ok()

    @operation(Entries=VISIBILITY_ENTRIES)
    def change_message_visibility_batch(
        self, *, QueueUrl: str, Entries: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        resp = self._call("ChangeMessageVisibilityBatch", pb.ChangeMessageVisibilityBatchRequest(
            queue_url=QueueUrl, entries=[conv.visibility_entry(e) for e in Entries],
        ))
        return conv.batch_result(resp.successful, resp.failed, conv.batch_id)
