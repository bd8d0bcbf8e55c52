"""Signed channels for code that uses raw gRPC stubs rather than the SDK's clients: the
bench's load generator (grpc.aio), the CLI's admin commands, tests. Credentials and
region come from the same chain as ``engine.client.client`` (keyword arguments, then
AWS_* variables, then the shared files); without any, the channel is not signed.

Both kinds of channel sign through the same method proxies (engine/client/signing.py),
not gRPC client interceptors, which cost more than the signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from engine.client.credentials import resolve_auth
from engine.client.signing import SignedMethods, Signer, signed_channel
from engine.client.transport import ClientCert, Verify, normalize_endpoint, open_channel

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


def channel(endpoint: str, *, verify: Verify = None, client_cert: ClientCert | None = None,
            **auth: Any) -> grpc.Channel:
    """The SDK's own channel for ``endpoint`` (``https://`` means TLS, ``verify`` and
    ``client_cert`` as for ``client()``), signed."""
    target, _ = normalize_endpoint(endpoint)
    signer = signer_for(target, **auth)
    raw = open_channel(endpoint, verify=verify, client_cert=client_cert)
    return raw if signer is None else signed_channel(raw, signer)


def insecure_channel(endpoint: str, options: Options = (), **auth: Any) -> grpc.Channel:
    channel = grpc.insecure_channel(endpoint, options=list(options))
    signer = signer_for(endpoint, **auth)
    return channel if signer is None else signed_channel(channel, signer)


def aio_insecure_channel(endpoint: str, options: Options = (), **auth: Any
                         ) -> grpc.aio.Channel:
    signer = signer_for(endpoint, **auth)
    raw = grpc.aio.insecure_channel(endpoint, options=list(options))
    return raw if signer is None else AioSignedChannel(raw, signer)  # type: ignore[return-value]


class AioSignedChannel(SignedMethods):
    """A grpc.aio channel whose every call is signed (the stubs only ask a channel for
    its multicallables; everything else is the channel's own)."""

    async def __aenter__(self) -> AioSignedChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._channel.close(None)
