"""One RESP connection's state: who it is, what it asked for (RESP version, name,
READONLY) and what CLIENT LIST shows of it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from engine.iam.cache_users import CacheIdentity

# The identity of every connection when the node runs with --insecure-no-auth.
UNCHECKED = CacheIdentity("default")


@dataclass
class Session:
    id: int
    addr: str
    laddr: str
    identity: CacheIdentity | None = None  # None: not authenticated yet
    proto: int = 2
    name: str = ""
    lib_name: str = ""
    lib_ver: str = ""
    readonly: bool = False  # cluster mode: READONLY was sent
    local_read: bool = False  # this command reads this replica's own copy (READONLY)
    last_command: str = "NULL"
    created: float = field(default_factory=time.monotonic)
    active: float = field(default_factory=time.monotonic)
    close_after_reply: bool = False

    @property
    def user(self) -> str:
        return self.identity.name if self.identity is not None else "default"

    def describe(self) -> str:
        """The CLIENT LIST / CLIENT INFO line (without its newline), Redis 7's fields."""
        now = time.monotonic()
        return (f"id={self.id} addr={self.addr} laddr={self.laddr} fd=-1 name={self.name} "
                f"age={int(now - self.created)} idle={int(now - self.active)} "
                f"flags={'r' if self.readonly else 'N'} db=0 sub=0 psub=0 ssub=0 multi=-1 "
                f"qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 "
                f"tot-mem=0 events=r cmd={self.last_command} user={self.user} redir=-1 "
                f"resp={self.proto} lib-name={self.lib_name} lib-ver={self.lib_ver}")
