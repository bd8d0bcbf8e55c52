"""Every data command (the shared table, engine/cache/commands/) on the RESP endpoint.

One this node can run at once (CacheService.run_now: it serves the key and need not
wait for a lease or a replica's copy) runs on the store from dispatch.execute_now, its
plain reply turned into the encoder's values by :func:`plain`. The others go through the
cache tier's one command path (``CacheService.command``: routing, replication and
failover as for the gRPC SDK); the reply comes back as a ``CacheValue`` and
:func:`resp_value` writes it in the connection's protocol. RESP2 doubles are Redis's
``%.17g`` text, RESP3's native."""

from __future__ import annotations

from typing import Any

from engine.api.resp import flush_commands, server_commands  # noqa: F401  (theirs first)
from engine.api.resp.context import RespContext
from engine.api.resp.encoder import NULL_ARRAY, Error, RespSet, Simple
from engine.api.resp.encoder import OK as SIMPLE_OK
from engine.api.resp.errors import RespError
from engine.api.resp.registry import SERVED, command
from engine.api.resp.session import Session
from engine.cache.commands import TABLE, keys_of, lookup
from engine.cache.commands.reply import NULL_ARRAY as TABLE_NULL_ARRAY
from engine.cache.commands.reply import OK, Members, Status
from engine.cache.types.numbers import format_double
from engine.errors import EngineError
from engine.v1 import cache_pb2 as pb
from engine.v1 import cache_records_pb2 as rec


async def run(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    request = pb.CacheCommand(argv=argv)
    if session.local_read:
        value = ctx.cache.read_local(rec.CacheCall(command=request)).value
    else:
        value = await ctx.cache.command(request, whole_tier=False)
    return resp_value(value, session.proto)


def plain(value: Any, proto: int) -> Any:
    """A reply of the command table (plain values, engine/cache/commands/reply.py) in the
    encoder's terms for RESP ``proto``: what :func:`resp_value` makes of its CacheValue."""
    kind = type(value)
    if kind is bytes or kind is int or value is None:  # most replies, as they are
        return value
    if value is OK:
        return SIMPLE_OK
    if isinstance(value, Status):
        return Simple(str(value))
    if kind is float:
        return value if proto >= 3 else format_double(value)
    if isinstance(value, Members):
        return RespSet(_plain_items(value, proto))
    if isinstance(value, dict):
        flat = _plain_items([x for kv in value.items() for x in kv], proto)
        return dict(zip(flat[0::2], flat[1::2], strict=True)) if proto >= 3 else flat
    if isinstance(value, list | tuple):
        return _plain_items(value, proto)
    if isinstance(value, bytearray | str):
        return value if kind is not bytearray else bytes(value)
    if value is TABLE_NULL_ARRAY:
        return NULL_ARRAY
    return value  # bool


def _plain_items(items: Any, proto: int) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if type(item) is tuple and proto < 3:
            out += _plain_items(item, proto)  # RESP2 flattens (member, score)
        else:
            out.append(plain(item, proto))
    return out


def resp_value(value: pb.CacheValue, proto: int) -> Any:
    """A CacheValue as the encoder's plain values, for RESP ``proto`` (2 or 3)."""
    kind = value.WhichOneof("kind")
    if kind == "bulk":
        return value.bulk
    if kind == "integer":
        return value.integer
    if kind == "double":
        return value.double if proto >= 3 else format_double(value.double)
    if kind == "simple":
        return Simple(value.simple)
    if kind == "error":
        return Error(value.error)
    if kind == "boolean":
        return value.boolean
    if kind in ("array", "pair"):
        return _items(getattr(value, kind).items, proto)
    if kind == "set":
        return RespSet(_items(value.set.items, proto))
    if kind == "map":
        flat = _items(value.map.items, proto)
        return dict(zip(flat[0::2], flat[1::2], strict=True)) if proto >= 3 else flat
    return NULL_ARRAY if value.null_array else None


def _items(items: Any, proto: int) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item.WhichOneof("kind") == "pair" and proto < 3:
            out += _items(item.pair.items, proto)  # RESP2 flattens (member, score)
        else:
            out.append(resp_value(item, proto))
    return out


@command("command|getkeys", -3)
async def command_getkeys(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    """The keys of a command line (RedisCluster asks for commands with movable keys)."""
    line = argv[2:]
    try:
        lookup(line)
    except EngineError as err:
        if err.code == "UnknownCommand":
            raise RespError("ERR Invalid command specified") from None
        raise RespError("ERR Invalid number of arguments specified for command") from None
    keys = keys_of(line)
    if not keys:
        raise RespError("ERR The command has no key arguments")
    return keys


def _register() -> None:
    """Each command of the shared table the endpoint has no own handler for."""
    for spec in TABLE.values():
        parent, _, sub = spec.name.partition("|")
        served = SERVED.get(parent)
        if served is not None and (not sub or sub in served.subcommands):
            continue
        command(spec.name, spec.arity)(run)


_register()
