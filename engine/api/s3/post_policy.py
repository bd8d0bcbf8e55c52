"""The policy document of a browser-form POST upload, and its conditions.

A POST policy is base64 JSON, ``{"expiration": ISO 8601, "conditions": [...]}``, signed
by whoever hands out the form. Each condition is an exact match (``{"acl":
"public-read"}`` or ``["eq", "$acl", "public-read"]``), a prefix (``["starts-with",
"$key", "user/"]``, "" allowing any value) or the file's size bounds
(``["content-length-range", min, max]``). Every form field but the signature's own,
``file``, ``policy`` and ``x-ignore-*`` must be named by a condition, so a form cannot
set more than its signer allowed. ``$bucket`` is matched against the bucket of the URL,
never a form field. Failures read as S3's do: AccessDenied "Invalid according to Policy:
...", InvalidPolicyDocument for a document that is not one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import EngineError

# Fields a policy need not name: the signature's own and the upload itself.
UNCONDITIONED = frozenset({"policy", "file", "x-amz-signature", "signature",
                           "awsaccesskeyid", "bucket"})


def invalid_policy(why: str) -> EngineError:
    return EngineError("InvalidPolicyDocument", f"Invalid Policy: {why}", http_status=400)


def denied(why: str) -> EngineError:
    return EngineError("AccessDenied", f"Invalid according to Policy: {why}")


@dataclass(frozen=True)
class PostPolicy:
    expiration: dt.datetime
    # (operator, lower-case field name without "$", value, the condition as written)
    matches: tuple[tuple[str, str, str, str], ...] = ()
    length_range: tuple[int, int] | None = None
    named: frozenset[str] = field(default_factory=frozenset)

    def check(self, fields: Mapping[str, str], bucket: str, now: dt.datetime) -> None:
        """AccessDenied unless the policy is current and ``fields`` (lower-case names,
        the key after ``${filename}``) meet every condition and name no field the
        policy does not."""
        if now >= self.expiration:
            raise denied("Policy expired.")
        for operator, name, value, written in self.matches:
            actual = bucket if name == "bucket" else fields.get(name)
            if actual is None:
                actual = ""
            ok = actual == value if operator == "eq" else actual.startswith(value)
            if not ok:
                raise denied(f"Policy Condition failed: {written}")
        extra = [name for name in fields if name not in UNCONDITIONED
                 and not name.startswith("x-ignore-") and name not in self.named]
        if extra:
            raise denied(f"Extra input fields: {', '.join(extra)}")

    def check_size(self, size: int, *, final: bool) -> None:
        """EntityTooLarge as soon as the file passes the range's maximum; EntityTooSmall
        once it ended (``final``) below its minimum."""
        if self.length_range is None:
            return
        low, high = self.length_range
        if size > high:
            raise EngineError("EntityTooLarge", "Your proposed upload exceeds the maximum "
                              "allowed size", ProposedSize=str(size), MaxSizeAllowed=str(high))
        if final and size < low:
            raise EngineError("EntityTooSmall", "Your proposed upload is smaller than the "
                              "minimum allowed size", ProposedSize=str(size),
                              MinSizeAllowed=str(low))


def _expiration(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise invalid_policy("Policy missing expiration.")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid_policy(f"Invalid 'expiration' value: '{value}'") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _written(condition: Any) -> str:
    return json.dumps(condition, separators=(", ", ": "))


def parse_policy(encoded: str) -> PostPolicy:
    """The policy of a form's ``policy`` field; InvalidPolicyDocument when it is not
    base64 JSON of the shape S3 documents."""
    try:
        document = json.loads(base64.b64decode(encoded, validate=False))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid_policy("Invalid JSON.") from None
    if not isinstance(document, dict):
        raise invalid_policy("Invalid JSON.")
    expiration = _expiration(document.get("expiration"))
    conditions = document.get("conditions")
    if not isinstance(conditions, list):
        raise invalid_policy("Policy missing conditions.")
    matches: list[tuple[str, str, str, str]] = []
    named: set[str] = set()
    length_range: tuple[int, int] | None = None
    for condition in conditions:
        if isinstance(condition, dict) and len(condition) == 1:
            name, value = next(iter(condition.items()))
            if not isinstance(value, str):
                raise invalid_policy(f"Invalid Simple-Condition: {_written(condition)}")
            matches.append(("eq", name.lower(), value, _written(["eq", f"${name}", value])))
            named.add(name.lower())
        elif isinstance(condition, list) and condition and \
                str(condition[0]).lower() == "content-length-range":
            if len(condition) != 3 or not all(isinstance(v, int) for v in condition[1:]):
                raise invalid_policy("Invalid content-length-range: "
                                     f"{_written(condition)}")
            length_range = (condition[1], condition[2])
        elif isinstance(condition, list) and len(condition) == 3 and \
                str(condition[0]).lower() in ("eq", "starts-with") and \
                isinstance(condition[1], str) and condition[1].startswith("$") and \
                isinstance(condition[2], str):
            name = condition[1][1:].lower()
            matches.append((str(condition[0]).lower(), name, condition[2],
                            _written(condition)))
            named.add(name)
        else:
            raise invalid_policy(f"Invalid Condition: {_written(condition)}")
    return PostPolicy(expiration, tuple(matches), length_range, frozenset(named))
