"""The member names of SQS's shapes (JSON members, query parameters and XML elements),
read off the queues.proto messages.

queues.proto spells SQS's parameters in snake_case, so a member's JSON name is its field
name in PascalCase with AWS's acronyms (``md5_of_message_body`` -> ``MD5OfMessageBody``,
``queue_owner_aws_account_id`` -> ``QueueOwnerAWSAccountId``), except where SQS's model
is irregular (CreateQueue's ``tags``, ListDeadLetterSourceQueues' ``queueUrls``). A unit
test holds every name, and the required members, to botocore's SQS service model.
"""

from __future__ import annotations

from functools import cache

from google.protobuf.descriptor import Descriptor, FieldDescriptor

_ACRONYMS = {"md5": "MD5", "aws": "AWS"}
# (message name, field name) -> member name, where the model is irregular
_IRREGULAR = {
    ("CreateQueueRequest", "tags"): "tags",
    ("ListDeadLetterSourceQueuesResponse", "queue_urls"): "queueUrls",
}
# (message name, field name) -> query parameter name, where it is not the regular one
_QUERY_IRREGULAR = {("AddPermissionRequest", "actions"): "ActionName"}
# message name -> members a request must carry (MissingParameter otherwise)
REQUIRED: dict[str, tuple[str, ...]] = {
    "CreateQueueRequest": ("QueueName",),
    "DeleteQueueRequest": ("QueueUrl",),
    "GetQueueUrlRequest": ("QueueName",),
    "GetQueueAttributesRequest": ("QueueUrl",),
    "SetQueueAttributesRequest": ("QueueUrl", "Attributes"),
    "PurgeQueueRequest": ("QueueUrl",),
    "TagQueueRequest": ("QueueUrl", "Tags"),
    "UntagQueueRequest": ("QueueUrl", "TagKeys"),
    "ListQueueTagsRequest": ("QueueUrl",),
    "ListDeadLetterSourceQueuesRequest": ("QueueUrl",),
    "AddPermissionRequest": ("QueueUrl", "Label", "AWSAccountIds", "Actions"),
    "RemovePermissionRequest": ("QueueUrl", "Label"),
    "StartMessageMoveTaskRequest": ("SourceArn",),
    "ListMessageMoveTasksRequest": ("SourceArn",),
    "CancelMessageMoveTaskRequest": ("TaskHandle",),
    "SendMessageRequest": ("QueueUrl", "MessageBody"),
    "SendMessageBatchRequest": ("QueueUrl", "Entries"),
    "SendMessageBatchRequestEntry": ("Id", "MessageBody"),
    "ReceiveMessageRequest": ("QueueUrl",),
    "DeleteMessageRequest": ("QueueUrl", "ReceiptHandle"),
    "DeleteMessageBatchRequest": ("QueueUrl", "Entries"),
    "DeleteMessageBatchRequestEntry": ("Id", "ReceiptHandle"),
    "ChangeMessageVisibilityRequest": ("QueueUrl", "ReceiptHandle", "VisibilityTimeout"),
    "ChangeMessageVisibilityBatchRequest": ("QueueUrl", "Entries"),
    "ChangeMessageVisibilityBatchRequestEntry": ("Id", "ReceiptHandle"),
}
# message name -> list members a response always carries, even empty (the model's
# required output members)
ALWAYS: dict[str, frozenset[str]] = {
    "ListDeadLetterSourceQueuesResponse": frozenset({"queue_urls"}),
    "ListMessageMoveTasksResponse": frozenset({"results"}),
    "SendMessageBatchResponse": frozenset({"successful", "failed"}),
    "DeleteMessageBatchResponse": frozenset({"successful", "failed"}),
    "ChangeMessageVisibilityBatchResponse": frozenset({"successful", "failed"}),
}


def pascal(field: str) -> str:
    """A field's regular member name: ``md5_of_body`` -> ``MD5OfBody``."""
    return "".join(_ACRONYMS.get(word, word.capitalize()) for word in field.split("_"))


def member_name(message: str, field: str) -> str:
    irregular = _IRREGULAR.get((message, field))
    if irregular is not None:
        return irregular
    return pascal(field)


@cache
def members(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    """JSON member name -> the field it is, for one message."""
    return {member_name(descriptor.name, f.name): f for f in descriptor.fields}


def query_name(descriptor: Descriptor, field: FieldDescriptor) -> str:
    """A field's name in the query protocol, where lists and maps are flattened under
    their element's name: ``Attribute.1.Name``, ``AttributeName.1``, ``Tag.1.Key``,
    ``SendMessageBatchRequestEntry.1.Id``; in XML answers the same names repeat
    (``<Message>``, ``<QueueUrl>``, ``<BatchResultErrorEntry>``)."""
    irregular = _QUERY_IRREGULAR.get((descriptor.name, field.name))
    if irregular is not None:
        return irregular
    if field.is_repeated and field.message_type is not None \
            and not field.message_type.GetOptions().map_entry:
        return field.message_type.name
    if field.is_repeated:
        return pascal(field.name).removesuffix("s")
    return member_name(descriptor.name, field.name)


def map_key_name(field: FieldDescriptor) -> str:
    """The key element of a flattened map's entry: tags have ``Key``, the rest ``Name``."""
    return "Key" if field.name == "tags" else "Name"


@cache
def query_members(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    """Query parameter name -> the field it is, for one message."""
    return {query_name(descriptor, f): f for f in descriptor.fields}
