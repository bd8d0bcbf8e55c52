"""Event notifications on the object service over a real drive: the event is committed
with the change in the drive's outbox, delivered, and only then dropped; what the queue
side refuses stays until a sweep delivers it; restore events wait for their time.

The sink stands in for the queue service (the integration and cluster tests use the
real one); the drive, its LMDB outbox and the clock are the engine's own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.clock import ManualClock
from engine.cluster.placement import StaticPlacement
from engine.config import StorageConfig
from engine.objects.notifications.dispatcher import Notifier
from engine.objects.notifications.sink import DestinationGone
from engine.objects.service import ObjectService, WriteOptions
from engine.storage.drive import LocalDrive
from engine.v1.records_pb2 import NotificationConfigurationRecord, QueueNotificationRecord

CONFIG = StorageConfig(stripe_size=64 * 1024, inline_threshold=1024,
                       max_object_size=4 << 20, lmdb_map_size=1 << 28)
QUEUE = "arn:aws:sqs:us-east-1:000000000000:events"
SECOND = 1_000_000_000


class Sink:
    """Records what it is sent; ``failing`` raises as an unavailable queue would."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []
        self.failing: Exception | None = None

    async def check_destination(self, queue_arn: str, bucket: str) -> str | None:
        return None

    async def deliver(self, queue_arn: str, body: str) -> None:
        if self.failing is not None:
            raise self.failing
        self.sent.append((queue_arn, json.loads(body)))

    def names(self) -> list[str]:
        return [b["Records"][0]["eventName"] for _, b in self.sent if "Records" in b]


async def body(data: bytes) -> AsyncIterator[bytes]:
    yield data


class World:
    def __init__(self, tmp: Path) -> None:
        self.clock = ManualClock()
        self.drive = LocalDrive(tmp / "d", CONFIG.lmdb_map_size)
        self.svc = ObjectService(StaticPlacement.single(self.drive), CONFIG, self.clock)
        self.sink = Sink()
        self.eset = self.svc.placement.sets()[0]
        self.notifier = Notifier(self.sink, self.clock, [(self.eset, 0)])
        self.svc.notifier = self.notifier
        self.svc.event_sink = self.sink

    async def configure(self, bucket: str, *events: str, prefix: str = "",
                        suffix: str = "", versioning: bool = False) -> None:
        await self.svc.create_bucket(bucket)
        if versioning:
            await self.svc.put_bucket_versioning(bucket, "Enabled")
        config = NotificationConfigurationRecord(queues=[QueueNotificationRecord(
            id="rule", queue_arn=QUEUE, events=list(events), prefix=prefix, suffix=suffix)])
        await self.svc.put_bucket_notification(bucket, config)

    async def outbox(self) -> int:
        return len(await self.drive.due_events(1 << 62, 1000))


@pytest.fixture
def world(tmp_path: Path):
    w = World(tmp_path)
    yield w
    w.drive.close()


def test_a_put_is_delivered_then_dropped_from_the_outbox(world: World) -> None:
    async def go() -> None:
        await world.configure("bkt", "s3:ObjectCreated:*")
        assert world.sink.names() == []  # only the s3:TestEvent so far
        assert world.sink.sent[0][1]["Event"] == "s3:TestEvent"
        version = await world.svc.put_object("bkt", "photos/a b+c.jpg", body(b"hello"),
                                             WriteOptions())
        await world.notifier.idle()
        assert world.sink.names() == ["ObjectCreated:Put"]
        record = world.sink.sent[-1][1]["Records"][0]
        assert record["s3"]["object"] == {
            "key": "photos/a+b%2Bc.jpg", "size": 5, "eTag": version.etag,
            "sequencer": f"{version.mtime_ns:018X}"}
        assert record["s3"]["configurationId"] == "rule"
        assert await world.outbox() == 0
    asyncio.run(go())


def test_an_event_the_queue_refuses_stays_until_a_sweep_delivers_it(world: World) -> None:
    async def go() -> None:
        await world.configure("bkt", "s3:ObjectCreated:Put")
        world.sink.failing = ConnectionError("queue group has no leader")
        await world.svc.put_object("bkt", "k", body(b"x"), WriteOptions())
        await world.notifier.idle()
        assert world.sink.names() == []
        assert await world.outbox() == 1  # committed with the object, not lost
        world.sink.failing = None
        assert await world.notifier.sweep() == 0  # within the grace: the coordinator's
        world.clock.advance(3)
        assert await world.notifier.sweep() == 1
        assert world.sink.names() == ["ObjectCreated:Put"]
        assert await world.outbox() == 0
    asyncio.run(go())


def test_a_gone_queue_drops_the_event(world: World) -> None:
    async def go() -> None:
        await world.configure("bkt", "s3:ObjectCreated:Put")
        world.sink.failing = DestinationGone("deleted")
        await world.svc.put_object("bkt", "k", body(b"x"), WriteOptions())
        await world.notifier.idle()
        assert await world.outbox() == 0
        assert world.notifier.dropped == 1
    asyncio.run(go())


def test_filters_and_removals(world: World) -> None:
    async def go() -> None:
        await world.configure("bkt", "s3:ObjectRemoved:*", "s3:ObjectCreated:*",
                              prefix="in/", suffix=".csv")
        await world.svc.put_object("bkt", "in/x.txt", body(b"x"), WriteOptions())
        await world.svc.put_object("bkt", "out/x.csv", body(b"x"), WriteOptions())
        await world.svc.delete_object("bkt", "in/never-there.csv")
        await world.svc.put_object("bkt", "in/x.csv", body(b"x"), WriteOptions())
        await world.svc.delete_object("bkt", "in/x.csv")
        await world.notifier.idle()
        assert world.sink.names() == ["ObjectCreated:Put", "ObjectRemoved:Delete"]
        removed = world.sink.sent[-1][1]["Records"][0]["s3"]["object"]
        assert set(removed) == {"key", "sequencer"}  # no size or eTag for a removal
    asyncio.run(go())


def test_versioned_deletes_name_their_versions(world: World) -> None:
    async def go() -> None:
        await world.configure("ver", "s3:ObjectRemoved:*", versioning=True)
        version = await world.svc.put_object("ver", "k", body(b"x"), WriteOptions())
        marker = await world.svc.delete_object("ver", "k")
        world.clock.advance(1)
        await world.svc.delete_object("ver", "k", version.version_id)
        await world.notifier.idle()
        assert world.sink.names() == ["ObjectRemoved:DeleteMarkerCreated",
                                      "ObjectRemoved:Delete"]
        objs = [b["Records"][0]["s3"]["object"] for _, b in world.sink.sent[1:]]
        assert objs[0]["versionId"] == marker.version_id
        assert objs[1]["versionId"] == version.version_id
        assert objs[0]["sequencer"] < objs[1]["sequencer"]
    asyncio.run(go())


def test_restore_events_wait_for_their_time(world: World) -> None:
    async def go() -> None:
        await world.configure("glc", "s3:ObjectRestore:*")
        await world.svc.put_object("glc", "k", body(b"cold"),
                                   WriteOptions(storage_class="GLACIER"))
        await world.svc.restore_object("glc", "k", days=1, tier="Expedited")
        await world.notifier.idle()
        assert world.sink.names() == ["ObjectRestore:Post"]
        assert await world.outbox() == 2  # Completed and Delete, not yet due
        world.clock.advance(5 * 60 + 3)  # Expedited: 5 minutes, plus the sweep's grace
        await world.notifier.sweep()
        assert world.sink.names() == ["ObjectRestore:Post", "ObjectRestore:Completed"]
        done = world.sink.sent[-1][1]["Records"][0]
        assert "lifecycleRestorationExpiryTime" in \
            done["glacierEventData"]["restoreEventData"]
        # Restored again before expiry: the expiry moves, the first Delete becomes void.
        await world.svc.restore_object("glc", "k", days=3)
        world.clock.advance(86400 + 3)
        await world.notifier.sweep()
        assert world.sink.names()[-1] == "ObjectRestore:Completed"
        world.clock.advance(3 * 86400)
        await world.notifier.sweep()
        assert world.sink.names()[-1] == "ObjectRestore:Delete"
        assert world.sink.names().count("ObjectRestore:Delete") == 1
        assert await world.outbox() == 0
    asyncio.run(go())


def test_a_failed_delivery_does_not_stop_the_next_ones(world: World) -> None:
    async def go() -> None:
        await world.configure("bkt", "s3:ObjectCreated:Put")
        world.sink.failing = ConnectionError("no leader")
        for n in range(10):  # more failures than there are workers
            await world.svc.put_object("bkt", f"first{n}", body(b"x"), WriteOptions())
            await world.notifier.idle()
        world.sink.failing = None
        await world.svc.put_object("bkt", "second", body(b"x"), WriteOptions())
        await world.notifier.idle()  # delivered at once, by the same workers
        assert [b["Records"][0]["s3"]["object"]["key"] for _, b in world.sink.sent[1:]] \
            == ["second"]
        assert await world.outbox() == 10  # the failed ones wait for a sweep
    asyncio.run(go())


def test_lifecycle_expiration_names_s3_and_reports_no_body(world: World) -> None:
    async def go() -> None:
        await world.configure("bkt", "s3:LifecycleExpiration:*")
        version = await world.svc.put_object("bkt", "old", body(b"xyz"), WriteOptions())
        assert await world.svc.remove_version("bkt", "old", version)
        await world.notifier.idle()
        (record,) = [b["Records"][0] for _, b in world.sink.sent[1:]]
        assert record["eventName"] == "LifecycleExpiration:Delete"
        assert record["userIdentity"] == {"principalId": "s3.amazonaws.com"}
        assert record["awsRegion"] == "us-east-1"
        assert set(record["s3"]["object"]) == {"key", "sequencer"}
    asyncio.run(go())
