"""SQS on the node's AWS port, both protocols: one request, start to answer.

In order: a request id (``x-amzn-RequestId``, and the logs'); the protocol, JSON when the
request has an ``X-Amz-Target``, the query protocol otherwise (json_wire.py,
query_wire.py: each only parses and renders); the body, read whole up to the protocol's
bound (its SHA-256 is what SigV4 signs, as SDKs send no x-amz-content-sha256 to SQS); the
operation; the signature, with credential scope service ``sqs``; the request into the
operation's queues.proto message; authorization by the access table and the node's
``decide``, exactly as the gRPC interceptor does it (so a queue policy or an IAM policy
means the same on every protocol); the queue service; the answer, with queue URLs naming
the host and scheme the client used. Every failure is the protocol's SQS error.

Long polls (ReceiveMessage with WaitTimeSeconds) are the queue service's own awaits:
no thread is held while a request waits.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from google.protobuf.message import Message

from engine.api.access_table import Target, accesses
from engine.api.audit import AuditLog
from engine.api.auth_interceptor import Decide, admit, authorize_all
from engine.api.aws.caller import audited, authenticate
from engine.api.aws.query_form import read_body
from engine.api.aws.sqs.errors import as_sqs_error
from engine.api.aws.sqs.json_wire import JsonWire
from engine.api.aws.sqs.operations import SqsOperation
from engine.api.aws.sqs.query_wire import QueryWire
from engine.api.queues_servicer import QueueApi
from engine.errors import EngineError
from engine.iam.authn import Authenticator
from engine.observability import request_id

_URL_FIELDS = ("queue_url", "queue_urls")


class Wire(Protocol):
    """What differs between SQS's protocols: where the operation and its members are,
    and how answers and errors are written."""

    protocol: str  # the audit log's name for it
    max_body: int

    def __init__(self, request: web.Request, body: bytes, scheme: str) -> None: ...
    def operation(self) -> SqsOperation: ...
    def message(self, operation: SqsOperation) -> Message: ...
    def answer(self, operation: SqsOperation, response: Message, rid: str
               ) -> web.Response: ...

    @staticmethod
    def error(err: EngineError, rid: str) -> web.Response: ...


class SqsHttpService:
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
        wire: type[Wire] = JsonWire if "x-amz-target" in request.headers else QueryWire
        name = "-"
        whole = False
        try:
            body = await read_body(request, wire.max_body)
            whole = True
            call = wire(request, body, self._scheme)
            operation = call.operation()
            name = operation.name
            audit = audited(self.audit, f"sqs:{wire.protocol}.{name}", "sqs", request)
            principal = None if self.authn is None else authenticate(
                self.authn, request, body, "sqs", secure=self.secure, audit=audit,
                answer_as=_sqs_authentication_error)
            message = call.message(operation)
            if principal is not None:
                admit(principal)
                await authorize_all(self.decide, principal,
                                    accesses(operation.rpc, message, self.target()),
                                    audit, message)
            answer = await operation.bound(self.queues)(message)
            _rehost(answer, self._scheme, request.host)
            return call.answer(operation, answer, rid)
        except Exception as exc:  # every failure is SQS's error, never a traceback
            response = wire.error(as_sqs_error(exc, name), rid)
            if not whole:
                response.force_close()  # the rest of the body must not be read as a request
            return response

    @property
    def _scheme(self) -> str:
        return "https" if self.secure else "http"


def _sqs_authentication_error(err: EngineError) -> EngineError:
    return as_sqs_error(err, "authentication")  # SQS's names for S3's codes


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


