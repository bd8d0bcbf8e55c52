"""SQS message operations: send, receive (short and long polling), delete, visibility.

A send picks a partition (standard: random, one per batch; FIFO: the only one), a
receive asks partitions for messages, a delete or visibility change goes to the
partition its receipt handle names. Each is one command in the partition group's Raft
log, stamped with the engine clock here, so replicas agree on every timer.

Short polling (WaitTimeSeconds 0) asks a weighted random subset of the partitions and
may come back empty while messages exist, as SQS documents; partitions that returned
messages lately weigh more, and every partition keeps a chance, so repeated polls see
all. Long polling first asks every group which partitions have a deliverable message
and sleeps on the groups' apply notifications until one has (see host.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
import re
import zlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from engine.cluster.consensus.ids import time_uuid
from engine.errors import EngineError
from engine.queues import attributes as qattrs
from engine.queues import message_attrs as mattrs
from engine.queues.batches import check_batch_size, check_entry_ids
from engine.queues.core import QueueCore, ref
from engine.queues.names import queue_arn
from engine.queues.receipts import Receipt, decode, encode
from engine.queues.router import first_accepted
from engine.v1 import queues_pb2 as pb
from engine.v1.queue_records_pb2 import (
    HandleCommand,
    HandleRef,
    NewMessage,
    PartitionCommand,
    QueueRecord,
    ReceiveCommand,
    SendCommand,
    StoredMessage,
)

log = logging.getLogger("engine.queues")

NS_PER_S = 1_000_000_000
MAX_DELAY = 900
MAX_VISIBILITY = 43_200
MAX_WAIT = 20
MAX_RECEIVE = 10
_FIFO_ID = re.compile(r"^[!-~]{1,128}$")  # alphanumerics and punctuation
SYSTEM_ATTRIBUTES = ("ApproximateFirstReceiveTimestamp", "ApproximateReceiveCount",
                     "AWSTraceHeader", "MessageDeduplicationId", "MessageGroupId",
                     "SenderId", "SentTimestamp", "SequenceNumber",
                     "SqsManagedSseEnabled", "DeadLetterQueueSourceArn")
SENDER_ID = "AIDAENGINE0000000000"


class _Entry(Protocol):
    """A SendMessageRequest or a SendMessageBatchRequestEntry."""

    message_body: str
    message_deduplication_id: str
    message_group_id: str

    @property
    def delay_seconds(self) -> int: ...
    @property
    def message_attributes(self) -> dict[str, pb.MessageAttributeValue]: ...
    @property
    def message_system_attributes(self) -> dict[str, pb.MessageAttributeValue]: ...
    def HasField(self, name: str) -> bool: ...


class Messaging(QueueCore):
    # -- send ------------------------------------------------------------------------------

    async def send_message(self, request: pb.SendMessageRequest) -> pb.SendMessageResponse:
        record = await self.queue(request.queue_url, stale_ok=True)
        message = self._prepare(record, request)
        (outcome,) = await self._send(record, [message])
        stored = message.message
        return pb.SendMessageResponse(
            message_id=outcome[0], md5_of_message_body=stored.md5_of_body,
            md5_of_message_attributes=stored.md5_of_attributes,
            md5_of_message_system_attributes=stored.md5_of_system_attributes,
            sequence_number=outcome[1])

    async def send_message_batch(self, request: pb.SendMessageBatchRequest
                                 ) -> pb.SendMessageBatchResponse:
        record = await self.queue(request.queue_url, stale_ok=True)
        check_entry_ids([e.id for e in request.entries])
        check_batch_size(sum(mattrs.message_size(e.message_body, e.message_attributes)
                             for e in request.entries),
                         qattrs.max_message_size(record.attributes))
        response = pb.SendMessageBatchResponse()
        ready: list[NewMessage] = []
        for entry in request.entries:
            try:
                message = self._prepare(record, entry)
            except EngineError as err:
                response.failed.append(_failure(entry.id, err))
                continue
            message.entry_id = entry.id
            ready.append(message)
        if ready:
            outcomes = await self._send(record, ready)
            for message, (message_id, sequence) in zip(ready, outcomes, strict=True):
                stored = message.message
                response.successful.append(pb.SendMessageBatchResultEntry(
                    id=message.entry_id, message_id=message_id,
                    md5_of_message_body=stored.md5_of_body,
                    md5_of_message_attributes=stored.md5_of_attributes,
                    md5_of_message_system_attributes=stored.md5_of_system_attributes,
                    sequence_number=sequence))
        return response

    def _prepare(self, record: QueueRecord, entry: _Entry) -> NewMessage:
        """Validate one message against its queue and build what the partition stores."""
        attrs = record.attributes
        fifo = qattrs.is_fifo(attrs)
        body = entry.message_body
        mattrs.validate_body(body)
        mattrs.validate_message_attributes(entry.message_attributes)
        mattrs.validate_system_attributes(entry.message_system_attributes)
        mattrs.check_message_size(body, entry.message_attributes,
                                  qattrs.max_message_size(attrs))
        if entry.HasField("delay_seconds"):
            delay = entry.delay_seconds
            if fifo:
                raise _invalid("DelaySeconds", delay, "The request include parameter that "
                               "is not valid for this queue type.")
            if not 0 <= delay <= MAX_DELAY:
                raise _invalid("DelaySeconds", delay, "must be between 0 and 900, if "
                               "provided.")
        else:
            delay = qattrs.delay_seconds(attrs)
        group, dedup = entry.message_group_id, entry.message_deduplication_id
        if fifo:
            if not group:
                raise EngineError("MissingParameter", "The request must contain the "
                                  "parameter MessageGroupId.")
            _check_fifo_id("MessageGroupId", group)
            if dedup:
                _check_fifo_id("MessageDeduplicationId", dedup)
            elif qattrs.content_dedup(attrs):
                dedup = hashlib.sha256(body.encode()).hexdigest()
            else:
                raise EngineError("InvalidParameterValue",
                                  "The queue should either have ContentBasedDeduplication "
                                  "enabled or MessageDeduplicationId provided explicitly")
        elif dedup:
            raise _invalid("MessageDeduplicationId", dedup,
                           "The request include parameter that is not valid for this queue "
                           "type.")
        elif group:
            _check_fifo_id("MessageGroupId", group)
        stored = StoredMessage(
            message_id=time_uuid(), body=body,
            md5_of_body=mattrs.md5_of_body(body),
            md5_of_attributes=mattrs.md5_of_attributes(entry.message_attributes),
            md5_of_system_attributes=mattrs.md5_of_attributes(entry.message_system_attributes),
            group_id=group, dedup_id=dedup)
        stored.attributes.MergeFrom(entry.message_attributes)
        stored.system_attributes.MergeFrom(entry.message_system_attributes)
        return NewMessage(message=stored, delay_ns=delay * NS_PER_S)

    async def _send(self, record: QueueRecord, messages: list[NewMessage]
                    ) -> list[tuple[str, str]]:
        """(message id, sequence number) per message, once a majority stored them."""
        partition = 0 if record.partitions <= 1 else random.randrange(record.partitions)
        return await self._send_to(record, partition, messages)

    async def _send_to(self, record: QueueRecord, partition: int,
                       messages: list[NewMessage]) -> list[tuple[str, str]]:
        command = self.command()
        command.send.CopyFrom(SendCommand(
            queue=ref(record), partition=partition,
            policy=qattrs.partition_policy(record.attributes), messages=messages))
        result = await self.router.apply(self.group_of(record, partition), command)
        fifo = qattrs.is_fifo(record.attributes)
        by_entry = {o.entry_id: o for o in result.send.outcomes}
        out = []
        for m in messages:
            o = by_entry.get(m.entry_id)
            if o is None:
                raise EngineError("InternalError", "a partition lost a message of a batch")
            out.append((o.message_id, f"{o.sequence:020d}" if fifo else ""))
        return out

    # -- receive ---------------------------------------------------------------------------

    async def receive_message(self, request: pb.ReceiveMessageRequest
                              ) -> pb.ReceiveMessageResponse:
        record = await self.queue(request.queue_url, stale_ok=True)
        attrs = record.attributes
        count = request.max_number_of_messages if request.HasField(
            "max_number_of_messages") else 1
        if not 1 <= count <= MAX_RECEIVE:
            raise _invalid("MaxNumberOfMessages", count,
                           "Must be between 1 and 10, if provided.")
        visibility = request.visibility_timeout if request.HasField(
            "visibility_timeout") else qattrs.visibility_timeout(attrs)
        if not 0 <= visibility <= MAX_VISIBILITY:
            raise _invalid("VisibilityTimeout", visibility,
                           "Must be between 0 and 43200, if provided.")
        wait = request.wait_time_seconds if request.HasField(
            "wait_time_seconds") else qattrs.wait_time_seconds(attrs)
        if not 0 <= wait <= MAX_WAIT:
            raise _invalid("WaitTimeSeconds", wait, "Must be >= 0 and <= 20, if provided.")
        system = _system_names([*request.attribute_names,
                                *request.message_system_attribute_names])
        got = await self._receive(record, count, visibility * NS_PER_S, wait)
        return pb.ReceiveMessageResponse(messages=[
            self._render(record, p, m, system, request.message_attribute_names)
            for p, m in got])

    async def _receive(self, record: QueueRecord, count: int, visibility_ns: int,
                       wait: float) -> list[tuple[int, StoredMessage]]:
        parts = list(range(max(1, record.partitions)))
        if wait <= 0:
            return await self._receive_from(record, self._subset(record, parts), count,
                                            visibility_ns)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            ready = await self._wait_ready(record, max(0.0, deadline - loop.time()))
            if ready:
                async with self.receive_slots.turn(record.name) as waited:
                    if waited:  # others may have taken everything meanwhile
                        ready = await self._wait_ready(record, 0.0)
                    got = (await self._receive_from(record, ready, count, visibility_ns)
                           if ready else [])
                if got:
                    return got
            if loop.time() >= deadline:
                return []

    async def _receive_from(self, record: QueueRecord, partitions: Iterable[int],
                            count: int, visibility_ns: int
                            ) -> list[tuple[int, StoredMessage]]:
        got: list[tuple[int, StoredMessage]] = []
        policy = qattrs.partition_policy(record.attributes)
        for p in partitions:
            if len(got) >= count:
                break
            command = self.command()
            command.receive.CopyFrom(ReceiveCommand(
                queue=ref(record), partition=p, policy=policy,
                max_messages=count - len(got), visibility_ns=visibility_ns))
            result = (await self.router.apply(self.group_of(record, p), command)).receive
            if len(self.hits) > 100_000:
                self.hits.clear()
            self.hits[(record.name, p)] = len(result.messages)
            got += [(p, m) for m in result.messages]
            if result.dead_letters:
                await self._dead_letter(record, p, list(result.dead_letters))
        return got

    def _subset(self, record: QueueRecord, parts: list[int]) -> list[int]:
        """A weighted random sample of about half the partitions, SQS's short poll."""
        size = max(1, math.ceil(len(parts) / 2))
        pool = list(parts)
        weights = [1 + self.hits.get((record.name, p), 0) for p in pool]
        chosen = []
        while pool and len(chosen) < size:
            i = random.choices(range(len(pool)), weights)[0]
            chosen.append(pool.pop(i))
            weights.pop(i)
        return chosen

    async def _wait_ready(self, record: QueueRecord, timeout: float) -> list[int]:
        """Partitions with a deliverable message, asking every group at once; returns
        as soon as one group has some, or [] after ``timeout``."""
        queue = ref(record)
        groups = self.groups_of(record)
        ready = self.router.ready_here(groups, queue)  # the common case, without tasks
        if not ready:
            ready = await first_accepted(
                (self.router.wait(g, queue, parts, timeout) for g, parts in groups.items()),
                bool) or []
        random.shuffle(ready)
        return ready

    async def _dead_letter(self, record: QueueRecord, partition: int,
                           messages: list[StoredMessage]) -> None:
        """Move messages past maxReceiveCount to the dead-letter queue, then delete them
        here. Copy first: a crash in between leaves the message hidden here, to be moved
        again after its visibility timeout; the copy keeps its id, which the dead-letter
        partition (chosen by that id) uses to drop the repeat."""
        policy = qattrs.parse_redrive_policy(record.attributes.get("RedrivePolicy", ""))
        target = (None if policy is None
                  else await self.catalog.get(policy.target_name, stale_ok=True))
        if target is None:
            return  # no dead-letter queue (any more): they show again after the timeout
        try:
            for m in messages:
                copy = StoredMessage(
                    message_id=m.message_id, body=m.body, md5_of_body=m.md5_of_body,
                    md5_of_attributes=m.md5_of_attributes,
                    md5_of_system_attributes=m.md5_of_system_attributes,
                    group_id=m.group_id, dedup_id=m.dedup_id or m.message_id,
                    sent_ns=m.sent_ns, dead_letter_source=record.name)
                copy.attributes.MergeFrom(m.attributes)
                copy.system_attributes.MergeFrom(m.system_attributes)
                dest = zlib.crc32(m.message_id.encode()) % max(1, target.partitions)
                await self._send_to(target, dest, [NewMessage(entry_id=m.message_id,
                                                              message=copy)])
            await self._handles(record, partition, "delete", [
                HandleRef(entry_id=m.message_id, message_id=m.message_id,
                          receipt_seq=m.receipt_seq) for m in messages])
        except EngineError as err:
            log.warning("queue %s: dead-letter move failed, retried after the visibility "
                        "timeout: %s", record.name, err)

    def _render(self, record: QueueRecord, partition: int, m: StoredMessage,
                system: set[str], wanted: Sequence[str]) -> pb.Message:
        handle = encode(Receipt(record.name, record.incarnation, partition, m.message_id,
                                m.receipt_seq))
        shown = mattrs.select_attributes(m.attributes, wanted)
        out = pb.Message(message_id=m.message_id, receipt_handle=handle,
                         md5_of_body=m.md5_of_body, body=m.body,
                         attributes=_system_values(record, m, system))
        if shown:
            for name, value in shown.items():
                out.message_attributes[name].CopyFrom(value)
            out.md5_of_message_attributes = mattrs.md5_of_attributes(shown)
        return out

    # -- delete and visibility -------------------------------------------------------------

    async def delete_message(self, request: pb.DeleteMessageRequest
                             ) -> pb.DeleteMessageResponse:
        record = await self.queue(request.queue_url, stale_ok=True)
        receipt = _receipt(record, request.receipt_handle)
        await self._one(record, receipt, "delete", 0)
        return pb.DeleteMessageResponse()

    async def change_message_visibility(self, request: pb.ChangeMessageVisibilityRequest
                                        ) -> pb.ChangeMessageVisibilityResponse:
        record = await self.queue(request.queue_url, stale_ok=True)
        receipt = _receipt(record, request.receipt_handle)
        visibility = _visibility(request)
        await self._one(record, receipt, "change_visibility", visibility)
        return pb.ChangeMessageVisibilityResponse()

    async def delete_message_batch(self, request: pb.DeleteMessageBatchRequest
                                   ) -> pb.DeleteMessageBatchResponse:
        record = await self.queue(request.queue_url, stale_ok=True)
        check_entry_ids([e.id for e in request.entries],
                        entry="DeleteMessageBatchRequestEntry")
        ok, failed = await self._batch(record, "delete", request.entries)
        return pb.DeleteMessageBatchResponse(
            successful=[pb.DeleteMessageBatchResultEntry(id=i) for i in ok], failed=failed)

    async def change_message_visibility_batch(
        self, request: pb.ChangeMessageVisibilityBatchRequest
    ) -> pb.ChangeMessageVisibilityBatchResponse:
        record = await self.queue(request.queue_url, stale_ok=True)
        check_entry_ids([e.id for e in request.entries],
                        entry="ChangeMessageVisibilityBatchRequestEntry")
        ok, failed = await self._batch(record, "change_visibility", request.entries)
        return pb.ChangeMessageVisibilityBatchResponse(
            successful=[pb.ChangeMessageVisibilityBatchResultEntry(id=i) for i in ok],
            failed=failed)

    async def _one(self, record: QueueRecord, receipt: Receipt, op: str,
                   visibility: int) -> None:
        (outcome,) = await self._handles(record, receipt.partition, op, [HandleRef(
            entry_id="0", message_id=receipt.message_id, receipt_seq=receipt.receipt_seq,
            visibility_ns=visibility * NS_PER_S)])
        if outcome[1]:
            raise _handle_error(outcome[1], "")

    async def _batch(self, record: QueueRecord, op: str,
                     entries: Sequence[pb.DeleteMessageBatchRequestEntry
                                       | pb.ChangeMessageVisibilityBatchRequestEntry]
                     ) -> tuple[list[str], list[pb.BatchResultErrorEntry]]:
        by_partition: dict[int, list[HandleRef]] = {}
        failed = []
        for e in entries:
            try:
                receipt = _receipt(record, e.receipt_handle)
                visibility = _visibility(e) if op == "change_visibility" else 0
            except EngineError as err:
                failed.append(_failure(e.id, err))
                continue
            by_partition.setdefault(receipt.partition, []).append(HandleRef(
                entry_id=e.id, message_id=receipt.message_id,
                receipt_seq=receipt.receipt_seq, visibility_ns=visibility * NS_PER_S))
        results = await asyncio.gather(*(self._handles(record, p, op, handles)
                                         for p, handles in by_partition.items()))
        ok = []
        for entry_id, code in (o for r in results for o in r):
            if code:
                failed.append(_failure(entry_id, _handle_error(code, "")))
            else:
                ok.append(entry_id)
        order = {e.id: i for i, e in enumerate(entries)}
        ok.sort(key=order.__getitem__)
        failed.sort(key=lambda f: order[f.id])
        return ok, failed

    async def _handles(self, record: QueueRecord, partition: int, op: str,
                       handles: list[HandleRef]) -> list[tuple[str, str]]:
        """(entry id, error code or "") per handle, in order."""
        if partition >= max(1, record.partitions):
            return [(h.entry_id, "ReceiptHandleIsInvalid") for h in handles]
        command: PartitionCommand = self.command()
        getattr(command, op).CopyFrom(HandleCommand(queue=ref(record), partition=partition,
                                                    handles=handles))
        result = await self.router.apply(self.group_of(record, partition), command)
        codes = {o.entry_id: o.error_code for o in result.handles.outcomes}
        return [(h.entry_id, codes.get(h.entry_id, "ReceiptHandleIsInvalid"))
                for h in handles]

    def clock_moved(self) -> None:
        """The engine clock jumped (tests): long polls re-check what became visible."""
        for host in self.router.hosts.values():
            host.wake_all()


# -- helpers -------------------------------------------------------------------------------


def _invalid(parameter: str, value: object, reason: str) -> EngineError:
    return EngineError("InvalidParameterValue",
                       f"Value {value} for parameter {parameter} is invalid. Reason: {reason}")


def _check_fifo_id(parameter: str, value: str) -> None:
    if not _FIFO_ID.match(value):
        raise _invalid(parameter, value, f"{parameter} can only include alphanumeric and "
                       "punctuation characters. 1 to 128 in length.")


def _receipt(record: QueueRecord, handle: str) -> Receipt:
    receipt = decode(handle, record.name)
    if receipt.incarnation != record.incarnation:
        raise _handle_error("ReceiptHandleIsInvalid", handle)
    return receipt


def _visibility(entry: pb.ChangeMessageVisibilityRequest
                | pb.ChangeMessageVisibilityBatchRequestEntry) -> int:
    if not entry.HasField("visibility_timeout"):
        raise EngineError("MissingParameter",
                          "The request must contain the parameter VisibilityTimeout.")
    value = entry.visibility_timeout
    if not 0 <= value <= MAX_VISIBILITY:
        raise _invalid("VisibilityTimeout", value, "must be between 0 and 43200.")
    return value


def _handle_error(code: str, handle: str) -> EngineError:
    if code == "ReceiptHandleIsInvalid":
        return EngineError(code, f'The input receipt handle "{handle}" is not a valid '
                           "receipt handle." if handle else "The receipt handle is not "
                           "valid for this queue.")
    if code == "AWS.SimpleQueueService.MessageNotInflight":
        return EngineError(code, "The message referred to isn't in flight.")
    if code == "InvalidParameterValue":
        return EngineError(code, "Value for parameter VisibilityTimeout is invalid. Reason: "
                           "the total visibility timeout may not exceed 12 hours.")
    return EngineError(code)


def _failure(entry_id: str, err: EngineError) -> pb.BatchResultErrorEntry:
    return pb.BatchResultErrorEntry(id=entry_id, code=err.code, message=err.message,
                                    sender_fault=err.http_status < 500)


def _system_names(names: Iterable[str]) -> set[str]:
    wanted = set(names)
    if "All" in wanted:
        return set(SYSTEM_ATTRIBUTES)
    unknown = sorted(wanted - set(SYSTEM_ATTRIBUTES))
    if unknown:
        raise EngineError("InvalidAttributeName", f"Unknown Attribute {unknown[0]}.")
    return wanted


def _system_values(record: QueueRecord, m: StoredMessage, names: set[str]) -> dict[str, str]:
    fifo = qattrs.is_fifo(record.attributes)
    values = {
        "SenderId": SENDER_ID,
        "SentTimestamp": str(m.sent_ns // 1_000_000),
        "ApproximateReceiveCount": str(m.receive_count),
        "ApproximateFirstReceiveTimestamp": str(m.first_receive_ns // 1_000_000),
        "SqsManagedSseEnabled": record.attributes.get("SqsManagedSseEnabled", "false"),
    }
    if m.dead_letter_source:
        values["DeadLetterQueueSourceArn"] = queue_arn(m.dead_letter_source)
    trace = m.system_attributes.get("AWSTraceHeader")
    if trace is not None:
        values["AWSTraceHeader"] = trace.string_value
    if fifo:
        values.update(MessageGroupId=m.group_id, MessageDeduplicationId=m.dedup_id,
                      SequenceNumber=f"{m.sequence:020d}")
    elif m.group_id:
        values["MessageGroupId"] = m.group_id
    return {k: v for k, v in values.items() if k in names}

