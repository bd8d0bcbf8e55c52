"""The pub/sub broker and its cluster fan-out: who receives what, what PUBLISH counts, and
a fan-out that keeps order, batches, and stays bounded when a peer stops answering."""

from __future__ import annotations

import asyncio

from engine.cache.pubsub import Broker, Kind
from engine.cache.pubsub_fanout import BATCH_COUNT, Fanout
from engine.v1 import pubsub_pb2 as pb


class Inbox:
    def __init__(self) -> None:
        self.got: list[tuple[Kind, bytes, bytes, bytes | None]] = []

    def deliver(self, kind: Kind, channel: bytes, message: bytes,
                pattern: bytes | None) -> None:
        self.got.append((kind, channel, message, pattern))


def test_publish_counts_channel_and_pattern_deliveries():
    broker, a, b = Broker(), Inbox(), Inbox()
    broker.subscribe("channel", b"news", a)
    broker.subscribe("pattern", b"n*", a)
    broker.subscribe("pattern", b"n[eo]ws", b)
    assert broker.subscribe("channel", b"news", a) is False  # already
    assert broker.publish(b"news", b"m") == 3
    assert a.got == [("channel", b"news", b"m", None), ("pattern", b"news", b"m", b"n*")]
    assert b.got == [("pattern", b"news", b"m", b"n[eo]ws")]
    assert broker.channels("channel") == [b"news"] and broker.numpat() == 2
    assert broker.unsubscribe("channel", b"news", a) is True
    assert broker.unsubscribe("channel", b"news", a) is False
    assert broker.channels("channel") == [] and broker.numsub("channel", b"news") == 0


def test_shard_channels_are_their_own_namespace_and_stay_local():
    forwarded: list[tuple[bytes, bytes]] = []
    broker, a = Broker(lambda c, m: forwarded.append((c, m))), Inbox()
    broker.subscribe("shard", b"s", a)
    assert broker.publish(b"s", b"plain") == 0  # a channel subscriber would get it
    assert broker.spublish(b"s", b"sharded") == 1
    assert a.got == [("shard", b"s", b"sharded", None)]
    assert forwarded == [(b"s", b"plain")]  # SPUBLISH is not passed to other nodes


def test_received_messages_are_delivered_but_not_passed_on():
    forwarded: list[tuple[bytes, bytes]] = []
    broker, a = Broker(lambda c, m: forwarded.append((c, m))), Inbox()
    broker.subscribe("channel", b"c", a)
    assert broker.receive([(b"c", b"1"), (b"c", b"2"), (b"d", b"3")]) == 2
    assert [m for _, _, m, _ in a.got] == [b"1", b"2"] and forwarded == []


def test_fanout_keeps_order_batches_and_is_bounded_when_a_peer_hangs():
    async def run() -> None:
        delivered: dict[str, list[bytes]] = {"n2": [], "n3": []}
        batches: list[int] = []
        hang = asyncio.Event()

        async def send(node: str, batch: pb.PubSubBatch, timeout: float) -> object:
            assert batch.origin == "n1"
            if node == "n3":
                await hang.wait()  # never answers
            batches.append(len(batch.messages))
            delivered[node] += [m.message for m in batch.messages]
            return pb.PubSubDelivered()

        fanout = Fanout("n1", ["n1", "n2", "n3"], send, lane_bytes=64 * 1024)
        for i in range(2000):
            fanout.forward(b"ch", b"%04d" % i + b"." * 60)
            if i % 100 == 0:
                await asyncio.sleep(0)  # let the lanes run now and then
        for _ in range(20):
            await asyncio.sleep(0)
        await fanout.close()
        assert [m[:4] for m in delivered["n2"]] == [b"%04d" % i for i in range(2000)]
        assert max(batches) <= BATCH_COUNT and len(batches) < 2000  # batched
        # n3 hung: its lane stopped growing at its bound and the rest was dropped
        assert delivered["n3"] == [] and fanout.dropped > 0
        assert fanout.dropped >= 2000 - (64 * 1024) // 66 - 1

    asyncio.run(run())
