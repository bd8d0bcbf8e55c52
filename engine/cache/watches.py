"""WATCH's per-key modification signal: which clients watch which store keys, and which
of them saw a watched key change since.

The keyspace calls :meth:`Watches.touched` on every write, delete, TTL change, eviction
and expiry (keyspace.py) and :meth:`Watches.touched_all` on a flush. Both cost one dict
lookup when the key is not watched, and memory is held only for watched keys, so an idle
feature costs nothing.
"""

from __future__ import annotations


class KeyWatch:
    """One client's WATCH: the store keys it watches, and whether one changed since."""

    __slots__ = ("dirty", "keys")

    def __init__(self) -> None:
        self.keys: set[bytes] = set()
        self.dirty = False


class Watches:
    def __init__(self) -> None:
        self.by_key: dict[bytes, set[KeyWatch]] = {}

    def add(self, watch: KeyWatch, key: bytes) -> None:
        watch.keys.add(key)
        self.by_key.setdefault(key, set()).add(watch)

    def drop(self, watch: KeyWatch) -> None:
        """Forget every key of ``watch`` (UNWATCH, EXEC, DISCARD, a closed connection)."""
        for key in watch.keys:
            watchers = self.by_key.get(key)
            if watchers is not None:
                watchers.discard(watch)
                if not watchers:
                    del self.by_key[key]
        watch.keys.clear()
        watch.dirty = False

    def touched(self, key: bytes) -> None:
        watchers = self.by_key.get(key)
        if watchers:
            for watch in watchers:
                watch.dirty = True

    def touched_all(self) -> None:
        for watchers in self.by_key.values():
            for watch in watchers:
                watch.dirty = True
