"""Every way a decision can end, pinned field by field: `engine iam simulate` and the
audit log show the kind, the reason and the deciding statement (with its source) to an
operator, so a wrong reason is a wrong answer even when allowed/denied is right."""

from __future__ import annotations

import json

import pytest

from engine.iam.policy import BUCKET, ROLE_INLINE, SESSION, RequestContext, evaluate, parse_policy
from engine.iam.policy.evaluate import Decision, StatementRef

A = "111122223333"
BUCKET_ARN = "arn:aws:s3:::photos"
SESSION_ARN = f"arn:aws:sts::{A}:assumed-role/Admin/bob-session"
GET = RequestContext("s3:GetObject", f"{BUCKET_ARN}/k", principal_arn=SESSION_ARN)
PUT = RequestContext("s3:PutObject", f"{BUCKET_ARN}/k", principal_arn=SESSION_ARN)


def policy(kind: str, *statements: dict, **kw: str) -> object:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Id": "pid-1",
                                    "Statement": list(statements)}), kind, **kw)


ALLOW_ALL = {"Sid": "All", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}
ROLE = ("AdminAccess", policy(ROLE_INLINE, ALLOW_ALL))
READ_ONLY = ("read-only", policy(SESSION, {"Effect": "Allow", "Action": "s3:GetObject",
                                           "Resource": "*"}))
GRANT_ALL = ("bucket", policy(BUCKET, {"Sid": "Everyone", "Effect": "Allow", "Principal": "*",
                                       "Action": "s3:*", "Resource": f"{BUCKET_ARN}/*"},
                              attached_to=BUCKET_ARN))


def test_an_identity_allow_names_its_statement() -> None:
    decision = evaluate(PUT, identity=[ROLE])
    assert decision == Decision(
        True, "allow", StatementRef("identity", "AdminAccess", 0, "All", "pid-1"),
        "allowed by identity policy AdminAccess, Sid All")
    assert decision.also == ()
    assert {decision: 1}[decision] == 1  # decisions are values (the simulator dedupes them)


def test_a_resource_allow_names_its_statement() -> None:
    decision = evaluate(PUT, resource=[GRANT_ALL])
    assert (decision.kind, decision.statement, decision.reason) == (
        "allow", StatementRef("resource", "bucket", 0, "Everyone", "pid-1"),
        "allowed by resource policy bucket, Sid Everyone")


def test_a_session_allow_is_named_as_session() -> None:
    decision = evaluate(GET, identity=[ROLE], session=[READ_ONLY])
    assert decision.also == (StatementRef("session", "read-only", 0, None, "pid-1"),)
    assert str(decision.also[0]) == "session policy read-only, statement #1"
    granted = evaluate(GET, resource=[GRANT_ALL], session=[READ_ONLY])
    assert granted.allowed and granted.statement is not None
    assert granted.statement.source == "resource"
    assert [ref.source for ref in granted.also] == ["session"]


@pytest.mark.parametrize("source", ["identity", "resource", "session"])
def test_an_explicit_deny_names_its_source(source: str) -> None:
    deny: dict[str, object] = {"Sid": "NoPuts", "Effect": "Deny", "Action": "s3:PutObject",
                               "Resource": "*"}
    if source == "resource":
        deny.update(Principal="*", Resource=f"{BUCKET_ARN}/*")
    kinds = {"identity": ROLE_INLINE, "resource": BUCKET, "session": SESSION}
    extra = {"attached_to": BUCKET_ARN} if source == "resource" else {}
    named = ("deny-policy", policy(kinds[source], deny, **extra))
    places = {"identity": [ROLE], "resource": [GRANT_ALL], "session": [READ_ONLY]}
    places[source] = [*places[source], named]
    decision = evaluate(PUT, identity=places["identity"], resource=places["resource"],
                        session=places["session"])
    assert decision == Decision(
        False, "explicit-deny", StatementRef(source, "deny-policy", 0, "NoPuts", "pid-1"),
        f"explicitly denied by {source} policy deny-policy, Sid NoPuts")


def test_implicit_denies_say_which_side_was_missing() -> None:
    nothing = evaluate(PUT)
    assert nothing == Decision(False, "implicit-deny", None,
                               "no identity-based or resource-based policy allows the request")
    # the session policy allows, but nothing else does: not a session-policy problem
    only_session = evaluate(GET, session=[READ_ONLY])
    assert only_session.reason == "no identity-based or resource-based policy allows the request"
    capped = evaluate(PUT, identity=[ROLE], session=[READ_ONLY])
    assert (capped.kind, capped.reason) == ("implicit-deny",
                                            "no session policy allows the request")
    capped_grant = evaluate(PUT, resource=[GRANT_ALL], session=[READ_ONLY])
    assert capped_grant.reason == "no session policy allows the request"


def test_a_statement_ref_without_an_id() -> None:
    ref = StatementRef("identity", "p", 2, None)
    assert ref.policy_id is None and str(ref) == "identity policy p, statement #3"


def test_across_accounts_a_session_policy_still_caps_the_identity_side() -> None:
    other = "444455556666"
    grant = ("bucket", policy(BUCKET, {"Effect": "Allow", "Principal": {"AWS": A},
                                       "Action": "s3:*", "Resource": f"{BUCKET_ARN}/*"},
                              attached_to=BUCKET_ARN))
    put = RequestContext("s3:PutObject", f"{BUCKET_ARN}/k", principal_arn=SESSION_ARN,
                         resource_account=other)
    capped = evaluate(put, identity=[ROLE], resource=[grant], session=[READ_ONLY])
    assert capped == Decision(False, "implicit-deny", None,
                              "no session policy allows the request")
    get = RequestContext("s3:GetObject", f"{BUCKET_ARN}/k", principal_arn=SESSION_ARN,
                         resource_account=other)
    allowed = evaluate(get, identity=[ROLE], resource=[grant], session=[READ_ONLY])
    assert allowed.allowed and allowed.statement is not None
    assert allowed.statement.source == "resource"
    assert [ref.source for ref in allowed.also] == ["identity", "session"]
