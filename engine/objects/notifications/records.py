"""Event records as S3 writes them (eventVersion 2.1), and the message that carries them.

Pinned against AWS's documented example in tests/unit/test_notification_records.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from engine.objects.notifications.origin import EventOrigin


def event_time(now_ns: int) -> str:
    """ISO 8601 with milliseconds and Z, as S3's eventTime."""
    moment = datetime.fromtimestamp(now_ns / 1e9, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def host_id() -> str:
    """An x-amz-id-2-like value for HostId (S3's is opaque)."""
    return base64.b64encode(hashlib.sha256(b"engine").digest()).decode()


def encoded_key(key: str) -> str:
    """The key as S3 puts it in a record: form-encoded (a space is "+", a "+" is "%2B"),
    "/" left as is."""
    return quote_plus(key, safe="/")


def sequencer(ns: int) -> str:
    """Orders events on one key: later changes have greater values (compare as S3 says:
    right-align the hex strings, then compare)."""
    return f"{ns:018X}"


def event_record(*, region: str, now_ns: int, event_name: str, origin: EventOrigin,
                 request_id: str, configuration_id: str, bucket: str, owner: str,
                 obj: dict[str, Any], extra: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """One entry of "Records" (eventVersion 2.1)."""
    record: dict[str, Any] = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": event_time(now_ns),
        "eventName": event_name,
        "userIdentity": {"principalId": origin.principal_id},
        "requestParameters": {"sourceIPAddress": origin.source_ip},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": host_id()},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": owner},
                       "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }
    if extra:
        record.update(extra)
    return record


def message_body(record: dict[str, Any]) -> str:
    return json.dumps({"Records": [record]}, separators=(",", ":"))
