"""The S3 clients a workload drives: per node, the gRPC SDK and boto3 on the S3 HTTP
endpoint. Both take boto3's method names and arguments, so one driver calls either.

boto3 is a development dependency of the project (what users bring); it is imported only
when an HTTP endpoint is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from engine.client import Verify, client

Api = Literal["grpc", "http"]


@dataclass(frozen=True)
class ObjectEndpoint:
    """One node as the workload sees it: its name (recorded with each operation), its
    gRPC endpoint and, if served, its S3 HTTP endpoint URL."""

    node: str
    grpc: str
    http: str | None = None

    @property
    def apis(self) -> tuple[Api, ...]:
        return ("grpc", "http") if self.http else ("grpc",)


class S3Clients:
    """One client per (node, API), shared by the workers (both kinds are thread-safe).
    No retries on either: the history must record what one request did."""

    def __init__(self, endpoints: Sequence[ObjectEndpoint], *, timeout: float,
                 verify: Verify = None, pool: int = 10) -> None:
        self._clients: dict[tuple[str, Api], Any] = {}
        for e in endpoints:
            self._clients[(e.node, "grpc")] = client("s3", endpoint=e.grpc, timeout=timeout,
                                                     verify=verify)
            if e.http:
                self._clients[(e.node, "http")] = _boto3_s3(e.http, timeout, verify, pool)

    def get(self, node: str, api: Api) -> Any:
        return self._clients[(node, api)]

    def close(self) -> None:
        for c in self._clients.values():
            c.close()


def _boto3_s3(url: str, timeout: float, verify: Verify, pool: int) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as e:  # pragma: no cover - boto3 is in the dev extra
        raise RuntimeError("the S3 HTTP workload needs boto3: pip install 'engine[dev]'") from e
    config = Config(s3={"addressing_style": "path"},
                    retries={"total_max_attempts": 1},
                    connect_timeout=timeout, read_timeout=timeout,
                    max_pool_connections=pool,
                    # the workload checks every body itself, from its own header
                    response_checksum_validation="when_required")
    return boto3.client("s3", endpoint_url=url, config=config,
                        verify=None if verify is True else verify)
