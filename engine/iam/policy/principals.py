"""Principals: who a resource or trust policy statement is about, and who is asking.

Both sides become sets of identity keys, so matching is a set intersection. A requester
carries every identity AWS evaluates it as: an IAM user is the user and its account; an
assumed-role session is the session, its role and its account. A statement's Principal
matches when it names any of them: the account (``123456789012`` or
``arn:aws:iam::123456789012:root``) covers every principal of the account, a role ARN
covers the role's sessions. NotPrincipal excludes a requester only if it names all of
them, which is why AWS's NotPrincipal-with-Deny examples list the user *and* the account.
Roles are keyed by account and name: session ARNs carry no role path.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from engine.iam.policy.kinds import PolicyProblem

EVERYONE = "*"
ANONYMOUS = "anonymous"
_ACCOUNT = re.compile(r"\d{12}\Z")
_IAM_ARN = re.compile(r"arn:([\w-]+):iam::(\d{12}):(root|user/.+|role/.+)\Z")
_STS_ARN = re.compile(r"arn:([\w-]+):sts::(\d{12}):(assumed-role/[^/]+/.+|federated-user/.+)\Z")
_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")


def account_key(account: str) -> str:
    return f"account:{account}"


def _aws_key(value: str) -> str | None:
    if value == "*":
        return EVERYONE
    if "*" in value or "?" in value:  # no wildcards in principal ARNs, only "*" alone
        return None
    if _ACCOUNT.match(value):
        return account_key(value)
    if match := _IAM_ARN.match(value):
        account, resource = match.group(2), match.group(3)
        if resource == "root":
            return account_key(account)
        if resource.startswith("role/"):
            return f"role:{account}:{resource.rsplit('/', 1)[1]}"
        return value
    if _STS_ARN.match(value):
        return value
    return None


def _key(kind: str, value: str) -> str | None:
    if kind == "AWS":
        return _aws_key(value)
    if not value or any(c.isspace() for c in value):
        return None
    if kind == "Service":
        return EVERYONE if value == "*" else f"service:{value.lower()}"
    if kind == "Federated":
        return f"federated:{value}"
    return f"canonical:{value.lower()}"  # CanonicalUser


def compile_principal(element: Any, *, max_principals: int | None = None) -> frozenset[str]:
    """The identity keys a Principal/NotPrincipal element names."""
    if element == "*":
        return frozenset((EVERYONE,))
    if not isinstance(element, dict) or not element:
        raise PolicyProblem("invalid_principal", value=_show(element))
    keys: set[str] = set()
    count = 0
    for kind, raw in element.items():
        values = raw if isinstance(raw, list) else [raw]
        if kind not in _TYPES or not values:
            raise PolicyProblem("invalid_principal", value=_show({kind: raw}))
        for value in values:
            key = _key(kind, value) if isinstance(value, str) else None
            if key is None:
                raise PolicyProblem("invalid_principal", value=_show({kind: value}))
            keys.add(key)
            count += 1
    if max_principals is not None and count > max_principals:
        raise PolicyProblem("limit", value=str(max_principals), detail="principals")
    return frozenset(keys)


def _show(element: Any) -> str:
    if isinstance(element, dict):
        return ", ".join(f'"{k}":"{v}"' if isinstance(v, str) else f'"{k}":{v}'
                         for k, v in element.items())
    return str(element)


@lru_cache(maxsize=4096)  # pure, and asked for every request
def identities_of(principal: str | None, principal_type: str = "AWS") -> frozenset[str]:
    """Every identity key a requester is evaluated as; None is the anonymous requester."""
    if principal is None:
        return frozenset((ANONYMOUS,))
    if principal_type != "AWS":
        key = _key(principal_type, principal)
        return frozenset((key,)) if key else frozenset()
    keys = {principal}
    if match := _IAM_ARN.match(principal):
        account, resource = match.group(2), match.group(3)
        keys.add(account_key(account))
        if resource.startswith("role/"):
            keys.add(f"role:{account}:{resource.rsplit('/', 1)[1]}")
    elif match := _STS_ARN.match(principal):
        account, resource = match.group(2), match.group(3)
        keys.add(account_key(account))
        if resource.startswith("assumed-role/"):
            keys.add(f"role:{account}:{resource.split('/')[1]}")
    elif _ACCOUNT.match(principal):
        keys = {account_key(principal)}
    return frozenset(keys)


@lru_cache(maxsize=4096)
def account_of(principal: str | None) -> str | None:
    """The account a principal ARN (or bare account id) belongs to."""
    if principal is None:
        return None
    if _ACCOUNT.match(principal):
        return principal
    match = _IAM_ARN.match(principal) or _STS_ARN.match(principal)
    return match.group(2) if match else None


@lru_cache(maxsize=4096)
def principal_type_of(principal: str | None) -> str | None:
    """The value AWS gives aws:PrincipalType for a principal ARN."""
    if principal is None:
        return "Anonymous"
    if match := _IAM_ARN.match(principal):
        resource = match.group(3)
        return "Account" if resource == "root" else "User" if resource[0] == "u" else "Role"
    if match := _STS_ARN.match(principal):
        return "AssumedRole" if match.group(3).startswith("assumed") else "FederatedUser"
    return "Account" if _ACCOUNT.match(principal) else None


@lru_cache(maxsize=4096)
def user_name_of(principal: str | None) -> str | None:
    """aws:username: the friendly name of an IAM user, for users only."""
    match = _IAM_ARN.match(principal or "")
    if match and match.group(3).startswith("user/"):
        return match.group(3).rsplit("/", 1)[1]
    return None
