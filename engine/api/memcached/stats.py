"""``stats`` and ``stats settings`` with memcached's field names, filled from the
endpoint's counters and the node's store (whose budget and evictions the namespace
shares with RESP keys and the object read cache)."""

from __future__ import annotations

import os
import resource
import time

from engine.api.memcached.context import VERSION, Counters, MemcachedContext
from engine.api.memcached.errors import UnknownCommand

EMPTY_GROUPS = frozenset({b"items", b"slabs", b"sizes", b"conns"})


def stats(ctx: MemcachedContext, tokens: list[bytes]) -> bytes:
    if len(tokens) == 1:
        return _lines(general(ctx))
    group = tokens[1]
    if group == b"settings":
        return _lines(settings(ctx))
    if group == b"reset":
        connections = (ctx.counters.total_connections, ctx.counters.rejected_connections)
        ctx.counters = Counters()
        ctx.counters.total_connections, ctx.counters.rejected_connections = connections
        return b"RESET\r\n"
    if group in EMPTY_GROUPS:  # no slab classes here
        return b"END\r\n"
    raise UnknownCommand()


def general(ctx: MemcachedContext) -> list[tuple[str, object]]:
    c = ctx.counters
    usage = resource.getrusage(resource.RUSAGE_SELF)
    store = ctx.items.store
    keys = list(ctx.items.keys())  # O(keys in the store)
    used = sum(store.memory_usage(k) or 0 for k in keys)
    s = store.stats()
    return [
        ("pid", os.getpid()),
        ("uptime", int(time.monotonic() - ctx.started)),
        ("time", ctx.items.now_ms() // 1000),
        ("version", VERSION),
        ("pointer_size", 64),
        ("rusage_user", f"{usage.ru_utime:.6f}"),
        ("rusage_system", f"{usage.ru_stime:.6f}"),
        ("max_connections", ctx.max_connections),
        ("curr_connections", ctx.connections),
        ("total_connections", c.total_connections),
        ("rejected_connections", c.rejected_connections),
        ("cmd_get", c.cmd_get),
        ("cmd_set", c.cmd_set),
        ("cmd_flush", c.cmd_flush),
        ("cmd_touch", c.cmd_touch),
        ("cmd_meta", c.cmd_meta),
        ("get_hits", c.get_hits),
        ("get_misses", c.get_misses),
        ("delete_misses", c.delete_misses),
        ("delete_hits", c.delete_hits),
        ("incr_misses", c.incr_misses),
        ("incr_hits", c.incr_hits),
        ("decr_misses", c.decr_misses),
        ("decr_hits", c.decr_hits),
        ("cas_misses", c.cas_misses),
        ("cas_hits", c.cas_hits),
        ("cas_badval", c.cas_badval),
        ("touch_hits", c.touch_hits),
        ("touch_misses", c.touch_misses),
        ("bytes_read", c.bytes_read),
        ("bytes_written", c.bytes_written),
        ("limit_maxbytes", store.budget),
        ("threads", 1),
        ("bytes", used),
        ("curr_items", len(keys)),
        ("total_items", c.total_items),
        ("evictions", s.evictions),
        ("expired_unfetched", 0),
        ("evicted_unfetched", 0),
    ]


def settings(ctx: MemcachedContext) -> list[tuple[str, object]]:
    return [
        ("maxbytes", ctx.items.store.budget),
        ("maxconns", ctx.max_connections),
        ("tcpport", ctx.port),
        ("udpport", 0),
        ("inter", ctx.interface),
        ("verbosity", ctx.verbosity),
        # memcached -M's "off": refuse stores when full (the store's noeviction policy)
        ("evictions", "off" if ctx.items.store.policy == "noeviction" else "on"),
        ("cas_enabled", "yes"),
        ("binding_protocol", "ascii"),
        ("auth_enabled_sasl", "no"),
        ("auth_enabled_ascii", "no"),
        ("item_size_max", ctx.max_item),
        ("num_threads", 1),
    ]


def _lines(pairs: list[tuple[str, object]]) -> bytes:
    return b"".join(f"STAT {name} {value}\r\n".encode() for name, value in pairs) + b"END\r\n"
