"""The IAM and STS actions of their gRPC services, whose one method carries the AWS
action and its members as JSON (iam.proto's AwsCall).

IAM: ``iam:<Action>`` on the entity the request names, as the Service Authorization
Reference types each action's resource: the group, role or user named (in that order, so
AddUserToGroup is on the group and AttachUserPolicy on the user), else the managed
policy by its PolicyArn (or, for CreatePolicy, by the name and path it creates), else
"*" (the List* calls, and calls on the caller's own user that name no user).

STS: GetCallerIdentity and GetSessionToken need no permission, as in AWS; AssumeRole is
authorized by the STS service itself against the role's trust policy, which only it
reads. Any other STS action needs ``sts:<Action>`` on "*".
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from engine.api.access_rules_types import Access, Rule, Target, rule
from engine.iam import names

IAM_DOC = ("`iam:<Action>` on the entity named: `arn:aws:iam::<account>:group/<GroupName>`, "
           "`role/<RoleName>`, `user/<UserName>` (with the Path a Create call gives), else "
           "the PolicyArn as given (CreatePolicy: `policy/<PolicyName>`; "
           "SimulatePrincipalPolicy: the PolicySourceArn), else `*`; keys "
           "`iam:PolicyARN` (Attach/Detach), `aws:RequestTag/<tag>`, `aws:TagKeys`")
STS_DOC = ("none for `GetCallerIdentity` and `GetSessionToken`; `AssumeRole` is checked by "
           "STS against the role's trust policy; any other action `sts:<Action>` on `*`")
NEEDS_NOTHING = frozenset({"GetCallerIdentity", "GetSessionToken", "AssumeRole"})
_ENTITIES = (("GroupName", names.group_arn), ("RoleName", names.role_arn),
             ("UserName", names.user_arn))


class _AwsCall(Protocol):
    action: str
    params_json: str


def params_of(request: _AwsCall) -> dict[str, Any]:
    """The call's members; text that is not a JSON object counts as none, which demands
    the action on "*" (the strictest), and the operation then rejects it."""
    try:
        params = json.loads(request.params_json or "{}")
    except ValueError:
        return {}
    return params if isinstance(params, dict) else {}


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    return value if isinstance(value, str) else ""


def iam_resource(action: str, params: dict[str, Any], account: str) -> str:
    path = _text(params, "Path") or "/"
    for member, arn in _ENTITIES:
        name = _text(params, member)
        if name:
            return arn(account, name, path)
    policy_arn = _text(params, "PolicyArn")
    if policy_arn:
        return policy_arn
    if action == "SimulatePrincipalPolicy" and _text(params, "PolicySourceArn"):
        return _text(params, "PolicySourceArn")
    if action == "CreatePolicy" and _text(params, "PolicyName"):
        return names.policy_arn(account, _text(params, "PolicyName"), path)
    return "*"


def iam_keys(action: str, params: dict[str, Any]) -> dict[str, object]:
    keys: dict[str, object] = {}
    if action.startswith(("Attach", "Detach")) and _text(params, "PolicyArn"):
        keys["iam:PolicyARN"] = _text(params, "PolicyArn")
    if _text(params, "PermissionsBoundary"):
        keys["iam:PermissionsBoundary"] = _text(params, "PermissionsBoundary")
    tags = params.get("Tags")
    if isinstance(tags, list):
        pairs = [(str(t.get("Key", "")), str(t.get("Value", "")))
                 for t in tags if isinstance(t, dict)]
        keys.update({f"aws:RequestTag/{k}": v for k, v in pairs})
        if pairs:
            keys["aws:TagKeys"] = [k for k, _ in pairs]
    return keys


def _iam(request: _AwsCall, target: Target) -> list[Access]:
    params = params_of(request)
    return [Access(f"iam:{request.action}", iam_resource(request.action, params,
                                                          target.account),
                   iam_keys(request.action, params))]


def _sts(request: _AwsCall, target: Target) -> list[Access]:
    if request.action in NEEDS_NOTHING:
        return []
    return [Access(f"sts:{request.action}", "*")]


IAM: dict[str, Rule] = {"Call": rule("iam", IAM_DOC, _iam)}
STS: dict[str, Rule] = {"Call": rule("sts", STS_DOC, _sts)}
