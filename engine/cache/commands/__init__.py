"""Redis's data commands over :class:`~engine.cache.store.CacheStore`, shared by the RESP
endpoint and the gRPC ``Cache.Command`` RPC: argv in, Redis's reply (plain values,
reply.py) and the store keys written out. One module per type; table.py has the
registry and :func:`run`."""

from engine.cache.commands import (  # noqa: F401  (each module registers its commands)
    hashes,
    keys,
    lists,
    sets,
    strings,
    zmpop,
    zranges,
    zsets,
)
from engine.cache.commands.table import TABLE, is_write, keys_of, lookup, run

__all__ = ["TABLE", "is_write", "keys_of", "lookup", "run"]
