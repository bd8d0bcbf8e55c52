"""Policy variables: ``${aws:username}`` in a Resource or a condition value.

A value is parsed once into a template: policy text (where ``*`` and ``?`` stay
wildcards), inert text (``${*}``, ``${?}``, ``${$}`` and substituted values, matched
literally) and variables. Only policies of version 2012-10-17 substitute; under
2008-10-17 ``${...}`` is plain text, as in AWS. A variable whose key is missing from the
request, or has several values, leaves the value unresolved (it matches nothing) unless
the variable names a default: ``${aws:username, 'anonymous'}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_BODY = re.compile(r"\s*([A-Za-z0-9_.:/-]+)\s*(?:,\s*'([^']*)'\s*)?\Z")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


class Text(NamedTuple):
    """Policy text; in a pattern its ``*`` and ``?`` are wildcards."""

    text: str


class Inert(NamedTuple):
    """Text that is matched character for character."""

    text: str


class Var(NamedTuple):
    key: str  # lower case: context keys are case-insensitive
    default: str | None


Part = Text | Inert | Var
Template = tuple[Part, ...]
Resolved = tuple[Text | Inert, ...]


def parse_template(value: str, *, substitute: bool) -> Template:
    """Split a policy value into its parts; ``substitute`` is false for 2008-10-17."""
    if not substitute or "${" not in value:
        return (Text(value),)
    parts: list[Part] = []
    pos = 0
    for match in _VARIABLE.finditer(value):
        if match.start() > pos:
            parts.append(Text(value[pos:match.start()]))
        body = match.group(1)
        if body in _SPECIAL:
            parts.append(Inert(_SPECIAL[body]))
        elif (var := _BODY.match(body)) is not None:
            parts.append(Var(var.group(1).lower(), var.group(2)))
        else:  # not a variable AWS knows: keep the text as written
            parts.append(Text(match.group(0)))
        pos = match.end()
    if pos < len(value):
        parts.append(Text(value[pos:]))
    return tuple(parts)


def has_variables(template: Template) -> bool:
    return any(isinstance(part, Var) for part in template)


def resolve(template: Template, keys: Mapping[str, Sequence[str]]) -> Resolved | None:
    """The template with its variables replaced, or None if one cannot be."""
    out: list[Text | Inert] = []
    for part in template:
        if not isinstance(part, Var):
            out.append(part)
            continue
        values = keys.get(part.key)
        if values is not None and len(values) == 1:
            out.append(Inert(values[0]))
        elif part.default is not None:
            out.append(Inert(part.default))
        else:
            return None
    return tuple(out)


def render(parts: Resolved) -> str:
    """The plain text of resolved parts, for operators without wildcards."""
    return "".join(part.text for part in parts)


def placeholder_text(template: Template) -> str:
    """The value with each variable replaced by a neutral word, for shape checks (is this
    an ARN?) done before any request exists."""
    return "".join("x" if isinstance(part, Var) else part.text for part in template)
