"""MULTI/EXEC/DISCARD/WATCH/UNWATCH as Redis 7 runs them.

Between MULTI and EXEC the dispatcher checks each command as usual (unknown, arity,
NOPERM, CROSSSLOT/MOVED in cluster mode: an error now, and the transaction is flagged so
EXEC answers EXECABORT) and queues it here. EXEC runs the queue on this node's store
with no await in between, so no other client's command can run inside it (the store
lives on the node's one event loop), then copies the keys it wrote to the slot's replica
in one go. In cluster mode every key of the queue must be in one slot this node serves
("per slot", as Redis Cluster). WATCH relies on the store's per-key signal
(engine/cache/watches.py): EXEC answers a null array when a watched key changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.api.resp import errors
from engine.api.resp.context import RespContext
from engine.api.resp.data_commands import resp_value
from engine.api.resp.encoder import NULL_ARRAY, OK, Error, Simple
from engine.api.resp.errors import RespError
from engine.api.resp.registry import Served, command
from engine.api.resp.session import Session
from engine.cache.commands import TABLE
from engine.cache.local import USER
from engine.cache.watches import KeyWatch
from engine.errors import EngineError

# What runs at once inside MULTI instead of being queued (Redis's processCommand).
RUN_NOW = frozenset({"exec", "discard", "multi", "watch", "quit", "reset"})
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
QUEUED = Simple("QUEUED")


@dataclass
class Transaction:
    queued: list[tuple[Served, list[bytes]]] = field(default_factory=list)
    slots: set[int] = field(default_factory=set)  # cluster mode: the slots of its keys
    failed: bool = False  # a command was refused while queueing: EXEC aborts


def flag(session: Session) -> None:
    """A command was refused inside MULTI: EXEC will answer EXECABORT."""
    if session.multi is not None:
        session.multi.failed = True


def queue(session: Session, served: Served, argv: list[bytes], slot: int) -> Simple:
    assert session.multi is not None
    session.multi.queued.append((served, argv))
    if slot >= 0:
        session.multi.slots.add(slot)
    return QUEUED


def forget(ctx: RespContext, session: Session) -> None:
    """Drop the transaction and the watched keys (EXEC, DISCARD, RESET, disconnect)."""
    session.multi = None
    if session.watch is not None:
        ctx.cache.store.watches.drop(session.watch)


@command("multi", 1)
async def multi(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if session.multi is not None:
        raise RespError("ERR MULTI calls can not be nested")
    session.multi = Transaction()
    return OK


@command("discard", 1)
async def discard(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if session.multi is None:
        raise RespError("ERR DISCARD without MULTI")
    forget(ctx, session)
    return OK


@command("watch", -2)
async def watch(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if session.multi is not None:
        raise RespError("ERR WATCH inside MULTI is not allowed")
    if session.watch is None:
        session.watch = KeyWatch()
    ctx.cache.store.watch(session.watch, [USER + key for key in argv[1:]])
    return OK


@command("unwatch", 1)
async def unwatch(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    if session.watch is not None:
        ctx.cache.store.watches.drop(session.watch)
    return OK


@command("exec", 1)
async def exec_(ctx: RespContext, session: Session, argv: list[bytes]) -> Any:
    tx = session.multi
    if tx is None:
        raise RespError("ERR EXEC without MULTI")
    try:
        if tx.failed:
            raise RespError(EXECABORT)
        slot = _slot(ctx, tx)
        owners = await ctx.cache.hold_slot(slot)
        # From here to the last queued command nothing awaits on the local path.
        if session.watch is not None and not ctx.cache.store.watch_intact(session.watch):
            return NULL_ARRAY
        replies: list[Any] = []
        written: list[bytes] = []
        for served, queued_argv in tx.queued:
            replies.append(await _run(ctx, session, served, queued_argv,
                                      written if owners is not None else None))
        if owners is not None:
            await ctx.cache.replicate(owners, written)
        return replies
    finally:
        forget(ctx, session)


def _slot(ctx: RespContext, tx: Transaction) -> int | None:
    """Cluster mode: the one slot of the queued keys, served here (CROSSSLOT, MOVED)."""
    if ctx.cluster is None or not tx.slots:
        return None
    if len(tx.slots) > 1:
        raise RespError(errors.CROSSSLOT)
    slot = next(iter(tx.slots))
    moved = ctx.cluster.moved(slot)
    if moved is not None:
        raise RespError(moved)
    return slot


async def _run(ctx: RespContext, session: Session, served: Served, argv: list[bytes],
               written: list[bytes] | None) -> Any:
    """One queued command's reply; an error is an element of EXEC's array. A data
    command runs on the local store at once when ``written`` collects its keys; others
    (PING, CLIENT, ...) and the tier path when this node is not the slot's primary go
    through their handler."""
    try:
        if written is not None and served.name in TABLE:
            value, keys = ctx.cache.run_here(argv)
            written += keys
            return resp_value(value, session.proto)
        assert served.handler is not None
        return await served.handler(ctx, session, argv)
    except RespError as exc:
        return Error(exc.text)
    except EngineError as exc:
        return Error(errors.from_engine(exc).text)
