"""The vocabulary of the access table: what a request needs (Access), how a method's
needs are found (Rule), and what a node knows that ARNs are built from (Target).

Kept apart from engine.api.access_table so the per-service rule modules can use it
without importing the table that imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from google.protobuf.message import Message


@dataclass(frozen=True)
class Access:
    """One permission a request needs: ``action`` on ``resource``, with the request's
    condition keys; ``bucket``/``queue`` name the resource policy (bucket policy and ACL,
    queue Policy attribute) that is weighed beside the caller's own policies."""

    action: str
    resource: str
    keys: Mapping[str, object] = field(default_factory=dict)
    bucket: str | None = None
    queue: str | None = None


@dataclass(frozen=True)
class Target:
    """What the node knows that ARNs need."""

    account: str  # 12-digit account id
    region: str  # "us-east-1"


@dataclass(frozen=True)
class Rule:
    """How one gRPC method is authorized. ``service`` is the SigV4 scope service the SDK
    signs with; ``accesses`` returns every permission the request needs (an empty list:
    none at all); ``doc`` is the Markdown line of docs/iam-actions.md."""

    service: str
    accesses: Callable[[Message, Target], list[Access]]
    doc: str


def rule(service: str, doc: str, accesses: Callable[[Any, Target], list[Access]]) -> Rule:
    """A Rule whose function takes the method's own request type (the table hands each
    function only requests of its method, which Callable[[Message, ...]] cannot say)."""
    return Rule(service, cast(Callable[[Message, Target], list[Access]], accesses), doc)
