"""One request to its reply: the command table, noreply, and errors as memcached's
texts (never an exception out of here: a bad request gets its error and the
connection goes on)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from engine.api.memcached import errors, meta_commands, stats, text_commands
from engine.api.memcached.context import MemcachedContext
from engine.api.memcached.errors import MemcachedError, UnknownCommand
from engine.api.memcached.parser import Request
from engine.api.memcached.syntax import noreply
from engine.errors import EngineError

log = logging.getLogger("engine.memcached")

Reply = bytes | Iterator[bytes]
Handler = Callable[[MemcachedContext, Request], Reply]

COMMANDS: dict[bytes, Handler] = {
    **dict.fromkeys((b"set", b"add", b"replace", b"append", b"prepend", b"cas"),
                    text_commands.store),
    **dict.fromkeys((b"get", b"gets", b"gat", b"gats"), text_commands.retrieve),
    b"delete": text_commands.delete,
    b"incr": text_commands.arithmetic,
    b"decr": text_commands.arithmetic,
    b"touch": text_commands.touch,
    b"flush_all": text_commands.flush_all,
    b"version": text_commands.version,
    b"verbosity": text_commands.verbosity,
    b"quit": text_commands.quit_,
    b"stats": lambda ctx, req: stats.stats(ctx, req.tokens),
    b"mg": meta_commands.mg,
    b"ms": meta_commands.ms,
    b"md": meta_commands.md,
    b"ma": meta_commands.ma,
    b"me": meta_commands.me,
    b"mn": meta_commands.mn,
}
# Commands whose last token may be "noreply": then nothing is answered, errors included.
NOREPLY = frozenset({b"set", b"add", b"replace", b"append", b"prepend", b"cas", b"delete",
                     b"incr", b"decr", b"touch", b"flush_all", b"verbosity"})


def execute(ctx: MemcachedContext, req: Request) -> Reply:
    """The reply to ``req`` (b"" for none); raises Quit for ``quit``."""
    tokens = req.tokens
    handler = COMMANDS.get(tokens[0]) if tokens else None
    if handler is None:
        return b"ERROR\r\n"
    ctx.items.upkeep()
    silent = tokens[0] in NOREPLY and len(tokens) > 1 and noreply(tokens)
    try:
        reply = handler(ctx, req)
    except UnknownCommand:
        return b"ERROR\r\n"
    except MemcachedError as exc:
        reply = exc.text.encode() + b"\r\n"
    except EngineError as exc:
        reply = from_engine(exc).encode() + b"\r\n"
    return b"" if silent else reply


def from_engine(exc: EngineError) -> str:
    """The store's refusals in memcached's words."""
    if exc.code == "OOM":
        return errors.OUT_OF_MEMORY
    if exc.code in ("ValueTooLarge", "KeyTooLarge"):
        return errors.TOO_LARGE
    log.warning("memcached command failed: %s", exc.code)
    return errors.INTERNAL
