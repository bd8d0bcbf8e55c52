"""AddPermission and RemovePermission as SQS does them: edits of the queue's ``Policy``
attribute, one statement per label.

A label's statement is ``{"Sid": <label>, "Effect": "Allow", "Principal": {"AWS":
arn:aws:iam::<account>:root ...}, "Action": "SQS:<action>" ..., "Resource": <queue ARN>}``
in a policy SQS names ``<queue ARN>/SQSDefaultPolicy``; the statements a user set with
SetQueueAttributes stay as they were. The result is held to the same quotas as a Policy
set directly (engine.iam.policy's QUEUE kind), so the evaluator reads it like any other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from engine.errors import EngineError
from engine.iam.names import root_arn
from engine.iam.policy import QUEUE, parse_policy

MAX_ACTIONS = 7  # per statement, as the AddPermission reference says
MAX_STATEMENTS = 20  # per queue policy (QUEUE's quota)
MAX_POLICY_BYTES = 8192  # likewise
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ACCOUNT = re.compile(r"\d{12}")
# What a queue's owner may share (SQS Developer Guide, "Amazon SQS API permissions");
# the rest of SQS's actions only the owner may call.
SHAREABLE = frozenset({
    "*", "ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl",
    "ListDeadLetterSourceQueues", "PurgeQueue", "ReceiveMessage", "SendMessage",
})
OWNER_ONLY = frozenset({
    "AddPermission", "CancelMessageMoveTask", "CreateQueue", "DeleteQueue",
    "ListMessageMoveTasks", "ListQueueTags", "ListQueues", "RemovePermission",
    "SetQueueAttributes", "StartMessageMoveTask", "TagQueue", "UntagQueue",
})


def with_permission(policy: str, queue_arn: str, label: str, account_ids: Sequence[str],
                    actions: Sequence[str]) -> str:
    """The policy text after AddPermission(label, account_ids, actions)."""
    _check_label(label)
    if not account_ids:
        raise _missing("AWSAccountIds")
    if not actions:
        raise _missing("Actions")
    for account in account_ids:
        if not _ACCOUNT.fullmatch(account):
            raise _invalid(account, "PrincipalId", "Unable to verify principal.")
    names = list(dict.fromkeys(actions))
    if len(names) > MAX_ACTIONS:
        raise _invalid(str(len(names)), "ActionName",
                       f"A permission can name at most {MAX_ACTIONS} actions.")
    for name in names:
        if name in OWNER_ONLY:
            raise _invalid(name, "ActionName",
                           "Only the queue owner is allowed to invoke this action.")
        if name not in SHAREABLE:
            raise _invalid(name, "ActionName",
                           "Please refer to the appropriate WSDL for a list of valid actions.")
    document = _document(policy, queue_arn)
    statements = document["Statement"]
    if any(isinstance(s, dict) and s.get("Sid") == label for s in statements):
        raise _invalid(label, "Label", "Already exists.")
    if len(statements) >= MAX_STATEMENTS:
        raise EngineError("OverLimit", f"The queue's policy already has {MAX_STATEMENTS} "
                          "statements, the most a queue policy can have.")
    principals = sorted({root_arn(a) for a in account_ids})
    statements.append({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": _one_or_list(principals)},
        "Action": _one_or_list([f"SQS:{n}" for n in names]),
        "Resource": queue_arn,
    })
    text = json.dumps(document, separators=(",", ":"))
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise EngineError("OverLimit", "The queue's policy would exceed its quotas: "
                          f"Policy exceeds the limit of {MAX_POLICY_BYTES} bytes")
    try:
        parse_policy(text, QUEUE)
    except EngineError as err:  # another quota (50 principals): it does not fit
        reason = err.details.get("reason", err.message)
        raise EngineError("OverLimit", f"The queue's policy would exceed its quotas: "
                          f"{reason}") from None
    return text


def without_permission(policy: str, label: str) -> str:
    """The policy text after RemovePermission(label); "" once no statement is left (the
    queue then has no Policy attribute)."""
    if not label:
        raise _missing("Label")
    document = _document(policy, "")
    kept = [s for s in document["Statement"] if not (isinstance(s, dict)
                                                    and s.get("Sid") == label)]
    if len(kept) == len(document["Statement"]):
        raise _invalid(label, "Label", "can't find label on existing policy.")
    if not kept:
        return ""
    document["Statement"] = kept
    return json.dumps(document, separators=(",", ":"))


def _document(policy: str, queue_arn: str) -> dict[str, Any]:
    """The stored policy as a dict whose Statement is a list (a new one when empty)."""
    if not policy:
        return {"Version": "2012-10-17", "Id": f"{queue_arn}/SQSDefaultPolicy",
                "Statement": []}
    document: dict[str, Any] = json.loads(policy)  # stored texts passed validation
    statements = document.get("Statement", [])
    document["Statement"] = statements if isinstance(statements, list) else [statements]
    return document


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def _check_label(label: str) -> None:
    if not label:
        raise _missing("Label")
    if not _LABEL.fullmatch(label):
        raise _invalid(label, "Label", "Must be shorter than 80 and can only include "
                       "alphanumeric characters, hyphens, or underscores.")


def _invalid(value: str, parameter: str, reason: str) -> EngineError:
    return EngineError("InvalidParameterValue",
                       f"Value {value} for parameter {parameter} is invalid. Reason: {reason}")


def _missing(parameter: str) -> EngineError:
    return EngineError("MissingParameter",
                       f"The request must contain the parameter {parameter}.")
