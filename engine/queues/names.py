"""SQS queue names, URLs and ARNs.

The engine is one account in one region, so a queue is known by its name alone; URLs
and ARNs are spelled the way AWS spells them so SDKs and tools that parse them work, with
the cluster's account id and the node's region (:func:`set_scope`, called once the
identity store knows the account), so the ARN a queue reports is the one its policies
and the access table name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from engine.errors import EngineError


@dataclass(frozen=True)
class Scope:
    account: str
    region: str


# Process-wide: a process serves one cluster's account, and tests building several
# in-process nodes build them for one account too.
_scope = Scope("000000000000", "us-east-1")


def set_scope(account: str, region: str) -> None:
    global _scope
    _scope = Scope(account, region)


def scope() -> Scope:
    return _scope

FIFO_SUFFIX = ".fifo"
MAX_NAME_LENGTH = 80  # includes ".fifo"

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_ARN = re.compile(r"arn:([A-Za-z0-9-]+):sqs:([A-Za-z0-9-]*):([0-9]*):([A-Za-z0-9_.-]+)")

STANDARD_NAME_RULE = (
    "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
)
FIFO_NAME_RULE = (
    "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
    "underscores, must end with .fifo suffix and be 1 to 80 in length."
)


def validate_queue_name(name: str, fifo: bool) -> None:
    """1-80 of ``[A-Za-z0-9_-]``; a FIFO name also ends in ``.fifo`` (counted in the 80),
    and a standard name may not, so the suffix alone tells the two kinds apart."""
    if fifo:
        base = name[: -len(FIFO_SUFFIX)] if name.endswith(FIFO_SUFFIX) else None
        ok = base is not None and len(name) <= MAX_NAME_LENGTH and _NAME.fullmatch(base)
        if not ok:
            raise EngineError("InvalidParameterValue", FIFO_NAME_RULE, QueueName=name)
        return
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise EngineError("InvalidParameterValue", STANDARD_NAME_RULE, QueueName=name)


def is_fifo_name(name: str) -> bool:
    return name.endswith(FIFO_SUFFIX)


def queue_url(host: str, name: str) -> str:
    return f"http://{host}/{_scope.account}/{name}"


def name_from_url(url: str) -> str:
    """The queue name in a URL of any scheme and host (``https://sqs.x.amazonaws.com/
    123456789012/q``, ``http://localhost:9324/000000000000/q``): SDKs build URLs from
    their own endpoint settings, so only the ``/<account>/<name>`` path is meaningful.
    The account is not checked; a name that does not exist fails at lookup."""
    if not url:
        raise EngineError(
            "MissingParameter", "The request must contain the parameter QueueUrl."
        )
    parts = urlsplit(url)
    segments = parts.path.strip("/").split("/") if parts.netloc else []
    if len(segments) != 2 or not all(segments):
        raise EngineError(
            "InvalidAddress", f"The address {url} is not valid for this endpoint.",
            QueueUrl=url,
        )
    return segments[1]


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{_scope.region}:{_scope.account}:{name}"


def is_queue_arn(arn: str) -> bool:
    """Whether ``arn`` is shaped like any SQS queue ARN (any partition, region, account)."""
    return _ARN.fullmatch(arn) is not None


def name_from_arn(arn: str) -> str | None:
    """The name of one of this engine's queues, or None: an ARN of another region or
    account names a queue that cannot exist here."""
    match = _ARN.fullmatch(arn)
    if match is None or match.group(2) != _scope.region or match.group(3) != _scope.account:
        return None
    return match.group(4)
