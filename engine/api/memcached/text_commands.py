"""memcached's classic text commands: storage, retrieval, delete, incr/decr, touch,
flush_all, version, verbosity, quit (stats: stats.py; meta commands: meta_commands.py).

Each takes the context and the request and returns the reply: bytes, or an iterator of
byte chunks for retrievals (so a multiget of many large items is written as the client
reads it, never built whole in memory). Errors are raised as MemcachedError.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.api.memcached import errors
from engine.api.memcached.context import VERSION, MemcachedContext
from engine.api.memcached.counters import apply_delta, counter_value
from engine.api.memcached.errors import MemcachedError, Quit, UnknownCommand
from engine.api.memcached.items import FETCHED, KEEP, Item, expiry_ms
from engine.api.memcached.parser import Request
from engine.api.memcached.syntax import (
    U64,
    check_key,
    item_too_large,
    noreply,
    signed32,
    storage_line,
    unsigned,
)

Reply = bytes | Iterator[bytes]

STORED = b"STORED\r\n"
NOT_STORED = b"NOT_STORED\r\n"
EXISTS = b"EXISTS\r\n"
NOT_FOUND = b"NOT_FOUND\r\n"
END = b"END\r\n"


def store(ctx: MemcachedContext, req: Request) -> bytes:
    tokens = req.tokens
    command = tokens[0]
    line = storage_line(tokens)
    items = ctx.items
    ctx.counters.cmd_set += 1
    if req.too_large:
        if command == b"set":  # a failed set must not leave the older value readable
            items.delete(line.key)
        raise MemcachedError(errors.TOO_LARGE)
    if req.bad_chunk or req.data is None:
        raise MemcachedError(errors.BAD_CHUNK)
    old = items.get(line.key, bump=False)
    now = items.now_ms()
    if command == b"cas":
        if old is None:
            ctx.counters.cas_misses += 1
            return NOT_FOUND
        if old.cas != line.cas:
            ctx.counters.cas_badval += 1
            return EXISTS
        ctx.counters.cas_hits += 1
    elif command == b"add" and old is not None:
        items.get(line.key)  # memcached bumps the item an add failed on
        return NOT_STORED
    elif command in (b"replace", b"append", b"prepend") and old is None:
        return NOT_STORED
    if command in (b"append", b"prepend"):
        assert old is not None
        data = (bytes(old.data) + req.data if command == b"append"
                else req.data + bytes(old.data))
        if item_too_large(line.key, len(data), ctx.max_item):
            raise MemcachedError(errors.OUT_OF_MEMORY)
        items.put(line.key, Item(old.flags, items.next_cas(), 0, data), KEEP)
    else:
        items.put(line.key, Item(line.flags, items.next_cas(), 0, req.data),
                  expiry_ms(line.exptime, now))
    ctx.counters.total_items += 1
    return STORED


def retrieve(ctx: MemcachedContext, req: Request) -> Reply:
    """get, gets, gat, gats: every key is checked before the first value goes out."""
    tokens = req.tokens
    command = tokens[0]
    touch = command in (b"gat", b"gats")
    with_cas = command in (b"gets", b"gats")
    if len(tokens) < 2:
        raise UnknownCommand()
    expire_at: int | None = None
    if touch:
        exptime = signed32(tokens[1])
        if exptime is None:
            raise MemcachedError(errors.BAD_EXPTIME)
        expire_at = expiry_ms(exptime, ctx.items.now_ms())
    keys = tokens[2:] if touch else tokens[1:]
    for key in keys:
        check_key(key)
    return _values(ctx, keys, with_cas, touch, expire_at)


def _values(ctx: MemcachedContext, keys: list[bytes], with_cas: bool, touch: bool,
            expire_at: int | None) -> Iterator[bytes]:
    items, counters = ctx.items, ctx.counters
    for key in keys:
        counters.cmd_get += 1
        if touch:
            counters.cmd_touch += 1
        item = items.get(key)
        if item is None:
            counters.get_misses += 1
            if touch:
                counters.touch_misses += 1
            continue
        counters.get_hits += 1
        items.set_bits(key, item, item.bits | FETCHED)
        if touch:  # after set_bits: a past exptime removes the item for good
            counters.touch_hits += 1
            items.expire(key, expire_at)
        cas = f" {item.cas}" if with_cas else ""
        yield f"VALUE {key.decode('latin-1')} {item.flags} {len(item.data)}{cas}\r\n".encode(
            "latin-1")
        yield bytes(item.data) + b"\r\n"
    yield END


def delete(ctx: MemcachedContext, req: Request) -> bytes:
    tokens = req.tokens
    if not 2 <= len(tokens) <= 4:
        raise UnknownCommand()
    key = check_key(tokens[1])
    if len(tokens) > 2:
        hold_zero = tokens[2] == b"0"
        valid = ((len(tokens) == 3 and (hold_zero or noreply(tokens)))
                 or (len(tokens) == 4 and hold_zero and noreply(tokens)))
        if not valid:
            raise MemcachedError(errors.DELETE_USAGE)
    if ctx.items.delete(key):
        ctx.counters.delete_hits += 1
        return b"DELETED\r\n"
    ctx.counters.delete_misses += 1
    return NOT_FOUND


def arithmetic(ctx: MemcachedContext, req: Request) -> bytes:
    tokens = req.tokens
    if len(tokens) not in (3, 4):
        raise UnknownCommand()
    incr = tokens[0] == b"incr"
    key = check_key(tokens[1])
    delta = unsigned(tokens[2], U64)
    if delta is None:
        raise MemcachedError(errors.BAD_DELTA)
    items, counters = ctx.items, ctx.counters
    item = items.get(key)
    if item is None:
        if incr:
            counters.incr_misses += 1
        else:
            counters.decr_misses += 1
        return NOT_FOUND
    value = counter_value(item.data)
    if value is None:
        raise MemcachedError(errors.NON_NUMERIC)
    if incr:
        counters.incr_hits += 1
    else:
        counters.decr_hits += 1
    result = apply_delta(value, delta, incr)
    text = b"%d" % result
    items.put(key, Item(item.flags, items.next_cas(), item.bits & ~FETCHED, text), KEEP)
    return text + b"\r\n"


def touch(ctx: MemcachedContext, req: Request) -> bytes:
    tokens = req.tokens
    if len(tokens) not in (3, 4):
        raise UnknownCommand()
    key = check_key(tokens[1])
    exptime = signed32(tokens[2])
    if exptime is None:
        raise MemcachedError(errors.BAD_EXPTIME)
    ctx.counters.cmd_touch += 1
    if ctx.items.expire(key, expiry_ms(exptime, ctx.items.now_ms())):
        ctx.counters.touch_hits += 1
        return b"TOUCHED\r\n"
    ctx.counters.touch_misses += 1
    return NOT_FOUND


def flush_all(ctx: MemcachedContext, req: Request) -> bytes:
    tokens = req.tokens
    if len(tokens) > 3:
        raise UnknownCommand()
    delay = 0
    if len(tokens) >= 2 and not (len(tokens) == 2 and noreply(tokens)):
        parsed = signed32(tokens[1])
        if parsed is None:
            raise MemcachedError(errors.BAD_EXPTIME)
        delay = parsed
    ctx.counters.cmd_flush += 1
    ctx.items.flush(delay)
    return b"OK\r\n"


def version(ctx: MemcachedContext, req: Request) -> bytes:
    return f"VERSION {VERSION}\r\n".encode()


def verbosity(ctx: MemcachedContext, req: Request) -> bytes:
    tokens = req.tokens
    if len(tokens) not in (2, 3):
        raise UnknownCommand()
    level = unsigned(tokens[1], 2**32)
    if level is None:
        if noreply(tokens) and len(tokens) == 2:
            return b"OK\r\n"
        raise MemcachedError(errors.BAD_FORMAT)
    ctx.verbosity = level
    return b"OK\r\n"


def quit_(ctx: MemcachedContext, req: Request) -> bytes:
    raise Quit()
