"""Who sent an S3 REST request: its signature checked, its principal found.

engine.iam does the work (header SigV4, presigned SigV4, presigned SigV2, sessions), over
the path and query exactly as received; this adds what only HTTP knows: the Host a
virtual-hosted SigV2 link signed its bucket under, and the connection's condition keys
(aws:SecureTransport, aws:SourceIp), which ride on the principal as they do for gRPC.
An unsigned request is the anonymous principal, allowed only what a bucket policy or ACL
grants everyone. With authentication off (--insecure-no-auth) there is no principal.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from engine.api.s3.routing import Route
from engine.api.transport_keys import http_keys, with_keys
from engine.errors import EngineError
from engine.iam.authn import Authenticator
from engine.iam.principal import Principal, anonymous
from engine.iam.signature import VerifiedRequest


@dataclass(frozen=True)
class Caller:
    """``principal`` None: authentication is off. ``verified`` None: the request was
    not signed (anonymous) or authentication is off."""

    principal: Principal | None
    verified: VerifiedRequest | None = None

    @property
    def anonymous(self) -> bool:
        return self.principal is not None and self.principal.anonymous


NO_AUTH = Caller(None)


def _v2_resource(route: Route, raw_path: str) -> str | None:
    """The bucket and key a SigV2 signature covers, when the path alone does not say it:
    a virtual-hosted bucket is in the Host, and a bucket resource ends with "/"."""
    if route.virtual_host:
        return f"/{route.bucket}{raw_path}"
    if route.bucket and not route.key:
        return f"/{raw_path.strip('/')}/"
    return None


def authenticate(authn: Authenticator, request: web.Request, route: Route, raw_path: str,
                 raw_query: str, *, secure: bool) -> Caller:
    """The caller of ``request``; the signature's error (SignatureDoesNotMatch,
    InvalidAccessKeyId, RequestTimeTooSkewed, AuthorizationHeaderMalformed naming the
    node's region, ...) when it does not verify."""
    headers = list(request.headers.items())
    try:
        signed = authn.http(request.method, raw_path, raw_query, headers, service="s3",
                            resource_path=_v2_resource(route, raw_path))
    except EngineError as err:
        # A SigV2 link to a bucket: botocore signs "/bucket/", others "/bucket".
        if err.code != "SignatureDoesNotMatch" or route.key or route.virtual_host \
                or "Signature=" not in raw_query:
            raise
        signed = authn.http(request.method, raw_path, raw_query, headers, service="s3")
    keys = http_keys(secure, request.remote)
    if signed is None:
        return Caller(with_keys(anonymous(""), keys))
    principal, verified = signed
    return Caller(with_keys(principal, keys), verified)
