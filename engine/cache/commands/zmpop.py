"""ZMPOP: pop from the first non-empty sorted set of several; what BZPOPMIN, BZPOPMAX and
BZMPOP run when they find data or are woken (engine/cache/waiters.py)."""

from __future__ import annotations

from engine.cache.commands.args import mpop_args
from engine.cache.commands.reply import NULL_ARRAY
from engine.cache.commands.table import Argv, Call, Reply, command


@command("zmpop", -4)
def zmpop(c: Call, a: Argv) -> Reply:
    keys, where, count = mpop_args(a[1:], ("MIN", "MAX"))
    pop = c.store.zpopmin if where == "MIN" else c.store.zpopmax
    for key in keys:
        popped = pop(key, count)
        if popped:
            return [c.out(key), [[member, score] for member, score in popped]]
    return NULL_ARRAY
