"""The flags of memcached's meta commands (mg, ms, md, ma): single letters, some with a
token glued on (``T30``, ``Ofoo``), validated per command with memcached's error texts,
and the response flags a command echoes back in the order the client asked for them."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from engine.api.memcached import errors
from engine.api.memcached.errors import MemcachedError
from engine.api.memcached.syntax import MAX_KEY, check_key, signed32, unsigned

MAX_OPAQUE = 32


@dataclass(frozen=True, slots=True)
class Spec:
    """Which flags a command takes, which carry a token, and its error texts (mg and ms
    tell the three cases apart; md and ma answer one text for all of them)."""

    bare: str
    tokens: str
    invalid: str
    duplicate: str
    bad_token: str


MG = Spec("bcfhklqstuv", "ENORT", errors.INVALID_FLAG, errors.DUPLICATE_FLAG,
          errors.BAD_TOKEN)
MS = Spec("bcIkqs", "CEFMNOT", errors.INVALID_FLAG, errors.DUPLICATE_FLAG, errors.BAD_TOKEN)
MD = Spec("bIkqx", "CEOT", errors.INVALID_OR_DUPLICATE, errors.INVALID_OR_DUPLICATE,
          errors.INVALID_OR_DUPLICATE)
MA = Spec("bcktqv", "CDEJMNOT", errors.INVALID_OR_DUPLICATE, errors.INVALID_OR_DUPLICATE,
          errors.INVALID_OR_DUPLICATE)


class Flags:
    def __init__(self, spec: Spec, tokens: list[bytes]) -> None:
        self.spec = spec
        self.order: list[str] = []
        self.values: dict[str, bytes] = {}
        for token in tokens:
            letter = chr(token[0])
            if letter in spec.bare:
                pass
            elif letter in spec.tokens:
                if len(token) < 2:
                    raise MemcachedError(spec.bad_token)
                if letter == "O" and len(token) - 1 > MAX_OPAQUE:
                    raise MemcachedError(errors.OPAQUE_TOO_LONG)
            else:
                raise MemcachedError(spec.invalid)
            if letter in self.values:
                raise MemcachedError(spec.duplicate)
            self.order.append(letter)
            self.values[letter] = token[1:]

    def __contains__(self, letter: str) -> bool:
        return letter in self.values

    def number(self, letter: str, bound: int) -> int | None:
        """The token of ``letter`` as an unsigned number below ``bound`` (None: absent)."""
        if letter not in self.values:
            return None
        value = unsigned(self.values[letter], bound)
        if value is None:
            raise MemcachedError(self.spec.bad_token)
        return value

    def ttl(self, letter: str) -> int | None:
        """The token of ``letter`` as a signed exptime (None: absent)."""
        if letter not in self.values:
            return None
        value = signed32(self.values[letter])
        if value is None:
            raise MemcachedError(self.spec.bad_token)
        return value

    def mode(self) -> str | None:
        token = self.values.get("M")
        return None if token is None else chr(token[0])


def meta_key(raw: bytes, flags: Flags) -> bytes:
    """The key a meta command names; with ``b`` the token is base64."""
    if "b" not in flags:
        return check_key(raw)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise MemcachedError(errors.KEY_DECODE) from None
    if not 0 < len(key) <= MAX_KEY:
        raise MemcachedError(errors.BAD_FORMAT)
    return key


def echo(flags: Flags, raw_key: bytes, values: dict[str, object]) -> list[bytes]:
    """The response flags: each requested letter that has a value here, in request
    order, then ``b`` when the key went back base64-encoded."""
    out: list[bytes] = []
    for letter in flags.order:
        if letter == "O":
            out.append(b"O" + flags.values["O"])
        elif letter == "k":
            out.append(b"k" + raw_key)
        elif letter in values:
            out.append(f"{letter}{values[letter]}".encode())
    if "b" in flags and "k" in flags:
        out.append(b"b")
    return out


def line(code: bytes, parts: list[bytes]) -> bytes:
    return b" ".join([code, *parts]) + b"\r\n"
