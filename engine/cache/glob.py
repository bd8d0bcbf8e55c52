"""Redis's glob patterns (``KEYS``, ``SCAN MATCH``, ACL key and channel patterns).

``*`` any run of bytes, ``?`` one byte, ``[abc]`` / ``[^abc]`` / ``[a-z]`` a set (a
reversed range is swapped; an unclosed set ends with the pattern), ``\\x`` the byte x
itself. Matching is on bytes, case-sensitive, as Redis's ``stringmatchlen`` does,
including its edge: an empty string matches only an empty pattern (``*`` does not match
``""``; Redis treats a lone ``*`` as "all keys" before it ever matches).

A pattern is parsed once into tokens and matched with the two-pointer wildcard
algorithm, which backtracks only to the last ``*``: time is O(pattern x string) at
worst, so a hostile pattern cannot make a match exponential.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class _Set:
    members: frozenset[int]
    ranges: tuple[tuple[int, int], ...]
    negated: bool

    def __contains__(self, byte: int) -> bool:
        found = byte in self.members or any(lo <= byte <= hi for lo, hi in self.ranges)
        return found != self.negated


STAR = "*"
ANY = "?"
Token = str | int | _Set  # STAR, ANY, a literal byte, a set


def _parse_set(p: bytes, i: int) -> tuple[_Set, int]:
    """The set starting after ``[`` at ``p[i]``; returns it and the index after it."""
    negated = i < len(p) and p[i] == ord("^")
    i += negated
    members: set[int] = set()
    ranges: list[tuple[int, int]] = []
    while i < len(p):
        c = p[i]
        if c == ord("\\") and i + 1 < len(p):
            members.add(p[i + 1])
            i += 2
        elif c == ord("]"):
            return _Set(frozenset(members), tuple(ranges), negated), i + 1
        elif i + 2 < len(p) and p[i + 1] == ord("-"):
            lo, hi = sorted((c, p[i + 2]))
            ranges.append((lo, hi))
            i += 3
        else:
            members.add(c)
            i += 1
    return _Set(frozenset(members), tuple(ranges), negated), i


@lru_cache(maxsize=4096)
def compile_glob(pattern: bytes) -> tuple[Token, ...]:
    tokens: list[Token] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == ord("*"):
            if not tokens or tokens[-1] != STAR:
                tokens.append(STAR)
            i += 1
        elif c == ord("?"):
            tokens.append(ANY)
            i += 1
        elif c == ord("["):
            found, i = _parse_set(pattern, i + 1)
            tokens.append(found)
        elif c == ord("\\") and i + 1 < len(pattern):
            tokens.append(pattern[i + 1])
            i += 2
        else:
            tokens.append(c)
            i += 1
    return tuple(tokens)


def _one(token: Token, byte: int) -> bool:
    if token == ANY:
        return True
    if isinstance(token, int):
        return token == byte
    return isinstance(token, _Set) and byte in token


def glob_match(pattern: bytes | str, value: bytes | str) -> bool:
    """Whether ``value`` matches the Redis glob ``pattern`` (text is taken as UTF-8)."""
    p = pattern.encode() if isinstance(pattern, str) else pattern
    s = value.encode() if isinstance(value, str) else value
    tokens = compile_glob(p)
    if not s:
        return not tokens
    t = i = 0
    star, resume = -1, 0
    while i < len(s):
        if t < len(tokens) and tokens[t] == STAR:
            star, resume = t, i
            t += 1
        elif t < len(tokens) and _one(tokens[t], s[i]):
            t += 1
            i += 1
        elif star >= 0:
            resume += 1
            t, i = star + 1, resume
        else:
            return False
    while t < len(tokens) and tokens[t] == STAR:
        t += 1
    return t == len(tokens)
