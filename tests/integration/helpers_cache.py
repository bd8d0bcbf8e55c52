"""Shared pieces of the cache integration tests: module-scoped `engine serve --manual-clock`
processes (the default budget, and a 1 MiB one), the SDK's cache client on each, unique
keys per test, and error assertions.

The fixtures here (`cache_server`, `cache`, `small_cache_server`, `small_cache`, `key`;
functions `*_fixture`) are imported by the test modules that use them; a module-scoped
fixture imported into two modules gives each module its own server.

Time: the server's engine clock stands still and moves only through Admin.AdvanceClock, so
TTLs are exact (a key set with ex=10 has a pttl of exactly 10000 until the clock moves)
and are driven with `cache_server.advance(seconds)`, never slept for.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers_sqs import SqsServer, start_server

from engine.client import CacheClient, ClientError, client

KIB = 1024
MIB = 1024 * KIB
MAX_VALUE_BYTES = 8 * MIB  # the largest value a SET may carry
MAX_KEY_BYTES = 64 * KIB  # the longest key
DEFAULT_BUDGET = 256 * MIB  # `engine serve` without --cache-bytes
SMALL_BUDGET = 1 * MIB

# One `engine serve --manual-clock` process; `advance(s)` moves its engine clock.
CacheServer = SqsServer


def _serve(factory: pytest.TempPathFactory, name: str, *extra: str) -> Iterator[CacheServer]:
    server = start_server(factory.mktemp(name) / "data", *extra)
    yield server
    server.stop()
    if os.environ.get("ENGINE_SHOW_SERVER_LOG"):
        print(server.log_path.read_text(errors="replace")[-5000:])


@pytest.fixture(scope="module", name="cache_server")
def cache_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CacheServer]:
    """A single-node server with the default budget for the whole module; tests isolate
    themselves by key (the `key` fixture)."""
    yield from _serve(tmp_path_factory, "cache")


@pytest.fixture(scope="module", name="cache")
def cache_fixture(cache_server: CacheServer) -> Iterator[CacheClient]:
    """The SDK's cache client (redis-py-compatible) on the module's server."""
    with client("cache", endpoint=cache_server.endpoint) as c:
        yield c


@pytest.fixture(scope="module", name="small_cache_server")
def small_cache_server_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CacheServer]:
    """A single-node server whose cache budget is 1 MiB (`--cache-bytes 1048576`)."""
    yield from _serve(tmp_path_factory, "small-cache", "--cache-bytes", str(SMALL_BUDGET))


@pytest.fixture(scope="module", name="small_cache")
def small_cache_fixture(small_cache_server: CacheServer) -> Iterator[CacheClient]:
    with client("cache", endpoint=small_cache_server.endpoint) as c:
        yield c


@pytest.fixture(name="key")
def key_fixture(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``key("name")``: a key unique to this test (str), so tests share a server safely."""
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:60]
    run = uuid.uuid4().hex[:8]
    return lambda name="k": f"{prefix}:{run}:{name}"


def error_code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def assert_cache_error(info: pytest.ExceptionInfo[Any], code: str) -> None:
    """A ResponseError with this code and a client (4xx) status, never an internal one."""
    err = info.value.response["Error"]
    assert err["Code"] == code, f"{err['Code']!r} (want {code!r}): {err.get('Message')}"
    status = info.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert 400 <= status < 500, f"HTTP {status} for {code}"
    assert str(info.value), "the error has no message"
