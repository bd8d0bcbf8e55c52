"""INFO's text: Redis's sections and field names, filled from this node's cache stats
and the endpoint's counters (Redis reports one server; so does each node here)."""

from __future__ import annotations

import os
import platform
import time

from engine.api.resp.context import RespContext
from engine.cache.local import USER

SECTIONS = ("server", "clients", "memory", "stats", "keyspace", "cluster")
REDIS_VERSION = "7.2.0"


def user_keys(ctx: RespContext) -> list[bytes]:
    """This node's client keys (without the namespace byte): in cluster mode only those
    of the slots it serves as primary, so summing DBSIZE over primaries counts each once."""
    keys = [k[1:] for k in ctx.cache.store.stored_keys() if k[:1] == USER]
    if ctx.cluster is None:
        return keys
    from engine.cache.slots import key_slot

    me = ctx.cluster.me
    return [k for k in keys if ctx.cluster.slots.owners(key_slot(k))[0] == me]


def _human(n: int) -> str:
    for unit in ("B", "K", "M", "G"):
        if n < 1024 or unit == "G":
            return f"{n}{unit}" if unit == "B" else f"{n:.2f}{unit}"
        n = n / 1024  # type: ignore[assignment]
    return str(n)


def render(ctx: RespContext, wanted: list[str]) -> str:
    names = [s for s in SECTIONS if not wanted or s in wanted
             or {"all", "everything", "default"} & set(wanted)]
    return "\r\n".join(_section(ctx, name) for name in names)


def _section(ctx: RespContext, name: str) -> str:
    stats = ctx.cache.local_stats()
    uptime = int(time.monotonic() - ctx.started)
    fields: list[tuple[str, object]]
    if name == "server":
        fields = [("redis_version", REDIS_VERSION), ("redis_git_sha1", "00000000"),
                  ("redis_mode", "cluster" if ctx.cluster is not None else "standalone"),
                  ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
                  ("arch_bits", 64), ("multiplexing_api", "asyncio"),
                  ("process_id", os.getpid()), ("run_id", ctx.run_id),
                  ("tcp_port", ctx.port), ("uptime_in_seconds", uptime),
                  ("uptime_in_days", uptime // 86400), ("engine_node_id", ctx.node_id)]
    elif name == "clients":
        fields = [("connected_clients", len(ctx.clients)), ("maxclients", ctx.max_clients),
                  ("blocked_clients", sum(1 for session, _ in ctx.clients.values()
                                          if session.unblock is not None)),
                  ("pubsub_clients", sum(1 for session, _ in ctx.clients.values()
                                         if session.pubsub is not None and session.pubsub.total))]
    elif name == "memory":
        fields = [("used_memory", stats.bytes_used), ("used_memory_human",
                                                      _human(stats.bytes_used)),
                  ("maxmemory", stats.budget), ("maxmemory_human", _human(stats.budget)),
                  ("maxmemory_policy", ctx.cache.store.policy)]
    elif name == "stats":
        fields = [("total_connections_received", ctx.connections_received),
                  ("total_commands_processed", ctx.commands_processed),
                  ("rejected_connections", ctx.rejected_connections),
                  ("expired_keys", stats.expirations), ("evicted_keys", stats.evictions),
                  ("keyspace_hits", stats.hits), ("keyspace_misses", stats.misses),
                  ("pubsub_channels", len(ctx.pubsub.channels("channel"))),
                  ("pubsub_patterns", ctx.pubsub.numpat()),
                  ("pubsubshard_channels", len(ctx.pubsub.channels("shard"))),
                  ("client_output_buffer_limit_disconnections",
                   ctx.output_limit_disconnections)]
    elif name == "keyspace":
        count = len(user_keys(ctx))
        fields = [("db0", f"keys={count},expires=0,avg_ttl=0")] if count else []
    else:
        fields = [("cluster_enabled", 1 if ctx.cluster is not None else 0)]
    lines = [f"# {name.capitalize()}"] + [f"{k}:{v}" for k, v in fields]
    return "\r\n".join(lines) + "\r\n"
