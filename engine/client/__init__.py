"""The Python SDK: ``client("s3" | "sqs", endpoint=...)`` is a boto3-compatible client over gRPC,
``client("cache", endpoint=...)`` a redis-py-compatible one.

Each service is a sibling module registered in ``_SERVICES`` (imported on first use), so
SQS and cache clients slot in beside S3 without touching callers.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal, overload

from engine.client.base import DEFAULT_TIMEOUT
from engine.client.cache import CacheClient
from engine.client.errors import (
    ClientError,
    DataError,
    EndpointConnectionError,
    IncompleteReadError,
    OperationNotPageableError,
    PaginationError,
    ParamValidationError,
    ReadTimeoutError,
    ResponseError,
    RetriesExceededError,
    S3UploadFailedError,
    UnknownServiceError,
)
from engine.client.s3 import S3Client
from engine.client.sqs import SQSClient
from engine.client.streaming import StreamingBody
from engine.client.transfer import TransferConfig
from engine.client.transport import DEFAULT_ENDPOINT, normalize_endpoint

__all__ = [
    "CacheClient",
    "ClientError",
    "DataError",
    "EndpointConnectionError",
    "IncompleteReadError",
    "OperationNotPageableError",
    "PaginationError",
    "ParamValidationError",
    "ReadTimeoutError",
    "ResponseError",
    "RetriesExceededError",
    "S3Client",
    "S3UploadFailedError",
    "SQSClient",
    "StreamingBody",
    "TransferConfig",
    "UnknownServiceError",
    "client",
]

# service name -> "module:Class"
_SERVICES = {
    "s3": "engine.client.s3:S3Client",
    "sqs": "engine.client.sqs:SQSClient",
    "cache": "engine.client.cache:CacheClient",
}

# boto3.client() arguments that mean nothing here yet; accepted so existing code runs.
_IGNORED = frozenset(
    {"region_name", "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
     "api_version", "use_ssl", "verify", "config"}
)


@overload
def client(
    service_name: Literal["s3"],
    *,
    endpoint: str | None = None,
    endpoint_url: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> S3Client: ...


@overload
def client(
    service_name: Literal["sqs"],
    *,
    endpoint: str | None = None,
    endpoint_url: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> SQSClient: ...


@overload
def client(
    service_name: Literal["cache"],
    *,
    endpoint: str | None = None,
    endpoint_url: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> CacheClient: ...


@overload
def client(
    service_name: str,
    *,
    endpoint: str | None = None,
    endpoint_url: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> Any: ...


def client(
    service_name: str,
    *,
    endpoint: str | None = None,
    endpoint_url: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> Any:
    """A client for ``service_name`` talking to ``endpoint`` ("host:port").

    ``endpoint_url`` is accepted as an alias (with an optional "http://"), as boto3
    users type it. ``timeout`` (seconds) bounds unary calls and each wait for data on a
    stream; None waits forever. boto3's region and credential arguments are accepted and
    ignored (there is no auth yet).
    """
    target = _SERVICES.get(service_name)
    if target is None:
        raise UnknownServiceError(
            f"Unknown service: {service_name!r}. Valid service names are: "
            f"{', '.join(sorted(_SERVICES))}"
        )
    if (endpoint is not None and endpoint_url is not None
            and normalize_endpoint(endpoint) != normalize_endpoint(endpoint_url)):
        raise ValueError("endpoint and endpoint_url disagree; give one of them")
    options = {k: v for k, v in kwargs.items() if k not in _IGNORED}
    options["timeout"] = timeout
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(endpoint or endpoint_url or DEFAULT_ENDPOINT, **options)
