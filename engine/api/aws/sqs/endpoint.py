"""SQS's JSON protocol on the node's AWS port: one request, start to answer.

In order: a request id (``x-amzn-RequestId``, and the logs'); the body, read whole up to
a bound (MAX_REQUEST_BYTES; its SHA-256 is what SigV4 signs, as SDKs send no
x-amz-content-sha256 to SQS); the operation from ``X-Amz-Target``; the signature, with
credential scope service ``sqs``; the JSON document into the operation's queues.proto
request; authorization by the access table and the node's ``decide``, exactly as the
gRPC interceptor does it (so a queue policy or an IAM policy means the same on both
protocols); the queue service; the response document, with queue URLs naming the host
and scheme the client used. Every failure is SQS's JSON error (errors.py).

Long polls (ReceiveMessage with WaitTimeSeconds) are the queue service's own awaits:
no thread is held while a request waits.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from google.protobuf.message import Message

from engine.api.access_table import Target, accesses
from engine.api.audit import AuditedCall, AuditLog, http_peer
from engine.api.auth_interceptor import Decide, admit, authorize_all, missing_credentials
from engine.api.aws.sqs.convert import to_json, to_proto
from engine.api.aws.sqs.errors import JSON_CONTENT_TYPE, REQUEST_ID, as_sqs_error, error_response
from engine.api.aws.sqs.operations import SqsOperation, operation_of
from engine.api.queues_servicer import QueueApi
from engine.api.s3.body import CONTINUE, expects_continue
from engine.api.transport_keys import http_keys, with_keys
from engine.errors import EngineError
from engine.iam.authn import Authenticator
from engine.iam.principal import Principal
from engine.observability import request_id

# The largest message a queue takes (MaximumMessageSize up to 1 MiB, as SQS since 2025),
# JSON-escaped at worst twice as long, plus the envelope. Message and batch sizes are the
# queue service's to refuse, with SQS's codes; this only bounds what is buffered.
MAX_REQUEST_BYTES = 2 * 1_048_576 + 64 * 1024
BODY_SECONDS = 60.0  # to receive a body that small; a stalled client is cut
_READ = 64 * 1024
_URL_FIELDS = ("queue_url", "queue_urls")


class SqsJsonService:
    """The AwsService registered as "sqs" on the AWS port. ``authn`` None: authentication
    and authorization are off (--insecure-no-auth)."""

    def __init__(self, queues: QueueApi, authn: Authenticator | None, decide: Decide,
                 target: Callable[[], Target], *, secure: bool = False,
                 audit: AuditLog | None = None) -> None:
        self.queues = queues
        self.authn = authn
        self.decide = decide
        self.target = target
        self.secure = secure
        self.audit = audit

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rid = str(uuid.uuid4())
        request_id.enter(rid)
        name = "-"
        whole = False
        try:
            body = await _read_body(request)
            whole = True
            operation = operation_of(request.headers.get("x-amz-target"))
            name = operation.name
            audit = self._audited(name, request)
            principal = self._authenticate(request, body, audit)
            message = to_proto(_document(body), operation.request)
            if principal is not None:
                admit(principal)
                await authorize_all(self.decide, principal,
                                    accesses(operation.rpc, message, self.target()),
                                    audit, message)
            answer = await self._run(operation, message, request)
        except Exception as exc:  # every failure is SQS's error, never a traceback
            response = error_response(as_sqs_error(exc, name), rid)
            if not whole:
                response.force_close()  # the rest of the body must not be read as a request
            return response
        return web.Response(body=json.dumps(answer, separators=(",", ":")).encode(),
                            content_type=JSON_CONTENT_TYPE, headers={REQUEST_ID: rid})

    async def _run(self, operation: SqsOperation, message: Message, request: web.Request
                   ) -> dict[str, Any]:
        answer = await operation.bound(self.queues)(message)
        _rehost(answer, "https" if self.secure else "http", request.host)
        return to_json(answer)

    def _audited(self, operation: str, request: web.Request) -> AuditedCall | None:
        if self.audit is None:
            return None
        authorization = request.headers.get("authorization")
        metadata = [("authorization", authorization)] if authorization else []
        return AuditedCall(self.audit, f"sqs:JSON.{operation}", "sqs", metadata,
                           http_peer(request))

    def _authenticate(self, request: web.Request, body: bytes,
                      audit: AuditedCall | None) -> Principal | None:
        if self.authn is None:
            return None
        raw_path, _, raw_query = request.raw_path.partition("?")
        try:
            signed = self.authn.http(request.method, raw_path, raw_query,
                                     list(request.headers.items()), service="sqs",
                                     payload_hash=hashlib.sha256(body).hexdigest())
            if signed is None:
                raise missing_credentials()
        except EngineError as err:
            answered = as_sqs_error(err, "authentication")  # SQS's names for S3's codes
            if audit is not None:
                audit.refused(answered)
            raise answered from None
        principal = with_keys(signed[0], http_keys(self.secure, request.remote))
        if audit is not None:
            audit.authenticated(principal)
        return principal


async def _read_body(request: web.Request) -> bytes:
    """The whole body, or RequestEntityTooLarge past MAX_REQUEST_BYTES (unread, when the
    client declared its length)."""
    declared = request.content_length
    if declared is not None and declared > MAX_REQUEST_BYTES:
        raise too_large(declared)
    if expects_continue(request):
        await request.writer.write(CONTINUE)
        request.writer.output_size = 0
    data = bytearray()
    try:
        async with asyncio.timeout(BODY_SECONDS):
            while chunk := await request.content.read(_READ):
                data += chunk
                if len(data) > MAX_REQUEST_BYTES:
                    raise too_large(len(data))
    except TimeoutError:
        raise EngineError("RequestTimeout", "The request body was not received in time.",
                          http_status=408) from None
    return bytes(data)


def too_large(size: int) -> EngineError:
    return EngineError("RequestEntityTooLarge", f"Request of {size} bytes is larger than "
                       f"the maximum of {MAX_REQUEST_BYTES} bytes.", http_status=413)


def _document(body: bytes) -> dict[str, Any]:
    """The request's JSON object (an empty body is an empty one, as SDKs send ``{}``)."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise EngineError("SerializationException", "The request body is not valid JSON.",
                          http_status=400) from None
    if not isinstance(document, dict):
        raise EngineError("SerializationException", "The request body must be a JSON "
                          "object.", http_status=400)
    return document


def _rehost(message: Message, scheme: str, host: str) -> None:
    """Queue URLs in ``message`` naming ``scheme://host``: the queue service names its
    gRPC address, the client reached this port."""
    for field in _URL_FIELDS:
        if field not in message.DESCRIPTOR.fields_by_name:
            continue
        value = getattr(message, field)
        if isinstance(value, str):
            if value:
                setattr(message, field, _moved(value, scheme, host))
        else:
            value[:] = [_moved(url, scheme, host) for url in value]


def _moved(url: str, scheme: str, host: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme, host, parts.path, parts.query, parts.fragment))


