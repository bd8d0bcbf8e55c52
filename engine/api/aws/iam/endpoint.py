"""IAM's and STS's query APIs on the node's AWS port: one request, start to answer.

In order: a request id (``x-amzn-RequestId``, and the logs'); the body, read whole up to
MAX_REQUEST_BYTES (its SHA-256 is what SigV4 signs); the form (the URL's query, then the
body's fields); the signature, with credential scope service ``iam`` or ``sts`` (the
seam engine/api/aws/service.py dispatched by it); ``Action`` and ``Version``; the members
as boto3 would pass them (query_form.py, typed by shapes.py); authorization by the access
table and the node's ``decide`` exactly as the gRPC interceptor authorizes an ``AwsCall``
(so a policy means the same on both protocols, and AssumeRole is STS's own to decide
against the trust policy); the identity service's ``handle``, the very one gRPC calls;
the result as XML (query_xml.py). Every failure is the query protocol's XML error.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from aiohttp import web

from engine.api.access_table import Target, accesses
from engine.api.audit import AuditedCall, AuditLog
from engine.api.auth_interceptor import Decide, admit, authorize_all
from engine.api.aws.caller import audited, authenticate
from engine.api.aws.iam.errors import as_query_error, authentication_error
from engine.api.aws.iam.shapes import IAM, STS, QueryApi
from engine.api.aws.query_form import fields, members, read_body, tree
from engine.api.aws.query_unsigned import UnsignedQuery
from engine.api.aws.query_xml import error_response, result_document, xml_response
from engine.api.aws.service import UNSIGNED_QUERY, AwsService
from engine.api.iam_servicer import Handler
from engine.errors import EngineError
from engine.iam.authn import Authenticator
from engine.iam.principal import Principal
from engine.iam.system import IdentitySystem
from engine.observability import request_id
from engine.v1 import iam_pb2

# A form of the largest policy document IAM takes (a role's 10,240 characters), every
# byte percent-escaped, with room for the rest: what is buffered, not a limit of IAM's.
MAX_REQUEST_BYTES = 256 * 1024
_NO_VERSION = "NO_VERSION_SPECIFIED"  # AWS's word for it in InvalidAction
_SIGNATURE_PREFIX = "x-amz-"


class _Verdict:
    """The outcome of a call its service authorized itself (AssumeRole), in the form the
    audit log reads a gRPC call's."""

    def __init__(self, status: grpc.StatusCode) -> None:
        self.status = status

    def code(self) -> grpc.StatusCode:
        return self.status


class QueryApiService:
    """The AwsService registered under ``api.service`` ("iam", "sts") on the AWS port."""

    def __init__(self, api: QueryApi, run: Handler, authn: Authenticator, decide: Decide,
                 target: Callable[[], Target], *, secure: bool = False,
                 audit: AuditLog | None = None) -> None:
        self.api = api
        self.run = run
        self.authn = authn
        self.decide = decide
        self.target = target
        self.secure = secure
        self.audit = audit

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rid = str(uuid.uuid4())
        request_id.enter(rid)
        action = "-"
        whole = False
        try:
            body = await read_body(request, MAX_REQUEST_BYTES)
            whole = True
            form = _form(request, body)
            action = form.pop("Action", "") or "-"
            label = action if action in self.api.actions else "-"  # never the client's text
            audit = audited(self.audit, f"{self.api.service}:Query.{label}", self.api.service,
                            request)
            principal = authenticate(self.authn, request, body, self.api.service,
                                     secure=self.secure, audit=audit,
                                     answer_as=authentication_error)
            self._check(action, form.pop("Version", ""))
            params = members(tree(form), self.api.form)
            answer = await self._call(action, params, principal, audit)
        except Exception as exc:  # every failure is the query protocol's, never a traceback
            response = error_response(self.api.namespace,
                                      as_query_error(exc, self.api.service, action[:64]),
                                      rid)
            if not whole:
                response.force_close()  # the rest of the body must not be read as a request
            return response
        return xml_response(result_document(
            action, self.api.namespace, _ordered(answer, self.api.orders.get(action)), rid,
            maps=self.api.maps, transforms=self.api.transforms,
            wrapped=action in self.api.empty_results), rid)

    def _check(self, action: str, version: str) -> None:
        """A known action of this API's version, as AWS's query front end checks."""
        if action == "-":
            raise EngineError("MissingAction", "The request must contain the parameter "
                              "Action.", http_status=400)
        if version != self.api.version or action not in self.api.actions:
            raise EngineError("InvalidAction", f"Could not find operation {action} for "
                              f"version {version or _NO_VERSION}")

    async def _call(self, action: str, params: dict[str, Any], principal: Principal,
                    audit: AuditedCall | None) -> dict[str, Any]:
        call = iam_pb2.AwsCall(action=action, params_json=json.dumps(params))
        admit(principal)
        await authorize_all(self.decide, principal, accesses(self.api.rpc, call, self.target()),
                            audit, call)
        if audit is None or audit.pending is None:
            return await self.run(action, params, principal)
        try:  # a call its service authorizes (AssumeRole): audited by its answer
            answer = await self.run(action, params, principal)
        except EngineError as err:
            audit.finished(_Verdict(err.grpc_status))  # type: ignore[arg-type]
            raise
        audit.finished(_Verdict(grpc.StatusCode.OK))  # type: ignore[arg-type]
        return answer


def _form(request: web.Request, body: bytes) -> dict[str, str]:
    """The call's parameters: the URL's query (a GET carries them there), then the body's
    form fields; a presigned URL's own (X-Amz-Signature, ...) are the signature's."""
    _, _, raw_query = request.raw_path.partition("?")
    found = fields(raw_query) if raw_query else {}
    if body:
        found.update(fields(body))
    return {k: v for k, v in found.items() if not k.lower().startswith(_SIGNATURE_PREFIX)}


def _ordered(answer: Mapping[str, Any], order: tuple[str, ...] | None) -> dict[str, Any]:
    if order is None:
        return dict(answer)
    first = {name: answer[name] for name in order if name in answer}
    return {**first, **{k: v for k, v in answer.items() if k not in first}}


def identity_services(identity: IdentitySystem, decide: Decide, target: Callable[[], Target],
                      *, secure: bool = False, audit: AuditLog | None = None,
                      other_namespaces: Mapping[str, str] | None = None
                      ) -> dict[str, AwsService]:
    """The "iam" and "sts" services of the AWS port, over the node's identity system,
    and the answer to unsigned query calls (``other_namespaces``: the XML namespaces of
    the other query APIs on the port, by version, e.g. SQS's)."""
    services: dict[str, AwsService] = {
        api.service: QueryApiService(api, run, identity.authn, decide, target,
                                     secure=secure, audit=audit)
        for api, run in ((IAM, identity.iam.handle), (STS, identity.sts.handle))}
    services[UNSIGNED_QUERY] = UnsignedQuery(
        {**{api.version: api.namespace for api in (IAM, STS)}, **(other_namespaces or {})},
        IAM.namespace)
    return services
