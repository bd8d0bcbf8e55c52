"""What every service client shares: its channel, the call wrapper, its lifecycle and
its paginators, so S3, SQS and later clients differ only in their operations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Self

import grpc

from engine.client.calls import Caller
from engine.client.errors import ClientExceptions, OperationNotPageableError
from engine.client.paginate import PaginationModel, Paginator
from engine.client.transport import open_channel

DEFAULT_TIMEOUT = 60.0  # seconds, botocore's default read timeout


class ServiceClient:
    """A client bound to one endpoint; thread-safe, one gRPC channel, reusable."""

    PAGINATORS: ClassVar[Mapping[str, PaginationModel]] = {}

    def __init__(self, endpoint: str, *, timeout: float | None, channel: grpc.Channel | None,
                 exceptions: ClientExceptions) -> None:
        self._channel = channel or open_channel(endpoint)
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
