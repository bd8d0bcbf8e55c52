"""Where events go: the queue side, seen from the object service.

The object service does not import the queue service; the node wires a sink in
(engine/queues/event_sink.py), so a service built without queues (unit tests, tools)
simply has no notifications.
"""

from __future__ import annotations

from typing import Protocol


class DestinationGone(Exception):
    """The queue no longer exists (or no longer lets the bucket send): S3 drops the
    event rather than retry it forever."""


class EventSink(Protocol):
    async def check_destination(self, queue_arn: str, bucket: str) -> str | None:
        """Why the bucket could not send to this queue (None: it can): the queue must
        exist, be a standard queue of this account and region, and its policy must let
        s3.amazonaws.com send with the bucket as aws:SourceArn."""
        ...

    async def deliver(self, queue_arn: str, body: str) -> None:
        """Send one message; DestinationGone when it never can, any other exception
        when it may succeed later."""
        ...
