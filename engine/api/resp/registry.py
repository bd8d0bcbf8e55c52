"""The commands the endpoint serves: name, Redis's arity, handler; container commands
(CLIENT, CONFIG, ...) with their subcommands. Handler modules register themselves with
:func:`command`; COMMAND INFO and the dispatcher read :data:`SERVED`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.api.resp.context import RespContext
    from engine.api.resp.session import Session

Handler = Callable[["RespContext", "Session", list[bytes]], Awaitable[Any]]


@dataclass
class Served:
    name: str  # "get", "client|id"
    arity: int  # Redis's: n exactly, -n at least n (the name counts)
    handler: Handler | None = None  # None: a container, see subcommands
    subcommands: dict[str, Served] = field(default_factory=dict)


SERVED: dict[str, Served] = {}


def command(name: str, arity: int) -> Callable[[Handler], Handler]:
    """Register ``handler`` as ``name`` ("get", or "client|id" for a subcommand)."""

    def register(handler: Handler) -> Handler:
        parent, _, sub = name.partition("|")
        if sub:
            container = SERVED.setdefault(parent, Served(parent, -2))
            container.subcommands[sub] = Served(name, arity, handler)
        elif name in SERVED:  # a container that also runs alone (COMMAND)
            SERVED[name].handler = handler
            SERVED[name].arity = arity
        else:
            SERVED[name] = Served(name, arity, handler)
        return handler

    return register
