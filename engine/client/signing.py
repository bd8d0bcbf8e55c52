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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

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
    "engine.v1.ElastiCache": "elasticache",
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


def _serialized(request: Any) -> bytes:
    if isinstance(request, Message):
        return request.SerializeToString()
    if isinstance(request, bytes | bytearray | memoryview):
        return bytes(request)
    raise TypeError(f"cannot sign a request of type {type(request).__name__}")


class _Signed:
    """One method of a signed channel: adds the signature to the call's metadata.

    A proxy around the real multicallable rather than a gRPC client interceptor: grpc's
    interceptor path costs tens of microseconds a call (measured: it was most of what
    signing added to a 4 KiB GET), this costs the signature. Unary requests are signed
    over the bytes the method's own serializer produces, which are the bytes sent.
    """

    def __init__(self, inner: Any, signer: Signer, path: str,
                 serialize: Callable[[Any], bytes] | None, unary: bool) -> None:
        self._inner = inner
        self._signer = signer
        self._path = path
        self._serialize = serialize or _serialized
        self._unary = unary

    def _metadata(self, request: Any, metadata: Metadata | None) -> list[tuple[str, Any]]:
        message = self._serialize(request) if self._unary else None
        return [*(metadata or ()), *self._signer.metadata(self._path, message)]

    def __call__(self, request: Any, *args: Any, metadata: Metadata | None = None,
                 **kwargs: Any) -> Any:
        return self._inner(request, *args, metadata=self._metadata(request, metadata),
                           **kwargs)

    def with_call(self, request: Any, *args: Any, metadata: Metadata | None = None,
                  **kwargs: Any) -> Any:
        return self._inner.with_call(request, *args,
                                     metadata=self._metadata(request, metadata), **kwargs)

    def future(self, request: Any, *args: Any, metadata: Metadata | None = None,
               **kwargs: Any) -> Any:
        return self._inner.future(request, *args,
                                  metadata=self._metadata(request, metadata), **kwargs)


class SignedMethods:
    """The four multicallable factories of a channel (sync or asyncio alike), signed."""

    def __init__(self, channel: Any, signer: Signer) -> None:
        self._channel = channel
        self.signer = signer

    def __getattr__(self, name: str) -> Any:  # state, readiness, ...: the channel's own
        return getattr(self._channel, name)

    def _method(self, kind: str, method: str, request_serializer: Any, unary: bool,
                args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Signed:
        inner = getattr(self._channel, kind)(method, request_serializer, *args, **kwargs)
        return _Signed(inner, self.signer, method, request_serializer, unary)

    def unary_unary(self, method: str, request_serializer: Any = None, *args: Any,
                    **kwargs: Any) -> Any:
        return self._method("unary_unary", method, request_serializer, True, args, kwargs)

    def unary_stream(self, method: str, request_serializer: Any = None, *args: Any,
                     **kwargs: Any) -> Any:
        return self._method("unary_stream", method, request_serializer, True, args, kwargs)

    def stream_unary(self, method: str, request_serializer: Any = None, *args: Any,
                     **kwargs: Any) -> Any:
        return self._method("stream_unary", method, request_serializer, False, args, kwargs)

    def stream_stream(self, method: str, request_serializer: Any = None, *args: Any,
                      **kwargs: Any) -> Any:
        return self._method("stream_stream", method, request_serializer, False, args,
                            kwargs)


class SignedChannel(SignedMethods, grpc.Channel):
    """A synchronous channel whose every call is signed; closing it closes the channel."""

    def subscribe(self, callback: Callable[..., Any], try_to_connect: bool = False) -> None:
        self._channel.subscribe(callback, try_to_connect)

    def unsubscribe(self, callback: Callable[..., Any]) -> None:
        self._channel.unsubscribe(callback)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> SignedChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self._channel.close()


def signed_channel(channel: grpc.Channel, signer: Signer) -> grpc.Channel:
    """``channel`` with every call signed; closing it closes ``channel``."""
    return SignedChannel(channel, signer)
