"""A compiled statement and policy: immutable, hashable, and matched without parsing.

Actions are one case-insensitive regex per statement; resources without variables are one
regex too, resources with variables are resolved per request and their regexes cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.iam.policy.conditions import Condition, Keys
from engine.iam.policy.context import RequestContext
from engine.iam.policy.patterns import compile_glob
from engine.iam.policy.principals import EVERYONE
from engine.iam.policy.variables import Template, resolve


@dataclass(frozen=True)
class Resources:
    """The patterns of a Resource or NotResource element."""

    fixed: re.Pattern[str] | None  # every pattern without variables, as one regex
    templates: tuple[tuple[Template, bool], ...] = ()  # with variables; ARN-shaped?

    def matches(self, resource: str, keys: Keys) -> bool:
        if self.fixed is not None and self.fixed.match(resource):
            return True
        for template, arn in self.templates:
            parts = resolve(template, keys)
            if parts is not None and compile_glob(parts, arn=arn).match(resource):
                return True
        return False


@dataclass(frozen=True)
class Statement:
    index: int  # position in the policy, from 0
    sid: str | None
    allow: bool
    actions: re.Pattern[str]
    not_action: bool
    resources: Resources | None  # None: the statement names no resource (trust policies)
    not_resource: bool
    principals: frozenset[str] | None  # None: identity policies name no principal
    not_principal: bool
    conditions: tuple[Condition, ...]

    def names_principal(self, identities: frozenset[str]) -> bool:
        """Whether the Principal (or NotPrincipal) element covers the requester."""
        if self.principals is None:
            return True
        if self.not_principal:  # excluded only when every identity is listed
            return EVERYONE not in self.principals and not identities <= self.principals
        return EVERYONE in self.principals or not identities.isdisjoint(self.principals)

    def names_directly(self, principal: str | None) -> bool:
        """Whether the Principal element lists the requester's own ARN (a user, or a role
        session), not just its role or account: such grants escape session policies."""
        return (principal is not None and self.principals is not None
                and not self.not_principal and principal in self.principals)

    def applies(self, ctx: RequestContext) -> bool:
        """Action, resource, principal and conditions all match the request."""
        if (self.actions.match(ctx.action_key) is None) != self.not_action:
            return False
        if self.resources is not None and (
            self.resources.matches(ctx.resource, ctx.values) == self.not_resource
        ):
            return False
        if not self.names_principal(ctx.identities):
            return False
        return all(condition.holds(ctx.values) for condition in self.conditions)


@dataclass(frozen=True)
class CompiledPolicy:
    """A parsed, validated policy ready to evaluate; cache it by document text."""

    kind: str
    version: str
    id: str | None
    statements: tuple[Statement, ...]
    denies: tuple[Statement, ...] = field(init=False, repr=False, compare=False)
    allows: tuple[Statement, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "denies", tuple(s for s in self.statements if not s.allow))
        object.__setattr__(self, "allows", tuple(s for s in self.statements if s.allow))
