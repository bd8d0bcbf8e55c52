"""The Python SDK: ``client("s3" | "sqs" | "iam" | "sts", endpoint=...)`` is a
boto3-compatible client over gRPC, ``client("cache", endpoint=...)`` a redis-py-compatible
one. Every call is signed with SigV4 using credentials found as boto3 finds them
(engine.client.credentials).

Each service is a sibling module registered in ``_SERVICES`` (imported on first use), so
new clients slot in beside S3 without touching callers.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal, overload

from engine.client.base import DEFAULT_TIMEOUT
from engine.client.cache import CacheClient
from engine.client.credentials import (
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    resolve_auth,
)
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
from engine.client.iam import IAMClient
from engine.client.profiles import ConfigParseError
from engine.client.s3 import S3Client
from engine.client.s3_presign import UnknownClientMethodError
from engine.client.sqs import SQSClient
from engine.client.streaming import StreamingBody
from engine.client.sts import STSClient
from engine.client.transfer import TransferConfig
from engine.client.transport import (
    DEFAULT_ENDPOINT,
    ClientCert,
    InsecureTLSWarning,
    Verify,
    normalize_endpoint,
    open_channel,
)
from engine.sigv4 import Credentials

__all__ = [
    "CacheClient",
    "ClientError",
    "ConfigParseError",
    "Credentials",
    "DataError",
    "EndpointConnectionError",
    "IAMClient",
    "IncompleteReadError",
    "InsecureTLSWarning",
    "NoCredentialsError",
    "OperationNotPageableError",
    "PaginationError",
    "ParamValidationError",
    "PartialCredentialsError",
    "ProfileNotFound",
    "ReadTimeoutError",
    "ResponseError",
    "RetriesExceededError",
    "S3Client",
    "S3UploadFailedError",
    "SQSClient",
    "STSClient",
    "StreamingBody",
    "TransferConfig",
    "UnknownClientMethodError",
    "UnknownServiceError",
    "client",
]

# service name -> "module:Class"
_SERVICES = {
    "s3": "engine.client.s3:S3Client",
    "sqs": "engine.client.sqs:SQSClient",
    "cache": "engine.client.cache:CacheClient",
    "iam": "engine.client.iam:IAMClient",
    "sts": "engine.client.sts:STSClient",
    "elasticache": "engine.client.elasticache:ElastiCacheClient",
    "s3control": "engine.client.s3control:S3ControlClient",
}

# boto3.client() arguments that mean nothing here yet; accepted so existing code runs.
_IGNORED = frozenset({"api_version", "use_ssl", "config"})


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
    service_name: Literal["iam"],
    *,
    endpoint: str | None = None,
    endpoint_url: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> IAMClient: ...


@overload
def client(
    service_name: Literal["sts"],
    *,
    endpoint: str | None = None,
    endpoint_url: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> STSClient: ...


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
    region_name: str | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
    profile: str | None = None,
    verify: Verify = None,
    client_cert: ClientCert | None = None,
    **kwargs: Any,
) -> Any:
    """A client for ``service_name`` talking to ``endpoint`` ("host:port").

    ``endpoint_url`` is accepted as an alias (with an optional "http://"), as boto3
    users type it. ``timeout`` (seconds) bounds unary calls and each wait for data on a
    stream; None waits forever. Credentials and region come from the keywords, the
    environment or the shared files (``profile`` picks one), as boto3 finds them; with
    none, calls go unsigned. Half a key pair raises PartialCredentialsError, a named
    profile that does not exist ProfileNotFound. ``s3_endpoint_url`` (S3 only) is the
    HTTP endpoint presigned URLs point at.

    TLS: an ``https://`` endpoint. ``verify`` as boto3's: None/True trusts the system
    roots (or AWS_CA_BUNDLE), a path that PEM CA bundle, False pins the certificate the
    server shows now, unchecked, with an InsecureTLSWarning (engine.client.transport).
    ``client_cert`` (also read from a botocore ``config=Config(client_cert=...)``) is a
    PEM file with certificate and key, or a (certificate, key) pair of paths.
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
    auth = resolve_auth(
        region_name=region_name, aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key, aws_session_token=aws_session_token,
        profile=profile,
    )
    options = {k: v for k, v in kwargs.items() if k not in _IGNORED}
    options.update(timeout=timeout, credentials=auth.credentials, region_name=auth.region)
    address = endpoint or endpoint_url or DEFAULT_ENDPOINT
    if client_cert is None:
        client_cert = getattr(kwargs.get("config"), "client_cert", None)
    if options.get("channel") is None:
        options["channel"] = open_channel(address, verify=verify, client_cert=client_cert)
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(address, **options)
