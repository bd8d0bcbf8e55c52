"""DeleteObjects over HTTP: up to 1000 keys in one ``POST /bucket?delete`` document.

S3 wants Content-MD5 or an x-amz-checksum-* with it. Each key is authorized on its own,
as the gRPC twin is (the access table gives one Access per key, engine/api/
auth_interceptor.py's PER_ITEM): a key the caller may not delete is an AccessDenied
entry of the result and the others are still deleted. The deletes themselves are the
object service's ``delete_objects``, the servicer's call.
"""

from __future__ import annotations

from aiohttp import web

from engine.api.s3.context import Operation, S3Request
from engine.api.s3.errors import XML
from engine.api.s3.request_documents import read_document, require_integrity
from engine.api.s3.xml.base import DELETE_BODY
from engine.api.s3.xml.deletes import delete_result, parse_delete
from engine.v1 import objects_pb2 as pb

METHOD = "DeleteObjects"


async def _denied(ctx: S3Request, request: pb.DeleteObjectsRequest) -> frozenset[int]:
    """Positions of the keys the caller may not delete (none with authorization off)."""
    access, principal = ctx.services.access, ctx.caller.principal
    if access is None or principal is None:
        return frozenset()
    found = access.of_rpc(METHOD, request)
    denied = frozenset([i for i, needed in enumerate(found)
                        if not (await access.decide(principal, needed)).allowed])
    if ctx.audit is not None:
        ctx.audit.admitted(found, request, denied)
    return denied


async def delete_objects(ctx: S3Request) -> web.StreamResponse:
    require_integrity(ctx)
    request = parse_delete(await read_document(ctx, DELETE_BODY), ctx.bucket)
    denied = await _denied(ctx, request)
    allowed = [(o.key, o.version_id) for i, o in enumerate(request.objects) if i not in denied]
    if allowed:
        outcomes = await ctx.objects.delete_objects(ctx.bucket, allowed)
    else:  # every key refused: nothing to delete, but the bucket must still exist
        await ctx.objects.buckets.get(ctx.bucket, stale_ok=True)
        outcomes = []
    response = pb.DeleteObjectsResponse()
    for i in sorted(denied):
        o = request.objects[i]
        response.errors.add(key=o.key, version_id=o.version_id, code="AccessDenied",
                            message="Access Denied")
    for key, version_id, result, error in outcomes:
        if error is not None:
            response.errors.add(key=key, version_id=version_id, code=error.code,
                                message=error.message)
        elif not request.quiet:
            deleted = response.deleted.add(key=key, version_id=version_id)
            if result is not None and result.delete_marker:
                deleted.delete_marker = True
                deleted.delete_marker_version_id = result.version_id
    return web.Response(body=delete_result(response), content_type=XML)


OPERATIONS: dict[str, Operation] = {METHOD: delete_objects}
