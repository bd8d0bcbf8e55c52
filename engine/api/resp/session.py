"""One RESP connection's state: who it is, what it asked for (RESP version, name,
READONLY) and what CLIENT LIST shows of it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.iam.cache_users import CacheIdentity

if TYPE_CHECKING:
    from engine.api.resp.subscriber import RespSubscriber
    from engine.api.resp.transactions import Transaction
    from engine.cache.watches import KeyWatch

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
    pubsub: RespSubscriber | None = None  # its subscriptions (set up by the connection)
    # while blocked (BLPOP, ...): ends the wait, with None as a timeout or an error text
    unblock: Callable[[str | None], bool] | None = None
    multi: Transaction | None = None  # between MULTI and EXEC/DISCARD (and during EXEC)
    watch: KeyWatch | None = None  # its WATCHed keys, None until the first WATCH

    @property
    def unrestricted(self) -> bool:
        """No permission to check per command: --insecure-no-auth, or the account root
        (which no policy restricts, as in IAM; CacheUsers.permits says the same)."""
        identity = self.identity
        if identity is UNCHECKED:
            return True
        return (identity is not None and identity.acl is None
                and identity.principal is not None and identity.principal.is_root)

    @property
    def subscribed(self) -> bool:
        """RESP2 subscribed mode: only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET are run."""
        return self.proto == 2 and self.pubsub is not None and self.pubsub.total > 0

    @property
    def user(self) -> str:
        return self.identity.name if self.identity is not None else "default"

    def describe(self) -> str:
        """The CLIENT LIST / CLIENT INFO line (without its newline), Redis 7's fields."""
        now = time.monotonic()
        names = self.pubsub.names if self.pubsub is not None else None
        sub, psub, ssub = ((len(names["channel"]), len(names["pattern"]), len(names["shard"]))
                           if names is not None else (0, 0, 0))
        flags = (("r" if self.readonly else "") + ("P" if sub + psub + ssub else "")
                 + ("x" if self.multi is not None else ""))
        multi = len(self.multi.queued) if self.multi is not None else -1
        return (f"id={self.id} addr={self.addr} laddr={self.laddr} fd=-1 name={self.name} "
                f"age={int(now - self.created)} idle={int(now - self.active)} "
                f"flags={flags or 'N'} db=0 sub={sub} psub={psub} ssub={ssub} multi={multi} "
                f"qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 "
                f"tot-mem=0 events=r cmd={self.last_command} user={self.user} redir=-1 "
                f"resp={self.proto} lib-name={self.lib_name} lib-ver={self.lib_ver}")
