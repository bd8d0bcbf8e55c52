"""The decision: may this principal do this action on this resource?

AWS's evaluation logic (IAM User Guide, "Policy evaluation logic"), for the policy types
the engine has:

1. An explicit Deny in any applicable policy (identity, resource, session) wins.
2. Within one account, an Allow from either side is enough: an identity-based policy, or
   a resource-based policy whose Principal names the requester.
3. Session policies (AssumeRole with a Policy) cap the identity side: the role's policies
   AND a session policy must allow. They also cap a resource-based grant to the role or
   the account, but not one naming the session's own ARN.
4. Across accounts (and for anonymous requests) the resource-based policy must allow, and
   so must the requester's identity side, if it has one.
5. Otherwise: implicitly denied.

The Decision names the statement that decided, for ``engine iam simulate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from engine.iam.policy.context import RequestContext
from engine.iam.policy.statement import CompiledPolicy, Statement

Source = Literal["identity", "resource", "session"]
NamedPolicies = Sequence[tuple[str, CompiledPolicy]]


@dataclass(frozen=True)
class StatementRef:
    """Which statement of which policy: the policy's name as the caller gave it."""

    source: Source
    policy: str
    index: int  # from 0
    sid: str | None
    policy_id: str | None = None  # the document's Id element, if it has one

    def __str__(self) -> str:
        which = f"Sid {self.sid}" if self.sid else f"statement #{self.index + 1}"
        return f"{self.source} policy {self.policy}, {which}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    kind: Literal["explicit-deny", "allow", "implicit-deny"]
    statement: StatementRef | None  # the Deny, or the Allow that decided; None if implicit
    reason: str
    also: tuple[StatementRef, ...] = ()  # other allows the decision needed


def _ref(source: Source, name: str, policy: CompiledPolicy, statement: Statement) -> StatementRef:
    return StatementRef(source, name, statement.index, statement.sid, policy.id)


def _deny(ctx: RequestContext, source: Source, policies: NamedPolicies) -> StatementRef | None:
    for name, policy in policies:
        for statement in policy.denies:
            if statement.applies(ctx):
                return _ref(source, name, policy, statement)
    return None


def _allow(ctx: RequestContext, source: Source, policies: NamedPolicies) -> StatementRef | None:
    for name, policy in policies:
        for statement in policy.allows:
            if statement.applies(ctx):
                return _ref(source, name, policy, statement)
    return None


def _resource_allow(ctx: RequestContext,
                    policies: NamedPolicies) -> tuple[StatementRef | None, bool]:
    """The first resource-policy Allow, preferring one that names the requester's own ARN;
    and whether it does."""
    first = None
    for name, policy in policies:
        for statement in policy.allows:
            if statement.applies(ctx):
                if statement.names_directly(ctx.principal_arn):
                    return _ref("resource", name, policy, statement), True
                first = first or _ref("resource", name, policy, statement)
    return first, False


def _allowed(statement: StatementRef, *also: StatementRef | None) -> Decision:
    return Decision(True, "allow", statement, f"allowed by {statement}",
                    tuple(a for a in also if a is not None))


def _denied(reason: str) -> Decision:
    return Decision(False, "implicit-deny", None, reason)


def evaluate(ctx: RequestContext, *, identity: NamedPolicies = (), resource: NamedPolicies = (),
             session: NamedPolicies | None = None) -> Decision:
    """Decide a request. ``identity``: the principal's policies (user, its groups, or the
    role), ``resource``: the bucket or queue policy, ``session``: the session policies of
    an assumed-role session, or None when it was given none; each as (name, policy)."""
    sources: tuple[tuple[Source, NamedPolicies], ...] = (
        ("identity", identity), ("resource", resource), ("session", session or ()))
    for source, policies in sources:
        deny = _deny(ctx, source, policies)
        if deny is not None:
            return Decision(False, "explicit-deny", deny, f"explicitly denied by {deny}")

    own = _allow(ctx, "identity", identity)
    capped = session is not None
    by_session = _allow(ctx, "session", session or ()) if capped else None
    session_ok = not capped or by_session is not None
    granted, direct = _resource_allow(ctx, resource)

    if ctx.same_account:
        if own is not None and session_ok:
            return _allowed(own, by_session)
        if granted is not None and (direct or session_ok):
            return _allowed(granted, None if direct else by_session)
        if capped and not session_ok and (own is not None or granted is not None):
            return _denied("no session policy allows the request")
        return _denied("no identity-based or resource-based policy allows the request")

    # Across accounts both sides must allow; anonymous and service requesters have none.
    has_identity = not ctx.anonymous and ctx.principal_type == "AWS"
    if granted is None:
        return _denied("no resource-based policy allows the request (cross-account)")
    if not has_identity:
        return _allowed(granted)
    if own is None:
        return _denied("no identity-based policy allows the request (cross-account)")
    if not session_ok:
        return _denied("no session policy allows the request")
    return _allowed(granted, own, by_session)
