"""Who calls a service on the AWS port (SQS, IAM, STS): the one SigV4 check over the
whole body these services share, and the audit record each call opens.

Their SDKs send no x-amz-content-sha256, so the body (read whole first) is hashed here;
each service names the signature errors in its own dialect (``answer_as``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from aiohttp import web

from engine.api.audit import AuditedCall, AuditLog, http_peer
from engine.api.auth_interceptor import missing_credentials
from engine.api.transport_keys import http_keys, with_keys
from engine.errors import EngineError
from engine.iam.authn import Authenticator
from engine.iam.principal import Principal


def audited(audit: AuditLog | None, method: str, service: str, request: web.Request
            ) -> AuditedCall | None:
    """The audit record of one call (None: no audit log); ``method`` names it in the
    log, e.g. ``sqs:Query.SendMessage``."""
    if audit is None:
        return None
    authorization = request.headers.get("authorization")
    metadata = [("authorization", authorization)] if authorization else []
    return AuditedCall(audit, method, service, metadata, http_peer(request))


def authenticate(authn: Authenticator, request: web.Request, body: bytes, service: str, *,
                 secure: bool, audit: AuditedCall | None,
                 answer_as: Callable[[EngineError], EngineError]) -> Principal:
    """The caller of a signed request (scope ``service``), with the connection's
    condition keys; an unsigned one is MissingAuthenticationToken. A refusal is told
    to the audit log as the service answers it."""
    raw_path, _, raw_query = request.raw_path.partition("?")
    try:
        signed = authn.http(request.method, raw_path, raw_query, list(request.headers.items()),
                            service=service, payload_hash=hashlib.sha256(body).hexdigest())
        if signed is None:
            raise missing_credentials()
    except EngineError as err:
        answered = answer_as(err)
        if audit is not None:
            audit.refused(answered)
        raise answered from None
    principal = with_keys(signed[0], http_keys(secure, request.remote))
    if audit is not None:
        audit.authenticated(principal)
    return principal
