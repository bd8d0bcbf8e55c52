"""One request, the way Redis 7's processCommand takes it: look the command up, check
its arity, authentication (NOAUTH), the user's permissions (NOPERM), then in cluster
mode the keys' slots (CROSSSLOT, MOVED, READONLY reads on a replica), then RESP2's
subscribed context, then run it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.api.resp import errors, transactions
from engine.api.resp.context import RespContext
from engine.api.resp.data_commands import plain
from engine.api.resp.errors import RespError
from engine.api.resp.registry import SERVED, Served
from engine.api.resp.session import Session
from engine.cache.commands import TABLE
from engine.cache.service import Copies
from engine.cache.slots import key_slot
from engine.iam.redis_commands import COMMANDS

# Served before AUTH (Redis's no-auth commands, and RESET, which logs out anyway).
BEFORE_AUTH = frozenset({"auth", "hello", "quit", "reset"})
# What a RESP2 connection with subscriptions may run (Redis's subscribed context).
SUBSCRIBED = frozenset({"subscribe", "psubscribe", "ssubscribe", "unsubscribe",
                        "punsubscribe", "sunsubscribe", "ping", "quit", "reset"})


# Commands without subcommands by their name as sent, in lower or upper case (filled as
# they are first seen), so that the common spellings skip decoding.
_BY_RAW: dict[bytes, Served] = {}


def lookup(argv: list[bytes]) -> Served:
    """The command (or subcommand) ``argv`` runs, its arity checked."""
    served = _BY_RAW.get(argv[0])
    if served is None:
        name = argv[0].decode("utf-8", "replace").lower()
        served = SERVED.get(name)
        if served is None:
            raise errors.unknown_command(argv)
        if not served.subcommands and argv[0] in (name.encode(), name.upper().encode()):
            _BY_RAW[argv[0]] = served
    if served.subcommands and (len(argv) > 1 or served.handler is None):
        if len(argv) < 2:
            raise errors.wrong_args(served.name)
        sub = argv[1].decode("utf-8", "replace").lower()
        found = served.subcommands.get(sub)
        if found is None:
            raise errors.unknown_subcommand(served.name, argv[1])
        served = found
    arity = served.arity
    if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
        raise errors.wrong_args(served.name)
    return served


@dataclass(frozen=True, slots=True)
class Admitted:
    """execute_now's answer for a command that needs the loop (an await): it passed every
    check, so :func:`execute` runs it without checking again."""

    served: Served
    slot: int


def execute_now(ctx: RespContext, session: Session, argv: list[bytes],
                copies: Copies | None = None) -> Any:
    """The reply, as plain values (engine/cache/commands/reply.py), of a data command this
    node runs on its own store at once (CacheService.run_now); an :class:`Admitted` for
    every other command. Outside MULTI only (the caller checks). ``copies``: see
    CacheService.run_now (the caller awaits them before it answers). RespError/EngineError:
    the reply is that error, as from :func:`execute`."""
    served, slot = _admit(ctx, session, argv)
    if served.name in TABLE:
        done = ctx.cache.run_now(argv, slot, on_copy=session.local_read, copies=copies)
        if done is not None:
            return plain(done[0], session.proto)
    return Admitted(served, slot)


async def execute(ctx: RespContext, session: Session, argv: list[bytes],
                  admitted: Admitted | None = None) -> Any:
    """Check ``argv`` (unless execute_now did: ``admitted``), then run or queue it."""
    if admitted is not None:
        served, slot = admitted.served, admitted.slot
    else:
        try:
            served, slot = _admit(ctx, session, argv)
        except RespError:
            transactions.flag(session)  # inside MULTI: EXEC will answer EXECABORT
            raise
    if session.multi is not None and served.name.split("|")[0] not in transactions.RUN_NOW:
        return transactions.queue(session, served, argv, slot)
    assert served.handler is not None
    return await served.handler(ctx, session, argv)


def _admit(ctx: RespContext, session: Session, argv: list[bytes]) -> tuple[Served, int]:
    """Every check before a command runs or is queued; the slot of its keys (-1: none,
    or not in cluster mode)."""
    served = lookup(argv)
    name = served.name
    session.last_command = name
    if session.identity is None:
        if name.split("|")[0] not in BEFORE_AUTH:
            raise RespError(errors.NOAUTH)
    elif ctx.users is not None and not session.unrestricted:
        denied = ctx.users.permits(session.identity, argv[0].decode("utf-8", "replace"),
                                   argv[1:])
        if denied is not None:
            raise RespError(denied.reply)
    session.local_read = False
    slot = _route(ctx, session, name, argv) if ctx.cluster is not None else -1
    if name not in SUBSCRIBED and session.subscribed:
        raise RespError(f"ERR Can't execute '{name}': only (P|S)SUBSCRIBE / "
                        "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
    return served, slot


def _route(ctx: RespContext, session: Session, name: str, argv: list[bytes]) -> int:
    """Cluster mode: refuse keys of several slots, send keys another node serves there;
    the keys' slot (-1: no key)."""
    spec = COMMANDS.get(name)
    if spec is None or not spec.keys:
        return -1
    slot = -1
    for key_spec in spec.keys:
        for key in key_spec.where.pick(argv):
            this = key_slot(key)
            if slot not in (-1, this):
                raise RespError(errors.CROSSSLOT)
            slot = this
    if slot < 0:
        return -1
    assert ctx.cluster is not None
    if (session.readonly and "write" not in spec.categories
            and ctx.cluster.me in ctx.cluster.slots.owners(slot)):
        session.local_read = ctx.cluster.me != ctx.cluster.server_of(slot)
        return slot
    moved = ctx.cluster.moved(slot)
    if moved is not None:
        raise RespError(moved)
    return slot
