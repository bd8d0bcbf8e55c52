"""The events one object change raises: matched against the bucket's configuration and
written as outbox records, ready to commit with the change.

Built by the coordinator before it commits, so the record carries everything delivery
needs (the finished message and its queue); a bucket without a configuration costs one
field test.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from engine.objects.notifications import origin as origins
from engine.objects.notifications.records import (
    encoded_key,
    event_record,
    message_body,
    sequencer,
)
from engine.objects.notifications.rules import matching
from engine.observability import request_id
from engine.v1.records_pb2 import BucketRecord, EventRecord, ObjectVersion


@dataclass(frozen=True)
class Change:
    """What happened to which key. ``version``: the version written (created events,
    restores, tags, transitions) or the marker made; None for a removal without one."""

    name: str  # "ObjectCreated:Put", without "s3:"
    key: str
    version: ObjectVersion | None = None
    version_id: str = ""  # the version removed (ObjectRemoved:Delete with an id)
    sequencer_ns: int = 0  # 0: the version's mtime, else the change's time
    due_ns: int = 0  # 0: deliver at once
    restore_expiry_ns: int = 0
    extra: dict[str, Any] | None = None  # glacierEventData, lifecycleEventData


def _object(record: BucketRecord, change: Change, seq_ns: int) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": encoded_key(change.key)}
    version = change.version
    removed = change.name.startswith(("ObjectRemoved:", "LifecycleExpiration:"))
    if version is not None and not version.delete_marker and not removed:
        obj["size"] = version.size
        obj["eTag"] = version.etag
    version_id = version.version_id if version is not None else change.version_id
    if record.versioning and version_id:
        obj["versionId"] = version_id
    obj["sequencer"] = sequencer(seq_ns)
    return obj


def events_for(record: BucketRecord, change: Change, *, now_ns: int, region: str,
               owner: str) -> list[EventRecord]:
    """One outbox record per matching configuration (S3's overlap rule makes that at
    most one per destination type); none when nothing matches."""
    config = record.notification
    if not config.queues:
        return []
    rules = matching(config, change.name, change.key)
    if not rules:
        return []
    seq_ns = change.sequencer_ns or (change.version.mtime_ns if change.version else now_ns)
    obj = _object(record, change, seq_ns)
    who = origins.LIFECYCLE if change.name.startswith("Lifecycle") else origins.current()
    rid = request_id.current() or secrets.token_hex(8).upper()
    version_id = change.version.version_id if change.version else change.version_id
    out = []
    for rule in rules:
        body = message_body(event_record(
            region=record.region or region, now_ns=change.due_ns or now_ns,
            event_name=change.name, origin=who, request_id=rid, configuration_id=rule.id,
            bucket=record.name, owner=owner, obj=obj, extra=change.extra))
        out.append(EventRecord(
            id=f"{now_ns:016x}{secrets.token_hex(8)}", bucket=record.name, key=change.key,
            queue_arn=rule.queue_arn, body=body, due_ns=change.due_ns or now_ns,
            created_ns=now_ns, restore_expiry_ns=change.restore_expiry_ns,
            version_id=version_id))
    return out
