"""The request context: who asks to do what to which resource, and the condition keys.

The API layer builds one per authorised request. Condition keys are case-insensitive, so
they are stored lower-cased; each holds a list of values (most keys have one). The keys
AWS derives from the principal and the clock are filled in here unless given:
aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType, aws:username (IAM users
only), aws:CurrentTime and aws:EpochTime (from ``now``; no clock is read here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.iam.policy.principals import (
    account_of,
    identities_of,
    principal_type_of,
    user_name_of,
)


def _texts(value: str | bool | int | Sequence[str]) -> tuple[str, ...]:
    """A key's values as policy text: True is "true", 5 is "5"."""
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, str | int):
        return (str(value),)
    return tuple(value)


@dataclass(frozen=True)
class RequestContext:
    action: str  # "s3:GetObject"
    resource: str = "*"  # the ARN acted on; "*" for actions without a resource
    principal_arn: str | None = None  # None: an anonymous request
    account_id: str | None = None  # the principal's account; derived from its ARN if unset
    resource_account: str | None = None  # the resource owner's; unset: the principal's
    keys: Mapping[str, str | bool | int | Sequence[str]] = field(default_factory=dict)
    principal_type: str = "AWS"  # or "Service", "Federated", "CanonicalUser"
    now: datetime | None = None

    action_key: str = field(init=False, repr=False, compare=False)
    values: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    identities: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        aws = self.principal_type == "AWS"
        account = self.account_id or (account_of(self.principal_arn) if aws else None)
        set_ = object.__setattr__
        set_(self, "account_id", account)
        if self.resource_account is None:
            set_(self, "resource_account", account)
        set_(self, "action_key", self.action.lower())
        set_(self, "identities", identities_of(self.principal_arn, self.principal_type))
        values = {key.lower(): _texts(value) for key, value in self.keys.items()}
        derived: dict[str, str | None] = {}
        if aws:
            derived = {
                "aws:principalarn": self.principal_arn,
                "aws:principalaccount": account,
                "aws:principaltype": principal_type_of(self.principal_arn),
                "aws:username": user_name_of(self.principal_arn),
            }
        if self.now is not None:
            moment = self.now if self.now.tzinfo else self.now.replace(tzinfo=UTC)
            moment = moment.astimezone(UTC)
            derived["aws:currenttime"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            derived["aws:epochtime"] = str(int(moment.timestamp()))
        for key, value in derived.items():
            if value is not None and key not in values:
                values[key] = (value,)
        set_(self, "values", values)

    @property
    def anonymous(self) -> bool:
        return self.principal_arn is None

    @property
    def same_account(self) -> bool:
        """Whether principal and resource belong to one account (one side's allow is
        enough); anonymous requests belong to none."""
        return self.account_id is not None and self.account_id == self.resource_account
