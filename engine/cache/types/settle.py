"""Ending a collection write that may have changed nothing.

Redis signals a key as modified (WATCH, keyspace events) only when a write changed it:
SADD of members already there, SREM/HDEL/ZREM of absent ones, ZADD or ZINCRBY leaving
every score as it was, SPOP 0 and ZREMRANGEBY* matching nothing leave a watching client's
EXEC to run. :meth:`_settle_if` is ``_settle`` for such writes.
"""

from __future__ import annotations

from engine.cache.keyspace import Keyspace
from engine.cache.types.values import Collection


class SettleIfChanged(Keyspace):
    def _settle_if(self, key: bytes, found: Collection, before: int, changed: bool) -> None:
        """``_settle`` when the write ``changed`` the collection (or left a fresh one
        empty, which ``_settle`` removes); otherwise only end the write, unsignalled."""
        if changed or not len(found):
            self._settle(key, found, before)
        else:
            self._pending.discard(key)
