"""Redis pub/sub on one node: who is subscribed to what, and delivery to them.

Three kinds of subscription, as in Redis 7: channels (SUBSCRIBE), glob patterns
(PSUBSCRIBE, matched with engine/cache/glob.py) and shard channels (SSUBSCRIBE). A
subscriber is anything with ``deliver`` (a RESP connection, engine/api/resp/subscriber.py);
delivery calls it inline on the node's event loop, so there is no thread or task per
subscriber and a slow one is the subscriber's own problem (its output buffer limit).

A PUBLISH reaches this node's subscribers at once and is handed to ``forward`` (the
cluster fan-out, engine/cache/pubsub_fanout.py) for every other node; like Redis Cluster,
the count it returns is this node's receivers only. SPUBLISH stays on this node: the
caller has already checked that the node serves the channel's slot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, Protocol

from engine.cache.glob import glob_match

Kind = Literal["channel", "pattern", "shard"]
KINDS: tuple[Kind, ...] = ("channel", "pattern", "shard")


class Subscriber(Protocol):
    def deliver(self, kind: Kind, channel: bytes, message: bytes,
                pattern: bytes | None) -> None:
        """``message`` was published on ``channel`` (``pattern``: the one it matched)."""
        ...


class Broker:
    def __init__(self, forward: Callable[[bytes, bytes], None] | None = None) -> None:
        self.forward = forward  # None: a single node
        self._subs: dict[Kind, dict[bytes, dict[Subscriber, None]]] = {k: {} for k in KINDS}

    def subscribe(self, kind: Kind, name: bytes, sub: Subscriber) -> bool:
        """Add; False when ``sub`` already had it."""
        members = self._subs[kind].setdefault(name, {})
        if sub in members:
            return False
        members[sub] = None
        return True

    def unsubscribe(self, kind: Kind, name: bytes, sub: Subscriber) -> bool:
        """Remove; False when ``sub`` did not have it. An empty channel is forgotten."""
        table = self._subs[kind]
        members = table.get(name)
        if members is None or sub not in members:
            return False
        del members[sub]
        if not members:
            del table[name]
        return True

    def publish(self, channel: bytes, message: bytes) -> int:
        """Deliver here, pass on to the other nodes; this node's receivers."""
        if self.forward is not None:
            self.forward(channel, message)
        return self.deliver_local(channel, message)

    def spublish(self, channel: bytes, message: bytes) -> int:
        members = self._subs["shard"].get(channel)
        for sub in list(members or ()):
            sub.deliver("shard", channel, message, None)
        return len(members or ())

    def deliver_local(self, channel: bytes, message: bytes) -> int:
        """To this node's channel and pattern subscribers (Redis's order: channel first,
        then each matching pattern); how many deliveries were made."""
        count = 0
        for sub in list(self._subs["channel"].get(channel, ())):
            sub.deliver("channel", channel, message, None)
            count += 1
        for pattern, members in list(self._subs["pattern"].items()):
            if glob_match(pattern, channel):
                for sub in list(members):
                    sub.deliver("pattern", channel, message, pattern)
                    count += 1
        return count

    def receive(self, messages: Iterable[tuple[bytes, bytes]]) -> int:
        """Messages another node took: delivered here only."""
        count = 0
        for channel, message in messages:
            count += self.deliver_local(channel, message)
        return count

    # -- PUBSUB CHANNELS / NUMSUB / NUMPAT / SHARDCHANNELS / SHARDNUMSUB -----------------

    def channels(self, kind: Kind, pattern: bytes | None = None) -> list[bytes]:
        """Active channels (one subscriber or more), those matching ``pattern`` if given."""
        return [name for name in self._subs[kind]
                if pattern is None or glob_match(pattern, name)]

    def numsub(self, kind: Kind, channel: bytes) -> int:
        return len(self._subs[kind].get(channel, ()))

    def numpat(self) -> int:
        """Distinct patterns subscribed to (not the subscriptions)."""
        return len(self._subs["pattern"])
