"""Checks every SQS batch call (SendMessageBatch, DeleteMessageBatch,
ChangeMessageVisibilityBatch) makes on the request as a whole before any entry runs."""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.errors import EngineError

MAX_ENTRIES = 10
_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


def check_entry_ids(ids: Sequence[str], *, entry: str = "SendMessageBatchRequestEntry") -> None:
    """1-10 entries whose ids are 1-80 of ``[A-Za-z0-9_-]`` and distinct. ``entry`` is the
    request's entry type, which SQS names when a batch is empty."""
    if not ids:
        raise EngineError(
            "AWS.SimpleQueueService.EmptyBatchRequest",
            f"There should be at least one {entry} in the request.",
        )
    if len(ids) > MAX_ENTRIES:
        raise EngineError(
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {MAX_ENTRIES}. "
            f"You have sent {len(ids)}.",
        )
    seen: set[str] = set()
    for entry_id in ids:
        if not _ENTRY_ID.fullmatch(entry_id):
            raise EngineError(
                "AWS.SimpleQueueService.InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long.",
            )
        if entry_id in seen:
            raise EngineError(
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", f"Id {entry_id} repeated."
            )
        seen.add(entry_id)


def check_batch_size(total_bytes: int, limit: int) -> None:
    """A SendMessageBatch's messages together (bodies and attributes) may not exceed the
    queue's MaximumMessageSize."""
    if total_bytes > limit:
        raise EngineError(
            "AWS.SimpleQueueService.BatchRequestTooLong",
            f"Batch requests cannot be longer than {limit} bytes. "
            f"You have sent {total_bytes} bytes.",
        )
