"""COMMAND, COMMAND COUNT/INFO/DOCS/LIST: the served commands as Redis 7 describes them,
from Redis's own table (engine/iam/redis_commands.py: ACL categories, key positions)
and the arities the endpoint checks. Cluster clients (redis-py's RedisCluster) read key
positions from here to pick the node for each command."""

from __future__ import annotations

from typing import Any

from engine.api.resp.context import RespContext
from engine.api.resp.encoder import RespSet
from engine.api.resp.registry import SERVED, Served, command
from engine.api.resp.session import Session
from engine.iam.redis_commands import COMMANDS, NO_AUTH

_FLAGS = {"write": "write", "read": "readonly", "admin": "admin", "fast": "fast",
          "blocking": "blocking", "pubsub": "pubsub"}
_GROUPS = ("string", "hash", "list", "set", "sortedset", "pubsub", "connection",
           "keyspace")


def _served() -> list[Served]:
    return [SERVED[name] for name in sorted(SERVED)]


def _positions(name: str) -> tuple[int, int, int, bool]:
    """(first key, last key, step, movable) as COMMAND's legacy fields give them."""
    spec = COMMANDS.get(name)
    if spec is None or not spec.keys:
        return 0, 0, 0, False
    where = [k.where for k in spec.keys]
    if any(w.counted or w.streams for w in where):
        return 0, 0, 0, True
    if len(where) == 1:
        return where[0].first, where[0].last, where[0].step, False
    return min(w.first for w in where), max(w.last for w in where), 1, False


def entry(served: Served) -> list[Any]:
    spec = COMMANDS.get(served.name)
    categories = sorted(spec.categories) if spec is not None else []
    flags = [_FLAGS[c] for c in categories if c in _FLAGS]
    if served.name.split("|")[0] in NO_AUTH:
        flags.append("no_auth")
    first, last, step, movable = _positions(served.name)
    if movable:
        flags.append("movablekeys")
    subcommands = [entry(s) for _, s in sorted(served.subcommands.items())]
    return [served.name.encode(), served.arity, RespSet(flags), first, last, step,
            RespSet([f"@{c}" for c in categories]), [], [], subcommands]


def _find(name: bytes) -> Served | None:
    return SERVED.get(name.decode("utf-8", "replace").lower())


@command("command", -1)
async def command_all(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return [entry(s) for s in _served()]


@command("command|count", 2)
async def command_count(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return len(SERVED)


@command("command|list", -2)
async def command_list(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return [s.name.encode() for s in _served()]


@command("command|info", -2)
async def command_info(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return [entry(s) for s in _served()]
    found = [_find(name) for name in argv[2:]]
    return [entry(s) if s is not None else None for s in found]


def _docs(served: Served) -> dict[str, Any]:
    spec = COMMANDS.get(served.name)
    group = next((g for g in _GROUPS if spec is not None and g in spec.categories), "server")
    doc: dict[str, Any] = {"summary": "", "since": "1.0.0", "group": group}
    if served.subcommands:
        doc["subcommands"] = {s.name: _docs(s) for _, s in sorted(served.subcommands.items())}
    return doc


@command("command|docs", -2)
async def command_docs(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    chosen = _served() if len(argv) == 2 else [s for s in map(_find, argv[2:]) if s]
    return {s.name: _docs(s) for s in chosen}
