"""Argument parsing as Redis does it, with Redis's error texts (without "ERR ")."""

from __future__ import annotations

from engine.cache.types.numbers import parse_redis_int
from engine.errors import EngineError

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def integer(raw: bytes) -> int:
    """An integer argument (string2ll); "value is not an integer or out of range"."""
    return parse_redis_int(raw)


def positive(raw: bytes) -> int:
    """A count read as getPositiveLongFromObjectOrReply reads it: not an integer, or
    negative, is "value is out of range, must be positive"."""
    try:
        value = integer(raw)
    except EngineError:
        value = -1
    if value < 0:
        raise EngineError("InvalidArgument", "value is out of range, must be positive")
    return value


def syntax() -> EngineError:
    return EngineError("SyntaxError", "syntax error")


def word(raw: bytes) -> str:
    """An option word, upper-cased for comparison."""
    return raw.decode("utf-8", "replace").upper()


def pairs(args: list[bytes], name: str) -> list[tuple[bytes, bytes]]:
    """field value [field value ...]; an odd count is a wrong number of arguments."""
    if len(args) % 2:
        raise EngineError("SyntaxError", f"wrong number of arguments for '{name}' command")
    return [(args[i], args[i + 1]) for i in range(0, len(args), 2)]


def numkeys(raw: bytes, available: int) -> int:
    """A numkeys argument: positive, and no more than the arguments that follow."""
    count = integer(raw)
    if count <= 0:
        raise EngineError("InvalidArgument", "numkeys should be greater than 0")
    if count > available:
        raise EngineError("SyntaxError", "Number of keys can't be greater than number of args")
    return count


def mpop_args(args: list[bytes], sides: tuple[str, str]) -> tuple[list[bytes], str, int]:
    """LMPOP's and ZMPOP's ``numkeys key... side [COUNT n]`` (argv after the name): the
    keys, the side (one of ``sides``, checked before the count, as Redis does) and the
    count."""
    n = numkeys(args[0], len(args) - 1)
    keys, rest = args[1:1 + n], args[1 + n:]
    if not rest or word(rest[0]) not in sides:
        raise syntax()
    count = 1
    if len(rest) == 3 and word(rest[1]) == "COUNT":
        count = integer(rest[2])
        if count <= 0:
            raise EngineError("InvalidArgument", "count should be greater than 0")
    elif len(rest) != 1:
        raise syntax()
    return keys, word(rest[0]), count


def expire_ms(raw: bytes, unit: int, command: str) -> int:
    """A relative or absolute time in seconds (unit 1000) or ms, as milliseconds."""
    value = integer(raw)
    if value <= 0 or value > INT64_MAX // unit:
        raise EngineError("InvalidExpireTime", f"invalid expire time in '{command}' command")
    return value * unit


def scan_options(args: list[bytes], *, with_type: bool = False
                 ) -> tuple[bytes | None, int, str | None]:
    """[MATCH pattern] [COUNT n] [TYPE t] in any order: (match, count, type)."""
    match: bytes | None = None
    count = 10
    kind: str | None = None
    i = 0
    while i < len(args):
        option = word(args[i])
        if i + 1 >= len(args):
            raise syntax()
        if option == "MATCH":
            match = args[i + 1]
        elif option == "COUNT":
            count = integer(args[i + 1])
            if count < 1:
                raise syntax()
        elif option == "TYPE" and with_type:
            kind = args[i + 1].decode("utf-8", "replace")
        else:
            raise syntax()
        i += 2
    return match, count, kind
