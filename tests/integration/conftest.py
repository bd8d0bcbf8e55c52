"""Fixtures of the SDK-level S3 tests: a client on the module's shared server, and a
fresh bucket per test (the server fixtures themselves are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers_s3 import unique_name

from engine.client import S3Client, client


@pytest.fixture(scope="module")
def s3(shared_server) -> Iterator[S3Client]:
    with client("s3", endpoint=shared_server.endpoint) as c:
        yield c


@pytest.fixture
def bucket(s3, request) -> str:
    name = unique_name(request.node.name)
    s3.create_bucket(Bucket=name)
    return name
