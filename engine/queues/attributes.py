"""SQS queue attributes: which exist, their limits and defaults, and how they are stored.

Attributes travel and are stored as SQS sends them, name -> string. Values are
normalized on the way in (integers without leading zeros, lower-case booleans, the
redrive policies as compact JSON) so that comparing a CreateQueue request with an
existing queue, or a stored value with a GetQueueAttributes answer, is string equality.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import EngineError
from engine.iam.policy import QUEUE, parse_policy
from engine.queues import names
from engine.v1 import queue_records_pb2

NS_PER_S = 1_000_000_000

# name -> (minimum, maximum), inclusive; seconds or bytes as SQS documents them
INT_LIMITS: dict[str, tuple[int, int]] = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
DEFAULTS: dict[str, str] = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
}
FIFO_DEFAULTS: dict[str, str] = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
KMS_REUSE_DEFAULT = "300"
_CHOICES: dict[str, frozenset[str]] = {
    "DeduplicationScope": frozenset({"messageGroup", "queue"}),
    "FifoThroughputLimit": frozenset({"perQueue", "perMessageGroupId"}),
}
_BOOLEANS = frozenset({"FifoQueue", "ContentBasedDeduplication", "SqsManagedSseEnabled"})
# Empty text removes these (SetQueueAttributes RedrivePolicy="" detaches the DLQ).
_REMOVABLE = frozenset({"RedrivePolicy", "RedriveAllowPolicy", "Policy", "KmsMasterKeyId"})
FIFO_ONLY = frozenset(FIFO_DEFAULTS)
SETTABLE: tuple[str, ...] = (
    *DEFAULTS,
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "Policy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    *FIFO_DEFAULTS,
)
READ_ONLY: tuple[str, ...] = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)
REDRIVE_PERMISSIONS = frozenset({"allowAll", "denyAll", "byQueue"})
MAX_SOURCE_QUEUE_ARNS = 10
MAX_RECEIVE_COUNT = 1000

_INTEGER = re.compile(r"-?[0-9]+")


def _unknown(name: str) -> EngineError:
    return EngineError("InvalidAttributeName", f"Unknown Attribute {name}.", AttributeName=name)


def _bad_value(name: str, reason: str = "") -> EngineError:
    text = f"Invalid value for the parameter {name}." + (f" Reason: {reason}" if reason else "")
    return EngineError("InvalidAttributeValue", text, AttributeName=name)


def _bad_policy(name: str, text: str, reason: str) -> EngineError:
    return EngineError(
        "InvalidParameterValue",
        f"Value {text} for parameter {name} is invalid. Reason: {reason}",
        AttributeName=name,
    )


# -- redrive policies --------------------------------------------------------------------


@dataclass(frozen=True)
class RedrivePolicy:
    """Where messages go after ``max_receive_count`` receives."""

    target_arn: str
    max_receive_count: int

    @property
    def target_name(self) -> str | None:
        """The dead-letter queue's name, or None if the ARN is not one of ours."""
        return names.name_from_arn(self.target_arn)

    def to_json(self) -> str:
        return json.dumps(
            {"deadLetterTargetArn": self.target_arn, "maxReceiveCount": self.max_receive_count},
            separators=(",", ":"),
        )


_ALLOW_POLICY_FORMAT = (
    "Amazon SQS can't create the redrive allow policy, as it\u2019s in an unsupported format."
)


def _json_map(name: str, text: str, reason: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise _bad_value(name, reason)
    return value


def _receive_count(raw: object) -> int | None:
    """maxReceiveCount arrives as a JSON number or a numeric string (both are common)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and _INTEGER.fullmatch(raw):
        return int(raw)
    return None


def parse_redrive_policy(text: str | None) -> RedrivePolicy | None:
    """The policy in a RedrivePolicy value, or None for none. Only the syntax is checked
    here; the service checks that the target exists and is of the same queue type."""
    if not text:
        return None
    policy = _json_map("RedrivePolicy", text, "Redrive policy is not a valid JSON map.")
    for key in ("maxReceiveCount", "deadLetterTargetArn"):
        if key not in policy:
            raise _bad_policy(
                "RedrivePolicy", text,
                f"Redrive policy does not contain mandatory attribute: {key}.",
            )
    if len(policy) > 2:
        raise _bad_policy(
            "RedrivePolicy", text,
            "Only following attributes are supported: [maxReceiveCount, deadLetterTargetArn].",
        )
    count = _receive_count(policy["maxReceiveCount"])
    if count is None or not 1 <= count <= MAX_RECEIVE_COUNT:
        raise _bad_policy(
            "RedrivePolicy", text,
            f"Invalid value for maxReceiveCount: {policy['maxReceiveCount']}, valid values "
            f"are from 1 to {MAX_RECEIVE_COUNT} both inclusive.",
        )
    arn = policy["deadLetterTargetArn"]
    if not isinstance(arn, str) or not names.is_queue_arn(arn):
        raise _bad_policy("RedrivePolicy", text, "Invalid value for deadLetterTargetArn.")
    return RedrivePolicy(arn, count)


def _allow_policy(text: str) -> tuple[str, list[str]]:
    """(redrivePermission, sourceQueueArns) of a valid RedriveAllowPolicy."""
    policy = _json_map("RedriveAllowPolicy", text, _ALLOW_POLICY_FORMAT)
    permission = policy.get("redrivePermission")
    arns = policy.get("sourceQueueArns")
    unsupported = (
        permission not in REDRIVE_PERMISSIONS
        or set(policy) - {"redrivePermission", "sourceQueueArns"}
        or (arns is not None
            and (not isinstance(arns, list) or not all(isinstance(a, str) for a in arns)))
    )
    if unsupported:
        raise _bad_value("RedriveAllowPolicy", _ALLOW_POLICY_FORMAT)
    cannot = "Amazon SQS can't create the redrive allow policy."
    if permission != "byQueue":
        if arns is not None:
            raise _bad_policy(
                "RedriveAllowPolicy", text,
                f"{cannot} To specify one or more source queue ARNs, you must set "
                "redrivePermission to byQueue.",
            )
        return str(permission), []
    if not arns:
        raise _bad_policy(
            "RedriveAllowPolicy", text,
            f"{cannot} When you specify the byQueue permission type, you must also specify "
            "one or more sourceQueueArns values.",
        )
    if len(arns) > MAX_SOURCE_QUEUE_ARNS:
        raise _bad_policy(
            "RedriveAllowPolicy", text,
            f"{cannot} The maximum number of source queue ARNs you can specify is "
            f"{MAX_SOURCE_QUEUE_ARNS}.",
        )
    return permission, list(arns)


def redrive_allowed(allow_policy_text: str | None, source_arn: str) -> bool:
    """Whether a queue whose RedriveAllowPolicy is ``allow_policy_text`` accepts dead
    letters from ``source_arn``; without a policy every queue may (allowAll)."""
    if not allow_policy_text:
        return True
    permission, arns = _allow_policy(allow_policy_text)
    if permission == "byQueue":
        return source_arn in arns
    return permission == "allowAll"


# -- single values -----------------------------------------------------------------------


def _normalized(name: str, value: str) -> str | None:
    """The stored form of one value; None means "remove the attribute"."""
    if name in INT_LIMITS:
        low, high = INT_LIMITS[name]
        if not _INTEGER.fullmatch(value) or not low <= int(value) <= high:
            raise _bad_value(name)
        return str(int(value))
    if name in _BOOLEANS:
        if value.lower() not in ("true", "false"):
            raise _bad_value(name)
        return value.lower()
    if name in _CHOICES:
        if value not in _CHOICES[name]:
            raise _bad_value(name)
        return value
    if not value and name in _REMOVABLE:
        return None
    if name == "RedrivePolicy":
        policy = parse_redrive_policy(value)
        return policy.to_json() if policy else None
    if name == "RedriveAllowPolicy":
        permission, arns = _allow_policy(value)
        body: dict[str, Any] = {"redrivePermission": permission}
        if arns:
            body["sourceQueueArns"] = arns
        return json.dumps(body, separators=(",", ":"))
    if name == "Policy":
        # Validated as SQS does (8,192 bytes, 20 statements, known sqs: actions,
        # Principal required): InvalidAttributeValue, the reason in the error's details.
        try:
            parse_policy(value, QUEUE)
        except EngineError as err:
            raise EngineError(err.code, err.message, AttributeName=name, **err.details) from None
    return value


def _check_names(given: Iterable[str], fifo: bool, *, creating: bool) -> None:
    """Unknown and read-only names are InvalidAttributeName, as are FIFO attributes on a
    standard queue (FifoQueue=false excepted at creation, where SQS documents "false" as
    a valid value) and FifoQueue after creation."""
    for name in given:
        if name not in SETTABLE or (name == "FifoQueue" and not creating):
            raise _unknown(name)
        if fifo or name not in FIFO_ONLY or (name == "FifoQueue" and creating):
            continue
        if name in ("DeduplicationScope", "FifoThroughputLimit"):
            raise EngineError(
                "InvalidAttributeName",
                f"You can specify the {name} only when FifoQueue is set to true.",
                AttributeName=name,
            )
        raise _unknown(name)


def _apply(stored: dict[str, str], changes: Mapping[str, str]) -> dict[str, str]:
    """Stored attributes after ``changes``, keeping server-side encryption consistent:
    KMS (KmsMasterKeyId) and SQS-managed SSE exclude each other."""
    for name, value in changes.items():
        normalized = _normalized(name, value)
        if normalized is None:
            stored.pop(name, None)
        else:
            stored[name] = normalized
    kms_given = bool(changes.get("KmsMasterKeyId"))
    sse_given = stored.get("SqsManagedSseEnabled") == "true" and "SqsManagedSseEnabled" in changes
    if kms_given and sse_given:
        raise EngineError(
            "InvalidAttributeName",
            "You can use one type of server-side encryption (SSE) at one time. You can "
            "either enable KMS SSE or SQS SSE.",
            AttributeName="SqsManagedSseEnabled",
        )
    if kms_given:
        stored["SqsManagedSseEnabled"] = "false"
        stored.setdefault("KmsDataKeyReusePeriodSeconds", KMS_REUSE_DEFAULT)
    elif sse_given:
        stored.pop("KmsMasterKeyId", None)
        stored.pop("KmsDataKeyReusePeriodSeconds", None)
    stored.setdefault("SqsManagedSseEnabled", "false" if "KmsMasterKeyId" in stored else "true")
    return stored


# -- whole maps --------------------------------------------------------------------------


def create_attributes(name: str, given: Mapping[str, str]) -> dict[str, str]:
    """The stored attributes of a new queue: ``given`` validated and normalized, defaults
    filled in. FIFO attributes are present only on FIFO queues."""
    _check_names(given, fifo=True, creating=True)
    fifo = "FifoQueue" in given and _normalized("FifoQueue", given["FifoQueue"]) == "true"
    names.validate_queue_name(name, fifo)
    _check_names(given, fifo=fifo, creating=True)
    stored = {**DEFAULTS, **(FIFO_DEFAULTS if fifo else {})}
    changes = {k: v for k, v in given.items() if k != "FifoQueue" or fifo}
    return _apply(stored, changes)


def updated_attributes(current: Mapping[str, str], changes: Mapping[str, str]) -> dict[str, str]:
    """The stored attributes after SetQueueAttributes; ``current`` is left untouched."""
    _check_names(changes, fifo=is_fifo(current), creating=False)
    return _apply(dict(current), changes)


def mismatched_attribute(
    existing: Mapping[str, str], given_normalized: Mapping[str, str], given_names: Iterable[str]
) -> str | None:
    """The first attribute the caller gave whose value differs from the queue's (for
    QueueAlreadyExists' message), or None."""
    for name in given_names:
        if given_normalized.get(name) != existing.get(name):
            return name
    return None


def matches(
    existing: Mapping[str, str], given_normalized: Mapping[str, str], given_names: Iterable[str]
) -> bool:
    """Whether CreateQueue for an existing name is idempotent.

    Only the attributes the caller gave are compared; attributes left out need not equal
    their defaults. SQS's API reference says CreateQueue fails "only if the request
    includes attributes whose values differ from those of the existing queue", and
    recorded AWS behaviour agrees: a queue created with DelaySeconds=1 is returned again
    by a CreateQueue without attributes. ``given_normalized`` is ``create_attributes`` of
    the request, so "TRUE" equals "true" and "010" equals "10".
    """
    return mismatched_attribute(existing, given_normalized, given_names) is None


def selected_names(requested: Iterable[str], fifo: bool) -> list[str]:
    """The attributes GetQueueAttributes answers with, in request order: "All" is every
    attribute of the queue's kind, read-only ones included. The service leaves out the
    ones a queue does not have (no RedrivePolicy, say)."""
    available = [n for n in (*SETTABLE, *READ_ONLY) if fifo or n not in FIFO_ONLY]
    out: list[str] = []
    for name in requested:
        if name == "All":
            chosen = available
        elif name in available:
            chosen = [name]
        else:
            raise _unknown(name)
        out.extend(n for n in chosen if n not in out)  # "All" twice, or "All" and a name
    return out


def partition_policy(attributes: Mapping[str, str]) -> queue_records_pb2.PartitionPolicy:
    """What a partition must know to apply commands: kind, retention, dead-letter limit."""
    redrive = parse_redrive_policy(attributes.get("RedrivePolicy"))
    return queue_records_pb2.PartitionPolicy(
        fifo=is_fifo(attributes),
        retention_ns=_int(attributes, "MessageRetentionPeriod") * NS_PER_S,
        max_receive_count=redrive.max_receive_count if redrive else 0,
    )


# -- typed accessors ---------------------------------------------------------------------


def _int(attributes: Mapping[str, str], name: str) -> int:
    return int(attributes.get(name, DEFAULTS[name]))


def visibility_timeout(attributes: Mapping[str, str]) -> int:
    return _int(attributes, "VisibilityTimeout")


def delay_seconds(attributes: Mapping[str, str]) -> int:
    return _int(attributes, "DelaySeconds")


def max_message_size(attributes: Mapping[str, str]) -> int:
    return _int(attributes, "MaximumMessageSize")


def retention_seconds(attributes: Mapping[str, str]) -> int:
    return _int(attributes, "MessageRetentionPeriod")


def wait_time_seconds(attributes: Mapping[str, str]) -> int:
    return _int(attributes, "ReceiveMessageWaitTimeSeconds")


def is_fifo(attributes: Mapping[str, str]) -> bool:
    return attributes.get("FifoQueue") == "true"


def content_dedup(attributes: Mapping[str, str]) -> bool:
    return attributes.get("ContentBasedDeduplication") == "true"
