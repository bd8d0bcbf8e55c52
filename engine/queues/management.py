"""SQS queue management: create, delete, list, attributes, purge and tags."""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from collections.abc import Mapping

from engine.errors import EngineError
from engine.queues import attributes as qattrs
from engine.queues import permissions
from engine.queues.catalog import DELETED_RECENTLY, DONE, EXISTS, IN_PROGRESS
from engine.queues.core import QueueCore, no_such_queue, ref
from engine.queues.names import queue_arn
from engine.v1 import queues_pb2 as pb
from engine.v1.queue_records_pb2 import PartitionStats, QueueRecord

log = logging.getLogger("engine.queues")

MAX_TAGS = 50
MAX_LIST = 1000
NS_PER_S = 1_000_000_000
_COUNTS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
           "ApproximateNumberOfMessagesDelayed")


class QueueManagement(QueueCore):
    async def create_queue(self, request: pb.CreateQueueRequest) -> pb.CreateQueueResponse:
        name = request.queue_name
        if not name:
            raise _missing("QueueName")
        given = dict(request.attributes)
        stored = qattrs.create_attributes(name, given)
        await self._check_redrive(name, stored)
        tags = dict(request.tags)
        _check_tags(tags)
        record = QueueRecord(name=name, attributes=stored, tags=tags,
                             partitions=1 if qattrs.is_fifo(stored) else self.partitions)
        outcome, existing = await self.catalog.create(record)
        if outcome == EXISTS and existing is not None:
            differs = qattrs.mismatched_attribute(existing.attributes, stored, given.keys())
            if differs is not None:
                raise EngineError("QueueAlreadyExists",
                                  "A queue already exists with the same name and a "
                                  f"different value for attribute {differs}", queue=name)
        elif outcome == DELETED_RECENTLY:
            raise EngineError("AWS.SimpleQueueService.QueueDeletedRecently", queue=name)
        return pb.CreateQueueResponse(queue_url=self.url(name))

    async def delete_queue(self, request: pb.DeleteQueueRequest) -> pb.DeleteQueueResponse:
        record = await self.queue(request.queue_url)
        if await self.catalog.delete(record.name, record.incarnation):
            await self._each_group(record, "drop")
        return pb.DeleteQueueResponse()

    async def list_queues(self, request: pb.ListQueuesRequest) -> pb.ListQueuesResponse:
        names = [r.name for r in await self.catalog.list()
                 if r.name.startswith(request.queue_name_prefix)]
        urls, token = self._page(names, request)
        return pb.ListQueuesResponse(queue_urls=urls, next_token=token)

    async def get_queue_url(self, request: pb.GetQueueUrlRequest) -> pb.GetQueueUrlResponse:
        if not request.queue_name:
            raise _missing("QueueName")
        record = await self.queue_named(request.queue_name)
        return pb.GetQueueUrlResponse(queue_url=self.url(record.name))

    async def get_queue_attributes(self, request: pb.GetQueueAttributesRequest
                                   ) -> pb.GetQueueAttributesResponse:
        record = await self.queue(request.queue_url)
        names = qattrs.selected_names(request.attribute_names,
                                      qattrs.is_fifo(record.attributes))
        values = dict(record.attributes)
        values["QueueArn"] = queue_arn(record.name)
        values["CreatedTimestamp"] = str(record.created_ns // NS_PER_S)
        values["LastModifiedTimestamp"] = str(record.modified_ns // NS_PER_S)
        if any(n in _COUNTS for n in names):
            visible, in_flight, delayed = await self._counts(record)
            values.update({_COUNTS[0]: str(visible), _COUNTS[1]: str(in_flight),
                           _COUNTS[2]: str(delayed)})
        return pb.GetQueueAttributesResponse(
            attributes={n: values[n] for n in names if n in values})

    async def set_queue_attributes(self, request: pb.SetQueueAttributesRequest
                                   ) -> pb.SetQueueAttributesResponse:
        record = await self.queue(request.queue_url)
        updated = qattrs.updated_attributes(record.attributes, dict(request.attributes))
        await self._check_redrive(record.name, updated)
        record.attributes.clear()
        record.attributes.update(updated)
        record.modified_ns = self.clock.now_ns()
        await self._save(record)
        return pb.SetQueueAttributesResponse()

    async def purge_queue(self, request: pb.PurgeQueueRequest) -> pb.PurgeQueueResponse:
        record = await self.queue(request.queue_url)
        outcome = await self.catalog.purge(record.name, record.incarnation)
        if outcome == IN_PROGRESS:
            raise EngineError("AWS.SimpleQueueService.PurgeQueueInProgress",
                              f"Only one PurgeQueue operation on {record.name} is allowed "
                              "every 60 seconds.", queue=record.name)
        if outcome != DONE:
            raise no_such_queue(record.name)
        await self._each_group(record, "purge")
        return pb.PurgeQueueResponse()

    async def tag_queue(self, request: pb.TagQueueRequest) -> pb.TagQueueResponse:
        record = await self.queue(request.queue_url)
        if not request.tags:
            raise _missing("Tags")
        tags = {**record.tags, **request.tags}
        _check_tags(tags)
        record.tags.update(request.tags)
        await self._save(record)
        return pb.TagQueueResponse()

    async def untag_queue(self, request: pb.UntagQueueRequest) -> pb.UntagQueueResponse:
        record = await self.queue(request.queue_url)
        if not request.tag_keys:
            raise _missing("TagKeys")
        for key in request.tag_keys:
            record.tags.pop(key, None)
        await self._save(record)
        return pb.UntagQueueResponse()

    async def list_queue_tags(self, request: pb.ListQueueTagsRequest
                              ) -> pb.ListQueueTagsResponse:
        record = await self.queue(request.queue_url)
        return pb.ListQueueTagsResponse(tags=record.tags)

    async def list_dead_letter_source_queues(
        self, request: pb.ListDeadLetterSourceQueuesRequest
    ) -> pb.ListDeadLetterSourceQueuesResponse:
        target = await self.queue(request.queue_url)
        names = []
        for r in await self.catalog.list():
            policy = qattrs.parse_redrive_policy(r.attributes.get("RedrivePolicy", ""))
            if policy is not None and policy.target_name == target.name:
                names.append(r.name)
        urls, token = self._page(names, request)
        return pb.ListDeadLetterSourceQueuesResponse(queue_urls=urls, next_token=token)

    async def add_permission(self, request: pb.AddPermissionRequest
                             ) -> pb.AddPermissionResponse:
        record = await self.queue(request.queue_url)
        policy = permissions.with_permission(
            record.attributes.get("Policy", ""), queue_arn(record.name), request.label,
            list(request.aws_account_ids), list(request.actions))
        await self._save_policy(record, policy)
        return pb.AddPermissionResponse()

    async def remove_permission(self, request: pb.RemovePermissionRequest
                                ) -> pb.RemovePermissionResponse:
        record = await self.queue(request.queue_url)
        policy = permissions.without_permission(record.attributes.get("Policy", ""),
                                                request.label)
        await self._save_policy(record, policy)
        return pb.RemovePermissionResponse()

    # -- helpers ---------------------------------------------------------------------------

    async def _save(self, record: QueueRecord) -> None:
        if not await self.catalog.update(record):  # it went away meanwhile
            raise no_such_queue(record.name)

    async def _save_policy(self, record: QueueRecord, policy: str) -> None:
        if policy:
            record.attributes["Policy"] = policy
        else:
            record.attributes.pop("Policy", None)
        record.modified_ns = self.clock.now_ns()
        await self._save(record)

    async def _check_redrive(self, name: str, attrs: Mapping[str, str]) -> None:
        """The dead-letter queue must exist, be of the same type and allow us."""
        policy = qattrs.parse_redrive_policy(attrs.get("RedrivePolicy", ""))
        if policy is None:
            return
        target = await self.catalog.get(policy.target_name)
        if target is None or policy.target_name == name:
            raise _invalid_redrive(f"Dead letter target does not exist: "
                                   f"{queue_arn(policy.target_name)}")
        if qattrs.is_fifo(target.attributes) != qattrs.is_fifo(attrs):
            raise _invalid_redrive("Dead-letter queue must be of the same type as the "
                                   "source queue (standard or FIFO).")
        if not qattrs.redrive_allowed(target.attributes.get("RedriveAllowPolicy"),
                                      queue_arn(name)):
            raise _invalid_redrive("The dead-letter queue's RedriveAllowPolicy does not "
                                   "allow this source queue.")

    async def _counts(self, record: QueueRecord) -> tuple[int, int, int]:
        stats: list[PartitionStats] = []
        for group, parts in self.groups_of(record).items():
            with contextlib.suppress(EngineError):
                stats += [s for s in await self.router.stats(group, ref(record))
                          if s.partition in parts]
        return (sum(s.visible for s in stats), sum(s.in_flight for s in stats),
                sum(s.delayed for s in stats))

    async def _each_group(self, record: QueueRecord, op: str) -> None:
        """Send a purge/drop to every group holding the queue. A drop that fails is
        harmless (a dropped incarnation is never addressed again), so it is logged."""
        for group in self.groups_of(record):
            command = self.command()
            getattr(command, op).CopyFrom(ref(record))
            try:
                await self.router.apply(group, command)
            except EngineError:
                if op == "purge":
                    raise
                log.warning("queue %s: group %d missed the drop", record.name, group)

    def _page(self, names: list[str], request: pb.ListQueuesRequest
              | pb.ListDeadLetterSourceQueuesRequest) -> tuple[list[str], str]:
        names = sorted(names)
        if request.HasField("max_results"):
            limit = request.max_results
            if not 1 <= limit <= MAX_LIST:
                raise EngineError("InvalidParameterValue",
                                  f"Value {limit} for parameter MaxResults is invalid. "
                                  "Reason: must be between 1 and 1000.")
        elif request.next_token:
            limit = MAX_LIST
        else:
            return [self.url(n) for n in names[:MAX_LIST]], ""
        start = 0
        if request.next_token:
            after = _decode_token(request.next_token)
            start = next((i for i, n in enumerate(names) if n > after), len(names))
        page = names[start:start + limit]
        more = start + limit < len(names)
        return [self.url(n) for n in page], (_encode_token(page[-1]) if more and page else "")


def _check_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise EngineError("InvalidParameterValue",
                          f"Too many tags: a queue can have at most {MAX_TAGS}.")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise EngineError("InvalidParameterValue",
                              f"Tag {key[:128]!r}: keys are 1-128 characters and values at "
                              "most 256.")


def _missing(parameter: str) -> EngineError:
    return EngineError("MissingParameter",
                       f"The request must contain the parameter {parameter}.")


def _invalid_redrive(reason: str) -> EngineError:
    return EngineError("InvalidParameterValue",
                       f"Value for parameter RedrivePolicy is invalid. Reason: {reason}")


def _encode_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise EngineError("InvalidParameterValue", "Invalid NextToken value.") from None

