"""What every service client shares: its channel (signing every call when it has
credentials), the call wrapper, its lifecycle and its paginators, so S3, SQS and later
clients differ only in their operations."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

import grpc

from engine.client.calls import Caller
from engine.client.credentials import DEFAULT_REGION
from engine.client.errors import ClientExceptions, OperationNotPageableError
from engine.client.paginate import PaginationModel, Paginator
from engine.client.signing import Clock, Signer, signed_channel
from engine.client.transport import normalize_endpoint, open_channel
from engine.sigv4 import Credentials

DEFAULT_TIMEOUT = 60.0  # seconds, botocore's default read timeout


@dataclass(frozen=True)
class ClientMeta:
    """``client.meta``, as boto3 has it: where the client talks and in which region."""

    region_name: str
    endpoint_url: str


class ServiceClient:
    """A client bound to one endpoint; thread-safe, one gRPC channel, reusable.

    With ``credentials`` every call is signed (SigV4, scoped to ``region_name``, dated
    by ``clock``); without, calls go unsigned and the server decides.
    """

    PAGINATORS: ClassVar[Mapping[str, PaginationModel]] = {}

    def __init__(self, endpoint: str, *, timeout: float | None, channel: grpc.Channel | None,
                 exceptions: ClientExceptions, credentials: Credentials | None = None,
                 region_name: str = DEFAULT_REGION, clock: Clock = time.time) -> None:
        authority, _ = normalize_endpoint(endpoint)
        raw = channel or open_channel(endpoint)
        self._credentials = credentials
        self._clock = clock
        self._channel = raw if credentials is None else signed_channel(
            raw, Signer(credentials, region_name, authority, clock))
        self.meta = ClientMeta(region_name, endpoint)
        self.exceptions = exceptions
        self._calls = Caller(endpoint, timeout, exceptions)

    def close(self) -> None:
        """Close the channel; in-flight calls are cancelled."""
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def can_paginate(self, operation_name: str) -> bool:
        return operation_name in self.PAGINATORS

    def get_paginator(self, operation_name: str) -> Paginator:
        model = self.PAGINATORS.get(operation_name)
        if model is None:
            raise OperationNotPageableError(operation_name)
        return Paginator(getattr(self, operation_name), model)
