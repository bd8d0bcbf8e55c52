"""The condition keys a call's connection decides: aws:SecureTransport and aws:SourceIp.

They belong to the caller's connection, not to the operation, so they ride on the
principal (``Principal.keys``) and every decision for the call sees them, including
those a servicer makes itself (AssumeRole's trust policy). aws:SecureTransport is
"true" only when gRPC says the connection is TLS; aws:SourceIp is the peer's address as
gRPC reports it (``ipv4:1.2.3.4:port``, ``ipv6:[::1]:port``), absent for a Unix socket.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
from collections.abc import Mapping
from types import MappingProxyType

import grpc

from engine.iam.principal import Principal

SECURE_TRANSPORT = "aws:SecureTransport"
SOURCE_IP = "aws:SourceIp"


def source_ip(peer: str) -> str | None:
    """The IP address in a gRPC peer string, or None (a Unix socket, something odd)."""
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    host = rest.rpartition(":")[0].strip("[]")
    try:
        return str(ipaddress.ip_address(host.partition("%")[0]))
    except ValueError:
        return None


def transport_keys(context: grpc.aio.ServicerContext, secure: bool | None = None
                   ) -> Mapping[str, object]:
    """``secure``: what the server knows of all its ports (all TLS or none), sparing a
    look at the call's auth context; None asks the context."""
    if secure is None:
        security = context.auth_context().get("transport_security_type") or []
        secure = b"ssl" in security
    return _keys(secure, context.peer() or "")


@functools.lru_cache(maxsize=4096)  # per connection (peer address and port): calls repeat
def _keys(secure: bool, peer: str) -> Mapping[str, object]:
    keys: dict[str, object] = {SECURE_TRANSPORT: "true" if secure else "false"}
    ip = source_ip(peer)
    if ip is not None:
        keys[SOURCE_IP] = ip
    return MappingProxyType(keys)


def with_transport(principal: Principal, context: grpc.aio.ServicerContext,
                   secure: bool | None = None) -> Principal:
    """The principal with its connection's keys (they override any it carried)."""
    return with_keys(principal, transport_keys(context, secure))


@functools.lru_cache(maxsize=4096)
def http_keys(secure: bool, ip: str | None) -> Mapping[str, object]:
    """The same keys for an HTTP connection (the S3 REST endpoint), from the peer's IP
    as the socket reports it."""
    keys: dict[str, object] = {SECURE_TRANSPORT: "true" if secure else "false"}
    with contextlib.suppress(ValueError):
        if ip:
            keys[SOURCE_IP] = str(ipaddress.ip_address(ip.partition("%")[0]))
    return MappingProxyType(keys)


def with_keys(principal: Principal, keys: Mapping[str, object]) -> Principal:
    """The principal with ``keys`` added (overriding any it carried).

    A field-by-field copy: dataclasses.replace re-runs the constructor and costs more
    than the rest of the call's authorization."""
    copy = object.__new__(Principal)
    copy.__dict__.update(principal.__dict__)
    copy.__dict__["keys"] = {**principal.keys, **keys}
    return copy
