"""Bucket event notification configuration over HTTP: Put/GetBucketNotificationConfiguration
(``PUT/GET /<bucket>?notification``). The rules are checked and stored by the object
service (engine/objects/notifications/), as for the gRPC call.

``x-amz-skip-destination-validation: true`` stores the configuration without checking
that each queue exists and lets the bucket send (and sends no s3:TestEvent), as in S3.
"""

from __future__ import annotations

from aiohttp import web

from engine.api.access_rules_s3 import on_bucket
from engine.api.s3.config_documents import read_config
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.headers import Headers
from engine.api.s3.xml.base import CONFIG_BODY, invalid_argument
from engine.api.s3.xml.notification import notification_result, parse_notification

SKIP_VALIDATION = "x-amz-skip-destination-validation"


def skip_destination_validation(headers: Headers) -> bool:
    """The header as a boolean: "true" or "false" in any case, absent is false."""
    raw = headers.get(SKIP_VALIDATION)
    if raw is None or raw.strip() == "":
        return False
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise invalid_argument(f"Invalid value for header {SKIP_VALIDATION}: {raw}",
                               SKIP_VALIDATION, raw)
    return value == "true"


async def put_bucket_notification(ctx: S3Request) -> web.StreamResponse:
    await ctx.authorize([on_bucket("s3:PutBucketNotification", ctx.bucket)])
    skip = skip_destination_validation(ctx.headers)
    config = parse_notification(await read_config(ctx, CONFIG_BODY))
    await ctx.objects.put_bucket_notification(ctx.bucket, config,
                                              skip_destination_validation=skip)
    return web.Response()


async def get_bucket_notification(ctx: S3Request) -> web.StreamResponse:
    """An empty NotificationConfiguration when none is set, as S3 answers."""
    await ctx.authorize([on_bucket("s3:GetBucketNotification", ctx.bucket)])
    config = await ctx.objects.get_bucket_notification(ctx.bucket)
    return web.Response(body=notification_result(config), content_type=XML)


OPERATIONS: dict[str, Operation] = {
    "PutBucketNotificationConfiguration": put_bucket_notification,
    "GetBucketNotificationConfiguration": get_bucket_notification,
}
