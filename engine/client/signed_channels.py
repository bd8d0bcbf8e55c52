"""Signed channels for code that uses raw gRPC stubs rather than the SDK's clients: the
bench's load generator (grpc.aio), the CLI's admin commands, tests. Credentials and
region come from the same chain as ``engine.client.client`` (keyword arguments, then
AWS_* variables, then the shared files); without any, the channel is not signed.

grpc.aio has interceptor interfaces of its own, hence :class:`AioSigningInterceptor`
beside the synchronous one in engine/client/signing.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc

from engine.client.credentials import resolve_auth
from engine.client.signing import Signer, SigningInterceptor, _serialized
from engine.client.transport import normalize_endpoint, open_channel

Options = Sequence[tuple[str, Any]]


def signer_for(endpoint: str, **auth: Any) -> Signer | None:
    """The signer ``client()`` would use for ``endpoint`` (None: no credentials)."""
    resolved = resolve_auth(region_name=auth.get("region_name"),
                            aws_access_key_id=auth.get("aws_access_key_id"),
                            aws_secret_access_key=auth.get("aws_secret_access_key"),
                            aws_session_token=auth.get("aws_session_token"),
                            profile=auth.get("profile"))
    if resolved.credentials is None:
        return None
    return Signer(resolved.credentials, resolved.region, endpoint)


def channel(endpoint: str, **auth: Any) -> grpc.Channel:
    """The SDK's own channel for ``endpoint`` (``https://`` means TLS), signed."""
    target, _ = normalize_endpoint(endpoint)
    signer = signer_for(target, **auth)
    raw = open_channel(endpoint)
    return raw if signer is None else grpc.intercept_channel(raw, SigningInterceptor(signer))


def insecure_channel(endpoint: str, options: Options = (), **auth: Any) -> grpc.Channel:
    channel = grpc.insecure_channel(endpoint, options=list(options))
    signer = signer_for(endpoint, **auth)
    return channel if signer is None else grpc.intercept_channel(channel,
                                                                 SigningInterceptor(signer))


def aio_insecure_channel(endpoint: str, options: Options = (), **auth: Any
                         ) -> grpc.aio.Channel:
    signer = signer_for(endpoint, **auth)
    interceptors = [] if signer is None else [
        cls(signer) for cls in (_AioUnaryUnary, _AioUnaryStream, _AioStreamUnary,
                                _AioStreamStream)]
    return grpc.aio.insecure_channel(endpoint, options=list(options),
                                     interceptors=interceptors)


class _AioSigning:
    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def _signed(self, details: grpc.aio.ClientCallDetails, message: bytes | None
                ) -> grpc.aio.ClientCallDetails:
        method: str | bytes = details.method
        path = method.decode() if isinstance(method, bytes) else method
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        for key, value in self.signer.metadata(path, message):
            metadata.add(key, value)
        return grpc.aio.ClientCallDetails(details.method, details.timeout, metadata,
                                          details.credentials, details.wait_for_ready)


class _AioUnaryUnary(_AioSigning, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Callable[..., Any],
                                    client_call_details: grpc.aio.ClientCallDetails,
                                    request: Any) -> Any:
        return await continuation(self._signed(client_call_details, _serialized(request)),
                                  request)


class _AioUnaryStream(_AioSigning, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Callable[..., Any],
                                     client_call_details: grpc.aio.ClientCallDetails,
                                     request: Any) -> Any:
        return await continuation(self._signed(client_call_details, _serialized(request)),
                                  request)


class _AioStreamUnary(_AioSigning, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Callable[..., Any],
                                     client_call_details: grpc.aio.ClientCallDetails,
                                     request_iterator: AsyncIterator[Any]) -> Any:
        return await continuation(self._signed(client_call_details, None), request_iterator)


class _AioStreamStream(_AioSigning, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Callable[..., Any],
                                      client_call_details: grpc.aio.ClientCallDetails,
                                      request_iterator: AsyncIterator[Any]) -> Any:
        return await continuation(self._signed(client_call_details, None), request_iterator)
