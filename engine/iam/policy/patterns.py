"""Wildcard patterns (``*``, ``?``) compiled to regular expressions.

Actions and StringLike values match as plain globs. ARNs match per component, as AWS
documents for the Arn* operators and for Resource: each of the six colon-separated
components is matched separately, so a ``*`` in the region cannot swallow the account;
only the last component (the resource, which may itself contain colons) is unbounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from engine.iam.policy.variables import Inert, Text

ARN_COMPONENTS = 6


def glob_source(parts: Iterable[Text | Inert], *, arn: bool = False) -> str:
    """A regex source (without anchors) for a pattern made of text and inert parts."""
    out: list[str] = []
    colons = 0
    for part in parts:
        wild = type(part) is Text
        for char in part.text:
            bounded = arn and colons < ARN_COMPONENTS - 1
            if wild and char == "*":
                out.append("[^:]*" if bounded else ".*")
            elif wild and char == "?":
                out.append("[^:]" if bounded else ".")
            else:
                out.append(re.escape(char))
            if char == ":":
                colons += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def compile_source(source: str, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile an anchored pattern; cached, because variables make patterns per request."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(f"(?:{source})\\Z", flags)


@lru_cache(maxsize=4096)
def compile_glob(parts: tuple[Text | Inert, ...], *, arn: bool = False,
                 ignore_case: bool = False) -> re.Pattern[str]:
    """Compile resolved pattern parts; cached on the parts, so a variable's value seen
    before costs a dictionary lookup."""
    return compile_source(glob_source(parts, arn=arn), ignore_case)


def compile_any(sources: Iterable[str], *, ignore_case: bool = False) -> re.Pattern[str]:
    """One pattern matching any of several, so a statement's list costs one match."""
    return compile_source("|".join(f"(?:{s})" for s in sources), ignore_case)


def is_arn_like(text: str) -> bool:
    """Whether a value is matched per ARN component (it is written as an ARN)."""
    return text.startswith("arn:")
