"""What a notification configuration may contain, and which of its rules an event meets.

S3 validates a PutBucketNotificationConfiguration document as a whole before it stores
it, and answers every mistake with ``InvalidArgument`` (the element and its value in
ArgumentName / ArgumentValue): an event it does not know, a filter rule that is not a
prefix or suffix (or names one twice), a value over 1024 bytes, a destination ARN that is
not an SQS queue's, an Id used twice or longer than 255 characters, and two rules that
could both fire for one event on one key (AWS's "overlap": a shared event type, where a
family wildcard covers its members, with prefixes of which one starts the other and
suffixes of which one ends the other; none counts as ""). Two unfiltered rules sharing
an event get S3's "Configurations overlap" message, filtered ones its "ambiguously
defined" message, as S3 words them.

Both endpoints (REST and gRPC) call :func:`check_configuration`; :func:`key_filter`
turns the REST document's FilterRule list into the record's prefix and suffix.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterable

from engine.errors import EngineError
from engine.v1.records_pb2 import NotificationConfigurationRecord, QueueNotificationRecord

# Every event this engine reports, by family; a family's "s3:<Family>:*" covers them.
FAMILIES: dict[str, tuple[str, ...]] = {
    "ObjectCreated": ("Put", "Post", "Copy", "CompleteMultipartUpload"),
    "ObjectRemoved": ("Delete", "DeleteMarkerCreated"),
    "ObjectRestore": ("Post", "Completed", "Delete"),
    "LifecycleExpiration": ("Delete", "DeleteMarkerCreated"),
    "ObjectTagging": ("Put", "Delete"),
}
SINGLE_EVENTS = ("s3:LifecycleTransition",)  # no members, no wildcard

# Each accepted event name -> the concrete events it stands for.
_COVERS: dict[str, frozenset[str]] = {
    **{f"s3:{family}:{member}": frozenset({f"s3:{family}:{member}"})
       for family, members in FAMILIES.items() for member in members},
    **{f"s3:{family}:*": frozenset(f"s3:{family}:{member}" for member in members)
       for family, members in FAMILIES.items()},
    **{event: frozenset({event}) for event in SINGLE_EVENTS},
}
SUPPORTED_EVENTS: tuple[str, ...] = tuple(_COVERS)

# Events S3 has that this engine never reports: refused by name, so the user learns the
# engine lacks them rather than that they are misspelt.
_UNSUPPORTED_FAMILIES = ("s3:Replication:", "s3:IntelligentTiering", "s3:ObjectAcl:",
                         "s3:ReducedRedundancyLostObject", "s3:TestEvent")

MAX_ID_LENGTH = 255
MAX_FILTER_VALUE_BYTES = 1024
MAX_CONFIGURATIONS = 100  # bounds a document (and the pairwise overlap check)

_QUEUE_ARN = re.compile(r"arn:aws[A-Za-z-]*:sqs:[A-Za-z0-9-]+:[0-9]{12}:([A-Za-z0-9_-]{1,80}"
                        r"(?:\.fifo)?)")

OVERLAP = "Configurations overlap. Configurations on the same bucket cannot share a common " \
    "event type."
AMBIGUOUS = "Configuration is ambiguously defined. Cannot have overlapping suffixes in two " \
    "rules if the prefixes are overlapping for the same event type."
BAD_FILTER_NAME = "filter rule name must be either prefix or suffix"


def _invalid(message: str, name: str, value: str) -> EngineError:
    return EngineError("InvalidArgument", message, ArgumentName=name, ArgumentValue=value)


def key_filter(rules: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """(prefix, suffix) of a filter's (Name, Value) rules: names in any case, as S3
    takes "prefix" and "Prefix" alike; at most one of each."""
    found: dict[str, str] = {}
    for name, value in rules:
        kind = name.lower()
        if kind not in ("prefix", "suffix"):
            raise _invalid(BAD_FILTER_NAME, "FilterRule.Name", name)
        if kind in found:
            raise _invalid(f"Cannot specify more than one {kind} rule in a filter.",
                           "FilterRule.Name", name)
        found[kind] = value
    return found.get("prefix", ""), found.get("suffix", "")


def _check_event(event: str) -> None:
    if event in _COVERS:
        return
    if event.startswith(_UNSUPPORTED_FAMILIES):
        raise _invalid(f"The event {event} is not supported for notifications by this "
                       "server; supported: " + ", ".join(SUPPORTED_EVENTS), "Event", event)
    raise _invalid("The event is not supported for notifications", "Event", event)


def _check_queue(arn: str) -> None:
    match = _QUEUE_ARN.fullmatch(arn)
    if match is None:
        raise _invalid("The ARN is not well formed", "Queue", arn)
    if match.group(1).endswith(".fifo"):
        raise _invalid("FIFO SQS queues are not supported.", "Queue", arn)


def _check_filter_value(kind: str, value: str) -> None:
    if len(value.encode("utf-8", "surrogatepass")) > MAX_FILTER_VALUE_BYTES:
        raise _invalid("Size of filter rule value cannot exceed 1024 bytes in UTF-8 "
                       "representation", f"FilterRule.Value ({kind})", value)


def new_id() -> str:
    """An opaque Id for a rule given none: as S3's, base64 of a random UUID's text."""
    return base64.b64encode(str(uuid.uuid4()).encode()).decode()


def _covered(rule: QueueNotificationRecord) -> frozenset[str]:
    return frozenset().union(*(_COVERS[e] for e in rule.events))


def _overlaps(a: QueueNotificationRecord, b: QueueNotificationRecord) -> bool:
    """Whether one key can meet both rules' filters."""
    return (a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)) and \
        (a.suffix.endswith(b.suffix) or b.suffix.endswith(a.suffix))


def _check_overlap(rules: list[QueueNotificationRecord]) -> None:
    covered = [_covered(rule) for rule in rules]
    for i, rule in enumerate(rules):
        for j in range(i):
            shared = covered[i] & covered[j]
            if not shared or not _overlaps(rule, rules[j]):
                continue
            event = next(e for e in rule.events if _COVERS[e] & shared)
            unfiltered = not (rule.prefix or rule.suffix or rules[j].prefix
                              or rules[j].suffix)
            raise _invalid(OVERLAP if unfiltered else AMBIGUOUS, "Event", event)


def check_configuration(config: NotificationConfigurationRecord
                        ) -> NotificationConfigurationRecord:
    """The configuration as stored: validated, with an Id on every rule (a new copy;
    ``config`` is left as given). No rules at all is valid: it turns notifications off."""
    if len(config.queues) > MAX_CONFIGURATIONS:
        raise EngineError("InvalidRequest", "Too many configurations submitted. The maximum "
                          f"number of configurations is {MAX_CONFIGURATIONS}")
    out = NotificationConfigurationRecord()
    seen: set[str] = set()
    for given in config.queues:
        rule = out.queues.add()
        rule.CopyFrom(given)
        if len(rule.id) > MAX_ID_LENGTH:
            raise _invalid(f"ID length exceeded allowed limit of {MAX_ID_LENGTH}", "Id",
                           rule.id)
        if not rule.id:
            rule.id = new_id()
        if rule.id in seen:
            raise _invalid("Same ID used for multiple configurations. IDs must be unique.",
                           "Id", rule.id)
        seen.add(rule.id)
        _check_queue(rule.queue_arn)
        if not rule.events:
            raise _invalid("At least one event must be specified for a configuration",
                           "Event", "")
        for event in rule.events:
            _check_event(event)
        _check_filter_value("prefix", rule.prefix)
        _check_filter_value("suffix", rule.suffix)
    _check_overlap(list(out.queues))
    return out


def matching(config: NotificationConfigurationRecord, event_name: str, key: str
             ) -> list[QueueNotificationRecord]:
    """The rules an event ("ObjectCreated:Put", without "s3:") on ``key`` meets: its
    exact name or its family's wildcard, and the key within the rule's filter. Runs on
    every write to a bucket with a configuration, so it only compares strings."""
    exact = "s3:" + event_name
    family, colon, _ = event_name.partition(":")
    wildcard = f"s3:{family}:*" if colon else exact
    out = []
    for rule in config.queues:
        if not (key.startswith(rule.prefix) and key.endswith(rule.suffix)):
            continue
        if any(event in (exact, wildcard) for event in rule.events):
            out.append(rule)
    return out
