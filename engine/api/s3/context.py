"""What an S3 operation is handed: the request placed, its caller and body, and the
node's services; an operation is ``async def op(ctx: S3Request) -> web.StreamResponse``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web
from google.protobuf.message import Message

from engine.api.access_table import Access
from engine.api.audit import AuditedCall
from engine.api.s3.access import S3Access
from engine.api.s3.auth import Caller
from engine.api.s3.body import RequestBody
from engine.api.s3.headers import Headers
from engine.api.s3.routing import Route
from engine.iam.authn import Authenticator
from engine.objects.service import ObjectService


@dataclass(frozen=True)
class Services:
    """The node's side: the object service and what S3's answers name."""

    objects: ObjectService
    region: str
    access: S3Access | None  # None: authorization off (--insecure-no-auth)
    # Checks signatures an operation carries in its body (POST Object's form); None:
    # authentication off.
    authn: Authenticator | None = None


@dataclass
class S3Request:
    http: web.Request
    route: Route
    caller: Caller
    body: RequestBody
    services: Services
    audit: AuditedCall | None = None

    @property
    def headers(self) -> Headers:
        return self.http.headers

    @property
    def query(self) -> Mapping[str, str]:
        return self.route.query

    @property
    def bucket(self) -> str:
        return self.route.bucket

    @property
    def key(self) -> str:
        return self.route.key

    @property
    def objects(self) -> ObjectService:
        return self.services.objects

    async def authorize(self, needed: list[Access]) -> None:
        """All of ``needed`` allowed for the caller, or AccessDenied (nothing to check
        with authentication off)."""
        access, principal = self.services.access, self.caller.principal
        if access is None or principal is None:
            return
        await access.authorize(principal, needed, self.audit)

    async def authorize_rpc(self, method: str, request: Message) -> None:
        """Authorized as the gRPC ObjectStore method ``method`` with ``request`` is."""
        if self.services.access is None or self.caller.principal is None:
            return
        await self.authorize(self.services.access.of_rpc(method, request))


Operation = Callable[[S3Request], Awaitable[web.StreamResponse]]
