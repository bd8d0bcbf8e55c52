"""Authorization: may this principal do this action on this resource?

Every endpoint asks here, with the AWS action ("s3:GetObject"), the resource ARN, the
request's condition keys and, where the resource has one, its resource policy (a bucket
policy, a queue's Policy attribute). The identity side is gathered from the store —
the user's inline and attached policies and those of its groups; for a role session
the role's, intersected with the session policy — compiled once and cached until the
store changes. The decision is AWS's (engine.iam.policy.evaluate).

The account root is allowed everything in its account unless a resource policy
explicitly denies it (as in AWS, where only the root can then remove that policy, which
is why the policy actions themselves are never denied to root).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache

from engine.errors import EngineError
from engine.iam.policy import (
    GROUP_INLINE,
    MANAGED,
    ROLE_INLINE,
    USER_INLINE,
    CompiledPolicy,
    Decision,
    PolicyKind,
    RequestContext,
    evaluate,
    parse_policy,
)
from engine.iam.principal import ROLE_SESSION, USER, Principal
from engine.iam.store.state import Record
from engine.iam.store.table import IdentityStore

Named = Sequence[tuple[str, CompiledPolicy]]
ROOT_KEEPS = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
                        "sqs:GetQueueAttributes", "sqs:SetQueueAttributes"})

ROOT_ALLOWED = Decision(True, "allow", None, "the account root", ())


@lru_cache(maxsize=4096)
def compiled(text: str, kind: PolicyKind) -> CompiledPolicy:
    """Parse once per distinct document (documents are immutable text)."""
    return parse_policy(text, kind)


class Authorizer:
    def __init__(self, store: IdentityStore) -> None:
        self.store = store
        self._generation = -1
        self._identity: dict[str, Named] = {}

    def identity_policies(self, principal: Principal) -> Named:
        if self._generation != self.store.generation:
            self._generation = self.store.generation
            self._identity.clear()
        key = f"{principal.kind}:{principal.name}"
        found = self._identity.get(key)
        if found is None:
            found = self._identity[key] = self._gather(principal)
        return found

    def _gather(self, principal: Principal) -> Named:
        out: list[tuple[str, CompiledPolicy]] = []
        if principal.kind == USER:
            user = self.store.get("user", principal.name)
            if user is None:
                return ()
            self._entity(user, USER_INLINE, out)
            for name in user["groups"]:
                group = self.store.get("group", name)
                if group is not None:
                    self._entity(group, GROUP_INLINE, out)
        elif principal.kind == ROLE_SESSION:
            role = self.store.get("role", principal.name)
            if role is not None:
                self._entity(role, ROLE_INLINE, out)
        return tuple(out)

    def _entity(self, record: Record, kind: PolicyKind,
                out: list[tuple[str, CompiledPolicy]]) -> None:
        for name, doc in sorted(record["inline"].items()):
            out.append((f"{record['name']}/{name}", compiled(doc, kind)))
        for arn in record["attached"]:
            policy = self.store.get("policy", arn.rsplit("/", 1)[-1])
            if policy is not None and policy["arn"] == arn:
                doc = policy["versions"][policy["default"]]["doc"]
                out.append((arn, compiled(doc, MANAGED)))

    def decide(self, principal: Principal, action: str, resource: str,
               keys: Mapping[str, object] | None = None, *,
               resource_policies: Named = (), resource_account: str | None = None,
               now: datetime | None = None, identity: bool = True) -> Decision:
        """AWS's decision; ``identity=False`` weighs the resource policies alone (what a
        role's trust policy says by itself)."""
        if (identity and not resource_policies and principal.is_root
                and resource_account in (None, principal.account)):
            return ROOT_ALLOWED  # nothing could deny it: skip building the context
        context = RequestContext(
            action, resource, principal_arn=principal.arn, account_id=principal.account,
            resource_account=resource_account,
            keys={**principal.keys, **(keys or {}),  # type: ignore[dict-item]
                  **({"aws:userid": principal.unique_id} if principal.unique_id else {})},
            now=now)
        if not identity:
            return evaluate(context, identity=(), resource=resource_policies)
        if principal.is_root and (resource_account in (None, principal.account)):
            decision = evaluate(context, identity=(), resource=resource_policies)
            if decision.kind == "explicit-deny" and action not in ROOT_KEEPS:
                return decision
            return ROOT_ALLOWED
        session = None
        if principal.session_policy is not None:
            session = [("session policy", principal.session_policy)]
        return evaluate(context, identity=self.identity_policies(principal),
                        resource=resource_policies, session=session)

    def check(self, principal: Principal, action: str, resource: str,
              keys: Mapping[str, object] | None = None, **kw: object) -> Decision:
        """``decide``, raising AccessDenied (AWS's wording) when not allowed."""
        decision = self.decide(principal, action, resource, keys, **kw)  # type: ignore[arg-type]
        if not decision.allowed:
            raise denied(principal, action, resource, decision)
        return decision


def denied(principal: Principal, action: str, resource: str, decision: Decision
           ) -> EngineError:
    who = principal.arn or "anonymous"
    why = ("with an explicit deny in " + str(decision.statement)
           if decision.kind == "explicit-deny" and decision.statement is not None
           else f"because no identity-based policy allows the {action} action")
    return EngineError("AccessDenied", f"User: {who} is not authorized to perform: {action} "
                       f"on resource: {resource} {why}", action=action)
