"""GLACIER restores: when an archived version may be read, and what HEAD says about it.

A restore is three instants on the engine clock, stored with the version (requested,
ready, expiry), so whether it is done or expired is computed, not driven by a timer.
Tier delays are S3's typical retrieval times, measured in lifecycle days like
everything else, so `--day-seconds` speeds them up with the rest.
"""

from __future__ import annotations

from email.utils import formatdate

from engine.errors import EngineError
from engine.v1.records_pb2 import ObjectVersion, RestoreState

ARCHIVE = "GLACIER"
TIER_SECONDS = {"Expedited": 300, "Standard": 4 * 3600, "Bulk": 12 * 3600}
DAY = 86400


def readable(version: ObjectVersion, now_ns: int) -> bool:
    if version.storage_class != ARCHIVE:
        return True
    r = version.restore
    return version.HasField("restore") and r.ready_ns <= now_ns < r.expiry_ns


def check_readable(version: ObjectVersion, now_ns: int) -> None:
    if not readable(version, now_ns):
        raise EngineError("InvalidObjectState", StorageClass=version.storage_class)


def header(version: ObjectVersion, now_ns: int) -> str:
    """The x-amz-restore value ("" when never restored or the copy expired)."""
    if not version.HasField("restore"):
        return ""
    r = version.restore
    if now_ns < r.ready_ns:
        return 'ongoing-request="true"'
    if now_ns < r.expiry_ns:
        expiry = formatdate(r.expiry_ns / 1e9, usegmt=True)
        return f'ongoing-request="false", expiry-date="{expiry}"'
    return ""


def plan(version: ObjectVersion, days: int | None, tier: str, now_ns: int, day_ns: int
         ) -> tuple[RestoreState, bool]:
    """The version's new restore state, and whether it was already restored (S3's 200)."""
    if version.storage_class != ARCHIVE:
        raise EngineError("ObjectAlreadyInActiveTierError", StorageClass=version.storage_class
                          or "STANDARD")
    if days is None:
        raise EngineError("MalformedXML", "RestoreRequest must specify Days")
    if days < 1:
        raise EngineError("InvalidArgument", "Days must be a positive integer",
                          ArgumentName="Days")
    tier = tier or "Standard"
    if tier not in TIER_SECONDS:
        raise EngineError("MalformedXML", f"Unknown restore tier {tier!r}")
    current = version.restore if version.HasField("restore") else None
    if current is not None and now_ns < current.ready_ns:
        raise EngineError("RestoreAlreadyInProgress")
    if current is not None and now_ns < current.expiry_ns:
        extended = RestoreState()
        extended.CopyFrom(current)
        extended.days = days
        extended.expiry_ns = now_ns + days * day_ns
        return extended, True
    ready = now_ns + TIER_SECONDS[tier] * day_ns // DAY
    return RestoreState(requested_ns=now_ns, ready_ns=ready, expiry_ns=ready + days * day_ns,
                        days=days, tier=tier), False
