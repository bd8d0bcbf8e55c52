"""Every call a client makes carries a SigV4 signature in its metadata.

A gRPC client interceptor on the client's channel signs each call as it starts
(engine.sigv4.grpc_meta describes the scheme): a retried call is a new call, so it gets
a fresh signature date. A unary request is signed over its serialized bytes (the stub
serializes the same message object to the same bytes, which the server hashes as
received); a client-streaming call's messages do not exist yet, so it is signed
UNSIGNED-PAYLOAD. The SDK uses only synchronous channels (no grpc.aio), so only the
synchronous interceptor interfaces are implemented.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import grpc
from google.protobuf.message import Message

from engine.sigv4 import Credentials, sign_grpc

# gRPC service -> the service name in the credential scope (and in IAM actions).
SIGNING_NAMES: Mapping[str, str] = {
    "engine.v1.ObjectStore": "s3",
    "engine.v1.Queues": "sqs",
    "engine.v1.Cache": "elasticache",
    "engine.v1.Admin": "engine",
    "engine.v1.Echo": "engine",
    "engine.v1.Iam": "iam",
    "engine.v1.Sts": "sts",
}
# Anything else (health checking, reflection) is signed as the engine's own.
DEFAULT_SIGNING_NAME = "engine"

Clock = Callable[[], float]
Metadata = Sequence[tuple[str, str | bytes]]


def signing_name(method_path: str) -> str:
    """"/engine.v1.ObjectStore/PutObject" -> "s3"."""
    service = method_path.lstrip("/").partition("/")[0]
    return SIGNING_NAMES.get(service, DEFAULT_SIGNING_NAME)


class Signer:
    """Signs calls to one endpoint with one key pair in one region."""

    def __init__(self, credentials: Credentials, region: str, authority: str,
                 clock: Clock = time.time) -> None:
        self.credentials = credentials
        self.region = region
        self.authority = authority
        self.clock = clock

    def metadata(self, method_path: str, message: bytes | None) -> list[tuple[str, str]]:
        """The entries to add to a call; ``message`` is None for a streaming request."""
        return sign_grpc(method_path, self.authority, message, self.credentials,
                         self.region, signing_name(method_path), self.clock())


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Metadata | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _Details(_CallDetails, grpc.ClientCallDetails):
    """Call details with the signature added (grpc wants a ClientCallDetails)."""


def _serialized(request: Any) -> bytes:
    if isinstance(request, Message):
        return request.SerializeToString()
    if isinstance(request, bytes | bytearray | memoryview):
        return bytes(request)
    raise TypeError(f"cannot sign a request of type {type(request).__name__}")


class SigningInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds :meth:`Signer.metadata` to every call of the channel it wraps."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def _signed(self, details: grpc.ClientCallDetails, message: bytes | None) -> _Details:
        method: str | bytes = details.method
        path = method.decode() if isinstance(method, bytes) else method
        extra = self.signer.metadata(path, message)
        return _Details(
            path, details.timeout, [*(details.metadata or ()), *extra],
            details.credentials, getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Callable[..., Any],
                              client_call_details: grpc.ClientCallDetails,
                              request: Any) -> Any:
        return continuation(self._signed(client_call_details, _serialized(request)), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any],
                               client_call_details: grpc.ClientCallDetails,
                               request: Any) -> Any:
        return continuation(self._signed(client_call_details, _serialized(request)), request)

    def intercept_stream_unary(self, continuation: Callable[..., Any],
                               client_call_details: grpc.ClientCallDetails,
                               request_iterator: Iterator[Any]) -> Any:
        return continuation(self._signed(client_call_details, None), request_iterator)

    def intercept_stream_stream(self, continuation: Callable[..., Any],
                                client_call_details: grpc.ClientCallDetails,
                                request_iterator: Iterator[Any]) -> Any:
        return continuation(self._signed(client_call_details, None), request_iterator)


def signed_channel(channel: grpc.Channel, signer: Signer) -> grpc.Channel:
    """``channel`` with every call signed; closing it closes ``channel``."""
    return grpc.intercept_channel(channel, SigningInterceptor(signer))
