"""The evaluator against a small, obviously correct model of AWS's logic.

Random identity and bucket policies over a small alphabet of actions, resources,
wildcards, principals and a condition; random requests from a user of the bucket's
account, a user of another account, or nobody. The model matches wildcards with a naive
recursive glob and applies the rules literally: any applicable Deny denies; within the
account one Allow (identity or resource) is enough; across accounts the resource policy
must allow, and so must the identity policy of a signed-in requester.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.iam.policy import BUCKET, USER_INLINE, RequestContext, evaluate, parse_policy

OWNER, OTHER = "111122223333", "444455556666"
HOME_USER = f"arn:aws:iam::{OWNER}:user/u1"
AWAY_USER = f"arn:aws:iam::{OTHER}:user/u2"
IDENTITIES = {HOME_USER: {HOME_USER, OWNER}, AWAY_USER: {AWAY_USER, OTHER}, None: {"anonymous"}}

ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "sqs:SendMessage"]
ACTION_PATTERNS = [*ACTIONS, "*", "s3:*", "s3:Get*", "s3:?utObject", "S3:*object", "sqs:*"]
QUEUE = f"arn:aws:sqs:us-east-1:{OWNER}:x"
COLONS = "arn:aws:s3:::a:b:c"  # a key with colons: a region * must not reach into it
RESOURCES = ["arn:aws:s3:::a/x", "arn:aws:s3:::a/y", "arn:aws:s3:::b/x", "arn:aws:s3:::a", QUEUE,
             COLONS]
RESOURCE_PATTERNS = [*RESOURCES, "*", "arn:aws:s3:::a/*", "arn:aws:s3:::?/x", "arn:aws:s3:::*",
                     "arn:aws:s3:::a*", "arn:*:s3:::b/?", "arn:aws:sqs:*:*:?", "arn:aws:s3:*:b:c"]
PRINCIPALS = ["*", OWNER, OTHER, HOME_USER, AWAY_USER]
OPERATORS = ["StringEquals", "StringNotEquals", "StringEqualsIfExists"]


def glob(pattern: str, text: str) -> bool:
    if not pattern:
        return not text
    if pattern[0] == "*":
        return any(glob(pattern[1:], text[i:]) for i in range(len(text) + 1))
    if not text:
        return False
    return pattern[0] in ("?", text[0]) and glob(pattern[1:], text[1:])


def resource_glob(pattern: str, resource: str) -> bool:
    """Per ARN component: split both into their six components and glob each."""
    if not pattern.startswith("arn:"):
        return glob(pattern, resource)
    ours, theirs = pattern.split(":", 5), resource.split(":", 5)
    return len(ours) == len(theirs) and all(map(glob, ours, theirs))


statements = st.fixed_dictionaries({
    "effect": st.sampled_from(["Allow", "Deny"]),
    "not_action": st.booleans(),
    "actions": st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3),
    "not_resource": st.booleans(),
    "resources": st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=3),
    "not_principal": st.booleans(),
    "principals": st.lists(st.sampled_from(PRINCIPALS), min_size=1, max_size=3),
    "condition": st.none() | st.tuples(st.sampled_from(OPERATORS), st.sampled_from("12")),
})
requests = st.fixed_dictionaries({
    "action": st.sampled_from(ACTIONS),
    "resource": st.sampled_from(RESOURCES),
    "principal": st.sampled_from([HOME_USER, AWAY_USER, None]),
    "k": st.sampled_from([None, "1", "2"]),
})


def as_json(statement: dict, *, resource_policy: bool) -> dict:
    out: dict = {"Effect": statement["effect"]}
    out["NotAction" if statement["not_action"] else "Action"] = statement["actions"]
    out["NotResource" if statement["not_resource"] else "Resource"] = statement["resources"]
    if resource_policy:
        principals = statement["principals"]
        element = "*" if principals == ["*"] else {"AWS": principals}
        out["NotPrincipal" if statement["not_principal"] else "Principal"] = element
    if statement["condition"]:
        operator, value = statement["condition"]
        out["Condition"] = {operator: {"aws:k": value}}
    return out


def model_applies(statement: dict, request: dict, *, resource_policy: bool) -> bool:
    action = request["action"].lower()
    named = any(glob(p.lower(), action) for p in statement["actions"])
    if named == statement["not_action"]:
        return False
    named = any(resource_glob(p, request["resource"]) for p in statement["resources"])
    if named == statement["not_resource"]:
        return False
    if resource_policy:
        listed = set(statement["principals"])
        me = IDENTITIES[request["principal"]]
        if statement["not_principal"]:
            covered = "*" not in listed and not me <= listed
        else:
            covered = "*" in listed or bool(me & listed)
        if not covered:
            return False
    if statement["condition"]:
        operator, value = statement["condition"]
        k = request["k"]
        if operator == "StringEquals":
            return k == value
        if operator == "StringNotEquals":
            return k != value
        return k is None or k == value
    return True


def model(identity: list[dict], resource: list[dict], request: dict) -> str:
    applying = [(s, False) for s in identity] + [(s, True) for s in resource]
    applying = [(s, r) for s, r in applying if model_applies(s, request, resource_policy=r)]
    if any(s["effect"] == "Deny" for s, _ in applying):
        return "explicit-deny"
    by_identity = any(s["effect"] == "Allow" for s, r in applying if not r)
    by_resource = any(s["effect"] == "Allow" for s, r in applying if r)
    if request["principal"] == HOME_USER:
        allowed = by_identity or by_resource
    else:
        allowed = by_resource and (request["principal"] is None or by_identity)
    return "allow" if allowed else "implicit-deny"


@settings(max_examples=400, deadline=None)
@given(identity=st.lists(statements, max_size=4), resource=st.lists(statements, max_size=4),
       request=requests)
def test_evaluator_agrees_with_the_model(identity, resource, request):
    if request["principal"] is None:
        identity = []  # nobody has no identity policies
    named = []
    if identity:
        text = json.dumps({"Version": "2012-10-17", "Statement": [
            as_json(s, resource_policy=False) for s in identity]})
        named.append(("identity", parse_policy(text, USER_INLINE)))
    bucket = []
    if resource:
        text = json.dumps({"Version": "2012-10-17", "Statement": [
            as_json(s, resource_policy=True) for s in resource]})
        bucket.append(("bucket", parse_policy(text, BUCKET)))
    keys = {} if request["k"] is None else {"aws:k": request["k"]}
    ctx = RequestContext(request["action"], request["resource"],
                         principal_arn=request["principal"], resource_account=OWNER, keys=keys)
    decision = evaluate(ctx, identity=named, resource=bucket)
    assert decision.kind == model(identity, resource, request)
    assert decision.allowed == (decision.kind == "allow")
    if decision.kind == "implicit-deny":
        assert decision.statement is None
    else:
        assert decision.statement is not None


@given(pattern=st.text(alphabet="ab*?:", max_size=8), text=st.text(alphabet="ab:", max_size=8))
def test_string_like_agrees_with_the_naive_glob(pattern, text):
    policy = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
        "Condition": {"StringLike": {"aws:k": pattern}}}}), USER_INLINE)
    ctx = RequestContext("s3:GetObject", principal_arn=HOME_USER, keys={"aws:k": text})
    assert evaluate(ctx, identity=[("p", policy)]).allowed == glob(pattern, text)
