"""gRPC Queues: every RPC hands its request proto to the queue service as it is.

The proto already speaks SQS (names, attribute strings, error codes), so there is nothing
to decode here; the service validates, applies the semantics and builds the response.
``unary`` turns its EngineErrors into gRPC statuses carrying the SQS code.
"""

from __future__ import annotations

from typing import Protocol

import grpc

from engine.api.rpc import unary
from engine.v1 import queues_pb2 as pb
from engine.v1 import queues_pb2_grpc

Ctx = grpc.aio.ServicerContext


class QueueApi(Protocol):
    """What the servicer needs from the queue service: one coroutine per RPC, named in
    snake_case, request proto in, response proto out (so a type checker can hold
    engine.queues.service.QueueService to the contract)."""

    async def create_queue(self, request: pb.CreateQueueRequest) -> pb.CreateQueueResponse: ...
    async def delete_queue(self, request: pb.DeleteQueueRequest) -> pb.DeleteQueueResponse: ...
    async def list_queues(self, request: pb.ListQueuesRequest) -> pb.ListQueuesResponse: ...
    async def get_queue_url(self, request: pb.GetQueueUrlRequest) -> pb.GetQueueUrlResponse: ...
    async def get_queue_attributes(
        self, request: pb.GetQueueAttributesRequest
    ) -> pb.GetQueueAttributesResponse: ...
    async def set_queue_attributes(
        self, request: pb.SetQueueAttributesRequest
    ) -> pb.SetQueueAttributesResponse: ...
    async def purge_queue(self, request: pb.PurgeQueueRequest) -> pb.PurgeQueueResponse: ...
    async def tag_queue(self, request: pb.TagQueueRequest) -> pb.TagQueueResponse: ...
    async def untag_queue(self, request: pb.UntagQueueRequest) -> pb.UntagQueueResponse: ...
    async def list_queue_tags(
        self, request: pb.ListQueueTagsRequest
    ) -> pb.ListQueueTagsResponse: ...
    async def list_dead_letter_source_queues(
        self, request: pb.ListDeadLetterSourceQueuesRequest
    ) -> pb.ListDeadLetterSourceQueuesResponse: ...
    async def add_permission(
        self, request: pb.AddPermissionRequest
    ) -> pb.AddPermissionResponse: ...
    async def remove_permission(
        self, request: pb.RemovePermissionRequest
    ) -> pb.RemovePermissionResponse: ...
    async def start_message_move_task(
        self, request: pb.StartMessageMoveTaskRequest
    ) -> pb.StartMessageMoveTaskResponse: ...
    async def list_message_move_tasks(
        self, request: pb.ListMessageMoveTasksRequest
    ) -> pb.ListMessageMoveTasksResponse: ...
    async def cancel_message_move_task(
        self, request: pb.CancelMessageMoveTaskRequest
    ) -> pb.CancelMessageMoveTaskResponse: ...
    async def send_message(self, request: pb.SendMessageRequest) -> pb.SendMessageResponse: ...
    async def send_message_batch(
        self, request: pb.SendMessageBatchRequest
    ) -> pb.SendMessageBatchResponse: ...
    async def receive_message(
        self, request: pb.ReceiveMessageRequest
    ) -> pb.ReceiveMessageResponse: ...
    async def delete_message(
        self, request: pb.DeleteMessageRequest
    ) -> pb.DeleteMessageResponse: ...
    async def delete_message_batch(
        self, request: pb.DeleteMessageBatchRequest
    ) -> pb.DeleteMessageBatchResponse: ...
    async def change_message_visibility(
        self, request: pb.ChangeMessageVisibilityRequest
    ) -> pb.ChangeMessageVisibilityResponse: ...
    async def change_message_visibility_batch(
        self, request: pb.ChangeMessageVisibilityBatchRequest
    ) -> pb.ChangeMessageVisibilityBatchResponse: ...


class QueuesServicer(queues_pb2_grpc.QueuesServicer):
    def __init__(self, service: QueueApi) -> None:
        self._service = service

    # -- queue management --------------------------------------------------------------

    @unary
    async def CreateQueue(self, request: pb.CreateQueueRequest, context: Ctx
                          ) -> pb.CreateQueueResponse:
        return await self._service.create_queue(request)

    @unary
    async def DeleteQueue(self, request: pb.DeleteQueueRequest, context: Ctx
                          ) -> pb.DeleteQueueResponse:
        return await self._service.delete_queue(request)

    @unary
    async def ListQueues(self, request: pb.ListQueuesRequest, context: Ctx
                         ) -> pb.ListQueuesResponse:
        return await self._service.list_queues(request)

    @unary
    async def GetQueueUrl(self, request: pb.GetQueueUrlRequest, context: Ctx
                          ) -> pb.GetQueueUrlResponse:
        return await self._service.get_queue_url(request)

    @unary
    async def GetQueueAttributes(self, request: pb.GetQueueAttributesRequest, context: Ctx
                                 ) -> pb.GetQueueAttributesResponse:
        return await self._service.get_queue_attributes(request)

    @unary
    async def SetQueueAttributes(self, request: pb.SetQueueAttributesRequest, context: Ctx
                                 ) -> pb.SetQueueAttributesResponse:
        return await self._service.set_queue_attributes(request)

    @unary
    async def PurgeQueue(self, request: pb.PurgeQueueRequest, context: Ctx
                         ) -> pb.PurgeQueueResponse:
        return await self._service.purge_queue(request)

    @unary
    async def TagQueue(self, request: pb.TagQueueRequest, context: Ctx) -> pb.TagQueueResponse:
        return await self._service.tag_queue(request)

    @unary
    async def UntagQueue(self, request: pb.UntagQueueRequest, context: Ctx
                         ) -> pb.UntagQueueResponse:
        return await self._service.untag_queue(request)

    @unary
    async def ListQueueTags(self, request: pb.ListQueueTagsRequest, context: Ctx
                            ) -> pb.ListQueueTagsResponse:
        return await self._service.list_queue_tags(request)

    @unary
    async def ListDeadLetterSourceQueues(
        self, request: pb.ListDeadLetterSourceQueuesRequest, context: Ctx
    ) -> pb.ListDeadLetterSourceQueuesResponse:
        return await self._service.list_dead_letter_source_queues(request)

    @unary
    async def AddPermission(self, request: pb.AddPermissionRequest, context: Ctx
                            ) -> pb.AddPermissionResponse:
        return await self._service.add_permission(request)

    @unary
    async def RemovePermission(self, request: pb.RemovePermissionRequest, context: Ctx
                               ) -> pb.RemovePermissionResponse:
        return await self._service.remove_permission(request)

    @unary
    async def StartMessageMoveTask(self, request: pb.StartMessageMoveTaskRequest, context: Ctx
                                   ) -> pb.StartMessageMoveTaskResponse:
        return await self._service.start_message_move_task(request)

    @unary
    async def ListMessageMoveTasks(self, request: pb.ListMessageMoveTasksRequest, context: Ctx
                                   ) -> pb.ListMessageMoveTasksResponse:
        return await self._service.list_message_move_tasks(request)

    @unary
    async def CancelMessageMoveTask(self, request: pb.CancelMessageMoveTaskRequest,
                                    context: Ctx) -> pb.CancelMessageMoveTaskResponse:
        return await self._service.cancel_message_move_task(request)

    # -- messages ----------------------------------------------------------------------

    @unary
    async def SendMessage(self, request: pb.SendMessageRequest, context: Ctx
                          ) -> pb.SendMessageResponse:
        return await self._service.send_message(request)

    @unary
    async def SendMessageBatch(self, request: pb.SendMessageBatchRequest, context: Ctx
                               ) -> pb.SendMessageBatchResponse:
        return await self._service.send_message_batch(request)

    @unary
    async def ReceiveMessage(self, request: pb.ReceiveMessageRequest, context: Ctx
                             ) -> pb.ReceiveMessageResponse:
        return await self._service.receive_message(request)

    @unary
    async def DeleteMessage(self, request: pb.DeleteMessageRequest, context: Ctx
                            ) -> pb.DeleteMessageResponse:
        return await self._service.delete_message(request)

    @unary
    async def DeleteMessageBatch(self, request: pb.DeleteMessageBatchRequest, context: Ctx
                                 ) -> pb.DeleteMessageBatchResponse:
        return await self._service.delete_message_batch(request)

    @unary
    async def ChangeMessageVisibility(
        self, request: pb.ChangeMessageVisibilityRequest, context: Ctx
    ) -> pb.ChangeMessageVisibilityResponse:
        return await self._service.change_message_visibility(request)

    @unary
    async def ChangeMessageVisibilityBatch(
        self, request: pb.ChangeMessageVisibilityBatchRequest, context: Ctx
    ) -> pb.ChangeMessageVisibilityBatchResponse:
        return await self._service.change_message_visibility_batch(request)
