"""The pieces of a command line: keys and numbers as memcached 1.6 reads them, and the
header of a storage command (which says how many data bytes follow the line)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.api.memcached.errors import BAD_FORMAT, MemcachedError, UnknownCommand

MAX_KEY = 250  # memcached's KEY_MAX_LENGTH
# What memcached counts besides key and value when it checks an item against the item
# size limit (its item header with the CAS field, about 48-56 bytes on 64-bit builds).
ITEM_OVERHEAD = 48
U32 = 2**32
U64 = 2**64
I32_MIN, I32_MAX = -(2**31), 2**31 - 1

_DIGITS = re.compile(rb"[0-9]+")
_SIGNED = re.compile(rb"-?[0-9]+")
_NOT_KEY = re.compile(rb"[\x00-\x20\x7f]")
STORAGE = frozenset({b"set", b"add", b"replace", b"append", b"prepend", b"cas"})


def split(line: bytes) -> list[bytes]:
    """Tokens separated by spaces (runs of them count once), as memcached tokenizes."""
    return [t for t in line.split(b" ") if t]


def key_ok(key: bytes) -> bool:
    return 0 < len(key) <= MAX_KEY and _NOT_KEY.search(key) is None


def check_key(key: bytes) -> bytes:
    if not key_ok(key):
        raise MemcachedError(BAD_FORMAT)
    return key


def unsigned(token: bytes, bound: int) -> int | None:
    """A decimal below ``bound``, or None."""
    if _DIGITS.fullmatch(token) is None or len(token) > 20:
        return None
    value = int(token)
    return value if value < bound else None


def signed32(token: bytes) -> int | None:
    if _SIGNED.fullmatch(token) is None or len(token) > 12:
        return None
    value = int(token)
    return value if I32_MIN <= value <= I32_MAX else None


def noreply(tokens: list[bytes]) -> bool:
    return tokens[-1] == b"noreply"


@dataclass(frozen=True, slots=True)
class StorageLine:
    """``<cmd> <key> <flags> <exptime> <bytes> [<cas unique>] [noreply]``."""

    key: bytes
    flags: int
    exptime: int
    length: int
    cas: int


def storage_line(tokens: list[bytes]) -> StorageLine:
    """The parsed line; UnknownCommand for the wrong number of tokens, MemcachedError
    (bad command line format) for a bad key or number. Either way no data is read."""
    size = 6 if tokens[0] == b"cas" else 5
    if len(tokens) not in (size, size + 1):
        raise UnknownCommand()
    key = check_key(tokens[1])
    flags = unsigned(tokens[2], U32)
    exptime = signed32(tokens[3])
    length = unsigned(tokens[4], I32_MAX - 1)
    cas = unsigned(tokens[5], U64) if size == 6 else 0
    if flags is None or exptime is None or length is None or cas is None:
        raise MemcachedError(BAD_FORMAT)
    return StorageLine(key, flags, exptime, length, cas)


def item_too_large(key: bytes, length: int, max_item: int) -> bool:
    return len(key) + length + ITEM_OVERHEAD > max_item


def data_length(tokens: list[bytes], max_item: int) -> tuple[int, bool] | None:
    """(bytes of data that follow this line, whether they are too large to keep), or None
    when no data block follows (not a storage command, or a line memcached refuses before
    reading its data: the data line is then read as a command, as memcached does)."""
    if not tokens:
        return None
    command = tokens[0]
    if command in STORAGE:
        try:
            line = storage_line(tokens)
        except MemcachedError:
            return None
        return line.length, item_too_large(line.key, line.length, max_item)
    if command == b"ms" and len(tokens) >= 3:
        length = unsigned(tokens[2], I32_MAX - 1)
        if length is None:
            return None
        return length, item_too_large(tokens[1], length, max_item)
    return None
