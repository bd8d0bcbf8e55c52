"""Pub/sub commands as Redis 7 answers them: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH,
SPUBLISH and PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB.

Confirmations are one reply per channel (RESP3: push frames); the broker is the node's
(engine/cache/pubsub.py). As in Redis Cluster, PUBLISH reaches subscribers on every node
but returns this node's receivers, and PUBSUB answers for this node only. Shard channels
live on the node serving their slot: SSUBSCRIBE and SPUBLISH elsewhere get MOVED.
Channel permissions were checked by the dispatcher (CacheUsers.permits).
"""

from __future__ import annotations

from typing import Any

from engine.api.resp import errors
from engine.api.resp.context import RespContext
from engine.api.resp.encoder import Several, Simple
from engine.api.resp.errors import RespError
from engine.api.resp.registry import command
from engine.api.resp.session import Session
from engine.api.resp.subscriber import RespSubscriber
from engine.cache.pubsub import Kind
from engine.cache.slots import key_slot

_HELP = [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Print this help.",
]


def _wrong_subcommand_args(argv: list[bytes]) -> RespError:
    sub = argv[1].decode("utf-8", "replace")
    return RespError(f"ERR unknown subcommand or wrong number of arguments for '{sub}'. "
                     "Try PUBSUB HELP.")


def _subscriber(session: Session) -> RespSubscriber:
    assert session.pubsub is not None, "the connection sets it up"
    return session.pubsub


def _shard_slot(ctx: RespContext, channels: list[bytes]) -> None:
    """Cluster mode: every shard channel in one slot, and that slot served here."""
    if ctx.cluster is None:
        return
    slots = {key_slot(c) for c in channels}
    if len(slots) > 1:
        raise RespError(errors.CROSSSLOT)
    moved = ctx.cluster.moved(slots.pop())
    if moved is not None:
        raise RespError(moved)


def _subscribe(session: Session, kind: Kind, names: list[bytes]) -> Several:
    sub = _subscriber(session)
    return Several([sub.subscribe(kind, name) for name in names])


@command("subscribe", -2)
async def subscribe(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return _subscribe(session, "channel", argv[1:])


@command("psubscribe", -2)
async def psubscribe(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return _subscribe(session, "pattern", argv[1:])


@command("ssubscribe", -2)
async def ssubscribe(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    _shard_slot(ctx, argv[1:])
    return _subscribe(session, "shard", argv[1:])


@command("unsubscribe", -1)
async def unsubscribe(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return Several(_subscriber(session).unsubscribe("channel", argv[1:]))


@command("punsubscribe", -1)
async def punsubscribe(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return Several(_subscriber(session).unsubscribe("pattern", argv[1:]))


@command("sunsubscribe", -1)
async def sunsubscribe(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if argv[1:]:
        _shard_slot(ctx, argv[1:])
    return Several(_subscriber(session).unsubscribe("shard", argv[1:]))


@command("publish", 3)
async def publish(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return ctx.pubsub.publish(argv[1], argv[2])


@command("spublish", 3)
async def spublish(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    _shard_slot(ctx, [argv[1]])
    return ctx.pubsub.spublish(argv[1], argv[2])


@command("pubsub|channels", -2)
async def pubsub_channels(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise _wrong_subcommand_args(argv)
    return ctx.pubsub.channels("channel", argv[2] if len(argv) == 3 else None)


@command("pubsub|shardchannels", -2)
async def pubsub_shardchannels(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise _wrong_subcommand_args(argv)
    return ctx.pubsub.channels("shard", argv[2] if len(argv) == 3 else None)


@command("pubsub|numsub", -2)
async def pubsub_numsub(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    out: list[Any] = []
    for channel in argv[2:]:
        out += [channel, ctx.pubsub.numsub("channel", channel)]
    return out


@command("pubsub|shardnumsub", -2)
async def pubsub_shardnumsub(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    out: list[Any] = []
    for channel in argv[2:]:
        out += [channel, ctx.pubsub.numsub("shard", channel)]
    return out


@command("pubsub|numpat", 2)
async def pubsub_numpat(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return ctx.pubsub.numpat()


@command("pubsub|help", 2)
async def pubsub_help(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    return [Simple(line) for line in _HELP]
