"""The cache workload over the RESP endpoint (`engine bench cache --protocol resp`): the
same phases, keys and values as over gRPC (engine/bench/cache.py), sent by redis-py, the
client ElastiCache users run, so the two protocols' figures line up.

Each worker process opens one redis.asyncio client per node (hiredis parses the replies
when installed) whose pool gives every coroutine a connection of its own: one command in
flight per connection, as redis-benchmark without -P, and no pipelining, as the gRPC mode
makes one call per op. MGET is one command; against a cluster it is RedisCluster's
mget_nonatomic (one MGET per slot, sent to the slots' owners together), the fan-out the
gRPC coordinator does on the server side. The preload is MSET (mset_nonatomic).

Where: each --endpoint node's RESP address comes from the node itself (Admin.GetStatus,
its redis_address), or from --redis-url, one URL per node. Whether the nodes form a
cluster is asked of the first one (INFO cluster), and then the load goes through
RedisCluster, which sends each key to its slot's owner. Who: the user and password in a
URL, else the caller's access key id and secret (the credentials the gRPC mode signs
with), as the endpoint takes IAM keys. Setup, teardown and the tier's counters stay on
gRPC (CacheWorkload's), so the report has the same figures as the gRPC mode's.

The baseline is ECHO of a value's payload on a plain connection to each node: a command
parsed, authorised and answered by the same server with no store behind it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, fields
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import grpc
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import (
    AskError,
    ClusterCrossSlotError,
    ClusterDownError,
    ExecAbortError,
    MovedError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)

from engine.bench.cache import CacheWorkload, KeySpaceClient
from engine.bench.echo import UNARY_CAP
from engine.bench.runner import open_channel
from engine.bench.workload import OpError, Workload, WorkloadClient
from engine.client.credentials import resolve_auth
from engine.v1 import admin_pb2, admin_pb2_grpc

STATUS_TIMEOUT_S = 10.0
CLUSTER_MAX_CONNECTIONS = 100  # RedisCluster's default per node; more when more in flight


# The error replies redis-py turns into exceptions of their own, by Redis's code.
_REPLY_CODES: tuple[tuple[type[RedisError], str], ...] = (
    (OutOfMemoryError, "OOM"), (NoPermissionError, "NOPERM"), (ReadOnlyError, "READONLY"),
    (ExecAbortError, "EXECABORT"), (MovedError, "MOVED"), (AskError, "ASK"),
    (ClusterCrossSlotError, "CROSSSLOT"), (TryAgainError, "TRYAGAIN"),
    (ClusterDownError, "CLUSTERDOWN"))


def resp_code(exc: RedisError) -> str:
    """The error code a failed command is counted under: Redis's own for an error reply
    (OOM, WRONGTYPE, ERR), else redis-py's exception name (ConnectionError)."""
    if type(exc) is ResponseError:  # redis-py strips "ERR "; other prefixes stay
        first = str(exc).split(" ", 1)[0]
        return first if first.isupper() else "ERR"
    return next((code for kind, code in _REPLY_CODES if isinstance(exc, kind)),
                type(exc).__name__)


def redis_url(address: str) -> str:
    """`127.0.0.1:6379` or a URL -> a redis:// URL."""
    return address if "://" in address else f"redis://{address}"


def redacted(url: str) -> str:
    """`url` without its password, for messages and the report (secrets are never shown)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else "***@"
    return urlunsplit(parts._replace(netloc=user + parts.netloc.rsplit("@", 1)[1]))


def _credentials() -> dict[str, str]:
    """The caller's access key as RESP user and password (none: the node has auth off)."""
    creds = resolve_auth().credentials
    if creds is None:
        return {}
    return {"username": creds.access_key_id, "password": creds.secret_access_key}


class RespTarget:
    """One node's RESP endpoint through redis.asyncio (RedisCluster when `cluster`); an
    async context manager that connects (and authenticates) on entry, so a wrong
    address or password stops the run before its first phase."""

    def __init__(self, url: str, cluster: bool = False, connections: int = 0) -> None:
        self.url = url
        self.cluster = cluster
        self.connections = connections
        self.client: Any = None

    async def __aenter__(self) -> RespTarget:
        try:
            if self.cluster:
                self.client = RedisCluster.from_url(
                    self.url, **_credentials(),
                    max_connections=max(CLUSTER_MAX_CONNECTIONS, self.connections))
                await self.client.initialize()
            else:
                self.client = Redis.from_url(self.url, **_credentials())
                await self.client.ping()
        except RedisError as exc:
            if self.client is not None:
                await self.client.aclose()
            raise OpError(resp_code(exc), f"{redacted(self.url)}: {exc}") from None
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.client.aclose()

    async def call(self, method: str, *args: Any) -> Any:
        """redis-py's `method`(*args); a failure is an OpError under resp_code."""
        try:
            return await getattr(self.client, method)(*args)
        except RedisError as exc:
            raise OpError(resp_code(exc), str(exc)) from None


@dataclass(frozen=True)
class RespCacheWorkload(CacheWorkload):
    """``resp``: each gRPC endpoint's RESP URL (the load goes to the latter);
    ``cluster``: they are nodes of a cluster (RedisCluster routes every key)."""

    resp: Mapping[str, str] = field(default_factory=dict)
    cluster: bool = False
    concurrency: int = 8
    name: str = "cache-resp"

    @classmethod
    def of(cls, workload: CacheWorkload, resp: Mapping[str, str], cluster: bool,
           concurrency: int) -> RespCacheWorkload:
        """`workload` (its keys, sizes, phases) with its load sent to `resp`."""
        settings = {f.name: getattr(workload, f.name) for f in fields(CacheWorkload)
                    if f.name != "name"}
        return cls(**settings, resp=dict(resp), cluster=cluster, concurrency=concurrency)

    def transport(self, endpoint: str) -> AbstractAsyncContextManager[Any]:
        return RespTarget(self.resp[endpoint], self.cluster, self.concurrency)

    def client(self, channel: Any, process_index: int, processes: int) -> RespCacheClient:
        return RespCacheClient(self, channel, process_index, processes)


class RespCacheClient(KeySpaceClient):
    def __init__(self, workload: RespCacheWorkload, target: RespTarget, process_index: int,
                 processes: int) -> None:
        super().__init__(workload, process_index, processes)
        self.target = target
        self.mget = "mget_nonatomic" if target.cluster else "mget"
        self.mset = "mset_nonatomic" if target.cluster else "mset"

    async def _mset(self, keys: list[bytes]) -> None:
        await self.target.call(self.mset, dict.fromkeys(keys, self.value))

    async def _set(self, key: bytes) -> int:
        if not await self.target.call("set", key, self.value):
            raise OpError("NotWritten", "SET without NX/XX was not written")
        return len(self.value)

    async def _get(self, key: bytes) -> int:
        value = await self.target.call("get", key)
        return self._check(value is not None, value or b"")

    async def _mget(self, keys: list[bytes]) -> int:
        values = await self.target.call(self.mget, keys)
        if len(values) != len(keys):
            raise OpError("ShortReply", f"{len(values)} values for {len(keys)} keys")
        return sum(self._check(v is not None, v or b"") for v in values)


@dataclass(frozen=True)
class RespEchoBaseline(Workload):
    """ECHO of a value's payload (capped as gRPC's Unary echo is), in the gRPC baseline's
    phase name, on a plain connection to each node."""

    value_size: int
    resp: Mapping[str, str] = field(default_factory=dict)
    name: str = "baseline-resp"

    def phases(self) -> Sequence[str]:
        return ("unary",)

    def transport(self, endpoint: str) -> AbstractAsyncContextManager[Any]:
        return RespTarget(self.resp[endpoint])

    def client(self, channel: Any, process_index: int, processes: int) -> _EchoClient:
        return _EchoClient(channel, os.urandom(min(self.value_size, UNARY_CAP)))


class _EchoClient(WorkloadClient):
    def __init__(self, target: RespTarget, payload: bytes) -> None:
        self.target = target
        self.payload = payload

    async def op(self, phase: str, seq: int) -> int:
        reply = await self.target.call("echo", self.payload)
        if reply != self.payload:
            raise OpError("EchoMismatch", f"{len(reply)} bytes back of {len(self.payload)}")
        return len(reply)


# -- where the RESP endpoints are -----------------------------------------------------


async def node_redis_address(endpoint: str) -> str:
    """The RESP address the node at gRPC `endpoint` serves (its own status)."""
    async with open_channel(endpoint) as channel:
        status = await admin_pb2_grpc.AdminStub(channel).GetStatus(
            admin_pb2.GetStatusRequest(local_only=True), timeout=STATUS_TIMEOUT_S)
    address = status.nodes[0].redis_address if status.nodes else ""
    if not address:
        raise OpError("NoRespEndpoint", f"the node at {endpoint} serves no RESP endpoint "
                      "(engine serve --redis-listen), or name it with --redis-url")
    return address


async def is_cluster(url: str) -> bool:
    """Whether the RESP endpoint at `url` is a node of a cluster (INFO cluster)."""
    async with RespTarget(url) as target:
        info = await target.call("info", "cluster")
    return bool(int(info.get("cluster_enabled", 0)))


async def resp_endpoints(targets: Sequence[str], given: str | None
                         ) -> tuple[dict[str, str], bool]:
    """(each gRPC target's RESP URL, whether they form a cluster): from --redis-url (one
    URL per target, in order) or asked of each node. OpError when a node serves no RESP
    endpoint, the counts differ or the first endpoint does not answer."""
    listed = [u.strip() for u in (given or "").split(",") if u.strip()]
    if listed and len(listed) != len(targets):
        raise OpError("BadRedisUrl", f"--redis-url lists {len(listed)} URL(s) for "
                      f"{len(targets)} --endpoint node(s); give one per node, in order")
    try:
        addresses = listed or [await node_redis_address(t) for t in targets]
    except grpc.aio.AioRpcError as exc:
        raise OpError(exc.code().name, f"asking for the RESP address: {exc.details()}"
                      ) from None
    urls = dict(zip(targets, (redis_url(a) for a in addresses), strict=True))
    return urls, await is_cluster(urls[targets[0]])
