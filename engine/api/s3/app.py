"""The S3 REST request pipeline: one aiohttp handler for every request.

In S3's order: the request id (in the logs and on the answer), the header section's
size, the route (operation, bucket, key), the signature, the expected bucket owner,
the body's framing; then the operation, which authorizes and calls the service. Any
failure is S3's error document (errors.py). A request whose body was not read to its
end is answered with ``Connection: close``: what is left of it must not be taken for
the next request on the connection. The rest of such a body is read and dropped
before closing (for up to aiohttp's lingering time), so that a client still sending
gets the answer, unless it will never come (body.py, ``abandoned``).

A request for another AWS service on this port (SQS's JSON protocol, by X-Amz-Target or
SigV4 scope: engine/api/aws/service.py) is handed whole to that service first.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from aiohttp import web

from engine.api.audit import AuditedCall, http_peer
from engine.api.auth_interceptor import admit
from engine.api.aws.service import AwsService, service_of
from engine.api.s3 import (
    cors,
    operations_buckets,
    operations_copy,
    operations_deletes,
    operations_listing,
    operations_multipart,
    operations_objects,
    operations_post,
    operations_settings,
)
from engine.api.s3.auth import NO_AUTH, Caller, authenticate
from engine.api.s3.body import RequestBody, expects_continue
from engine.api.s3.context import Operation, S3Request, Services
from engine.api.s3.echo import ECHO_PATH, echo
from engine.api.s3.errors import HOST_ID, REQUEST_ID, as_engine_error, error_response, host_id
from engine.api.s3.routing import Route, route, split_target
from engine.api.upload_stream import StreamLimits
from engine.errors import EngineError
from engine.iam.authn import Authenticator
from engine.observability import request_id

log = logging.getLogger("engine.s3")

# Every path, one handler: [\s\S], as a key may hold a line feed (%0A), which "." misses.
EVERY_PATH = r"/{tail:[\s\S]*}"
MAX_HEADER_BYTES = 8 * 1024  # S3's bound on a request's header section
# Operations whose x-amz-checksum-* headers are the object's, not their body's.
OBJECT_CHECKSUMS = frozenset({"CompleteMultipartUpload"})
OPERATIONS: dict[str, Operation] = {**operations_buckets.OPERATIONS,
                                    **operations_objects.OPERATIONS,
                                    **operations_listing.OPERATIONS,
                                    **operations_deletes.OPERATIONS,
                                    **operations_copy.OPERATIONS,
                                    **operations_multipart.OPERATIONS,
                                    **operations_post.OPERATIONS,
                                    **operations_settings.OPERATIONS}


@dataclass
class _Progress:
    """How far a request got: what its error answer and its cleanup need to know."""

    route: Route | None = None
    audit: AuditedCall | None = None
    caller: Caller | None = None
    body: RequestBody | None = None


@dataclass
class Pipeline:
    """What every request needs of the node; ``authn`` None: authentication is off."""

    services: Services
    authn: Authenticator | None
    node_id: str
    domains: tuple[str, ...] = ()
    limits: StreamLimits = field(default_factory=StreamLimits)
    secure: bool = False
    operations: dict[str, Operation] = field(default_factory=lambda: dict(OPERATIONS))
    # The other services on this port (SQS, ...), by the name service_of gives.
    aws_services: dict[str, AwsService] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.aws_services:
            other = self.aws_services.get(
                service_of(request.headers, request.method, request.raw_path) or "")
            if other is not None:
                return await other.handle(request)
        rid = request_id.new().upper()
        request_id.enter(rid)
        host = host_id(self.node_id, rid)
        request["s3_ids"] = (rid, host)
        started = time.perf_counter()
        progress = _Progress()
        try:
            response = await self._serve(request, progress)
        except Exception as exc:
            placed = progress.route
            err = as_engine_error(exc, placed.operation if placed else request.method)
            if progress.audit is not None and progress.caller is None:
                progress.audit.refused(err)
            response = error_response(err, head=request.method == "HEAD",
                                      resource=placed.resource if placed else request.path,
                                      request_id=rid, host=host)
        body = progress.body
        if request.body_exists and not request.content.at_eof() and not (
                body is not None and body.consumed):
            response.force_close()
            if body.abandoned if body is not None else expects_continue(request):
                request.content.feed_eof()  # close at once: no waiting for the rest
        if log.isEnabledFor(logging.DEBUG):
            placed = progress.route
            log.debug("%s %s %s -> %d in %.1f ms", request.method,
                      placed.operation if placed else "-",
                      placed.resource if placed else request.path, response.status,
                      (time.perf_counter() - started) * 1000)
        return response

    async def _serve(self, request: web.Request, progress: _Progress) -> web.StreamResponse:
        size = sum(len(k) + len(v) + 4 for k, v in request.raw_headers)
        if size > MAX_HEADER_BYTES:
            raise EngineError("RequestHeaderSectionTooLarge",
                              MaxSizeAllowed=str(MAX_HEADER_BYTES))
        raw_path, raw_query = split_target(request.raw_path)
        if raw_path == ECHO_PATH:  # the bench's bare baseline, no storage behind it
            return await echo(request, self.authn, self.services.access, secure=self.secure)
        placed = progress.route = route(
            request.method, request.headers.get("host", ""), raw_path, raw_query,
            domains=self.domains, copy_source="x-amz-copy-source" in request.headers)
        await cors.remember(request, placed, self.services.objects)
        access = self.services.access
        audit = progress.audit = None if access is None else access.audited(
            placed.operation, request.headers.get("authorization"), http_peer(request))
        caller = progress.caller = self._caller(request, placed, raw_path, raw_query)
        if caller.principal is not None:
            admit(caller.principal)
            if audit is not None:
                audit.authenticated(caller.principal)
        operation = self.operations.get(placed.operation)
        if operation is None:
            raise EngineError("NotImplemented", f"{placed.operation} is not implemented by "
                              "this server yet (see docs/s3-api.md).")
        self._check_owner(request)
        body = progress.body = RequestBody(
            request, caller.verified, self.limits, authenticated=self.authn is not None,
            body_checksums=placed.operation not in OBJECT_CHECKSUMS)
        return await operation(S3Request(request, placed, caller, body, self.services, audit))

    def _caller(self, request: web.Request, placed: Route, raw_path: str,
                raw_query: str) -> Caller:
        if self.authn is None:
            return NO_AUTH
        return authenticate(self.authn, request, placed, raw_path, raw_query,
                            secure=self.secure)

    def _check_owner(self, request: web.Request) -> None:
        """x-amz-expected-bucket-owner: refuse to act on a bucket of another account."""
        expected = request.headers.get("x-amz-expected-bucket-owner")
        if expected is not None and expected != self.services.objects.account.account_id():
            raise EngineError("AccessDenied")


async def stamp_ids(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer, streamed ones too, carries the request's ids."""
    ids = request.get("s3_ids")
    if ids is not None:
        response.headers[REQUEST_ID], response.headers[HOST_ID] = ids
    cors.stamp(request, response)
    response.headers["Server"] = "engine"  # aiohttp names itself before this hook runs


async def no_continue(request: web.Request) -> None:
    """aiohttp answers ``Expect: 100-continue`` before the handler runs; S3 answers it
    once the request is authorized (body.py sends it)."""
    return None


def build_app(pipeline: Pipeline, *, client_max_size: int) -> web.Application:
    app = web.Application(client_max_size=client_max_size)
    app.router.add_route("*", EVERY_PATH, pipeline.handle,
                         expect_handler=no_continue)
    app.on_response_prepare.append(stamp_ids)
    return app
