"""ZMPOP: pop from the first non-empty sorted set of several; what BZPOPMIN, BZPOPMAX and
BZMPOP run when they find data or are woken (engine/cache/waiters.py)."""

from __future__ import annotations

from engine.cache.commands.args import integer, numkeys, syntax, word
from engine.cache.commands.reply import NULL_ARRAY
from engine.cache.commands.table import Argv, Call, Reply, command
from engine.errors import EngineError


@command("zmpop", -4)
def zmpop(c: Call, a: Argv) -> Reply:
    n = numkeys(a[1], len(a) - 2)
    keys, rest = a[2:2 + n], a[2 + n:]
    if not rest:
        raise syntax()
    where = word(rest[0])
    if where not in ("MIN", "MAX"):
        raise syntax()
    count = 1
    if len(rest) == 3 and word(rest[1]) == "COUNT":
        count = integer(rest[2])
        if count <= 0:
            raise EngineError("InvalidArgument", "count should be greater than 0")
    elif len(rest) != 1:
        raise syntax()
    pop = c.store.zpopmin if where == "MIN" else c.store.zpopmax
    for key in keys:
        popped = pop(key, count)
        if popped:
            return [c.out(key), [[member, score] for member, score in popped]]
    return NULL_ARRAY
