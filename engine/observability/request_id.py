"""The id of the request being served, carried in a context variable and in metadata.

A request entering a node takes the id the caller sent in ``x-request-id`` (if it is
short and printable) or a fresh one. It lives in a ContextVar, so tasks the request
spawns (fan-out to drives, queue members, cache owners) see it too, and every peer call
sends it on (engine/cluster/peers.py): the logs of every node a request touched carry
the same id.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextvars import ContextVar, Token

HEADER = "x-request-id"
MAX_LENGTH = 128  # longer ids from callers are replaced, so logs stay bounded

_current: ContextVar[str | None] = ContextVar("engine_request_id", default=None)


def current() -> str | None:
    """The id of the request this code runs for, or None outside a request."""
    return _current.get()


def new() -> str:
    """A fresh id: 16 hex digits, unique enough to grep a day of logs for."""
    return os.urandom(8).hex()


def from_metadata(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    """The caller's id when it sent a usable one, else a fresh id."""
    for key, value in metadata or ():
        if key == HEADER and isinstance(value, str) and 0 < len(value) <= MAX_LENGTH \
                and value.isprintable():
            return value
    return new()


def enter(request_id: str) -> Token[str | None]:
    """Make `request_id` current for this task (and the tasks it spawns from now on)."""
    return _current.set(request_id)
