"""What every memcached connection of a node shares: the items, the limits and the
counters ``stats`` reports (memcached's names)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from engine.api.memcached.items import Items

VERSION = "1.6.21"  # the memcached protocol level served (meta commands, E flag)


@dataclass
class Counters:
    cmd_get: int = 0
    cmd_set: int = 0
    cmd_flush: int = 0
    cmd_touch: int = 0
    cmd_meta: int = 0
    get_hits: int = 0
    get_misses: int = 0
    delete_hits: int = 0
    delete_misses: int = 0
    incr_hits: int = 0
    incr_misses: int = 0
    decr_hits: int = 0
    decr_misses: int = 0
    cas_hits: int = 0
    cas_misses: int = 0
    cas_badval: int = 0
    touch_hits: int = 0
    touch_misses: int = 0
    total_items: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    total_connections: int = 0
    rejected_connections: int = 0


@dataclass
class MemcachedContext:
    items: Items
    max_item: int = 1024 * 1024
    max_connections: int = 1024
    port: int = 0
    interface: str = ""
    verbosity: int = 0
    connections: int = 0
    started: float = field(default_factory=time.monotonic)
    counters: Counters = field(default_factory=Counters)
