"""Server commands: CONFIG GET/SET, TIME, INFO, DBSIZE, ACL WHOAMI and ACL LIST (Redis 7).

CONFIG SET changes this node only (Redis Cluster's CONFIG SET is per node too) and
only maxmemory and maxmemory-policy; its errors are Redis 7's texts. The ACL table
(engine/iam/redis_commands.py) files it under @admin @dangerous, as Redis does.
"""

from __future__ import annotations

import re
from typing import Any

from engine.api.resp.context import RespContext
from engine.api.resp.encoder import Verbatim
from engine.api.resp.errors import SYNTAX, RespError
from engine.api.resp.info import SECTIONS, render, user_keys
from engine.api.resp.registry import command
from engine.api.resp.session import Session
from engine.cache.eviction import LFU_DECAY_MINUTES, LFU_LOG_FACTOR, POLICIES
from engine.cache.glob import glob_match
from engine.iam.redis_acl import describe, parse
from engine.iam.store import cache_users as records

# Redis's memtoull: digits, then an optional unit (case-insensitive), nothing else.
_MEMORY = re.compile(rb"([0-9]+)(b|k|kb|m|mb|g|gb)?", re.IGNORECASE)
_UNITS = {b"": 1, b"b": 1, b"k": 1000, b"kb": 1024, b"m": 1000**2, b"mb": 1024**2,
          b"g": 1000**3, b"gb": 1024**3}
SETTABLE = ("maxmemory", "maxmemory-policy")


def _config(ctx: RespContext) -> dict[str, str]:
    """The parameters clients ask for on connect (redis-benchmark: save, appendonly)."""
    store = ctx.cache.store
    return {"save": "", "appendonly": "no", "databases": "1",
            "maxmemory": str(store.budget), "maxmemory-policy": store.policy,
            "lfu-log-factor": str(LFU_LOG_FACTOR), "lfu-decay-time": str(LFU_DECAY_MINUTES),
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


@command("config|set", -4)
async def config_set(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    """All pairs or none: every name is known and each value valid before any applies."""
    if len(argv) % 2:
        raise RespError(SYNTAX)
    known = _config(ctx)
    pairs: dict[str, bytes] = {}
    for raw, value in zip(argv[2::2], argv[3::2], strict=True):
        name = raw.decode("utf-8", "replace").lower()
        if name not in known:
            text = raw.decode("utf-8", "replace")
            raise RespError(f"ERR Unknown option or number of arguments for CONFIG SET - "
                            f"'{text}'")
        if name not in SETTABLE:
            raise _set_failed(name, "can't set immutable config")
        if name in pairs:
            raise _set_failed(name, "duplicate parameter")
        pairs[name] = value
    policy = budget = None
    for name, value in pairs.items():
        if name == "maxmemory":
            budget = memory_value(value)
        else:
            policy = value.decode("utf-8", "replace").lower()
            if policy not in POLICIES:
                raise _set_failed(name, "argument(s) must be one of the following: "
                                  + ", ".join(POLICIES))
    store = ctx.cache.store
    if policy is not None:  # first, so a lowered budget evicts by the new policy
        store.set_policy(policy)
    if budget is not None:
        store.set_budget(budget)
    return b"OK"


def memory_value(raw: bytes) -> int:
    """maxmemory's value as Redis reads it (100mb, 1gb, 100k = 100000); 0 is Redis's "no
    limit", which a cache share that must stay bounded does not offer."""
    match = _MEMORY.fullmatch(raw)
    if match is None:
        raise _set_failed("maxmemory", "argument must be a memory value")
    value = int(match.group(1)) * _UNITS[(match.group(2) or b"").lower()]
    if value == 0:
        raise _set_failed("maxmemory", "maxmemory 0 (no limit) is not supported: the "
                          "engine's cache share always has a budget")
    return value


def _set_failed(name: str, reason: str) -> RespError:
    return RespError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - "
                     f"{reason}")


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
