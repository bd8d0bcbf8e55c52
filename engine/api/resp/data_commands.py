"""Every data command (the shared table, engine/cache/commands/, strings and keys
included) goes through the cache tier's one command path (``CacheService.command``):
routing, replication and failover as for the gRPC SDK. The reply comes back as a
``CacheValue`` and is written here in the connection's protocol: RESP2 doubles as
Redis's ``%.17g`` text, RESP3 natively."""

from __future__ import annotations

from typing import Any

from engine.api.resp import flush_commands, server_commands  # noqa: F401  (theirs first)
from engine.api.resp.context import RespContext
from engine.api.resp.encoder import NULL_ARRAY, Error, RespSet, Simple
from engine.api.resp.errors import RespError
from engine.api.resp.registry import SERVED, command
from engine.api.resp.session import Session
from engine.cache.commands import TABLE, keys_of, lookup
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
