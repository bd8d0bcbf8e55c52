"""Parse, validate and compile a policy document of a given kind.

Validation follows what IAM, S3 and SQS refuse when a policy is stored, so a document
that passes here would be stored by AWS too, and one AWS refuses is refused with the
service's error code and (as far as known) its wording. Compilation happens once: the
result holds regexes and parsed condition values, and evaluating it parses nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from engine.errors import EngineError
from engine.iam import actions as catalogue
from engine.iam.policy.conditions import compile_conditions
from engine.iam.policy.kinds import PolicyKind, PolicyProblem
from engine.iam.policy.patterns import compile_any, glob_source, is_arn_like
from engine.iam.policy.principals import compile_principal
from engine.iam.policy.statement import CompiledPolicy, Resources, Statement
from engine.iam.policy.variables import Text, has_variables, parse_template, placeholder_text

VERSIONS = ("2012-10-17", "2008-10-17")
DEFAULT_VERSION = "2008-10-17"  # what AWS assumes when a policy names no Version
_TOP_FIELDS = frozenset(("Version", "Id", "Statement"))
_FIELDS = frozenset((
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
    "NotResource", "Condition",
))
_SID = re.compile(r"[0-9A-Za-z]*\Z")
_VENDOR = re.compile(r"[A-Za-z0-9-]+\Z")
_PARTITIONS = frozenset((
    "aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc",
))
_TRUST_ACTIONS = frozenset((
    "sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity",
    "sts:tagsession", "sts:setsourceidentity", "sts:setcontext",
))


def parse_policy(text: str, kind: PolicyKind, *, attached_to: str | None = None) -> CompiledPolicy:
    """Validate and compile ``text`` as a policy of ``kind``.

    ``attached_to`` is the ARN of the bucket a bucket policy is for: S3 refuses resources
    outside it. Raises EngineError with the kind's codes (MalformedPolicyDocument, ...).
    """
    if kind.size_of(text) > kind.max_size:
        raise kind.too_large()
    try:
        return _compile(text, kind, attached_to)
    except PolicyProblem as problem:
        raise kind.error(problem) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise PolicyProblem("syntax", detail=f"Duplicate field {key}")
        out[key] = value
    return out


def _load(text: str) -> dict[str, Any]:
    if not text.lstrip().startswith("{"):
        raise PolicyProblem("first_byte" if text.strip() else "json")
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except ValueError:  # JSONDecodeError, and bad constants
        raise PolicyProblem("json") from None
    if not isinstance(document, dict):
        raise PolicyProblem("first_byte")
    return document


def _compile(text: str, kind: PolicyKind, attached_to: str | None) -> CompiledPolicy:
    document = _load(text)
    for name in document:
        if name not in _TOP_FIELDS:
            raise PolicyProblem("unknown_field", value=name)
    version = document.get("Version", DEFAULT_VERSION)
    if version not in VERSIONS:
        raise PolicyProblem("version")
    policy_id = document.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise PolicyProblem("syntax", detail="Id must be a string")
    if "Statement" not in document:
        raise PolicyProblem("missing_statement")
    raw = document["Statement"]
    raw_statements = raw if isinstance(raw, list) else [raw]
    if not raw_statements:
        raise PolicyProblem("empty_statement")
    if kind.max_statements is not None and len(raw_statements) > kind.max_statements:
        raise PolicyProblem("limit", value=str(kind.max_statements), detail="statements")
    statements = tuple(
        _statement(index, element, kind, version == "2012-10-17", attached_to)
        for index, element in enumerate(raw_statements)
    )
    sids = [s.sid for s in statements if s.sid is not None]
    if len(sids) != len(set(sids)):
        raise PolicyProblem("sid_unique")
    return CompiledPolicy(kind.name, version, policy_id, statements)


def _strings(element: Any, field: str) -> list[str]:
    """A string or a list of strings, as Action, Resource and their Not forms take."""
    values = element if isinstance(element, list) else [element]
    if not all(isinstance(v, str) for v in values):
        raise PolicyProblem("syntax", detail=f"{field} must be a string or a list of strings")
    return values


def _one_of(element: dict[str, Any], name: str, both: str) -> tuple[Any, bool] | None:
    """The element ``name`` or ``Not<name>`` and whether it was the Not form."""
    if name in element and f"Not{name}" in element:
        raise PolicyProblem(both)
    if name in element:
        return element[name], False
    if f"Not{name}" in element:
        return element[f"Not{name}"], True
    return None


def _statement(index: int, element: Any, kind: PolicyKind, substitute: bool,
               attached_to: str | None) -> Statement:
    if not isinstance(element, dict):
        raise PolicyProblem("syntax", detail="a Statement must be an object")
    for name in element:
        if name not in _FIELDS:
            raise PolicyProblem("unknown_field", value=name)
    sid = element.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyProblem("syntax", detail="Sid must be a string")
    if sid is not None and kind.alphanumeric_sid and not _SID.match(sid):
        raise PolicyProblem("sid_format")
    effect = element.get("Effect")
    if effect is None:
        raise PolicyProblem("missing_effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyProblem("effect", value=str(effect))
    principals, not_principal = _principal(element, kind)
    action_names, not_action = _actions(element, kind)
    resources, not_resource = _resource(element, kind, substitute, attached_to,
                                        action_names if not not_action else None)
    conditions = ()
    if "Condition" in element:
        conditions = compile_conditions(element["Condition"], substitute=substitute)
        if kind.max_conditions is not None and len(conditions) > kind.max_conditions:
            raise PolicyProblem("limit", value=str(kind.max_conditions), detail="conditions")
    return Statement(
        index=index, sid=sid, allow=effect == "Allow",
        actions=compile_any((glob_source([Text(n)]) for n in action_names), ignore_case=True),
        not_action=not_action, resources=resources, not_resource=not_resource,
        principals=principals, not_principal=not_principal, conditions=conditions,
    )


def _principal(element: dict[str, Any], kind: PolicyKind) -> tuple[frozenset[str] | None, bool]:
    principal = _one_of(element, "Principal", "both_principal")
    if principal is not None and kind.principal == "forbidden":
        raise PolicyProblem("principal_forbidden")
    if principal is None:
        if kind.principal == "required":
            raise PolicyProblem("missing_principal")
        return None, False
    return compile_principal(principal[0], max_principals=kind.max_principals), principal[1]


def _actions(element: dict[str, Any], kind: PolicyKind) -> tuple[list[str], bool]:
    action = _one_of(element, "Action", "both_action")
    names = _strings(action[0], "Action") if action is not None else []
    if action is None or not names:
        raise PolicyProblem("missing_action")
    if kind.max_actions is not None and len(names) > kind.max_actions:
        raise PolicyProblem("limit", value=str(kind.max_actions), detail="actions")
    for name in names:
        _check_action(name, kind)
    return names, action[1]


def _resource(element: dict[str, Any], kind: PolicyKind, substitute: bool,
              attached_to: str | None, actions: list[str] | None) -> tuple[Resources | None, bool]:
    resource = _one_of(element, "Resource", "both_resource")
    if kind.resource == "forbidden":
        if resource is not None:
            raise PolicyProblem("resource_forbidden",
                                value="NotResource" if resource[1] else "Resource")
        return None, False
    patterns = _strings(resource[0], "Resource") if resource is not None else []
    if resource is None or not patterns:
        raise PolicyProblem("missing_resource")
    resources = _resources(patterns, substitute, attached_to)
    if attached_to is not None and actions is not None and not resource[1]:
        _check_applies(actions, patterns)
    return resources, resource[1]


def _check_action(name: str, kind: PolicyKind) -> None:
    if name == "*":
        if kind.trust:
            raise PolicyProblem("trust_action")
        return
    vendor, sep, action = name.partition(":")
    if not sep or not action or not _VENDOR.match(vendor):
        raise PolicyProblem("action_vendor", value=name)
    known = catalogue.known_service(vendor)
    if known and not catalogue.actions_matching(vendor, action):
        raise PolicyProblem("invalid_action", value=name)
    if kind.trust:  # sts:AssumeRole, sts:AssumeRole*, sts:TagSession, ...
        matched = catalogue.actions_matching(vendor, action) if vendor.lower() == "sts" else ()
        if not any(a.lower() in _TRUST_ACTIONS for a in matched):
            raise PolicyProblem("trust_action")


def _resources(patterns: list[str], substitute: bool, attached_to: str | None) -> Resources:
    fixed: list[str] = []
    templated = []
    for pattern in patterns:
        template = parse_template(pattern, substitute=substitute)
        shape = placeholder_text(template)
        _check_resource(pattern, shape, attached_to)
        arn = is_arn_like(shape)
        if has_variables(template):
            templated.append((template, arn))
        else:
            fixed.append(glob_source(template, arn=arn))  # type: ignore[arg-type]
    return Resources(compile_any(fixed) if fixed else None, tuple(templated))


def _check_resource(pattern: str, shape: str, attached_to: str | None) -> None:
    if shape != "*":
        parts = shape.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn" or not parts[2]:
            raise PolicyProblem("invalid_resource", value=pattern)
        partition = parts[1]
        if "*" not in partition and "?" not in partition and partition not in _PARTITIONS:
            raise PolicyProblem("resource_partition", value=pattern, detail=partition)
        if not _VENDOR.match(parts[2]):
            raise PolicyProblem("resource_vendor", value=pattern)
    if attached_to is not None and not (shape == attached_to
                                        or shape.startswith(attached_to + "/")):
        raise PolicyProblem("foreign_resource", value=pattern)


def _check_applies(action_names: list[str], patterns: list[str]) -> None:
    """S3 refuses other services' actions in a bucket policy, and a statement whose actions
    miss its resources (s3:GetObject on the bucket ARN alone): "Action does not apply to
    any resource(s) in statement"."""
    types = {"object" if "/" in p.split(":", 5)[-1] else "bucket" for p in patterns}
    for name in action_names:
        if name == "*":
            continue
        vendor, _, action = name.partition(":")
        if vendor.lower() != "s3":  # a bucket policy governs S3 actions only
            raise PolicyProblem("invalid_action", value=name)
        matched = catalogue.actions_matching(vendor, action)
        if not any(catalogue.s3_resource_type(a) in types for a in matched):
            raise PolicyProblem("resource_mismatch")


def policy_error(kind: PolicyKind, problem: str, **fields: str) -> EngineError:
    """The error ``kind`` raises for ``problem``; for callers that validate more."""
    return kind.error(PolicyProblem(problem, **fields))
