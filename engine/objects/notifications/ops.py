"""PutBucketNotificationConfiguration / GetBucketNotificationConfiguration.

The configuration lives in the bucket record (replicated like every bucket setting), so
every node that coordinates a write sees the same rules. Before it is stored, every
destination is checked as S3 checks it (the queue exists and its policy lets this
bucket send), and each destination then gets an ``s3:TestEvent`` message.
"""

from __future__ import annotations

import json
import logging

from engine.errors import EngineError
from engine.objects.core import ObjectCore
from engine.objects.notifications.records import event_time, host_id
from engine.objects.notifications.rules import check_configuration
from engine.objects.notifications.sink import EventSink
from engine.observability import request_id
from engine.v1.records_pb2 import NotificationConfigurationRecord

log = logging.getLogger("engine.objects")
NO_SUCH_QUEUE = "The destination queue does not exist"


class NotificationOps(ObjectCore):
    event_sink: EventSink | None = None  # the queue side (None: no queues, no events)

    async def put_bucket_notification(
        self, bucket: str, config: NotificationConfigurationRecord, *,
        skip_destination_validation: bool = False,
    ) -> None:
        record = await self.buckets.get(bucket)
        checked = check_configuration(config)
        destinations = list(dict.fromkeys(q.queue_arn for q in checked.queues))
        if not skip_destination_validation:
            await self._check_destinations(bucket, destinations)
        await self._update_bucket(record, lambda r: r.notification.CopyFrom(checked))
        if not skip_destination_validation:
            await self._send_test_events(bucket, destinations)

    async def get_bucket_notification(self, bucket: str) -> NotificationConfigurationRecord:
        """The stored configuration; an empty one when none is set (S3 answers an empty
        NotificationConfiguration, never a NoSuch... error)."""
        record = await self.buckets.get(bucket)
        return record.notification

    async def _check_destinations(self, bucket: str, destinations: list[str]) -> None:
        failed: dict[str, str] = {}
        for arn in destinations:
            reason = NO_SUCH_QUEUE if self.event_sink is None \
                else await self.event_sink.check_destination(arn, bucket)
            if reason is not None:
                failed[arn] = reason
        if failed:
            details: dict[str, str] = {}
            for n, (arn, reason) in enumerate(failed.items(), start=1):
                details[f"ArgumentName{n}"] = arn
                details[f"ArgumentValue{n}"] = reason
            raise EngineError("InvalidArgument",
                              "Unable to validate the following destination configurations",
                              **details)

    async def _send_test_events(self, bucket: str, destinations: list[str]) -> None:
        """S3's s3:TestEvent, sent once per destination when a configuration is set. It
        reports no object change, so it is sent directly, not through the outbox."""
        if self.event_sink is None:
            return
        body = json.dumps({
            "Service": "Amazon S3", "Event": "s3:TestEvent",
            "Time": event_time(self.clock.now_ns()), "Bucket": bucket,
            "RequestId": request_id.current() or "", "HostId": host_id(),
        }, separators=(",", ":"))
        for arn in destinations:
            try:
                await self.event_sink.deliver(arn, body)
            except Exception as exc:  # the configuration is stored; the test is a courtesy
                log.warning("s3:TestEvent to %s for bucket %s not sent: %s", arn, bucket, exc)
