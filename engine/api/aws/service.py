"""Which AWS service an HTTP request on the node's AWS port is for.

One port serves S3 and the services whose SDKs POST to "/" (SQS today; IAM and STS
later), as LocalStack does: the JSON protocol names its operation in ``X-Amz-Target``
(``AmazonSQS.SendMessage``), and any SigV4-signed request names its service in its
credential scope (``Credential=AKID/20250101/us-east-1/sqs/aws4_request``). A request
that says neither, or names S3, is S3's. The S3 pipeline asks :func:`service_of` first
and hands the request to the registered :class:`AwsService` of that name, if any. An
unsigned ``POST /`` of a form is a query-protocol call with no signature
(UNSIGNED_QUERY, engine/api/aws/query_unsigned.py): S3 takes no such request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from aiohttp import web

# X-Amz-Target prefix (before the ".") -> service name
TARGET_PREFIXES: Mapping[str, str] = {"AmazonSQS": "sqs"}
UNSIGNED_QUERY = "query"
_CREDENTIAL = "Credential="
_FORM = "application/x-www-form-urlencoded"


class AwsService(Protocol):
    """A service answering whole requests on the AWS port (its own errors, ids and
    authentication): registered with the S3 pipeline by the name :func:`service_of`
    gives."""

    async def handle(self, request: web.Request) -> web.StreamResponse: ...


def scope_service(authorization: str) -> str | None:
    """The service of a SigV4 Authorization header's credential scope, or None."""
    start = authorization.find(_CREDENTIAL)
    if start < 0:
        return None
    end = authorization.find(",", start)
    parts = authorization[start + len(_CREDENTIAL):end if end >= 0 else None].split("/")
    return parts[3].strip() if len(parts) == 5 else None


def service_of(headers: Mapping[str, str], method: str = "", raw_path: str = ""
               ) -> str | None:
    """The service a request names, None for S3 (or when it names nothing)."""
    target = headers.get("x-amz-target")
    if target is not None:
        return TARGET_PREFIXES.get(target.partition(".")[0])
    authorization = headers.get("authorization")
    if authorization is None:
        form = headers.get("content-type", "").lower().startswith(_FORM)
        return UNSIGNED_QUERY if form and method == "POST" and raw_path == "/" else None
    if "/s3/aws4_request" in authorization:
        return None
    service = scope_service(authorization)
    return None if service == "s3" else service
