"""IAM's policy simulator: SimulatePrincipalPolicy and SimulateCustomPolicy.

"Would this principal be allowed to do this, and which statement decides?" is the
question every operator asks, so the answer comes from the same evaluator every request
goes through (engine.iam.policy.evaluate), over the same policies the authorizer gathers
(a user's inline and attached policies and its groups'; a group's or role's own), plus
any the caller adds (PolicyInputList, ResourcePolicy). The response has IAM's shape:
one EvaluationResult per action and resource, ``allowed`` / ``explicitDeny`` /
``implicitDeny``, and the statements that decided with their position in the document
(line and column, from 1), the deciding statement first. As in IAM, an explicit deny
lists only the denying statements, an implicit deny none.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from engine.errors import EngineError
from engine.iam import names
from engine.iam.authz import compiled
from engine.iam.policy import (
    GROUP_INLINE,
    MANAGED,
    ROLE_INLINE,
    USER_INLINE,
    CompiledPolicy,
    Decision,
    PolicyKind,
    RequestContext,
    Statement,
    StatementRef,
    evaluate,
)
from engine.iam.service.context import Call
from engine.iam.store.state import Record

Out = dict[str, Any]
_ENTITY_ARN = re.compile(r"^arn:aws:iam::(\d{12}):(user|group|role)/(?:[\x21-\x7E]*/)?"
                         r"([\w+=,.@-]{1,128})$", re.ASCII)
CONTEXT_TYPES = ("string", "stringList", "numeric", "numericList", "boolean", "booleanList",
                 "ip", "ipList", "binary", "binaryList", "date", "dateList")
DECISIONS = {"allow": "allowed", "explicit-deny": "explicitDeny",
             "implicit-deny": "implicitDeny"}
INLINE_KINDS = {"user": USER_INLINE, "group": GROUP_INLINE, "role": ROLE_INLINE}
# The documents a caller hands the simulator: IAM's limits for these parameters.
INPUT = PolicyKind(
    name="simulated-identity", principal="forbidden", resource="required", max_size=131072,
    count="chars", malformed_code="MalformedPolicyDocument", too_large_code="LimitExceeded",
    too_large_message="Cannot exceed quota for PolicySize: 131072")
RESOURCE = PolicyKind(
    name="simulated-resource", principal="required", resource="required", max_size=131072,
    count="chars", malformed_code="MalformedPolicyDocument", too_large_code="LimitExceeded",
    too_large_message="Cannot exceed quota for PolicySize: 131072", alphanumeric_sid=False)


@dataclass(frozen=True)
class Source:
    """One policy in the simulation, as the response names it."""

    policy_id: str  # the inline policy's name, the managed policy's, "PolicyInputList.1"
    policy_type: str  # user | group | role | user-managed | resource | none
    text: str
    policy: CompiledPolicy
    spans: list[tuple[int, int]]  # where each statement is in ``text``


class Simulation:
    """The policies of one simulation, keyed so a StatementRef leads back to its text."""

    def __init__(self) -> None:
        self.sources: dict[str, Source] = {}
        self.identity: list[tuple[str, CompiledPolicy]] = []
        self.resource: list[tuple[str, CompiledPolicy]] = []

    def add(self, policy_id: str, policy_type: str, text: str, kind: PolicyKind) -> None:
        key = str(len(self.sources))
        policy = compiled(text, kind)
        self.sources[key] = Source(policy_id, policy_type, text, policy,
                                   statement_spans(text))
        (self.resource if policy_type == "resource" else self.identity).append((key, policy))

    def statement(self, ref: StatementRef) -> Out:
        source = self.sources[ref.policy]
        out: Out = {"SourcePolicyId": source.policy_id,
                    "SourcePolicyType": source.policy_type}
        if ref.index < len(source.spans):
            start, end = source.spans[ref.index]
            out["StartPosition"] = position(source.text, start)
            out["EndPosition"] = position(source.text, end)
        return out


# -- where a statement is in its document ------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")


def _skip(text: str, i: int) -> int:
    """The offset of the first non-whitespace character at or after ``i``."""
    match = _WS.match(text, i)
    return match.end() if match else i


def statement_spans(text: str) -> list[tuple[int, int]]:
    """The [start, end) offsets of each statement of a (valid) policy document."""
    decoder, i = json.JSONDecoder(), _skip(text, 0)
    try:
        if text[i:i + 1] != "{":
            return []
        i += 1
        while True:
            i = _skip(text, i)
            if text[i:i + 1] != '"':
                return []
            key, i = decoder.raw_decode(text, i)
            start = _skip(text, _skip(text, i) + 1)  # past the ":"
            value, end = decoder.raw_decode(text, start)
            if key == "Statement":
                return [(start, end)] if isinstance(value, dict) else _elements(text, start)
            i = _skip(text, end)
            if text[i:i + 1] == ",":
                i += 1
    except (ValueError, IndexError):
        return []


def _elements(text: str, start: int) -> list[tuple[int, int]]:
    decoder, spans, i = json.JSONDecoder(), [], start + 1
    while True:
        i = _skip(text, i)
        if text[i:i + 1] in ("]", ""):
            return spans
        _, end = decoder.raw_decode(text, i)
        spans.append((i, end))
        i = _skip(text, end)
        if text[i:i + 1] == ",":
            i += 1


def position(text: str, offset: int) -> dict[str, int]:
    return {"Line": text.count("\n", 0, offset) + 1,
            "Column": offset - (text.rfind("\n", 0, offset) + 1) + 1}


# -- the request ------------------------------------------------------------------------


def _texts(call: Call, member: str, *, required: bool = False) -> list[str]:
    value = call.need(member) if required else call.get(member, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        field = member[0].lower() + member[1:]
        raise EngineError("ValidationError", f"1 validation error detected: Value at "
                          f"'{field}' failed to satisfy constraint: Member must be a list "
                          "of strings")
    return value


def _context(call: Call) -> dict[str, str | list[str]]:
    keys: dict[str, str | list[str]] = {}
    entries = call.get("ContextEntries", [])
    if not isinstance(entries, list):
        entries = [entries]
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("ContextKeyName"), str):
            raise EngineError("ValidationError", "1 validation error detected: Value null at "
                              f"'contextEntries.{n}.member.contextKeyName' failed to satisfy "
                              "constraint: Member must not be null")
        kind = entry.get("ContextKeyType", "string")
        if kind not in CONTEXT_TYPES:
            raise EngineError("ValidationError", f"1 validation error detected: Value '{kind}' "
                              f"at 'contextEntries.{n}.member.contextKeyType' failed to "
                              "satisfy constraint: Member must satisfy enum value set: "
                              f"[{', '.join(CONTEXT_TYPES)}]")
        values = entry.get("ContextKeyValues", [])
        values = [str(v) for v in (values if isinstance(values, list) else [values])]
        keys[entry["ContextKeyName"]] = values
    return keys


def _resources(call: Call) -> list[str]:
    arns = _texts(call, "ResourceArns") or ["*"]
    for arn in arns:
        if arn != "*" and not arn.startswith("arn:"):
            raise EngineError("InvalidInput", f"ResourceNames are not in a valid ARN format: "
                              f"{arn}.")
    return arns


def _no_boundaries(call: Call) -> None:
    if call.get("PermissionsBoundaryPolicyInputList"):
        raise EngineError("NotImplemented", "Permissions boundaries are not implemented, so "
                          "they cannot be simulated")


# -- the source entity's policies -------------------------------------------------------


async def _entity(call: Call, arn: str) -> tuple[str, Record]:
    match = _ENTITY_ARN.match(arn)
    if not match:
        raise EngineError("InvalidInput", f"Invalid Entity Arn: {arn}")
    account, kind, name = match.groups()
    record = await call.store.fetch(kind, name)
    if account != call.account or record is None or record["arn"] != arn:
        raise EngineError("NoSuchEntity", f"The {kind} with name {name} cannot be found.")
    return kind, record


async def _entity_policies(call: Call, sim: Simulation, kind: str, record: Record) -> None:
    for name, doc in sorted(record["inline"].items()):
        sim.add(name, kind, doc, INLINE_KINDS[kind])
    for arn in record["attached"]:
        policy = await call.store.fetch("policy", arn.rsplit("/", 1)[-1])
        if policy is not None and policy["arn"] == arn:
            sim.add(policy["name"], "user-managed",
                    policy["versions"][policy["default"]]["doc"], MANAGED)


def _inputs(call: Call, sim: Simulation, *, required: bool) -> None:
    for n, doc in enumerate(_texts(call, "PolicyInputList", required=required), 1):
        sim.add(f"PolicyInputList.{n}", "none", doc, INPUT)


# -- evaluation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    principal_arn: str | None
    unique_id: str
    resource_owner: str
    keys: dict[str, str | list[str]]
    now: dt.datetime


def _targets(statement: Statement, ctx: RequestContext) -> bool:
    """Action and resource match, conditions aside."""
    if (statement.actions.match(ctx.action_key) is None) != statement.not_action:
        return False
    return statement.resources is None or (
        statement.resources.matches(ctx.resource, ctx.values) != statement.not_resource)


def _matched(sim: Simulation, ctx: RequestContext, decision: Decision) -> list[Out]:
    if decision.statement is None:
        return []
    deny = decision.kind == "explicit-deny"
    found = [decision.statement, *decision.also]
    for key, source in sim.sources.items():
        for statement in source.policy.statements:
            if statement.allow == deny or not statement.applies(ctx):
                continue
            if not any(r.policy == key and r.index == statement.index for r in found):
                side = "resource" if source.policy_type == "resource" else "identity"
                found.append(StatementRef(side, key, statement.index, statement.sid))
    return [sim.statement(ref) for ref in found]


def _missing(sim: Simulation, ctx: RequestContext) -> list[str]:
    """Condition keys the statements for this action and resource test but the request
    did not give (IAM's MissingContextValues), spelled as the policy spells them."""
    missing: dict[str, str] = {}
    for source in sim.sources.values():
        for statement in source.policy.statements:
            if not _targets(statement, ctx):
                continue
            for condition in statement.conditions:
                if condition.key not in ctx.values and condition.key not in missing:
                    spelled = re.search(re.escape(f'"{condition.key}"'), source.text, re.I)
                    missing[condition.key] = (spelled.group(0)[1:-1] if spelled
                                              else condition.key)
    return sorted(missing.values())


def _evaluate(sim: Simulation, scenario: Scenario, action: str, resource: str,
              account: str) -> Out:
    keys = dict(scenario.keys)
    if scenario.unique_id and not any(k.lower() == "aws:userid" for k in keys):
        keys["aws:userid"] = scenario.unique_id
    ctx = RequestContext(action, resource, principal_arn=scenario.principal_arn,
                         account_id=account, resource_account=scenario.resource_owner,
                         keys=keys, now=scenario.now)
    decision = evaluate(ctx, identity=sim.identity, resource=sim.resource)
    return {"EvalActionName": action, "EvalResourceName": resource,
            "EvalDecision": DECISIONS[decision.kind],
            "MatchedStatements": _matched(sim, ctx, decision),
            "MissingContextValues": _missing(sim, ctx)}


def _results(call: Call, sim: Simulation, scenario: Scenario) -> Out:
    actions = _texts(call, "ActionNames", required=True)
    resources = _resources(call)
    results = [_evaluate(sim, scenario, action, resource, call.account)
               for action in actions for resource in resources]
    start, limit = _page(call, len(results))
    page = results[start:start + limit]
    out: Out = {"EvaluationResults": page, "IsTruncated": start + limit < len(results)}
    if out["IsTruncated"]:
        out["Marker"] = str(start + limit)
    return out


def _page(call: Call, total: int) -> tuple[int, int]:
    """IAM's Marker (here: the position of the next result) and MaxItems."""
    marker, limit = str(call.get("Marker") or "0"), str(call.get("MaxItems") or "1000")
    if not marker.isdigit() or int(marker) > total:
        raise EngineError("InvalidInput", f"Invalid Marker: {marker[:64]}")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise names.validation_error("maxItems", limit, "Member must have value less than "
                                     "or equal to 1000")
    return int(marker), int(limit)


_OWNER = re.compile(r"^(?:(\d{12})|arn:aws:iam::(\d{12}):root)$")


def _scenario(call: Call, principal_arn: str | None, unique_id: str = "") -> Scenario:
    owner = str(call.get("ResourceOwner") or call.account)
    match = _OWNER.match(owner)
    if not match:
        raise EngineError("InvalidInput", f"'{owner}' is not a valid as a Resource Owner.")
    now = dt.datetime.fromtimestamp(call.clock.now_ns() / 1e9, dt.UTC)
    return Scenario(principal_arn, unique_id, match.group(1) or match.group(2),
                    _context(call), now)


def _resource_policy(call: Call, sim: Simulation, caller: str | None) -> None:
    policy = call.get("ResourcePolicy")
    if not policy:
        return
    if caller is None:
        raise EngineError("InvalidInput", "CallerArn must be specified when a ResourcePolicy "
                          "is simulated for a principal that is not an IAM user")
    sim.add("ResourcePolicy", "resource", str(policy), RESOURCE)


async def simulate_principal_policy(call: Call) -> Out:
    _no_boundaries(call)
    kind, record = await _entity(call, str(call.need("PolicySourceArn")))
    sim = Simulation()
    await _entity_policies(call, sim, kind, record)
    if kind == "user":
        for group in record["groups"]:
            found = await call.store.fetch("group", group)
            if found is not None:
                await _entity_policies(call, sim, "group", found)
    _inputs(call, sim, required=False)
    # IAM: a resource policy is matched against CallerArn, which defaults to a user
    # source; a role's or group's policies are evaluated as the role's (or nobody's).
    caller = call.get("CallerArn") or (record["arn"] if kind == "user" else None)
    _resource_policy(call, sim, caller)
    principal = caller or (record["arn"] if kind == "role" else None)
    unique_id = record["id"] if kind == "user" and not call.get("CallerArn") else ""
    return _results(call, sim, _scenario(call, principal, unique_id))


async def simulate_custom_policy(call: Call) -> Out:
    _no_boundaries(call)
    sim = Simulation()
    _inputs(call, sim, required=True)
    caller = call.get("CallerArn")
    _resource_policy(call, sim, caller)
    return _results(call, sim, _scenario(call, caller))


OPERATIONS = {"SimulatePrincipalPolicy": simulate_principal_policy,
              "SimulateCustomPolicy": simulate_custom_policy}
