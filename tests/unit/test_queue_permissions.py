"""AddPermission/RemovePermission as edits of a queue's Policy text: the statement SQS
writes for a label, the statements a user set left alone, and SQS's limits and codes."""

from __future__ import annotations

import json

import pytest

from engine.errors import EngineError
from engine.iam.policy import QUEUE, parse_policy
from engine.queues.permissions import with_permission, without_permission

ARN = "arn:aws:sqs:us-east-1:111122223333:jobs"


def _error(call) -> tuple[str, str]:
    with pytest.raises(EngineError) as info:
        call()
    return info.value.code, info.value.message


def test_a_first_permission_makes_sqs_default_policy() -> None:
    text = with_permission("", ARN, "workers", ["444455556666"], ["SendMessage"])
    assert json.loads(text) == {
        "Version": "2012-10-17", "Id": f"{ARN}/SQSDefaultPolicy",
        "Statement": [{"Sid": "workers", "Effect": "Allow",
                       "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                       "Action": "SQS:SendMessage", "Resource": ARN}]}
    parse_policy(text, QUEUE)  # the evaluator reads it like a policy set directly


def test_several_accounts_and_actions_are_lists() -> None:
    text = with_permission("", ARN, "l", ["444455556666", "111122223333", "444455556666"],
                           ["ReceiveMessage", "*", "ReceiveMessage"])
    statement = json.loads(text)["Statement"][0]
    assert statement["Principal"] == {"AWS": ["arn:aws:iam::111122223333:root",
                                              "arn:aws:iam::444455556666:root"]}
    assert statement["Action"] == ["SQS:ReceiveMessage", "SQS:*"]


def test_a_users_own_statements_survive_add_and_remove() -> None:
    own = json.dumps({"Version": "2012-10-17", "Statement": {
        "Effect": "Deny", "Principal": "*", "Action": "sqs:PurgeQueue", "Resource": ARN}})
    added = with_permission(own, ARN, "a", ["444455556666"], ["SendMessage"])
    assert [s.get("Sid") for s in json.loads(added)["Statement"]] == [None, "a"]
    assert "Id" not in json.loads(added)
    removed = json.loads(without_permission(added, "a"))
    assert removed["Statement"] == [json.loads(own)["Statement"]]


def test_removing_the_last_label_leaves_no_policy() -> None:
    text = with_permission("", ARN, "a", ["444455556666"], ["SendMessage"])
    text = with_permission(text, ARN, "b", ["444455556666"], ["DeleteMessage"])
    text = without_permission(text, "a")
    assert [s["Sid"] for s in json.loads(text)["Statement"]] == ["b"]
    assert without_permission(text, "b") == ""


def test_a_label_is_unique_and_must_exist_to_be_removed() -> None:
    text = with_permission("", ARN, "a", ["444455556666"], ["SendMessage"])
    assert _error(lambda: with_permission(text, ARN, "a", ["444455556666"], ["*"])) == (
        "InvalidParameterValue",
        "Value a for parameter Label is invalid. Reason: Already exists.")
    assert _error(lambda: without_permission(text, "b")) == (
        "InvalidParameterValue",
        "Value b for parameter Label is invalid. Reason: can't find label on existing policy.")
    assert _error(lambda: without_permission("", "b"))[0] == "InvalidParameterValue"


@pytest.mark.parametrize(("label", "accounts", "actions", "code", "message"), [
    ("", ["444455556666"], ["SendMessage"], "MissingParameter",
     "The request must contain the parameter Label."),
    ("a" * 81, ["444455556666"], ["SendMessage"], "InvalidParameterValue",
     f"Value {'a' * 81} for parameter Label is invalid. Reason: Must be shorter than 80 and "
     "can only include alphanumeric characters, hyphens, or underscores."),
    ("a.b", ["444455556666"], ["SendMessage"], "InvalidParameterValue", None),
    ("a", [], ["SendMessage"], "MissingParameter",
     "The request must contain the parameter AWSAccountIds."),
    ("a", ["444455556666"], [], "MissingParameter",
     "The request must contain the parameter Actions."),
    ("a", ["arn:aws:iam::444455556666:user/bob"], ["SendMessage"], "InvalidParameterValue",
     "Value arn:aws:iam::444455556666:user/bob for parameter PrincipalId is invalid. Reason: "
     "Unable to verify principal."),
    ("a", ["444455556666"], ["CreateQueue"], "InvalidParameterValue",
     "Value CreateQueue for parameter ActionName is invalid. Reason: Only the queue owner is "
     "allowed to invoke this action."),
    ("a", ["444455556666"], ["SendMessageBatch"], "InvalidParameterValue",
     "Value SendMessageBatch for parameter ActionName is invalid. Reason: Please refer to "
     "the appropriate WSDL for a list of valid actions."),
    ("a", ["444455556666"], ["SendMessage", "ReceiveMessage", "DeleteMessage", "PurgeQueue",
                             "ChangeMessageVisibility", "GetQueueAttributes", "GetQueueUrl",
                             "ListDeadLetterSourceQueues"], "InvalidParameterValue",
     "Value 8 for parameter ActionName is invalid. Reason: A permission can name at most 7 "
     "actions."),
])
def test_bad_parameters(label: str, accounts: list[str], actions: list[str], code: str,
                        message: str | None) -> None:
    got = _error(lambda: with_permission("", ARN, label, accounts, actions))
    assert got[0] == code
    if message is not None:
        assert got[1] == message


def test_a_policy_holds_at_most_20_statements() -> None:
    text = ""
    for i in range(20):
        text = with_permission(text, ARN, f"l{i}", ["444455556666"], ["SendMessage"])
    assert _error(lambda: with_permission(text, ARN, "more", ["444455556666"],
                                          ["SendMessage"])) == (
        "OverLimit", "The queue's policy already has 20 statements, the most a queue "
        "policy can have.")


def test_a_permission_past_the_policy_quotas_is_over_limit() -> None:
    accounts = [f"{n:012d}" for n in range(60)]
    assert _error(lambda: with_permission("", ARN, "many", accounts, ["*"])) == (
        "OverLimit", "The queue's policy would exceed its quotas: Policy exceeds the limit "
        "of 50 principals")
    text = with_permission("", ARN, "l0", accounts[:40], ["*"])
    for i in range(1, 5):  # about 1.5 KB a statement: the 8,192 bytes come first
        text = with_permission(text, ARN, f"l{i}", accounts[:40], ["*"])
    assert _error(lambda: with_permission(text, ARN, "l5", accounts[:40], ["*"])) == (
        "OverLimit", "The queue's policy would exceed its quotas: Policy exceeds the limit "
        "of 8192 bytes")
