"""The queue side of S3 event notifications: may a bucket send to this queue, and send.

S3 checks a destination when the configuration is set: the queue exists in this
account and region, is a standard queue (S3 cannot send to FIFO queues), and its
``Policy`` lets the service principal ``s3.amazonaws.com`` call sqs:SendMessage with
the bucket as ``aws:SourceArn`` (and this account as ``aws:SourceAccount``), evaluated
with the IAM evaluator as any request. Delivery sends as S3 does, with no caller of its
own, so no identity policy applies.
"""

from __future__ import annotations

from engine.errors import EngineError
from engine.iam.policy import QUEUE, RequestContext, evaluate, parse_policy
from engine.objects.notifications.sink import DestinationGone
from engine.queues.names import is_fifo_name, name_from_arn, scope
from engine.queues.service import QueueService
from engine.v1 import queues_pb2 as pb

S3_SERVICE = "s3.amazonaws.com"
NO_QUEUE = "The destination queue does not exist"
NOT_ALLOWED = ("Permissions on the destination queue do not allow S3 to publish "
               "notifications from this bucket")
FIFO = "FIFO queues are not supported as S3 event notification destinations"
_GONE = "AWS.SimpleQueueService.NonExistentQueue"  # the queue was deleted


class QueueEventSink:
    def __init__(self, queues: QueueService) -> None:
        self.queues = queues

    async def check_destination(self, queue_arn: str, bucket: str) -> str | None:
        name = name_from_arn(queue_arn)
        if name is None:
            return NO_QUEUE  # another account's or region's queue cannot exist here
        record = await self.queues.catalog.get(name)
        if record is None:
            return NO_QUEUE
        if is_fifo_name(name):
            return FIFO
        text = record.attributes.get("Policy", "")
        if not text:
            return NOT_ALLOWED
        try:
            policy = parse_policy(text, QUEUE)
        except EngineError:
            return NOT_ALLOWED
        account = scope().account
        ctx = RequestContext(
            "sqs:SendMessage", queue_arn, principal_arn=S3_SERVICE, principal_type="Service",
            resource_account=account,
            keys={"aws:SourceArn": f"arn:aws:s3:::{bucket}", "aws:SourceAccount": account})
        decision = evaluate(ctx, resource=[("queue", policy)])
        return None if decision.allowed else NOT_ALLOWED

    async def deliver(self, queue_arn: str, body: str) -> None:
        name = name_from_arn(queue_arn)
        if name is None:
            raise DestinationGone(f"{queue_arn} is not a queue of this engine")
        try:
            await self.queues.send_message(pb.SendMessageRequest(
                queue_url=self.queues.url(name), message_body=body))
        except EngineError as exc:
            if exc.code == _GONE:
                raise DestinationGone(f"queue {name} does not exist") from exc
            if exc.http_status < 500 and exc.http_status != 429:  # e.g. a smaller size cap
                raise DestinationGone(f"queue {name} refused it: {exc.code}") from exc
            raise
