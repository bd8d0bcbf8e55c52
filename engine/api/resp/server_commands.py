"""Server commands: CONFIG GET, TIME, INFO, DBSIZE, ACL WHOAMI and ACL LIST (Redis 7)."""

from __future__ import annotations

from typing import Any

from engine.api.resp.context import RespContext
from engine.api.resp.encoder import Verbatim
from engine.api.resp.info import SECTIONS, render, user_keys
from engine.api.resp.registry import command
from engine.api.resp.session import Session
from engine.cache.glob import glob_match
from engine.iam.redis_acl import describe, parse
from engine.iam.store import cache_users as records


def _config(ctx: RespContext) -> dict[str, str]:
    """The parameters clients ask for on connect (redis-benchmark: save, appendonly)."""
    return {"save": "", "appendonly": "no", "databases": "1",
            "maxmemory": str(ctx.cache.store.budget), "maxmemory-policy": "allkeys-lru",
            "maxclients": str(ctx.max_clients), "proto-max-bulk-len": str(ctx.max_bulk),
            "port": str(ctx.port),
            "client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 "
                                          f"pubsub {ctx.pubsub_limit.describe()}",
            "cluster-enabled": "yes" if ctx.cluster is not None else "no"}


@command("config|get", -3)
async def config_get(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    params = _config(ctx)
    found = {name: value for name, value in params.items()
             if any(glob_match(p.lower(), name.encode()) for p in argv[2:])}
    return found


@command("time", 1)
async def time_(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    seconds, nanos = divmod(ctx.clock.now_ns(), 1_000_000_000)
    return [str(seconds).encode(), str(nanos // 1000).encode()]


@command("info", -1)
async def info(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    wanted = [a.decode("utf-8", "replace").lower() for a in argv[1:]]
    if wanted and not ({"all", "everything", "default"} & set(wanted)
                       or set(wanted) & set(SECTIONS)):
        return Verbatim("")
    return Verbatim(render(ctx, wanted))


@command("dbsize", 1)
async def dbsize(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return len(user_keys(ctx))


@command("acl|whoami", 2)
async def acl_whoami(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return session.user.encode()


@command("acl|list", 2)
async def acl_list(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if ctx.users is None:
        return [b"user default on nopass sanitize-payload ~* &* +@all"]
    lines = []
    for user in ctx.users.store.local(records.all_users):
        acl = parse(user["access"])
        acl.nopass = user["auth"] == "no-password"
        acl.passwords = list(user["passwords"])
        lines.append(f"user {user['name']} {describe(acl)}".encode())
    return lines
