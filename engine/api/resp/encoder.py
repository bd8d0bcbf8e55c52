"""RESP2 and RESP3 replies: Python values in, wire bytes out.

Handlers return plain values and the connection's protocol version decides the bytes:
``bytes`` is a bulk string, ``int`` an integer, ``None`` a null, ``list`` an array,
``dict`` a map (RESP2: a flat array), ``float`` a double (RESP2: a bulk string),
``bool`` a boolean (RESP2: 1 or 0); :class:`Simple`, :class:`Error`, :class:`Verbatim`
(RESP2: a bulk string), :class:`RespSet` (RESP2: an array), :class:`Push` (RESP2: an
array), :class:`Several` and :data:`NULL_ARRAY` say what plain values cannot. Specification: https://redis.io/docs/latest/develop/reference/protocol-spec/
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Simple:
    """A simple string (``+OK``): no CR or LF inside."""

    text: str


@dataclass(frozen=True, slots=True)
class Error:
    """An error reply: ``text`` starts with Redis's code word (``ERR``, ``NOAUTH``...)."""

    text: str


@dataclass(frozen=True, slots=True)
class Verbatim:
    """A verbatim string (INFO, CLIENT LIST in RESP3); ``fmt`` is three letters."""

    text: str
    fmt: str = "txt"


@dataclass(frozen=True, slots=True)
class RespSet:
    items: list[Any]


@dataclass(frozen=True, slots=True)
class Push:
    """Out-of-band data (pub/sub messages and confirmations): RESP3's ``>``, RESP2's array."""

    items: list[Any]


@dataclass(frozen=True, slots=True)
class Several:
    """More than one reply to one command (SUBSCRIBE a b: one confirmation each)."""

    replies: list[Any]


class _NullArray:
    """RESP2's ``*-1`` (a null where an array was expected); RESP3's null."""


NULL_ARRAY = _NullArray()
OK = Simple("OK")


def encode(value: Any, proto: int = 2) -> bytes:
    out = bytearray()
    _write(out, value, proto)
    return bytes(out)


def write(out: bytearray, value: Any, proto: int) -> None:
    """Append ``value``'s encoding to ``out`` (one buffer per read batch)."""
    _write(out, value, proto)


def _write(out: bytearray, value: Any, proto: int) -> None:
    if isinstance(value, bytes):
        out += b"$%d\r\n" % len(value)
        out += value
        out += b"\r\n"
    elif isinstance(value, Simple):
        out += b"+" + value.text.encode() + b"\r\n"
    elif isinstance(value, bool):  # before int: bool is an int
        out += (b"#t\r\n" if value else b"#f\r\n") if proto >= 3 else (
            b":1\r\n" if value else b":0\r\n")
    elif isinstance(value, int):
        out += b":%d\r\n" % value
    elif value is None:
        out += b"_\r\n" if proto >= 3 else b"$-1\r\n"
    elif isinstance(value, list | tuple):
        out += b"*%d\r\n" % len(value)
        for item in value:
            _write(out, item, proto)
    elif isinstance(value, dict):
        out += (b"%%%d\r\n" % len(value)) if proto >= 3 else (b"*%d\r\n" % (2 * len(value)))
        for key, item in value.items():
            _write(out, key, proto)
            _write(out, item, proto)
    elif isinstance(value, Error):
        out += b"-" + value.text.encode("utf-8", "replace") + b"\r\n"
    elif isinstance(value, str):
        _write(out, value.encode("utf-8", "surrogateescape"), proto)
    elif isinstance(value, float):
        _double(out, value, proto)
    elif isinstance(value, Verbatim):
        data = value.text.encode()
        if proto >= 3:
            out += b"=%d\r\n" % (len(data) + 4) + value.fmt.encode() + b":" + data + b"\r\n"
        else:
            _write(out, data, proto)
    elif isinstance(value, RespSet):
        out += (b"~%d\r\n" if proto >= 3 else b"*%d\r\n") % len(value.items)
        for item in value.items:
            _write(out, item, proto)
    elif isinstance(value, Push):
        out += (b">%d\r\n" if proto >= 3 else b"*%d\r\n") % len(value.items)
        for item in value.items:
            _write(out, item, proto)
    elif isinstance(value, Several):
        for item in value.replies:
            _write(out, item, proto)
    elif value is NULL_ARRAY:
        out += b"_\r\n" if proto >= 3 else b"*-1\r\n"
    else:
        raise TypeError(f"no RESP encoding for {type(value).__name__}")


def _double(out: bytearray, value: float, proto: int) -> None:
    if math.isinf(value):
        text = b"inf" if value > 0 else b"-inf"
    elif math.isnan(value):
        text = b"nan"
    else:
        text = repr(value).encode()
        if text.endswith(b".0"):
            text = text[:-2]
    if proto >= 3:
        out += b"," + text + b"\r\n"
    else:
        _write(out, text, proto)
