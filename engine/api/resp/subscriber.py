"""One RESP connection as a pub/sub subscriber: what it is subscribed to, the frames it
is sent, and Redis's ``client-output-buffer-limit pubsub`` guard.

A message is written to the connection's transport the moment it is published (no task,
no queue of our own); what the client has not read yet waits in the transport's buffer.
That buffer is measured after every write: at the hard limit the connection is closed at
once, and above the soft limit for longer than its seconds (on the engine clock) too, so
a subscriber that stops reading cannot exhaust the node's memory. As in Redis, the limit
is looked at only when something is written to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.api.resp.encoder import Push, encode
from engine.cache.pubsub import KINDS, Broker, Kind
from engine.clock import Clock

if TYPE_CHECKING:
    from engine.api.resp.session import Session

log = logging.getLogger("engine.resp")
MIB = 1024 * 1024
# What Redis calls each kind's confirmations and messages.
SUBSCRIBE: dict[Kind, bytes] = {"channel": b"subscribe", "pattern": b"psubscribe",
                                "shard": b"ssubscribe"}
UNSUBSCRIBE: dict[Kind, bytes] = {"channel": b"unsubscribe", "pattern": b"punsubscribe",
                                  "shard": b"sunsubscribe"}
MESSAGE: dict[Kind, bytes] = {"channel": b"message", "pattern": b"pmessage",
                              "shard": b"smessage"}


@dataclass(frozen=True)
class OutputLimit:
    """``client-output-buffer-limit <class> <hard> <soft> <soft-seconds>``; 0: none."""

    hard: int
    soft: int
    soft_seconds: int

    def describe(self) -> str:
        return f"{self.hard} {self.soft} {self.soft_seconds}"


PUBSUB_LIMIT = OutputLimit(32 * MIB, 8 * MIB, 60)  # Redis's default for pubsub clients


class RespSubscriber:
    """Implements engine.cache.pubsub.Subscriber for one connection."""

    def __init__(self, session: Session, broker: Broker, clock: Clock,
                 limit: Callable[[], OutputLimit], write: Callable[[bytes], None],
                 buffered: Callable[[], int], kill: Callable[[], None]) -> None:
        self.session = session
        self.broker = broker
        self.clock = clock
        self.limit = limit
        self.write = write
        self.buffered = buffered
        self.kill = kill
        self.names: dict[Kind, dict[bytes, None]] = {k: {} for k in KINDS}
        self.soft_since: float | None = None
        self.closed = False
        # Every subscription (kept as a number: asked before every command); a RESP2
        # connection with any is in subscribed mode.
        self.total = 0

    def _count_all(self) -> None:
        names = self.names
        self.total = len(names["channel"]) + len(names["pattern"]) + len(names["shard"])

    def count(self, kind: Kind) -> int:
        """The number a confirmation carries: shard channels are counted apart."""
        if kind == "shard":
            return len(self.names["shard"])
        return len(self.names["channel"]) + len(self.names["pattern"])

    def subscribe(self, kind: Kind, name: bytes) -> Push:
        if self.broker.subscribe(kind, name, self):
            self.names[kind][name] = None
            self._count_all()
        return Push([SUBSCRIBE[kind], name, self.count(kind)])

    def unsubscribe(self, kind: Kind, names: list[bytes]) -> list[Push]:
        """The confirmations; with no names, every one of that kind (or one saying none)."""
        targets = names or list(self.names[kind])
        if not targets:
            return [Push([UNSUBSCRIBE[kind], None, self.count(kind)])]
        replies = []
        for name in targets:
            self.broker.unsubscribe(kind, name, self)
            self.names[kind].pop(name, None)
            self._count_all()
            replies.append(Push([UNSUBSCRIBE[kind], name, self.count(kind)]))
        return replies

    def drop_all(self) -> None:
        """Connection gone or RESET: leave everything, confirming nothing."""
        for kind in KINDS:
            for name in self.names[kind]:
                self.broker.unsubscribe(kind, name, self)
            self.names[kind].clear()
        self.total = 0
        self.soft_since = None

    def deliver(self, kind: Kind, channel: bytes, message: bytes,
                pattern: bytes | None) -> None:
        if self.closed:
            return
        frame = ([MESSAGE[kind], pattern, channel, message] if pattern is not None
                 else [MESSAGE[kind], channel, message])
        self.write(encode(Push(frame), self.session.proto))
        self._check()

    def _check(self) -> None:
        limit = self.limit()
        used = self.buffered()
        if limit.hard and used >= limit.hard:
            self._close(used, "hard")
        elif limit.soft and used >= limit.soft:
            now = self.clock.monotonic()
            if self.soft_since is None:
                self.soft_since = now
            elif now - self.soft_since > limit.soft_seconds:
                self._close(used, "soft")
        else:
            self.soft_since = None

    def _close(self, used: int, which: str) -> None:
        self.closed = True
        log.warning("Client id=%d addr=%s closed for overcoming of output buffer limits "
                    "(pubsub %s limit, %d bytes unread)", self.session.id, self.session.addr,
                    which, used)
        self.drop_all()
        self.kill()
