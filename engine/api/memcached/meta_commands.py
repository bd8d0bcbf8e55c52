"""memcached's meta commands: mg, ms, md, ma, me, mn (protocol.txt "Meta ...").

Return codes: HD (done, no value), VA (value follows), EN (miss), NF (not found), NS
(not stored), EX (CAS mismatch), MN (mn). ``q`` hides the nominal answer: EN for mg, HD
for ms, md and ma. Stale-while-revalidate: md/ms ``I`` mark an item stale; the first mg
to see a stale item (or, with ``R``, one about to expire; or, with ``N``, a miss that it
creates as an empty placeholder) gets ``W`` (it should recache), the others ``Z``, and a
stale item answers ``X``.
"""

from __future__ import annotations

from engine.api.memcached import errors
from engine.api.memcached.context import MemcachedContext
from engine.api.memcached.counters import apply_delta, counter_value
from engine.api.memcached.errors import MemcachedError, UnknownCommand
from engine.api.memcached.items import FETCHED, KEEP, STALE, WON, Item, expiry_ms
from engine.api.memcached.meta_flags import MA, MD, MG, MS, Flags, echo, line, meta_key
from engine.api.memcached.parser import Request
from engine.api.memcached.syntax import I32_MAX, ITEM_OVERHEAD, U32, U64, unsigned

HD, EN, NF, NS, EX = b"HD", b"EN", b"NF", b"NS", b"EX"


def _start(ctx: MemcachedContext, req: Request, first_flag: int, spec: object
           ) -> tuple[bytes, bytes, Flags]:
    tokens = req.tokens
    if len(tokens) < 2:
        raise UnknownCommand()
    ctx.counters.cmd_meta += 1
    flags = Flags(spec, tokens[first_flag:])  # type: ignore[arg-type]
    return tokens[1], meta_key(tokens[1], flags), flags


def _value_reply(code: bytes, parts: list[bytes], data: bytes | memoryview | None
                 ) -> bytes:
    if data is None:
        return line(code, parts)
    return line(b"VA", [b"%d" % len(data), *parts]) + bytes(data) + b"\r\n"


def mg(ctx: MemcachedContext, req: Request) -> bytes:
    raw, key, flags = _start(ctx, req, 2, MG)
    items, counters = ctx.items, ctx.counters
    cas_override = flags.number("E", U64)
    vivify = flags.ttl("N")
    recache = flags.ttl("R")
    new_ttl = flags.ttl("T")
    counters.cmd_get += 1
    idle = items.idle_seconds(key)
    item = items.get(key, bump="u" not in flags)
    won_before = win = False
    if item is None:
        counters.get_misses += 1
        if vivify is None:
            return b"" if "q" in flags else line(EN, [])
        item = Item(0, cas_override or items.next_cas(), WON, b"")
        items.put(key, item, expiry_ms(vivify, items.now_ms()))
        win, hit_before = True, 0
    else:
        counters.get_hits += 1
        won_before = bool(item.bits & WON)
        hit_before = 1 if item.bits & FETCHED else 0
        if not won_before:
            ttl = items.ttl_seconds(key)
            win = bool(item.bits & STALE) or (
                recache is not None and 0 <= ttl < recache)
        items.set_bits(key, item, item.bits | FETCHED | (WON if win else 0))
        if new_ttl is not None:  # after set_bits: a past TTL removes the item for good
            counters.cmd_touch += 1
            items.expire(key, expiry_ms(new_ttl, items.now_ms()))
    values: dict[str, object] = {
        "c": item.cas, "f": item.flags, "h": hit_before, "l": idle,
        "s": len(item.data), "t": items.ttl_seconds(key)}
    parts = echo(flags, raw, values)
    if won_before:
        parts.append(b"Z")
    if item.bits & STALE:
        parts.append(b"X")
    if win:
        parts.append(b"W")
    return _value_reply(HD, parts, item.data if "v" in flags else None)


def ms(ctx: MemcachedContext, req: Request) -> bytes:
    tokens = req.tokens
    if len(tokens) == 2 or (len(tokens) > 2 and unsigned(tokens[2], I32_MAX - 1) is None):
        raise MemcachedError(errors.BAD_FORMAT)  # no data was read for this line
    raw, key, flags = _start(ctx, req, 3, MS)
    items, counters = ctx.items, ctx.counters
    mode = flags.mode() or "S"
    if mode not in "SEAPRseapr":
        raise MemcachedError(errors.MS_MODE)
    mode = mode.upper()
    client_flags = flags.number("F", U32) or 0
    ttl = flags.ttl("T") or 0
    compare = flags.number("C", U64)
    new_cas = flags.number("E", U64)
    vivify = flags.ttl("N")
    counters.cmd_set += 1
    if req.too_large:
        if mode == "S":
            items.delete(key)
        raise MemcachedError(errors.TOO_LARGE)
    if req.bad_chunk or req.data is None:
        raise MemcachedError(errors.BAD_CHUNK)
    data: bytes = req.data
    old = items.get(key, bump=False)
    bits = 0
    if compare is not None:
        if old is None:
            counters.cas_misses += 1
            return line(NF, echo(flags, raw, {}))
        if old.cas != compare:
            if not ("I" in flags and compare < old.cas):
                counters.cas_badval += 1
                return line(EX, echo(flags, raw, {}))
            bits = STALE  # an older writer's value, kept but marked stale
        counters.cas_hits += 1
    expire_at: int | None = expiry_ms(ttl, items.now_ms())
    if (mode == "E" and old is not None) or (mode == "R" and old is None):
        return line(NS, echo(flags, raw, {}))
    if mode in "AP":
        if old is None:
            if vivify is None:
                return line(NS, echo(flags, raw, {}))
            expire_at = expiry_ms(vivify, items.now_ms())
        else:
            data = bytes(old.data) + data if mode == "A" else data + bytes(old.data)
            client_flags, expire_at = old.flags, KEEP
            if len(data) + len(key) + ITEM_OVERHEAD > ctx.max_item:
                raise MemcachedError(errors.OUT_OF_MEMORY)
    item = Item(client_flags, new_cas or items.next_cas(), bits, data)
    items.put(key, item, expire_at)
    counters.total_items += 1
    if "q" in flags:
        return b""
    return line(HD, echo(flags, raw, {"c": item.cas}))


def md(ctx: MemcachedContext, req: Request) -> bytes:
    raw, key, flags = _start(ctx, req, 2, MD)
    items, counters = ctx.items, ctx.counters
    compare = flags.number("C", U64)
    new_cas = flags.number("E", U64)
    ttl = flags.ttl("T")
    item = items.get(key, bump=False)
    if item is None:
        counters.delete_misses += 1
        return line(NF, echo(flags, raw, {}))
    if compare is not None and compare != item.cas:
        return line(EX, echo(flags, raw, {}))
    counters.delete_hits += 1
    if "I" in flags or "x" in flags:
        expire_at = KEEP if ttl is None else expiry_ms(ttl, items.now_ms())
        if "I" in flags:
            changed = Item(item.flags, new_cas or item.cas, item.bits | STALE, item.data)
        else:  # x: drop the value and client flags, keep the key
            changed = Item(0, new_cas or item.cas, item.bits, b"")
        items.put(key, changed, expire_at)
    else:
        items.delete(key)
    return b"" if "q" in flags else line(HD, echo(flags, raw, {}))


def ma(ctx: MemcachedContext, req: Request) -> bytes:
    raw, key, flags = _start(ctx, req, 2, MA)
    items, counters = ctx.items, ctx.counters
    mode = flags.mode()
    if mode is not None and mode not in "Ii+Dd-":
        raise MemcachedError(errors.MA_MODE)
    incr = mode is None or mode in "Ii+"
    delta = flags.number("D", U64)
    initial = flags.number("J", U64) or 0
    vivify = flags.ttl("N")
    new_ttl = flags.ttl("T")
    compare = flags.number("C", U64)
    new_cas = flags.number("E", U64)
    item = items.get(key)
    if item is None:
        if incr:
            counters.incr_misses += 1
        else:
            counters.decr_misses += 1
        if vivify is None:
            return line(NF, echo(flags, raw, {}))
        item = Item(0, new_cas or items.next_cas(), 0, b"%d" % initial)
        items.put(key, item, expiry_ms(vivify, items.now_ms()))
    else:
        if compare is not None and compare != item.cas:
            return line(EX, echo(flags, raw, {}))
        value = counter_value(item.data)
        if value is None:
            raise MemcachedError(errors.NON_NUMERIC)
        if incr:
            counters.incr_hits += 1
        else:
            counters.decr_hits += 1
        result = b"%d" % apply_delta(value, 1 if delta is None else delta, incr)
        expire_at = KEEP if new_ttl is None else expiry_ms(new_ttl, items.now_ms())
        item = Item(item.flags, new_cas or items.next_cas(), item.bits & ~FETCHED, result)
        items.put(key, item, expire_at)
    parts = echo(flags, raw, {"c": item.cas, "t": items.ttl_seconds(key)})
    if "v" in flags:
        return _value_reply(HD, parts, item.data)
    return b"" if "q" in flags else line(HD, parts)


def me(ctx: MemcachedContext, req: Request) -> bytes:
    """Meta debug: what memcached keeps about one item."""
    tokens = req.tokens
    if len(tokens) < 2:
        raise MemcachedError(errors.BAD_FORMAT)
    key = meta_key(tokens[1], Flags(MG, [t for t in tokens[2:] if t == b"b"]))
    items = ctx.items
    item = items.get(key, bump=False)
    if item is None:
        return line(EN, [])
    fetched = "yes" if item.bits & FETCHED else "no"
    return (f"ME {tokens[1].decode('latin-1')} exp={items.ttl_seconds(key)} "
            f"la={items.idle_seconds(key)} cas={item.cas} fetch={fetched} cls=1 "
            f"size={len(key) + len(item.data) + ITEM_OVERHEAD}\r\n").encode("latin-1")


def mn(ctx: MemcachedContext, req: Request) -> bytes:
    return b"MN\r\n"
