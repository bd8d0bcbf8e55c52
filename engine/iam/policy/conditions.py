"""Condition operators with AWS's semantics, compiled once per policy.

A Condition block is ``{operator: {key: value | [values]}}``: values of one key are ORed,
keys and operators are ANDed. Keys are case-insensitive; String values are compared
case-sensitively except by the IgnoreCase operators. A missing key makes a condition
false, except for the negated operators (StringNotEquals, NotIpAddress, ...), which are
true, ``...IfExists`` (true) and ``ForAllValues:`` (true: nothing fails). A value that
cannot be parsed as the operator's type (a number, a date, a CIDR) matches nothing.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator as op
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from engine.iam.policy.kinds import PolicyProblem
from engine.iam.policy.patterns import compile_glob
from engine.iam.policy.variables import (
    Resolved,
    Template,
    has_variables,
    parse_template,
    render,
    resolve,
)

Keys = Mapping[str, Sequence[str]]


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


_EPOCH = re.compile(r"-?\d+(\.\d+)?\Z")


def parse_date(text: str) -> float | None:
    """Seconds since the epoch of an ISO 8601 date-time or an epoch number (AWS accepts
    both); a date without a zone is UTC."""
    text = text.strip()
    if _EPOCH.match(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


@lru_cache(maxsize=4096)  # pure; a node sees few distinct addresses and networks
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _same(text: str) -> str:
    return text


def _lower(text: str) -> str:
    return text.lower()


def _matches(value: str, pattern: re.Pattern[str]) -> bool:
    return pattern.match(value) is not None


def _inside(address: Any, network: Any) -> bool:
    return bool(address.version == network.version and address in network)


# value kind -> (parse a resolved policy value, parse a request value)
_KINDS: dict[str, tuple[Callable[[Resolved], Any], Callable[[str], Any]]] = {
    "string": (render, _same),
    "istring": (lambda parts: render(parts).lower(), _lower),
    "glob": (compile_glob, _same),
    "arn": (lambda parts: compile_glob(parts, arn=True), _same),
    "number": (lambda parts: _number(render(parts)), _number),
    "date": (lambda parts: parse_date(render(parts)), parse_date),
    "bool": (lambda parts: render(parts).lower(), _lower),
    "binary": (lambda parts: _binary(render(parts)), _binary),
    "ip": (lambda parts: _network(render(parts)), _address),
    "null": (lambda parts: render(parts).lower(), _lower),
}
# operator -> (value kind, comparison(request value, policy value), negated)
_OPERATORS: dict[str, tuple[str, Callable[[Any, Any], bool], bool]] = {
    "StringEquals": ("string", op.eq, False),
    "StringNotEquals": ("string", op.eq, True),
    "StringEqualsIgnoreCase": ("istring", op.eq, False),
    "StringNotEqualsIgnoreCase": ("istring", op.eq, True),
    "StringLike": ("glob", _matches, False),
    "StringNotLike": ("glob", _matches, True),
    "NumericEquals": ("number", op.eq, False),
    "NumericNotEquals": ("number", op.eq, True),
    "NumericLessThan": ("number", op.lt, False),
    "NumericLessThanEquals": ("number", op.le, False),
    "NumericGreaterThan": ("number", op.gt, False),
    "NumericGreaterThanEquals": ("number", op.ge, False),
    "DateEquals": ("date", op.eq, False),
    "DateNotEquals": ("date", op.eq, True),
    "DateLessThan": ("date", op.lt, False),
    "DateLessThanEquals": ("date", op.le, False),
    "DateGreaterThan": ("date", op.gt, False),
    "DateGreaterThanEquals": ("date", op.ge, False),
    "Bool": ("bool", op.eq, False),
    "BinaryEquals": ("binary", op.eq, False),
    "IpAddress": ("ip", _inside, False),
    "NotIpAddress": ("ip", _inside, True),
    "ArnEquals": ("arn", _matches, False),
    "ArnLike": ("arn", _matches, False),
    "ArnNotEquals": ("arn", _matches, True),
    "ArnNotLike": ("arn", _matches, True),
    "Null": ("null", op.eq, False),
}
_BY_LOWER = {name.lower(): name for name in _OPERATORS}
_QUALIFIERS = {"foranyvalue": "any", "forallvalues": "all"}


@dataclass(frozen=True)
class Operator:
    name: str  # as the policy wrote it
    base: str  # AWS's name without qualifier or IfExists: "StringLike"
    qualifier: str | None  # "any" (ForAnyValue:), "all" (ForAllValues:) or None
    if_exists: bool

    @property
    def kind(self) -> str:
        return _OPERATORS[self.base][0]

    @property
    def negated(self) -> bool:
        return _OPERATORS[self.base][2]


def parse_operator(name: str) -> Operator:
    """``ForAllValues:StringLikeIfExists`` -> its parts; unknown names are refused."""
    qualifier = None
    rest = name
    if ":" in name:
        prefix, rest = name.split(":", 1)
        qualifier = _QUALIFIERS.get(prefix.lower())
        if qualifier is None:
            raise PolicyProblem("condition_type", value=name)
    base = _BY_LOWER.get(rest.lower())
    if_exists = False
    if base is None and rest.lower().endswith("ifexists"):
        base = _BY_LOWER.get(rest[: -len("ifexists")].lower())
        if_exists = True
    # IfExists and the set qualifiers make no sense with Null (AWS refuses NullIfExists).
    if base is None or (base == "Null" and (if_exists or qualifier)):
        raise PolicyProblem("condition_type", value=name)
    return Operator(name, base, qualifier, if_exists)


@dataclass(frozen=True)
class Condition:
    """One (operator, key, values) test of a statement's Condition block."""

    operator: Operator
    key: str  # lower case
    templates: tuple[Template, ...]  # values with variables, resolved per request
    fixed: tuple[Any, ...]  # parsed values without variables (None: unparsable)
    _valid: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_valid", tuple(v for v in self.fixed if v is not None))

    def _targets(self, keys: Keys) -> Sequence[Any]:
        if not self.templates:
            return self._valid
        parse = _KINDS[self.operator.kind][0]
        targets = list(self._valid)
        for template in self.templates:
            parts = resolve(template, keys)
            if parts is not None and (value := parse(parts)) is not None:
                targets.append(value)
        return targets

    def holds(self, keys: Keys) -> bool:
        operator = self.operator
        kind, compare, negated = _OPERATORS[operator.base]
        request = keys.get(self.key)
        if kind == "null":  # "true": the key is absent; "false": it is present
            absent = "true" if not request else "false"
            return absent in self._targets(keys)
        if not request:
            if operator.if_exists or operator.qualifier == "all":
                return True
            return negated and operator.qualifier is None
        targets = self._targets(keys)
        convert = _KINDS[kind][1]

        def hit(raw: str) -> bool:
            value = convert(raw)
            return value is not None and any(compare(value, t) for t in targets)

        if operator.qualifier is None:
            return any(hit(raw) for raw in request) != negated
        results = (hit(raw) != negated for raw in request)
        return any(results) if operator.qualifier == "any" else all(results)


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise PolicyProblem("syntax", detail="a condition value must be a string, number or boolean")


def compile_conditions(block: Any, *, substitute: bool) -> tuple[Condition, ...]:
    """Validate and compile a statement's Condition element."""
    if not isinstance(block, dict):
        raise PolicyProblem("syntax", detail="Condition must be an object")
    out: list[Condition] = []
    for name, tests in block.items():
        operator = parse_operator(name)
        if not isinstance(tests, dict):
            raise PolicyProblem("syntax", detail=f"{name} must map condition keys to values")
        parse = _KINDS[operator.kind][0]
        for key, raw in tests.items():
            if ":" not in key:
                raise PolicyProblem("condition_key", value=key)
            values = raw if isinstance(raw, list) else [raw]
            templates: list[Template] = []
            fixed: list[Any] = []
            for value in values:
                template = parse_template(_value_text(value), substitute=substitute)
                if has_variables(template):
                    templates.append(template)
                else:
                    fixed.append(parse(template))  # type: ignore[arg-type]
            out.append(Condition(operator, key.lower(), tuple(templates), tuple(fixed)))
    return tuple(out)
