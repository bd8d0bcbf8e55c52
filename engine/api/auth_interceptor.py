"""Authentication and authorization of every public gRPC call, before its servicer runs.

The interceptor wraps each public method's handler. The wrapped deserializer keeps the
request's bytes as received (a SigV4 signature covers those bytes, and re-encoding a
parsed message need not give them back) and defers decoding, so a message that does not
parse is answered INVALID_ARGUMENT with a plain text rather than an exception's name.
Then, in order: the signature (engine.iam.signature.verify_grpc) gives the principal;
the request is decoded; the access table (engine.api.access_table) names the AWS
actions and resources it needs; the authorizer decides each, weighing the resource's
own policies (engine/api/resource_policies.py: bucket policy and ACLs, queue policy). An
unsigned S3 call is the anonymous principal, as S3 serves it (allowed only what a bucket
policy or ACL grants everyone); other services answer MissingAuthenticationToken.
Client-streaming calls (PutObject, UploadPart) are signed UNSIGNED-PAYLOAD and
authorized on their first message.
Node-to-node services (cluster secret), health and reflection are not wrapped.

The principal of the call is available to servicers through :func:`current_principal`.
"""

from __future__ import annotations

import contextlib
import contextvars
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from engine.api.access_table import RULES, STREAMING_FIRST, Access, Target, accesses
from engine.api.audit import AuditedCall, AuditLog
from engine.api.decode_interceptor import decoder
from engine.api.rpc import abort
from engine.api.transport_keys import with_transport
from engine.cluster.wire import SECRET_HEADER
from engine.errors import EngineError
from engine.iam.authn import Authenticator
from engine.iam.authz import Authorizer
from engine.iam.authz import denied as access_denied
from engine.iam.policy import Decision
from engine.iam.principal import CALLER, Principal, anonymous

log = logging.getLogger("engine.api")
_principal = CALLER
_denied_items: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "engine_denied_items", default=frozenset())
# Methods whose items are authorized one by one (S3 answers AccessDenied per key).
PER_ITEM = frozenset({"/engine.v1.ObjectStore/DeleteObjects"})


def current_principal() -> Principal | None:
    return _principal.get()


def admit(principal: Principal) -> None:
    """Make ``principal`` the current request's caller: the S3 REST endpoint
    authenticates outside this interceptor, and the same helpers (ACL writer, enhanced
    AccessDenied) read the caller from here."""
    _principal.set(principal)


def denied_items() -> frozenset[int]:
    """Positions of the items of a PER_ITEM call the caller may not touch."""
    return _denied_items.get()


@dataclass(frozen=True)
class _Raw:
    data: bytes

    def ByteSize(self) -> int:  # protobuf's name: the metrics interceptor sizes messages
        return len(self.data)


def _keep(data: bytes) -> _Raw:
    return _Raw(data)


# Decides one Access: the caller's policies weighed with the resource's own (bucket policy
# and ACLs, queue policy); engine/api/resource_policies.py is the node's.
Decide = Callable[[Principal, Access], Awaitable[Decision]]


def refusal(principal: Principal, access: Access, decision: Decision) -> EngineError:
    """AccessDenied naming who, what and why; an anonymous caller gets S3's bare one."""
    if principal.anonymous:
        return EngineError("AccessDenied", action=access.action)
    return access_denied(principal, access.action, access.resource, decision)


async def authorize_all(decide: Decide, principal: Principal, needed: list[Access],
                        audit: AuditedCall | None = None, request: Any = None) -> None:
    """Every access allowed, or the refusal of the first that is not (told to the
    audit log either way): the one rule whichever protocol the call came by."""
    for access in needed:
        try:
            decision = await decide(principal, access)
            if not decision.allowed:
                raise refusal(principal, access, decision)
        except EngineError as err:
            if audit is not None:
                audit.denied(err, access)
            raise
    if audit is not None:
        audit.admitted(needed, request)


def missing_credentials() -> EngineError:
    return EngineError("MissingAuthenticationToken", "Request is missing Authentication Token")


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, authn: Authenticator, authz: Authorizer,
                 target: Callable[[], Target], *, cluster_secret: str | None = None,
                 resources: Decide | None = None,
                 audit: AuditLog | None = None, secure: bool | None = None) -> None:
        self.authn = authn
        self.secure = secure  # every port of the server TLS (True) or none (False)
        self.audit = audit
        self.authz = authz
        self.target = target
        self.decide: Decide = resources or self._identity_only
        self._secret = cluster_secret.encode() if cluster_secret else None
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails],
                                     Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method
        rule = RULES.get(method)
        if rule is None or handler is None:
            return handler
        # One wrapped handler per method, made once: building closures and a handler per
        # call was a measurable part of a small GET. The call's metadata is read from its
        # context inside.
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            decode = decoder(handler.request_deserializer, method)
            wrap = self._unary if handler.unary_unary or handler.unary_stream else \
                self._streaming
            cached = self._wrapped[method] = (handler, wrap(handler, method, rule.service,
                                                            decode))
        return cached[1]

    # -- the checks ------------------------------------------------------------------------

    def _authenticate(self, method: str, service: str, metadata: list[Any],
                      message: bytes | None) -> Principal:
        if self._secret is not None:  # a peer node (cluster status): it acts as root
            sent = next((v for k, v in metadata if k == SECRET_HEADER), None)
            if sent is not None:
                if not hmac.compare_digest(str(sent).encode(), self._secret):
                    raise EngineError("InvalidClientTokenId", "cluster secret mismatch")
                return self.authn.root()
        try:
            principal = self.authn.grpc(method, metadata, message, service)
        except EngineError as err:
            raise _as_service_answers(err, service) from None
        if principal is None:
            if service == "s3":  # S3 serves unsigned requests as the anonymous principal
                return anonymous("")
            raise missing_credentials()
        return principal

    async def _identity_only(self, principal: Principal, access: Access) -> Decision:
        return self.authz.decide(principal, access.action, access.resource, access.keys)

    def _audited(self, method: str, service: str, context: grpc.aio.ServicerContext
                 ) -> AuditedCall | None:
        return None if self.audit is None else self.audit.call(
            method, service, _metadata(context), context)

    def _authenticated(self, method: str, service: str, metadata: list[Any],
                       message: bytes | None, audit: AuditedCall | None,
                       decode: Callable[[bytes], Any] | None = None,
                       context: grpc.aio.ServicerContext | None = None) -> Principal:
        """``_authenticate``, telling the audit log who called, or that it failed and
        what the (unary) request asked for. The connection's condition keys
        (aws:SecureTransport, aws:SourceIp) join the principal's."""
        try:
            principal = self._authenticate(method, service, metadata, message)
            if context is not None:
                principal = with_transport(principal, context, self.secure)
        except EngineError as err:
            if audit is not None:
                request, found = None, []
                with contextlib.suppress(EngineError, KeyError):
                    if message is not None:
                        request = decode(message) if decode is not None else None
                        found = accesses(method, request, self.target())
                audit.refused(err, found[0] if found else None, request)
            raise
        if audit is not None:
            audit.authenticated(principal)
        return principal

    async def _authorize(self, principal: Principal, method: str, request: Any,
                         audit: AuditedCall | None = None) -> None:
        found = accesses(method, request, self.target())
        if method in PER_ITEM:
            denied = frozenset(
                [i for i, access in enumerate(found)
                 if not (await self.decide(principal, access)).allowed])
            _denied_items.set(denied)
            if audit is not None:
                audit.admitted(found, request, denied)
            return
        await authorize_all(self.decide, principal, found, audit, request)

    # -- handler wrappers ------------------------------------------------------------------

    def _unary(self, handler: grpc.RpcMethodHandler, method: str, service: str,
               decode: Callable[[bytes], Any]) -> grpc.RpcMethodHandler:
        async def admitted(raw: _Raw, audit: AuditedCall | None,
                           context: grpc.aio.ServicerContext) -> Any:
            metadata = _metadata(context)
            principal = self._authenticated(method, service, metadata, raw.data, audit,
                                            decode, context)
            request = decode(raw.data)
            await self._authorize(principal, method, request, audit)
            _principal.set(principal)
            return request

        if handler.unary_unary:
            inner = handler.unary_unary

            async def unary_unary(raw: _Raw, context: grpc.aio.ServicerContext) -> Any:
                audit = self._audited(method, service, context)
                try:
                    request = await admitted(raw, audit, context)
                except EngineError as err:
                    await abort(context, err)
                    return None
                if audit is None or audit.pending is None:
                    return await inner(request, context)
                try:  # a call its servicer authorizes (AssumeRole): audited by its answer
                    return await inner(request, context)
                finally:
                    audit.finished(context)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, request_deserializer=_keep,
                response_serializer=handler.response_serializer)

        stream = handler.unary_stream

        async def unary_stream(raw: _Raw, context: grpc.aio.ServicerContext
                               ) -> AsyncIterator[Any]:
            try:
                request = await admitted(raw, self._audited(method, service, context),
                                         context)
            except EngineError as err:
                await abort(context, err)
                return
            async for reply in stream(request, context):
                yield reply

        return grpc.unary_stream_rpc_method_handler(
            unary_stream, request_deserializer=_keep,
            response_serializer=handler.response_serializer)

    def _streaming(self, handler: grpc.RpcMethodHandler, method: str, service: str,
                   decode: Callable[[bytes], Any]) -> grpc.RpcMethodHandler:
        first_only = method in STREAMING_FIRST

        async def admitted(requests: AsyncIterator[_Raw], audit: AuditedCall | None,
                           context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            principal = self._authenticated(method, service, _metadata(context), None,
                                            audit, context=context)
            checked = False
            async for raw in requests:
                request = decode(raw.data)
                if not checked or not first_only:
                    await self._authorize(principal, method, request,
                                          audit if not checked else None)
                    _principal.set(principal)
                    checked = True
                yield request

        if handler.stream_unary:
            inner = handler.stream_unary

            async def stream_unary(requests: AsyncIterator[_Raw],
                                   context: grpc.aio.ServicerContext) -> Any:
                # A refusal raised from the request iterator is an EngineError: the
                # servicer's own error handling turns it into its status.
                try:
                    return await inner(admitted(requests, self._audited(
                        method, service, context), context), context)
                except EngineError as err:
                    await abort(context, err)
                    return None

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, request_deserializer=_keep,
                response_serializer=handler.response_serializer)

        both = handler.stream_stream

        async def stream_stream(requests: AsyncIterator[_Raw],
                                context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                audit = self._audited(method, service, context)
                async for reply in both(admitted(requests, audit, context), context):
                    yield reply
            except EngineError as err:
                await abort(context, err)

        return grpc.stream_stream_rpc_method_handler(
            stream_stream, request_deserializer=_keep,
            response_serializer=handler.response_serializer)


def _metadata(context: grpc.aio.ServicerContext) -> list[Any]:
    return list(context.invocation_metadata() or ())


def _as_service_answers(err: EngineError, service: str) -> EngineError:
    """IAM and STS (query APIs) answer an unknown, inactive or deleted key with
    InvalidClientTokenId, where S3 says InvalidAccessKeyId: as AWS does."""
    if service in ("iam", "sts") and err.code == "InvalidAccessKeyId":
        return EngineError("InvalidClientTokenId")
    return err
