"""How a failed call is recorded: ``fail`` only when the service refused the request in a
way S3 documents as having no effect, ``info`` (indeterminate) for everything else.

Both clients the workload drives shape errors as botocore does (``response["Error"]
["Code"]`` and ``["ResponseMetadata"]["HTTPStatusCode"]``), so one rule covers them. A
4xx is a refusal: S3 validates, authorises and checks preconditions before it stores
anything. So is a connection that could not be made: the request never left. A 5xx, a
timeout, a reset connection or a body cut short may have taken effect.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import grpc

from engine.chaos.history import Outcome
from engine.client import (
    ClientError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
)

# The SDK reports transport failures (no service error detail) under the gRPC status name.
_TRANSPORT_CODES = frozenset(status.name for status in grpc.StatusCode)
# 4xx codes that say nothing about whether the request took effect.
_INDETERMINATE_4XX = frozenset({"RequestTimeout", "408"})
# What gRPC says when no connection could be made, so the call was never sent (a call
# broken off after it was sent is UNAVAILABLE too, with another message).
_GRPC_NOT_CONNECTED = "failed to connect to all addresses"


def client_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a call through either client may raise for a reason outside the
    harness (anything else is a harness bug and propagates)."""
    errors: list[type[BaseException]] = [OSError, IncompleteReadError, grpc.RpcError,
                                         ClientError]
    for module, name in (("botocore.exceptions", "BotoCoreError"),
                         ("botocore.exceptions", "ClientError"),
                         ("urllib3.exceptions", "HTTPError")):
        loaded = sys.modules.get(module)
        if loaded is not None:
            errors.append(getattr(loaded, name))
    return tuple(errors)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a service error, else the exception's class name."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def not_sent(exc: BaseException) -> bool:
    """The client could not connect, so the request never reached the service."""
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is not None and isinstance(exc, botocore.EndpointConnectionError
                                           | botocore.ConnectTimeoutError):
        return True
    return isinstance(exc, EndpointConnectionError) and _GRPC_NOT_CONNECTED in str(exc)


def classify(exc: BaseException) -> tuple[Outcome, str]:
    """(``fail`` or ``info``, the error code to record)."""
    code = error_code(exc)
    if not_sent(exc):
        return "fail", code
    if isinstance(exc, EndpointConnectionError | ReadTimeoutError) or code in _TRANSPORT_CODES:
        return "info", code
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping) or "Error" not in response:
        return "info", code
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if 400 <= status < 500 and code not in _INDETERMINATE_4XX:
        return "fail", code
    return "info", code


def is_code(exc: BaseException, *codes: str) -> bool:
    return error_code(exc) in codes
