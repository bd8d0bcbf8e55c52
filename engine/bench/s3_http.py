"""The bench's S3 REST client: SigV4-signed aiohttp requests to one node's HTTP endpoint.

What the load needs and no more: PUT and GET of an object and the bare echo handler the
S3 figures are judged against (the bucket is made and emptied over gRPC, as the gRPC
bench does it). Bodies are signed
UNSIGNED-PAYLOAD, as current SDKs sign them over TLS, so the client spends no time
hashing (the node still checks every other part of the signature). One connection pool
per process, kept alive, so the figures are of requests, not of TCP handshakes.
"""

from __future__ import annotations

import time
from types import TracebackType
from urllib.parse import quote

import aiohttp
from defusedxml import ElementTree

from engine.bench.workload import OpError
from engine.client.credentials import resolve_auth
from engine.sigv4 import Credentials
from engine.sigv4.canonical import UNSIGNED_PAYLOAD
from engine.sigv4.signer import sign_request

ECHO_PATH = "/_engine/echo"  # not a bucket: bucket names start with a letter or digit
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def base_url(endpoint: str) -> str:
    """``127.0.0.1:9000`` or a URL -> ``http://127.0.0.1:9000``."""
    endpoint = endpoint.rstrip("/")
    return endpoint if "://" in endpoint else f"http://{endpoint}"


class S3Target:
    """An S3 endpoint with the caller's credentials (the SDK's chain: AWS_* variables,
    then the shared files); an async context manager owning its connection pool."""

    def __init__(self, endpoint: str, connections: int = 64) -> None:
        self.url = base_url(endpoint)
        auth = resolve_auth()
        self.credentials: Credentials | None = auth.credentials
        self.region = auth.region
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> S3Target:
        connector = aiohttp.TCPConnector(limit=self._connections, force_close=False)
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._session is not None:
            await self._session.close()

    def _headers(self, method: str, url: str) -> dict[str, str]:
        if self.credentials is None:
            return {"x-amz-content-sha256": UNSIGNED_PAYLOAD}
        signed = sign_request(method, url, [], self.credentials, self.region, "s3",
                              time.time(), payload_hash=UNSIGNED_PAYLOAD)
        return dict(signed.headers)

    async def request(self, method: str, path: str, query: str = "", body: bytes = b""
                      ) -> tuple[int, bytes]:
        """(status, body) of one signed request; a 4xx/5xx is an OpError with S3's code."""
        assert self._session is not None, "use S3Target as an async context manager"
        url = f"{self.url}{path}" + (f"?{query}" if query else "")
        async with self._session.request(
                method, url, data=body or None, headers=self._headers(method, url),
                skip_auto_headers=("Content-Type",)) as response:
            data = await response.read()
            if response.status >= 300:
                raise OpError(_code(data, response.status), data[:300].decode("utf-8", "replace"))
            return response.status, data

    async def fetch_size(self, path: str, query: str = "") -> int:
        """GET ``path`` and count the body's bytes as they stream (nothing kept)."""
        assert self._session is not None, "use S3Target as an async context manager"
        url = f"{self.url}{path}" + (f"?{query}" if query else "")
        async with self._session.get(url, headers=self._headers("GET", url)) as response:
            if response.status >= 300:
                data = await response.read()
                raise OpError(_code(data, response.status), data[:300].decode("utf-8", "replace"))
            total = 0
            async for piece in response.content.iter_any():
                total += len(piece)
            return total

    # -- what the workloads call -----------------------------------------------------------

    async def put_object(self, bucket: str, key: str, body: bytes) -> None:
        await self.request("PUT", f"/{bucket}/{quote(key)}", body=body)

    async def get_object(self, bucket: str, key: str) -> int:
        return await self.fetch_size(f"/{bucket}/{quote(key)}")

    async def echo(self, method: str, size: int, body: bytes = b"") -> int:
        """The bare handler: GET answers ``size`` bytes, POST the body back, PUT how many
        bytes it read."""
        if method == "GET":
            return await self.fetch_size(ECHO_PATH, f"size={size}")
        _, data = await self.request(method, ECHO_PATH, f"size={size}", body)
        return int(data) if method == "PUT" else len(data)


def _code(body: bytes, status: int) -> str:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return f"HTTP{status}"
    code = root.findtext("Code") or root.findtext(f"{_NS}Code")
    return code or f"HTTP{status}"
