"""RestoreObject over HTTP: a temporary readable copy of a GLACIER object, authorized
and served as the gRPC twin (engine/api/subresources_servicer.py). S3 answers 202 when
a restore starts and 200 when the object was already restored (its expiry extended)."""

from __future__ import annotations

from aiohttp import web

from engine.api.s3.config_documents import read_config
from engine.api.s3.context import Operation, S3Request
from engine.api.s3.headers import version_id
from engine.api.s3.xml.base import SMALL_BODY
from engine.api.s3.xml.restore import parse_restore
from engine.v1 import objects_pb2 as pb


async def restore_object(ctx: S3Request) -> web.StreamResponse:
    vid = version_id(ctx.query)
    await ctx.authorize_rpc("RestoreObject", pb.RestoreObjectRequest(
        bucket=ctx.bucket, key=ctx.key, version_id=vid))
    request = parse_restore(await read_config(ctx, SMALL_BODY), ctx.bucket, ctx.key, vid)
    already = await ctx.objects.restore_object(
        ctx.bucket, ctx.key, version_id=vid,
        days=request.days if request.HasField("days") else None, tier=request.tier)
    return web.Response(status=200 if already else 202)


OPERATIONS: dict[str, Operation] = {"RestoreObject": restore_object}
